/* The relay: one state machine per call that crisp serves. It opens the same
 * method on the runtime, copies metadata, messages, status and trailers both
 * ways, and rewrites the first request message of RunPodSandbox and
 * CreateContainer (src/rule/rewrite.h). The CRI's unary methods take a fast
 * path of four completions a call; every other call, whatever its streaming shape,
 * is handled as a bidirectional stream of opaque messages. */
#ifndef CRISP_RELAY_H
#define CRISP_RELAY_H

#include <grpc/grpc.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rule/policy_snapshot.h"
#include "podspec/spec_resolver.h"
#include "rule/rewrite.h"

/* An observer of every call (the recorder uses it). Callbacks run on queue
 * threads, under the call's lock, so they must be quick and copy what they
 * keep; bytes are valid only during the callback. Unset: zero cost. */
struct crisp_call_observer {
        /* A call starts; returns the observer's per-call state (NULL: ignore). */
        void *(*begin)(void *self, const char *method);
        /* A request message as the client sent it; `forwarded` is what crisp sent
         * the runtime instead when it rewrote it, else NULL. Optional (NULL:
         * the observer needs no bytes, and the relay reads none for it). */
        void (*request)(void *call, const uint8_t *data, size_t len, const uint8_t *forwarded,
                        size_t forwarded_len);
        /* The rewriter's view of the first request (identity, changes). */
        void (*rewrite)(void *call, const struct crisp_rewrite_result *result);
        /* issue 6: crisp refused the first request (INVALID_ARGUMENT), or in
         * audit mode would have; optional (NULL: not told). */
        void (*rejected)(void *call, const char *reason);
        /* A response message from the runtime. Optional, as `request`. */
        void (*response)(void *call, const uint8_t *data, size_t len);
        /* The call is over: the status the client was sent; frees `call`. */
        void (*end)(void *call, int code, const char *details, size_t details_len);
        void *self;
};

struct crisp_relay_ctx {
        /* Optional: told about every call (NULL: nobody listens). */
        const struct crisp_call_observer *observer;
        grpc_server *server;
        grpc_channel *upstream;
        grpc_completion_queue *cq;
        /* The policy in force: each call takes a snapshot when it starts and
         * keeps it to its end (issue 6: reload). */
        struct crisp_policy_holder *policy;
        /* issue 8: settles ambiguous CreateContainer requests from the pod
         * spec; NULL when crisp has no pod-spec source. */
        struct crisp_spec_resolver *resolver;

        /* The unary fast path: one registered method per path of
         * unary_methods.c (NULL: not registered, generic path). */
        void **unary_methods;
        size_t n_unary_methods;

        /* Relay calls alive, including those waiting for the next call;
         * `waiting` counts the latter. */
        atomic_long live_calls;
        atomic_long waiting;
        /* Called (from a queue thread) each time a relay call is freed. */
        void (*on_call_freed)(struct crisp_relay_ctx *ctx);
};

/* Registers the unary CRI methods with ctx->server, which must not be
 * started yet; their calls then take the fast path. Returns 0 or -ENOMEM. */
int crisp_relay_register_unary(struct crisp_relay_ctx *ctx);

/* Frees what crisp_relay_register_unary allocated (after the server). */
void crisp_relay_unregister_unary(struct crisp_relay_ctx *ctx);

/* Asks the server for the next incoming call of a method not registered
 * (the generic path). Returns 0, or a negative value when the server no
 * longer takes calls (shutting down). */
int crisp_relay_await_call(struct crisp_relay_ctx *ctx);

/* Asks for the next call of every registered unary method; once started, each
 * asks again when its call arrives. Returns 0 or a negative value. */
int crisp_relay_await_unary(struct crisp_relay_ctx *ctx);

#endif
