/* crisp's relay as a whole: the listening socket, the kubelet's HTTP/2
 * connections, the runtime's, and every call between them, on one libuv
 * loop (relay.h has the inside). */
#ifndef CRISP_SERVER_H
#define CRISP_SERVER_H

#include <uv.h>

#include "base/error.h"
#include "call_observer.h"
#include "config/options.h"
#include "podspec/spec_resolver.h"
#include "rule/policy_snapshot.h"

struct crisp_server;

/* Starts serving on `loop`, on whose thread every other call must be made.
 * `observer` (may be NULL) is told about every call; it must outlive the
 * server, as must `resolver` (issue 8; NULL: no pod-spec source).
 * `on_stopped` is called once, on the loop, when a shutdown has finished:
 * every call answered and every connection closed. */
int crisp_server_start(uv_loop_t *loop, const struct crisp_options *opts,
                       const struct crisp_call_observer *observer,
                       struct crisp_spec_resolver *resolver, void (*on_stopped)(void *arg),
                       void *arg, struct crisp_server **out, crisp_error **err);

/* Stops accepting: the socket closes, each client gets GOAWAY; calls in
 * flight go on. */
void crisp_server_begin_shutdown(struct crisp_server *s);

/* Ends every call still in flight with crisp's own status (the grace
 * period is over). */
void crisp_server_cancel_all(struct crisp_server *s);

/* Calls in flight now. */
long crisp_server_calls_in_flight(struct crisp_server *s);

/* Puts a new policy in force (a reload); calls already started keep theirs.
 * Takes ownership of `next`. */
void crisp_server_set_policy(struct crisp_server *s, struct crisp_policy_snapshot *next);

/* The runtime connection's state as gRPC numbers it (0 idle, 1 connecting,
 * 2 ready, 3 transient failure), for /metrics. */
int crisp_server_upstream_state(struct crisp_server *s);

/* crisp's own call to the runtime (readiness): a unary call of `method`
 * with an empty request. `done(arg, code)` is called once with the gRPC
 * status, unless crisp_server_cancel_own comes first. Returns a handle, or
 * NULL when it cannot be made (then `done` is never called). */
struct relay_stream *crisp_server_call_own(struct crisp_server *s, const char *method,
                                           void (*done)(void *arg, int code), void *arg);
/* Gives up an own call: `done` is not called any more. */
void crisp_server_cancel_own(struct crisp_server *s, struct relay_stream *call);

/* Frees everything. Only after on_stopped, once the loop has run its
 * close callbacks. */
void crisp_server_destroy(struct crisp_server *s);

#endif
