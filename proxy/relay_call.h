/* The relay's per-call state and the helpers its two paths share: the
 * generic stream path (relay.c) and the unary fast path (relay_unary.c).
 * Internal to the relay: nothing outside those files includes it. */
#ifndef CRISP_RELAY_CALL_H
#define CRISP_RELAY_CALL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "relay.h"
#include "tag.h"

struct relay_call {
        struct crisp_relay_ctx *ctx;
        pthread_mutex_t mu;
        int pending; /* batches in flight */

        grpc_call *down;
        grpc_call *up;
        grpc_call_details details; /* generic path only; unary: `deadline` */
        /* The unary fast path: which registered method, and what gRPC read
         * with the call (its deadline and its one request message). */
        bool unary;
        size_t unary_index;
        gpr_timespec deadline;
        grpc_byte_buffer *payload;
        grpc_metadata_array request_md;
        enum crisp_method method;
        char method_path[160]; /* NUL-terminated, for logs */

        /* c2p: at most one message in flight to the runtime and one held */
        grpc_byte_buffer *c2p_recv_buf; /* filled by the pending RECV_MESSAGE */
        grpc_byte_buffer *c2p_sending;
        grpc_byte_buffer *c2p_held; /* received while another was in flight */
        bool first_message_seen;

        /* p2c: the same, towards the client */
        grpc_metadata_array response_md;
        grpc_byte_buffer *p2c_recv_buf;
        grpc_byte_buffer *p2c_sending;
        grpc_byte_buffer *p2c_held;
        bool up_headers_seen;   /* the runtime's headers arrived (or never will) */
        bool down_headers_sent; /* a SEND_INITIAL_METADATA was started on down */
        bool p2c_eof;           /* the runtime sent its last message */

        /* status */
        grpc_metadata_array trailing_md;
        grpc_status_code status;
        grpc_slice status_details;
        bool status_received;
        bool status_sent;
        int down_cancelled; /* from RECV_CLOSE_ON_SERVER */
        grpc_status_code sent_code;

        void *observed; /* the observer's per-call state, or NULL */

        /* issue 6 (policy): the snapshot this call started with, kept to its
         * end; and, for RunPodSandbox, the runtime handler to remember once
         * the runtime says the sandbox's id. */
        struct crisp_policy_snapshot *snap;
        char runtime_handler[96];
        bool handler_remembered;

        /* issue 8: an ambiguous CreateContainer waits here, its request
         * parked, while the resolver looks for the pod; `spec` is the answer. */
        bool spec_asked;
        struct crisp_spec_answer spec;
        grpc_byte_buffer *parked;
        char spec_query_uid[128]; /* for the log line */
        char spec_query_container[256];

        struct crisp_tag t_new_call, t_down_closed, t_c2p_recv, t_c2p_send, t_c2p_close, t_up_md,
            t_up_headers, t_up_status, t_p2c_recv, t_p2c_send, t_down_headers, t_down_status,
            t_spec_answered, t_unary_up;
};

/* Ends a completion handler: one batch fewer in flight; frees the call after
 * the last one. Called with c->mu held; releases it. */
void relay_handler_done(struct relay_call *c);

/* Starts a batch on `call` with `tag`, counted in c->pending. */
bool relay_start_batch(struct relay_call *c, grpc_call *call, const grpc_op *ops, size_t n,
                       struct crisp_tag *tag);

/* Ends the client's call with `code`: the response headers when none went
 * yet, `msg` when not NULL, the status with `trailers` (NULL: none). */
void relay_send_status_with(struct relay_call *c, grpc_status_code code,
                            grpc_metadata_array *trailers, grpc_byte_buffer *msg);

/* Answers the client with crisp's own status; the runtime never sees the call. */
void relay_reject(struct relay_call *c, grpc_status_code code, const char *details);

/* A byte buffer as one contiguous slice (a reference where it can be). */
grpc_slice relay_read_all(grpc_byte_buffer *bb);

/* Whether the observer wants the bytes of each message. */
bool relay_wants_bytes(const struct relay_call *c);

/* Tells the observer of a request message (`forwarded`: what crisp sent instead). */
void relay_observe_request(struct relay_call *c, grpc_slice received, grpc_byte_buffer *forwarded);

/* Tells the observer of a response message, if it wants the bytes. */
void relay_observe_response(struct relay_call *c, grpc_byte_buffer *msg);

/* RunPodSandbox: remembers the new sandbox's runtime handler (issue 6). */
void relay_remember_handler(struct relay_call *c, grpc_byte_buffer *msg);

/* Asks the pod-spec resolver about an ambiguous CreateContainer; true when
 * the call must wait for the answer (`msg` is then parked). */
bool relay_ask_spec(struct relay_call *c, grpc_byte_buffer *msg);

/* Rewrites the first request (owned from here on) and forwards it, on the
 * call's path, or answers the client when it is refused. */
void relay_forward_first(struct relay_call *c, grpc_byte_buffer *msg);

/* relay_unary.c: the fast path. */
void relay_unary_start(struct relay_call *c);
void relay_unary_forward(struct relay_call *c, grpc_byte_buffer *msg);
void relay_on_unary_up(struct crisp_tag *tag, bool ok);

#endif
