/* crisp's metrics: process-wide counters kept with C11 atomics (no lock on
 * the data path), rendered in the Prometheus text format for /metrics.
 * Every label set is bounded: known CRI method names plus "other", gRPC
 * status codes, the rule's contexts and profile kinds. */
#ifndef CRISP_METRICS_H
#define CRISP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule/rewrite.h"

/* The index of a gRPC method path for the `method` label. */
int crisp_metrics_method_index(const char *path);

/* Per call (proxy/metrics_tap.c). */
void crisp_metrics_call_started(void);
void crisp_metrics_call_ended(int method_index, int code, uint64_t duration_us);

/* The policy's decision on one request (after audit/exemption were applied). */
void crisp_metrics_decision(const struct crisp_rewrite_result *result);
/* crisp answered INVALID_ARGUMENT (or, in audit, would have). */
void crisp_metrics_decode_failure(const char *method_path);

/* Control plane. */
void crisp_metrics_reload(bool ok);
void crisp_metrics_set_config_hash(uint64_t hash);
void crisp_metrics_set_upstream_state(int grpc_connectivity_state);
void crisp_metrics_set_ready(bool ready);
bool crisp_metrics_ready(void);
/* accept() failed on the listening socket (proxy/acceptor.c). */
void crisp_metrics_accept_error(void);

/* Renders everything; *out is malloc'ed (free it). Returns its length or -1. */
long crisp_metrics_render(char **out, const char *version, const char *grpc_version);

/* Forgets every count (tests). */
void crisp_metrics_reset(void);

/* FNV-1a 64 of the bytes: the loaded config's hash for crisp_config_info. */
uint64_t crisp_metrics_hash(const void *data, size_t len);

#endif
