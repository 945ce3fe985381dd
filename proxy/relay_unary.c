/* The relay's unary fast path: a CRI unary call in four completions (see
 * the comment below); the generic stream path is relay.c. */
#include "relay_call.h"

#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "unary_methods.h"

/* A call of a method in unary_methods.c arrives with its request already read
 * (the method is registered with GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER),
 * and takes four completions where the generic path takes about fourteen:
 *
 *   1. the call arrives, with its one request message
 *        -> [rewrite] -> runtime call, ONE batch: send headers + message +
 *           half-close, receive headers + message + status
 *        -> client call: RECV_CLOSE_ON_SERVER (learns of a cancel)
 *   2. the runtime's batch completes
 *        -> client call, ONE batch: headers + message + status
 *   3. that batch completes;  4. the client's call closes.
 *
 * The runtime call is created without a parent call: gRPC's parent link
 * costs a lock and a list on every call. It gets the client's deadline as
 * its own, and on_down_closed cancels it when the client cancels. The
 * messages are handed on as the byte buffers gRPC gave crisp: the bytes are
 * never copied unless the rewriter changes the request. */

void relay_unary_forward(struct relay_call *c, grpc_byte_buffer *msg)
{
        struct crisp_relay_ctx *ctx = c->ctx;
        grpc_slice method = grpc_slice_from_static_string(crisp_unary_method_path(c->unary_index));
        c->up = grpc_channel_create_call(ctx->upstream, NULL, GRPC_PROPAGATE_DEFAULTS, ctx->cq,
                                         method, NULL, c->deadline, NULL);
        if (c->up == NULL) {
                log_error("could not open the call to the runtime method=%s", c->method_path);
                if (msg)
                        grpc_byte_buffer_destroy(msg);
                relay_reject(c, GRPC_STATUS_INTERNAL,
                             "crisp: could not open the call to the runtime");
                return;
        }
        c->c2p_sending = msg; /* kept until the call is freed */
        grpc_op ops[6] = {{0}};
        size_t n = 0;
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = c->request_md.count;
        ops[n].data.send_initial_metadata.metadata = c->request_md.metadata;
        n++;
        if (msg != NULL) {
                ops[n].op = GRPC_OP_SEND_MESSAGE;
                ops[n].data.send_message.send_message = msg;
                n++;
        }
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n].data.recv_initial_metadata.recv_initial_metadata = &c->response_md;
        n++;
        ops[n].op = GRPC_OP_RECV_MESSAGE;
        ops[n].data.recv_message.recv_message = &c->p2c_recv_buf;
        n++;
        ops[n].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        ops[n].data.recv_status_on_client.trailing_metadata = &c->trailing_md;
        ops[n].data.recv_status_on_client.status = &c->status;
        ops[n].data.recv_status_on_client.status_details = &c->status_details;
        n++;
        relay_start_batch(c, c->up, ops, n, &c->t_unary_up);
}

void relay_on_unary_up(struct crisp_tag *tag, bool ok)
{
        (void)ok; /* a batch with RECV_STATUS_ON_CLIENT always yields a status */
        struct relay_call *c = container_of(tag, struct relay_call, t_unary_up);
        pthread_mutex_lock(&c->mu);
        c->status_received = true;
        c->up_headers_seen = true;
        c->p2c_eof = true;
        if (c->status != GRPC_STATUS_OK && crisp_log_enabled(CRISP_LOG_DEBUG))
                log_debug("runtime answered method=%s code=%d", c->method_path, (int)c->status);
        grpc_byte_buffer *msg = c->p2c_recv_buf;
        if (msg != NULL) {
                relay_observe_response(c, msg);
                relay_remember_handler(c, msg);
        }
        if (!c->status_sent)
                relay_send_status_with(c, c->status, &c->trailing_md, msg);
        relay_handler_done(c);
}

/* The first request of a unary call: rewritten when its method is, then
 * forwarded; a request that is not there (the client half-closed without
 * one) is forwarded as none, as the generic path does. */
void relay_unary_start(struct relay_call *c)
{
        grpc_byte_buffer *msg = c->payload;
        c->payload = NULL;
        c->first_message_seen = true;
        if (msg != NULL && c->method != CRISP_METHOD_OTHER) {
                if (!relay_ask_spec(c, msg))
                        relay_forward_first(c, msg);
                return;
        }
        if (msg != NULL && relay_wants_bytes(c)) {
                grpc_slice received = relay_read_all(msg);
                relay_observe_request(c, received, NULL);
                grpc_slice_unref(received);
        }
        relay_unary_forward(c, msg);
}

int crisp_relay_register_unary(struct crisp_relay_ctx *ctx)
{
        size_t n = crisp_unary_method_count();
        ctx->unary_methods = calloc(n, sizeof(*ctx->unary_methods));
        if (ctx->unary_methods == NULL)
                return -ENOMEM;
        ctx->n_unary_methods = n;
        for (size_t i = 0; i < n; i++)
                ctx->unary_methods[i] =
                    grpc_server_register_method(ctx->server, crisp_unary_method_path(i), NULL,
                                                GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        return 0;
}

void crisp_relay_unregister_unary(struct crisp_relay_ctx *ctx)
{
        free(ctx->unary_methods);
        ctx->unary_methods = NULL;
        ctx->n_unary_methods = 0;
}
