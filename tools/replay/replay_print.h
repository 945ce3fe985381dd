/* `crisp replay FILE --print`: one readable line per recorded call: when,
 * which method, for which pod/container, how it ended, and for RunPodSandbox
 * and CreateContainer each security context's seccomp profile as the client
 * sent it and, where crisp changed it, as the runtime got it. */
#ifndef CRISP_REPLAY_PRINT_H
#define CRISP_REPLAY_PRINT_H

#include <stdio.h>

#include "record/recording.h"

/* Returns the exit code (0). */
int replay_print_main(const struct crisp_recording *recording, FILE *out);

#endif
