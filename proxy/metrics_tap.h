/* The call observer (call_observer.h) that feeds src/metrics/metrics.h: calls by method and
 * status, their duration, calls in flight, and the policy's decisions. Its
 * callbacks only bump atomic counters. */
#ifndef CRISP_METRICS_TAP_H
#define CRISP_METRICS_TAP_H

#include "call_observer.h"

/* A static observer: no state of its own beyond the process-wide metrics. */
const struct crisp_call_observer *crisp_metrics_tap(void);

#endif
