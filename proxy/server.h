/* crisp's gRPC side: the server on the listening socket, the channel to the
 * runtime, the completion queue and the threads that drain it. */
#ifndef CRISP_SERVER_H
#define CRISP_SERVER_H

#include <grpc/grpc.h>
#include <uv.h>

#include "base/error.h"
#include "config/options.h"
#include "rule/policy_snapshot.h"
#include "podspec/spec_resolver.h"

struct crisp_server;

struct crisp_call_observer;

/* Starts serving. Connections are accepted on `loop` (proxy/acceptor.c),
 * whose thread must also call crisp_server_begin_shutdown; with a NULL loop
 * gRPC's own listener accepts them, which stops for good once the process
 * runs out of file descriptors. `observer` (may be NULL) is told about every
 * call, see relay.h; it must outlive the server, as must `resolver` (issue 8;
 * NULL: no pod-spec source). `on_stopped` is called once, from a queue
 * thread, when a shutdown has finished: every call answered and released. */
int crisp_server_start(uv_loop_t *loop, const struct crisp_options *opts,
                       const struct crisp_call_observer *observer,
                       struct crisp_spec_resolver *resolver, void (*on_stopped)(void *arg),
                       void *arg, struct crisp_server **out, crisp_error **err);

/* Stops accepting calls and connections; calls in flight go on. */
void crisp_server_begin_shutdown(struct crisp_server *s);

/* Cancels every call still in flight (the grace period is over). */
void crisp_server_cancel_all(struct crisp_server *s);

/* Calls in flight now (approximate; for logs). */
long crisp_server_calls_in_flight(struct crisp_server *s);

/* Puts a new policy in force (a reload); calls already started keep theirs.
 * Takes ownership of `next`. */
void crisp_server_set_policy(struct crisp_server *s, struct crisp_policy_snapshot *next);

/* The channel to the runtime, without trying to connect (for /metrics). */
grpc_connectivity_state crisp_server_upstream_state(struct crisp_server *s);

/* Joins the threads and frees everything. Only after on_stopped. */
void crisp_server_destroy(struct crisp_server *s);

#endif
