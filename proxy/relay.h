/* The relay: one state machine per call that crisp serves. It opens the same
 * method on the runtime, copies metadata, messages, status and trailers both
 * ways, and rewrites the first request message of RunPodSandbox and
 * CreateContainer (src/rewrite.h). Every call, whatever its streaming shape,
 * is handled as a bidirectional stream of opaque messages. */
#ifndef CRISP_RELAY_H
#define CRISP_RELAY_H

#include <grpc/grpc.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rewrite.h"

struct crisp_relay_ctx {
        grpc_server *server;
        grpc_channel *upstream;
        grpc_completion_queue *cq;
        bool rewrite_enabled;
        struct crisp_rewrite_options rewrite;

        /* Relay calls alive, including the one waiting for the next call. */
        atomic_long live_calls;
        /* Called (from a queue thread) each time a relay call is freed. */
        void (*on_call_freed)(struct crisp_relay_ctx *ctx);
};

/* Asks the server for the next incoming call. Returns 0, or a negative value
 * when the server no longer takes calls (shutting down). */
int crisp_relay_await_call(struct crisp_relay_ctx *ctx);

#endif
