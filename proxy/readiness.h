/* /readyz: every interval crisp asks the runtime for its Version, as a call
 * of its own on the relay's connection to the runtime (so "ready" means the
 * data path works). An answer not in by the next probe counts as none. The
 * result, and the runtime connection's state, go into src/metrics/metrics.h,
 * which /readyz and /metrics read. */
#ifndef CRISP_READINESS_H
#define CRISP_READINESS_H

#include <uv.h>

#include "base/error.h"

struct crisp_server;
struct crisp_readiness;

int crisp_readiness_start(uv_loop_t *loop, struct crisp_server *server, long interval_ms,
                          struct crisp_readiness **out, crisp_error **err);

/* Stops probing (on the loop's thread, before the server shuts down); the
 * readiness frees itself once its timer is closed. NULL is fine. */
void crisp_readiness_stop(struct crisp_readiness *r);

#endif
