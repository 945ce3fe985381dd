/* The per-call relay state machine: lifetime, new calls, the first
 * request's rewrite and policy shared by both paths, and the generic stream
 * path below; the CRI's unary methods take the fast path of relay_unary.c.
 *
 * Names: "down" is the call the kubelet made to crisp (a server call),
 * "up" is the call crisp makes to the runtime (a client call).
 *
 *   c2p (client to runtime):  down RECV_MESSAGE -> [rewrite first] -> up SEND_MESSAGE
 *                             -> ... -> down half-close -> up SEND_CLOSE_FROM_CLIENT
 *   p2c (runtime to client):  up RECV_INITIAL_METADATA -> down SEND_INITIAL_METADATA
 *                             up RECV_MESSAGE -> down SEND_MESSAGE -> ...
 *   status:                   up RECV_STATUS_ON_CLIENT -> down SEND_STATUS_FROM_SERVER,
 *                             once the response headers and every response
 *                             message have been handed to gRPC.
 *
 * Every completion is a trip through the completion queue (a thread wake-up),
 * so the relay keeps them off a call's critical path: each direction receives
 * the next message while the current one is being sent (at most one more is
 * held, which bounds memory), headers leave in the same batch as the first
 * message where they can, and the half-close and the status are started as
 * soon as they are known, even with a send still in flight: gRPC allows one
 * op of each kind at a time and sends them in the order they were started.
 *
 * The up call is created with the down call as its parent and
 * GRPC_PROPAGATE_DEFAULTS, so gRPC itself carries the client's deadline to the
 * runtime and cancels the up call when the client cancels.
 *
 * For RunPodSandbox/CreateContainer the up call is opened only once the
 * request message is in hand and rewritten: a request that does not decode is
 * answered INVALID_ARGUMENT and nothing reaches the runtime.
 *
 * Each call has a mutex; every completion handler runs under it, so the two
 * directions may complete on different queue threads safely. `pending`
 * counts batches in flight; the call is freed when it drops to zero.
 */
#include "relay_call.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "base/log.h"
#include "podspec/metrics_podspec.h"
#include "rule/pod_facts.h"
#include "rule/sandbox_handlers.h"
#include "tag.h"
#include "unary_methods.h"

static void on_new_call(struct crisp_tag *tag, bool ok);
static void on_down_closed(struct crisp_tag *tag, bool ok);
static void on_spec_answered(struct crisp_tag *tag, bool ok);
static void on_c2p_recv(struct crisp_tag *tag, bool ok);
static void on_c2p_send(struct crisp_tag *tag, bool ok);
static void on_c2p_close(struct crisp_tag *tag, bool ok);
static void on_up_md(struct crisp_tag *tag, bool ok);
static void on_up_headers(struct crisp_tag *tag, bool ok);
static void on_up_status(struct crisp_tag *tag, bool ok);
static void on_p2c_recv(struct crisp_tag *tag, bool ok);
static void on_p2c_send(struct crisp_tag *tag, bool ok);
static void on_down_headers(struct crisp_tag *tag, bool ok);
static void on_down_status(struct crisp_tag *tag, bool ok);

/* ---- lifetime ---------------------------------------------------------- */

static struct relay_call *relay_call_new(struct crisp_relay_ctx *ctx)
{
        struct relay_call *c = calloc(1, sizeof(*c));
        if (c == NULL)
                return NULL;
        c->ctx = ctx;
        pthread_mutex_init(&c->mu, NULL);
        grpc_call_details_init(&c->details);
        grpc_metadata_array_init(&c->request_md);
        grpc_metadata_array_init(&c->response_md);
        grpc_metadata_array_init(&c->trailing_md);
        c->status_details = grpc_empty_slice();
        c->t_new_call.fn = on_new_call;
        c->t_down_closed.fn = on_down_closed;
        c->t_c2p_recv.fn = on_c2p_recv;
        c->t_c2p_send.fn = on_c2p_send;
        c->t_c2p_close.fn = on_c2p_close;
        c->t_up_md.fn = on_up_md;
        c->t_up_headers.fn = on_up_headers;
        c->t_up_status.fn = on_up_status;
        c->t_p2c_recv.fn = on_p2c_recv;
        c->t_p2c_send.fn = on_p2c_send;
        c->t_down_headers.fn = on_down_headers;
        c->t_down_status.fn = on_down_status;
        c->t_spec_answered.fn = on_spec_answered;
        c->t_unary_up.fn = relay_on_unary_up;
        atomic_fetch_add(&ctx->live_calls, 1);
        return c;
}

static void relay_call_free(struct relay_call *c)
{
        struct crisp_relay_ctx *ctx = c->ctx;
        if (c->observed) {
                /* What the client was told: the status crisp sent, or CANCELLED
                 * when the client went away before any status. */
                if (c->status_sent)
                        ctx->observer->end(c->observed, (int)c->sent_code,
                                           (const char *)GRPC_SLICE_START_PTR(c->status_details),
                                           GRPC_SLICE_LENGTH(c->status_details));
                else
                        ctx->observer->end(c->observed, GRPC_STATUS_CANCELLED, "", 0);
        }
        if (c->up)
                grpc_call_unref(c->up);
        if (c->down)
                grpc_call_unref(c->down);
        grpc_byte_buffer *buffers[] = {c->c2p_recv_buf, c->c2p_sending, c->c2p_held,
                                       c->p2c_recv_buf, c->p2c_sending, c->p2c_held,
                                       c->parked,       c->payload};
        for (size_t i = 0; i < sizeof(buffers) / sizeof(buffers[0]); i++)
                if (buffers[i])
                        grpc_byte_buffer_destroy(buffers[i]);
        grpc_call_details_destroy(&c->details);
        grpc_metadata_array_destroy(&c->request_md);
        grpc_metadata_array_destroy(&c->response_md);
        grpc_metadata_array_destroy(&c->trailing_md);
        grpc_slice_unref(c->status_details);
        crisp_policy_release_snapshot(c->snap); /* issue 6 */
        pthread_mutex_destroy(&c->mu);
        free(c);
        atomic_fetch_sub(&ctx->live_calls, 1);
        if (ctx->on_call_freed)
                ctx->on_call_freed(ctx);
}

/* Ends a completion handler: one batch fewer in flight; frees the call
 * after the last one. Called with c->mu held; releases it. */
void relay_handler_done(struct relay_call *c)
{
        bool last = --c->pending == 0;
        pthread_mutex_unlock(&c->mu);
        if (last)
                relay_call_free(c);
}

bool relay_start_batch(struct relay_call *c, grpc_call *call, const grpc_op *ops, size_t n,
                       struct crisp_tag *tag)
{
        c->pending++;
        grpc_call_error e = grpc_call_start_batch(call, ops, n, tag, NULL);
        if (e != GRPC_CALL_OK) {
                /* Only a bug in this file gets here: ops in a wrong order or twice. */
                c->pending--;
                log_error("internal: grpc_call_start_batch failed (%d) method=%s", (int)e,
                          c->method_path);
                return false;
        }
        return true;
}

/* ---- answering the client ------------------------------------------------ */

/* Starts the batch that ends the client's call. gRPC's server needs response
 * headers sent before or with the status; when none were, they go in the same
 * batch (the runtime's, or none: a trailers-only response). */
void relay_send_status_with(struct relay_call *c, grpc_status_code code,
                            grpc_metadata_array *trailers, grpc_byte_buffer *msg)
{
        c->status_sent = true;
        c->sent_code = code;
        grpc_op ops[3] = {{0}};
        size_t n = 0;
        if (!c->down_headers_sent) {
                c->down_headers_sent = true;
                ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
                ops[n].data.send_initial_metadata.count = c->response_md.count;
                ops[n].data.send_initial_metadata.metadata = c->response_md.metadata;
                n++;
        }
        if (msg != NULL) {
                ops[n].op = GRPC_OP_SEND_MESSAGE;
                ops[n].data.send_message.send_message = msg;
                n++;
        }
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = code;
        ops[n].data.send_status_from_server.status_details = &c->status_details;
        if (trailers) {
                ops[n].data.send_status_from_server.trailing_metadata_count = trailers->count;
                ops[n].data.send_status_from_server.trailing_metadata = trailers->metadata;
        }
        relay_start_batch(c, c->down, ops, n + 1, &c->t_down_status);
}

static void send_status(struct relay_call *c, grpc_status_code code, grpc_metadata_array *trailers)
{
        relay_send_status_with(c, code, trailers, NULL);
}

/* Answers the client with crisp's own status; the runtime never sees the call. */
void relay_reject(struct relay_call *c, grpc_status_code code, const char *details)
{
        if (c->status_sent)
                return;
        grpc_slice_unref(c->status_details);
        c->status_details = grpc_slice_from_copied_string(details);
        send_status(c, code, NULL);
}

/* Passes the runtime's status on once its headers and every message it sent
 * have been handed to gRPC (a send may still be in flight: gRPC sends the
 * status after it). */
static void maybe_send_status(struct relay_call *c)
{
        if (c->status_sent || !c->status_received || !c->up_headers_seen || !c->p2c_eof ||
            c->p2c_held != NULL)
                return;
        send_status(c, c->status, &c->trailing_md);
}

/* ---- c2p: client to runtime ------------------------------------------------- */

static void c2p_receive(struct relay_call *c)
{
        grpc_op op = {0};
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &c->c2p_recv_buf;
        relay_start_batch(c, c->down, &op, 1, &c->t_c2p_recv);
}

/* Sends `msg` (owned from here on) to the runtime; `with_headers` opens the
 * call's request headers in the same batch. */
static void c2p_send(struct relay_call *c, grpc_byte_buffer *msg, bool with_headers)
{
        grpc_op ops[2] = {{0}};
        size_t n = 0;
        if (with_headers) {
                ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
                ops[n].data.send_initial_metadata.count = c->request_md.count;
                ops[n].data.send_initial_metadata.metadata = c->request_md.metadata;
                n++;
        }
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = msg;
        c->c2p_sending = msg;
        if (!relay_start_batch(c, c->up, ops, n + 1, &c->t_c2p_send)) {
                grpc_byte_buffer_destroy(msg);
                c->c2p_sending = NULL;
        }
}

/* ---- p2c: runtime to client --------------------------------------------------- */

static void p2c_receive(struct relay_call *c)
{
        grpc_op op = {0};
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &c->p2c_recv_buf;
        if (!relay_start_batch(c, c->up, &op, 1, &c->t_p2c_recv))
                c->p2c_eof = true;
}

/* Sends `msg` (owned from here on) to the client, with the response headers
 * in the same batch when they have not gone yet. */
static void p2c_send(struct relay_call *c, grpc_byte_buffer *msg)
{
        grpc_op ops[2] = {{0}};
        size_t n = 0;
        if (!c->down_headers_sent) {
                c->down_headers_sent = true;
                ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
                ops[n].data.send_initial_metadata.count = c->response_md.count;
                ops[n].data.send_initial_metadata.metadata = c->response_md.metadata;
                n++;
        }
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = msg;
        c->p2c_sending = msg;
        if (!relay_start_batch(c, c->down, ops, n + 1, &c->t_p2c_send)) {
                grpc_byte_buffer_destroy(msg);
                c->p2c_sending = NULL;
                c->p2c_eof = true;
        }
}

/* ---- opening the call to the runtime ---------------------------------------- */

/* Opens the call to the runtime. With `first` (owned from here on), the
 * request headers and the first message leave in one batch. */
static bool open_upstream(struct relay_call *c, grpc_byte_buffer *first)
{
        struct crisp_relay_ctx *ctx = c->ctx;
        c->up = grpc_channel_create_call(ctx->upstream, c->down, GRPC_PROPAGATE_DEFAULTS, ctx->cq,
                                         c->details.method, NULL, c->details.deadline, NULL);
        if (c->up == NULL) {
                log_error("could not open the call to the runtime method=%s", c->method_path);
                if (first)
                        grpc_byte_buffer_destroy(first);
                relay_reject(c, GRPC_STATUS_INTERNAL,
                             "crisp: could not open the call to the runtime");
                return false;
        }

        grpc_op status_op = {0};
        status_op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        status_op.data.recv_status_on_client.trailing_metadata = &c->trailing_md;
        status_op.data.recv_status_on_client.status = &c->status;
        status_op.data.recv_status_on_client.status_details = &c->status_details;
        relay_start_batch(c, c->up, &status_op, 1, &c->t_up_status);

        grpc_op headers_op = {0};
        headers_op.op = GRPC_OP_RECV_INITIAL_METADATA;
        headers_op.data.recv_initial_metadata.recv_initial_metadata = &c->response_md;
        if (!relay_start_batch(c, c->up, &headers_op, 1, &c->t_up_headers))
                c->up_headers_seen = true;
        p2c_receive(c); /* gRPC delivers it after the headers */

        if (first) {
                c2p_send(c, first, true);
        } else {
                grpc_op md_op = {0};
                md_op.op = GRPC_OP_SEND_INITIAL_METADATA;
                md_op.data.send_initial_metadata.count = c->request_md.count;
                md_op.data.send_initial_metadata.metadata = c->request_md.metadata;
                relay_start_batch(c, c->up, &md_op, 1, &c->t_up_md);
        }
        return true;
}

/* ---- the first request --------------------------------------------------------- */

/* A whole byte buffer as one contiguous slice: a new reference to the
 * buffer's own bytes when they are in one uncompressed slice, as a message
 * read from one HTTP/2 frame is (no copy), else a copy. */
grpc_slice relay_read_all(grpc_byte_buffer *bb)
{
        if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
            bb->data.raw.slice_buffer.count == 1)
                return grpc_slice_ref(bb->data.raw.slice_buffer.slices[0]);
        grpc_byte_buffer_reader reader;
        if (!grpc_byte_buffer_reader_init(&reader, bb))
                return grpc_empty_slice();
        grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
        grpc_byte_buffer_reader_destroy(&reader);
        return s;
}

/* issue 6 (policy): exemptions and audit mode, after the rewriter decided.
 * An exempt pod, or any pod in audit mode, goes to the runtime exactly as it
 * came: the rewriter's bytes are dropped and `res` says why. */
static void apply_policy(struct relay_call *c, const uint8_t *data, size_t len,
                         struct crisp_rewrite_result *res)
{
        const struct crisp_policy *policy = &c->snap->policy;
        res->audit = policy->mode == CRISP_MODE_AUDIT;
        /* Without exemptions a CreateContainer needs no second look (a
         * RunPodSandbox still does: its handler is remembered for a reload
         * that adds runtimeHandlers). */
        bool any_exemption =
            policy->n_namespaces > 0 || policy->n_pod_labels > 0 || policy->n_runtime_handlers > 0;
        if (!any_exemption && c->method == CRISP_METHOD_CREATE_CONTAINER) {
                if (res->audit) {
                        free(res->bytes);
                        res->bytes = NULL;
                        res->len = 0;
                        res->changed = false;
                }
                return;
        }
        struct crisp_pod_view view;
        _cleanup_error_ crisp_error *err = NULL;
        bool exempt = false;
        if (crisp_pod_view_decode(c->method, data, len, &view, &err) == 0) {
                char handler[96];
                if (c->method == CRISP_METHOD_CREATE_CONTAINER && policy->n_runtime_handlers > 0 &&
                    crisp_sandbox_handlers_get(view.sandbox_id, handler, sizeof(handler))) {
                        view.facts.runtime_handler = handler;
                        view.facts.runtime_handler_len = strlen(handler);
                        view.facts.runtime_handler_known = true;
                }
                /* Remembered only as a plain string: a handler with a NUL
                 * byte could match a different one once cut at the NUL. */
                if (c->method == CRISP_METHOD_RUN_POD_SANDBOX &&
                    view.facts.runtime_handler_len < sizeof(c->runtime_handler) &&
                    view.facts.runtime_handler_len > 0 &&
                    memchr(view.facts.runtime_handler, 0, view.facts.runtime_handler_len) == NULL) {
                        memcpy(c->runtime_handler, view.facts.runtime_handler,
                               view.facts.runtime_handler_len);
                        c->runtime_handler[view.facts.runtime_handler_len] = '\0';
                }
                exempt = crisp_policy_exemption(policy, &view.facts, res->exemption,
                                                sizeof(res->exemption));
        } else {
                log_warn("policy: cannot read the pod's namespace, labels and handler "
                         "method=%s reason=\"%s\"; no exemption applies",
                         c->method_path, err->msg);
        }
        crisp_pod_view_release(&view);

        if (exempt)
                res->n_changes = 0;
        if (exempt || res->audit) {
                free(res->bytes);
                res->bytes = NULL;
                res->len = 0;
                res->changed = false;
        }
}

/* ---- issue 8: the pod spec settles the ambiguous case ------------------------------ */

/* Turns the resolver's answer into the rewriter's option for the container
 * context, and logs which source decided and why. */
static void settle_from_spec(struct relay_call *c, struct crisp_rewrite_options *opts)
{
        const struct crisp_spec_answer *a = &c->spec;
        const char *facts = "";
        char described[200] = "";
        if (a->source != CRISP_SOURCE_FALLBACK || a->facts.container_found) {
                snprintf(described, sizeof(described), " spec_container=%s spec_pod=%s kind=%s",
                         crisp_spec_seccomp_name(a->facts.container),
                         crisp_spec_seccomp_name(a->facts.pod),
                         crisp_container_kind_name(a->facts.kind));
                facts = described;
        }
        crisp_metrics_podspec_lookup(a->result);
        switch (a->verdict) {
        case CRISP_SPEC_KEEP:
                opts->container_settled = true;
                opts->container_ambiguous = CRISP_AMBIGUOUS_KEEP;
                opts->container_why = a->why;
                break;
        case CRISP_SPEC_DEFAULT:
        case CRISP_SPEC_DISAGREE_DEFAULT: /* the confined side wins */
                opts->container_settled = true;
                opts->container_ambiguous = CRISP_AMBIGUOUS_RUNTIME_DEFAULT;
                opts->container_why = a->why;
                break;
        case CRISP_SPEC_DISAGREE_POLICY: /* Localhost: the policy, with the spec's reason */
                opts->container_settled = true;
                opts->container_ambiguous = opts->ambiguous;
                opts->container_why = a->why;
                break;
        case CRISP_SPEC_UNDECIDED:
                break; /* the policy's ambiguousUnconfined, as without a pod-spec source */
        }
        enum crisp_ambiguous_policy decided =
            opts->container_settled ? opts->container_ambiguous : opts->ambiguous;
        const char *outcome = decided == CRISP_AMBIGUOUS_KEEP ? "keep" : "runtime-default";
        if (crisp_spec_verdict_disagrees(a->verdict))
                log_warn("pod-spec: the spec and the request disagree method=%s uid=%s "
                         "container=%s source=%s result=%s reason=\"%s\"%s forwarded=%s",
                         c->method_path, c->spec_query_uid, c->spec_query_container,
                         crisp_spec_source_name(a->source), a->result, a->why, facts,
                         decided == CRISP_AMBIGUOUS_KEEP ? "unchanged" : "runtime-default");
        else
                log_info("pod-spec: decided method=%s uid=%s container=%s source=%s result=%s "
                         "reason=\"%s\"%s outcome=%s",
                         c->method_path, c->spec_query_uid, c->spec_query_container,
                         crisp_spec_source_name(a->source), a->result, a->why, facts, outcome);
}

/* Called on the resolver's thread once a waiting lookup has its answer:
 * a batch of no ops completes at once and brings the call back to a queue
 * thread, under its lock, like every other completion. */
static void spec_answered(void *arg)
{
        struct relay_call *c = arg;
        /* The resolver wrote the answer on this thread. Taking the call's
         * lock around the hand-over orders those writes before the queue
         * thread's reads under the same lock: gRPC's queue orders them too,
         * but inside a library ThreadSanitizer cannot see into. The resolver
         * calls this with none of its own locks held. */
        pthread_mutex_lock(&c->mu);
        grpc_call_error e = grpc_call_start_batch(c->down, NULL, 0, &c->t_spec_answered, NULL);
        pthread_mutex_unlock(&c->mu);
        if (e != GRPC_CALL_OK) {
                log_error("internal: cannot resume a call after its pod-spec lookup (%d) method=%s",
                          (int)e, c->method_path);
                on_spec_answered(&c->t_spec_answered, true); /* resume it on this thread */
        }
}

/* Asks the resolver when `msg` is an ambiguous CreateContainer. Returns true
 * when the call must wait for the answer (then `msg` is parked). */
bool relay_ask_spec(struct relay_call *c, grpc_byte_buffer *msg)
{
        if (c->ctx->resolver == NULL || c->method != CRISP_METHOD_CREATE_CONTAINER)
                return false;
        grpc_slice in = relay_read_all(msg);
        struct crisp_rewrite_result res;
        int r = crisp_rewrite_request(c->method, GRPC_SLICE_START_PTR(in), GRPC_SLICE_LENGTH(in),
                                      &c->snap->rewrite, &res, NULL);
        grpc_slice_unref(in);
        if (r < 0)
                return false; /* refused on the way on, with its message */
        bool ambiguous = res.container_ambiguous;
        struct crisp_spec_query q;
        snprintf(q.uid, sizeof(q.uid), "%s", res.pod_uid);
        snprintf(q.namespace_, sizeof(q.namespace_), "%s", res.pod_namespace);
        snprintf(q.pod_name, sizeof(q.pod_name), "%s", res.pod_name);
        snprintf(q.container, sizeof(q.container), "%s", res.container);
        crisp_rewrite_result_release(&res);
        if (!ambiguous)
                return false;
        snprintf(c->spec_query_uid, sizeof(c->spec_query_uid), "%s", q.uid);
        snprintf(c->spec_query_container, sizeof(c->spec_query_container), "%s", q.container);
        c->spec_asked = true;
        if (crisp_spec_resolver_lookup(c->ctx->resolver, &q, &c->spec, spec_answered, c) == 0)
                return false;
        log_debug("pod-spec: waiting for the pod uid=%s container=%s method=%s", q.uid, q.container,
                  c->method_path);
        c->parked = msg;
        c->pending++; /* the no-op batch spec_answered starts */
        return true;
}

/* The decision's log line, written once the request is on its way: the
 * write(2) costs the call no latency there. */
static void log_decision(struct relay_call *c, const struct crisp_rewrite_result *res)
{
        if (res->changed || res->exemption[0] != '\0' || res->n_changes > 0)
                crisp_rewrite_result_log(res, c->method_path); /* also exempt, or audit */
        else
                log_debug("unchanged method=%s pod=%s/%s container=%s", c->method_path,
                          res->pod_namespace, res->pod_name,
                          res->container[0] ? res->container : "-");
}

/* Applies the seccomp rule and the policy to the first request message
 * *msg, replacing it when crisp changes it (*changed says so). `res` gets
 * the decision (*decided: the caller logs it with log_decision and releases
 * it). Returns false when the call was answered with an error instead (*msg
 * is then still the caller's). */
static bool rewrite_first_message(struct relay_call *c, grpc_byte_buffer **msg, bool *changed,
                                  struct crisp_rewrite_result *out, bool *decided)
{
        grpc_slice in = relay_read_all(*msg);
        struct crisp_rewrite_result res;
        _cleanup_error_ crisp_error *err = NULL;
        *decided = false;
        struct crisp_rewrite_options opts = c->snap->rewrite;
        if (c->spec_asked)
                settle_from_spec(c, &opts);
        int r = crisp_rewrite_request(c->method, GRPC_SLICE_START_PTR(in), GRPC_SLICE_LENGTH(in),
                                      &opts, &res, &err);
        if (r == 0 && c->spec_asked && res.container_ambiguous)
                snprintf(res.source, sizeof(res.source), "%s",
                         crisp_spec_source_name(c->spec.source));
        if (r == 0)
                apply_policy(c, GRPC_SLICE_START_PTR(in), GRPC_SLICE_LENGTH(in), &res);
        grpc_slice_unref(in);
        if (r == 0 && c->observed)
                c->ctx->observer->rewrite(c->observed, &res);
        if (r < 0 && c->observed && c->ctx->observer->rejected)
                c->ctx->observer->rejected(c->observed, err->msg); /* issue 6 */
        if (r < 0 && c->snap->policy.mode == CRISP_MODE_AUDIT) {
                /* issue 6: audit never answers for the runtime; it says what
                 * enforce would have done and forwards the request as it came. */
                log_warn("audit: enforce would reject method=%s code=INVALID_ARGUMENT "
                         "reason=\"%s\" mode=audit",
                         c->method_path, err->msg);
                *changed = false;
                return true;
        }
        if (r < 0) {
                log_warn("rejected method=%s code=INVALID_ARGUMENT reason=\"%s\"", c->method_path,
                         err->msg);
                char details[512];
                snprintf(details, sizeof(details), "crisp: %s; not forwarded to the runtime",
                         err->msg);
                relay_reject(c, GRPC_STATUS_INVALID_ARGUMENT, details);
                return false;
        }
        *changed = res.changed;
        if (res.changed) {
                /* Hand the new bytes to gRPC without a copy; it frees them. */
                grpc_slice bytes = grpc_slice_new(res.bytes, res.len, free);
                res.bytes = NULL;
                grpc_byte_buffer_destroy(*msg);
                *msg = grpc_raw_byte_buffer_create(&bytes, 1);
                grpc_slice_unref(bytes);
        }
        *out = res;
        *decided = true;
        return true;
}

/* Whether the observer wants the bytes of each message (the recorder does,
 * the metrics do not): without it, crisp reads no message it relays. */
bool relay_wants_bytes(const struct relay_call *c)
{
        return c->observed != NULL && c->ctx->observer->request != NULL;
}

void relay_observe_request(struct relay_call *c, grpc_slice received, grpc_byte_buffer *forwarded)
{
        grpc_slice fwd = forwarded ? relay_read_all(forwarded) : grpc_empty_slice();
        c->ctx->observer->request(
            c->observed, GRPC_SLICE_START_PTR(received), GRPC_SLICE_LENGTH(received),
            forwarded ? GRPC_SLICE_START_PTR(fwd) : NULL, GRPC_SLICE_LENGTH(fwd));
        grpc_slice_unref(fwd);
}

/* Rewrites the first request (`msg`, owned from here on) and opens the
 * call to the runtime with it, or answers the client when it is refused. */
void relay_forward_first(struct relay_call *c, grpc_byte_buffer *msg)
{
        grpc_slice received = relay_wants_bytes(c) ? relay_read_all(msg) : grpc_empty_slice();
        bool changed = false, decided = false;
        struct crisp_rewrite_result res;
        if (!rewrite_first_message(c, &msg, &changed, &res, &decided)) {
                /* Refused: recorded as it came, never forwarded. */
                if (relay_wants_bytes(c))
                        relay_observe_request(c, received, NULL);
                grpc_byte_buffer_destroy(msg);
        } else {
                if (relay_wants_bytes(c))
                        relay_observe_request(c, received, changed ? msg : NULL);
                if (c->unary)
                        relay_unary_forward(c, msg);
                else if (open_upstream(c, msg))
                        c2p_receive(c);
                if (decided) {
                        log_decision(c, &res);
                        crisp_rewrite_result_release(&res);
                }
        }
        grpc_slice_unref(received);
}

static void on_spec_answered(struct crisp_tag *tag, bool ok)
{
        (void)ok; /* a batch of no ops always completes */
        struct relay_call *c = container_of(tag, struct relay_call, t_spec_answered);
        pthread_mutex_lock(&c->mu);
        grpc_byte_buffer *msg = c->parked;
        c->parked = NULL;
        if (c->down_cancelled || c->status_sent) {
                /* The client went away while the pod was looked up. */
                log_info("pod-spec: the client went away while its pod was looked up "
                         "method=%s uid=%s; not forwarded",
                         c->method_path, c->spec_query_uid);
                grpc_byte_buffer_destroy(msg);
                relay_reject(c, GRPC_STATUS_CANCELLED, "crisp: the client went away");
        } else {
                relay_forward_first(c, msg);
        }
        relay_handler_done(c);
}

/* ---- c2p completions ------------------------------------------------------------ */

static void on_c2p_recv(struct crisp_tag *tag, bool ok)
{
        struct relay_call *c = container_of(tag, struct relay_call, t_c2p_recv);
        pthread_mutex_lock(&c->mu);
        grpc_byte_buffer *msg = c->c2p_recv_buf;
        c->c2p_recv_buf = NULL;

        if (!ok) {
                /* The client's side of the call broke (cancelled or finished). When
                 * the runtime was never called, crisp must still close the call. */
                if (c->up == NULL)
                        relay_reject(c, GRPC_STATUS_CANCELLED, "crisp: the client went away");
        } else if (msg == NULL) {
                /* The client half-closed: pass it on at once, even with the
                 * last message still in flight (gRPC keeps the order). */
                if (c->up == NULL && !c->status_sent)
                        open_upstream(c, NULL); /* a rewritten method sent with no message */
                if (c->up != NULL) {
                        grpc_op op = {0};
                        op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
                        relay_start_batch(c, c->up, &op, 1, &c->t_c2p_close);
                }
        } else if (!c->first_message_seen && c->method != CRISP_METHOD_OTHER) {
                /* The request crisp may rewrite: the runtime is called only now. */
                c->first_message_seen = true;
                if (!relay_ask_spec(c, msg))
                        relay_forward_first(c, msg);
        } else if (c->up == NULL) {
                grpc_byte_buffer_destroy(msg); /* the call was already answered */
        } else {
                c->first_message_seen = true;
                if (relay_wants_bytes(c)) {
                        grpc_slice received = relay_read_all(msg);
                        relay_observe_request(c, received, NULL);
                        grpc_slice_unref(received);
                }
                if (c->c2p_sending != NULL) {
                        c->c2p_held = msg; /* read on once the send in flight is done */
                } else {
                        c2p_send(c, msg, false);
                        c2p_receive(c);
                }
        }
        relay_handler_done(c);
}

static void on_c2p_send(struct crisp_tag *tag, bool ok)
{
        struct relay_call *c = container_of(tag, struct relay_call, t_c2p_send);
        pthread_mutex_lock(&c->mu);
        grpc_byte_buffer_destroy(c->c2p_sending);
        c->c2p_sending = NULL;
        grpc_byte_buffer *held = c->c2p_held;
        c->c2p_held = NULL;
        if (held != NULL) {
                if (ok) {
                        c2p_send(c, held, false);
                        c2p_receive(c);
                } else {
                        /* The runtime's side is over; its status will come. */
                        grpc_byte_buffer_destroy(held);
                }
        }
        relay_handler_done(c);
}

static void on_c2p_close(struct crisp_tag *tag, bool ok)
{
        (void)ok;
        struct relay_call *c = container_of(tag, struct relay_call, t_c2p_close);
        pthread_mutex_lock(&c->mu);
        relay_handler_done(c);
}

static void on_up_md(struct crisp_tag *tag, bool ok)
{
        (void)ok; /* a failure shows in the call's status */
        struct relay_call *c = container_of(tag, struct relay_call, t_up_md);
        pthread_mutex_lock(&c->mu);
        relay_handler_done(c);
}

/* ---- p2c completions ------------------------------------------------------------ */

void relay_observe_response(struct relay_call *c, grpc_byte_buffer *msg)
{
        if (c->observed == NULL || c->ctx->observer->response == NULL)
                return;
        grpc_slice s = relay_read_all(msg);
        c->ctx->observer->response(c->observed, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
        grpc_slice_unref(s);
}

/* issue 6: a new sandbox's runtime handler, remembered for its containers
 * once the runtime's response says the sandbox's id. */
void relay_remember_handler(struct relay_call *c, grpc_byte_buffer *msg)
{
        if (c->method != CRISP_METHOD_RUN_POD_SANDBOX || c->runtime_handler[0] == '\0' ||
            c->handler_remembered)
                return;
        char id[96];
        grpc_slice s = relay_read_all(msg);
        crisp_pod_sandbox_id_of_response(GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), id,
                                         sizeof(id));
        grpc_slice_unref(s);
        crisp_sandbox_handlers_put(id, c->runtime_handler, strlen(c->runtime_handler));
        c->handler_remembered = true;
}

static void on_up_headers(struct crisp_tag *tag, bool ok)
{
        struct relay_call *c = container_of(tag, struct relay_call, t_up_headers);
        pthread_mutex_lock(&c->mu);
        c->up_headers_seen = true;
        if (ok && !c->down_headers_sent && !c->status_sent) {
                grpc_byte_buffer *held = c->p2c_held;
                c->p2c_held = NULL;
                if (held != NULL) {
                        /* A message came first to this thread: both go now. */
                        p2c_send(c, held);
                        p2c_receive(c);
                } else {
                        c->down_headers_sent = true;
                        grpc_op op = {0};
                        op.op = GRPC_OP_SEND_INITIAL_METADATA;
                        op.data.send_initial_metadata.count = c->response_md.count;
                        op.data.send_initial_metadata.metadata = c->response_md.metadata;
                        relay_start_batch(c, c->down, &op, 1, &c->t_down_headers);
                }
        }
        maybe_send_status(c);
        relay_handler_done(c);
}

static void on_down_headers(struct crisp_tag *tag, bool ok)
{
        (void)ok; /* not ok: the client is gone, which the other ops see too */
        struct relay_call *c = container_of(tag, struct relay_call, t_down_headers);
        pthread_mutex_lock(&c->mu);
        relay_handler_done(c);
}

static void on_p2c_recv(struct crisp_tag *tag, bool ok)
{
        struct relay_call *c = container_of(tag, struct relay_call, t_p2c_recv);
        pthread_mutex_lock(&c->mu);
        grpc_byte_buffer *msg = c->p2c_recv_buf;
        c->p2c_recv_buf = NULL;
        if (!ok || msg == NULL) {
                c->p2c_eof = true; /* the runtime sent its last message */
        } else {
                relay_observe_response(c, msg);
                relay_remember_handler(c, msg);
                if (!c->up_headers_seen || c->p2c_sending != NULL) {
                        /* Sent when the headers, or the send in flight, are done. */
                        c->p2c_held = msg;
                } else {
                        p2c_send(c, msg);
                        p2c_receive(c);
                }
        }
        maybe_send_status(c);
        relay_handler_done(c);
}

static void on_p2c_send(struct crisp_tag *tag, bool ok)
{
        struct relay_call *c = container_of(tag, struct relay_call, t_p2c_send);
        pthread_mutex_lock(&c->mu);
        grpc_byte_buffer_destroy(c->p2c_sending);
        c->p2c_sending = NULL;
        grpc_byte_buffer *held = c->p2c_held;
        c->p2c_held = NULL;
        if (!ok) {
                /* The client is gone: stop the runtime's side too. */
                if (held)
                        grpc_byte_buffer_destroy(held);
                c->p2c_eof = true;
                grpc_call_cancel(c->up, NULL);
        } else if (held != NULL) {
                p2c_send(c, held);
                p2c_receive(c);
        }
        maybe_send_status(c);
        relay_handler_done(c);
}

/* ---- status ----------------------------------------------------------------------- */

static void on_up_status(struct crisp_tag *tag, bool ok)
{
        (void)ok; /* RECV_STATUS_ON_CLIENT always yields a status */
        struct relay_call *c = container_of(tag, struct relay_call, t_up_status);
        pthread_mutex_lock(&c->mu);
        c->status_received = true;
        if (c->status != GRPC_STATUS_OK && crisp_log_enabled(CRISP_LOG_DEBUG)) {
                log_debug("runtime answered method=%s code=%d", c->method_path, (int)c->status);
        }
        maybe_send_status(c);
        relay_handler_done(c);
}

static void on_down_status(struct crisp_tag *tag, bool ok)
{
        (void)ok; /* not ok: the client had gone; nothing more to do */
        struct relay_call *c = container_of(tag, struct relay_call, t_down_status);
        pthread_mutex_lock(&c->mu);
        relay_handler_done(c);
}

static void on_down_closed(struct crisp_tag *tag, bool ok)
{
        (void)ok;
        struct relay_call *c = container_of(tag, struct relay_call, t_down_closed);
        pthread_mutex_lock(&c->mu);
        if (c->down_cancelled && crisp_log_enabled(CRISP_LOG_DEBUG))
                log_debug("client cancelled method=%s", c->method_path);
        /* The unary path's runtime call has no parent: crisp carries the
         * client's cancel (or its deadline, or crisp's shutdown) itself. */
        if (c->unary && c->down_cancelled && c->up != NULL && !c->status_received)
                grpc_call_cancel(c->up, NULL);
        relay_handler_done(c);
}

/* ---- a new call ---------------------------------------------------------------- */

/* Asks for the next call of one method: the registered unary method `index`,
 * or with `index` past them, any method not registered. */
static int await_one(struct crisp_relay_ctx *ctx, size_t index)
{
        struct relay_call *c = relay_call_new(ctx);
        if (c == NULL) {
                log_error("out of memory: cannot take more calls");
                return -ENOMEM;
        }
        c->pending = 1; /* the request itself */
        atomic_fetch_add(&ctx->waiting, 1);
        grpc_call_error e;
        if (index < ctx->n_unary_methods) {
                c->unary = true;
                c->unary_index = index;
                e = grpc_server_request_registered_call(
                    ctx->server, ctx->unary_methods[index], &c->down, &c->deadline, &c->request_md,
                    &c->payload, ctx->cq, ctx->cq, &c->t_new_call);
        } else {
                e = grpc_server_request_call(ctx->server, &c->down, &c->details, &c->request_md,
                                             ctx->cq, ctx->cq, &c->t_new_call);
        }
        if (e != GRPC_CALL_OK) {
                atomic_fetch_sub(&ctx->waiting, 1);
                c->pending = 0;
                relay_call_free(c);
                return -EINVAL;
        }
        return 0;
}

int crisp_relay_await_call(struct crisp_relay_ctx *ctx)
{
        return await_one(ctx, SIZE_MAX);
}

int crisp_relay_await_unary(struct crisp_relay_ctx *ctx)
{
        for (size_t i = 0; i < ctx->n_unary_methods; i++) {
                if (ctx->unary_methods[i] == NULL)
                        continue;
                int r = await_one(ctx, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void on_new_call(struct crisp_tag *tag, bool ok)
{
        struct relay_call *c = container_of(tag, struct relay_call, t_new_call);
        struct crisp_relay_ctx *ctx = c->ctx;
        atomic_fetch_sub(&ctx->waiting, 1);
        if (!ok) {
                /* The server is shutting down: no call came, and no more will. */
                pthread_mutex_lock(&c->mu);
                relay_handler_done(c);
                return;
        }
        /* Be ready for the next call (of this method) before serving this one. */
        await_one(ctx, c->unary ? c->unary_index : SIZE_MAX);

        pthread_mutex_lock(&c->mu);
        const char *path;
        size_t len;
        if (c->unary) {
                path = crisp_unary_method_path(c->unary_index);
                len = strlen(path);
        } else {
                len = GRPC_SLICE_LENGTH(c->details.method);
                path = (const char *)GRPC_SLICE_START_PTR(c->details.method);
        }
        snprintf(c->method_path, sizeof(c->method_path), "%.*s", (int)len, path);
        /* issue 6: the policy this call keeps to its end; mode off relays it
         * as opaque bytes. */
        c->snap = crisp_policy_acquire(ctx->policy);
        c->method = c->snap->policy.mode != CRISP_MODE_OFF ? crisp_method_classify(path, len)
                                                           : CRISP_METHOD_OTHER;
        if (ctx->observer)
                c->observed = ctx->observer->begin(ctx->observer->self, c->method_path);

        grpc_op op = {0};
        op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        op.data.recv_close_on_server.cancelled = &c->down_cancelled;
        if (c->unary) {
                relay_unary_start(c);
                relay_start_batch(c, c->down, &op, 1, &c->t_down_closed);
                relay_handler_done(c);
                return;
        }
        relay_start_batch(c, c->down, &op, 1, &c->t_down_closed);

        /* A call crisp may rewrite waits for its request before the runtime is
         * called; every other call is opened at once, so streams whose client
         * waits for the server's headers work. */
        if (c->method == CRISP_METHOD_OTHER)
                open_upstream(c, NULL);
        c2p_receive(c);
        relay_handler_done(c);
}
