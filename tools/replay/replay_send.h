/* `crisp replay FILE --runtime-endpoint SOCK`: sends each recorded call, in
 * file order, to a runtime (or a crisp in front of one) and compares what
 * comes back with what was recorded.
 *
 * Runtimes hand out new ids: when a RunPodSandbox or CreateContainer answer
 * carries a different id than the recorded one, later requests are sent with
 * the new id in place of the old (any string field whose whole value is the
 * old id), and recorded answers are compared with it mapped the same way.
 * A record with `forwarded` is sent as the client sent it (`requests`): a
 * crisp in front of the runtime rewrites it again. */
#ifndef CRISP_REPLAY_SEND_H
#define CRISP_REPLAY_SEND_H

#include <stddef.h>

#include "record/recording.h"

struct replay_send_options {
        const char *endpoint;
        char **ignore; /* methods whose responses may differ: full paths or short names */
        size_t n_ignore;
        long timeout_ms; /* per call */
};

/* Prints one line per call and a summary to stdout; returns the exit code:
 * 0 when every status matched and every response not ignored was identical. */
int replay_send_main(const struct crisp_recording *recording,
                     const struct replay_send_options *opts);

#endif
