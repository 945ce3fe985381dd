/* /readyz: a thread of its own asks the runtime for its Version every
 * interval, on a channel and completion queue of its own, so a slow or
 * absent runtime never blocks the control loop or the data path. The result
 * (and the data path channel's connectivity state) goes into src/metrics/metrics.h,
 * which /readyz and /metrics read. */
#ifndef CRISP_READINESS_H
#define CRISP_READINESS_H

#include "base/error.h"

struct crisp_server;
struct crisp_readiness;

int crisp_readiness_start(const char *runtime_endpoint, struct crisp_server *server,
                          long interval_ms, struct crisp_readiness **out, crisp_error **err);

/* Stops the thread (at most one probe's deadline later) and frees it. */
void crisp_readiness_stop(struct crisp_readiness *r);

#endif
