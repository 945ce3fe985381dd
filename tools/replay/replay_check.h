/* `crisp replay FILE --check`: the records that carry an `expect` are sent
 * through an in-process crisp (proxy/server.h, default options) to an
 * in-process `--serve` of the same records, and every expectation is
 * checked on what the serve side received (tools/replay/replay_expect.h), as well
 * as the recorded answer on what the client got back. */
#ifndef CRISP_REPLAY_CHECK_H
#define CRISP_REPLAY_CHECK_H

#include "record/recording.h"

/* Prints one line per failure and a summary line to stdout; returns the
 * process exit code (0: every expectation held). */
int replay_check_main(const struct crisp_recording *recording, long timeout_ms);

#endif
