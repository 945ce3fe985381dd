/* The first request of RunPodSandbox and CreateContainer (relay.h): the one
 * message crisp reads. The runtime's stream is opened only once it has been
 * checked:
 *
 *   held headers + the whole first message
 *     -> [an ambiguous CreateContainer, with a pod-spec source: the pod spec
 *         is looked up, on the resolver's thread if it must wait]
 *     -> the seccomp rule (src/rule/rewrite.c), then the policy (exemptions,
 *        audit), then complain's twins
 *     -> refused: INVALID_ARGUMENT from crisp, nothing reaches the runtime;
 *        else the runtime's stream opens with the (re-encoded) message.
 *
 * The message was read into memory with room for its 5-byte gRPC prefix in
 * front; unchanged, it is forwarded from there without another copy. */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "podspec/metrics_podspec.h"
#include "rule/pod_facts.h"
#include "rule/sandbox_handlers.h"
#include "wire/block.h"

struct first_state {
        /* issue 8: an ambiguous CreateContainer waits, its message parked,
         * while the resolver looks for the pod; `spec` is the answer. */
        bool spec_asked;
        struct crisp_spec_answer spec;
        uint8_t *parked;
        size_t parked_len;
        char spec_query_uid[128]; /* for the log lines */
        char spec_query_container[256];
        /* issue 6: a RunPodSandbox's runtime handler, remembered for its
         * containers once the runtime says the sandbox's id */
        char runtime_handler[96];
        bool handler_remembered;
};

int first_begin(struct relay_stream *st)
{
        st->first = calloc(1, sizeof(*st->first));
        return st->first ? 0 : -ENOMEM;
}

void first_free(struct first_state *f)
{
        if (f == NULL)
                return;
        free(f->parked);
        free(f);
}

/* ---- issue 6: the policy ---------------------------------------------------------- */

/* Exemptions and audit mode, after the rewriter decided. An exempt pod, or
 * any pod in audit mode, goes to the runtime exactly as it came: the
 * rewriter's bytes are dropped and `res` says why. */
static void apply_policy(struct relay_stream *st, const uint8_t *data, size_t len,
                         struct crisp_rewrite_result *res)
{
        const struct crisp_policy *policy = &st->snap->policy;
        res->audit = policy->mode == CRISP_MODE_AUDIT;
        /* Without exemptions a CreateContainer needs no second look (a
         * RunPodSandbox still does: its handler is remembered for a reload
         * that adds runtimeHandlers). */
        bool any_exemption =
            policy->n_namespaces > 0 || policy->n_pod_labels > 0 || policy->n_runtime_handlers > 0;
        if (!any_exemption && st->method == CRISP_METHOD_CREATE_CONTAINER) {
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
        if (crisp_pod_view_decode(st->method, data, len, &view, &err) == 0) {
                char handler[96];
                if (st->method == CRISP_METHOD_CREATE_CONTAINER && policy->n_runtime_handlers > 0 &&
                    crisp_sandbox_handlers_get(view.sandbox_id, handler, sizeof(handler))) {
                        view.facts.runtime_handler = handler;
                        view.facts.runtime_handler_len = strlen(handler);
                        view.facts.runtime_handler_known = true;
                }
                /* Remembered only as a plain string: a handler with a NUL
                 * byte could match a different one once cut at the NUL. */
                char *mine = st->first->runtime_handler;
                if (st->method == CRISP_METHOD_RUN_POD_SANDBOX &&
                    view.facts.runtime_handler_len < sizeof(st->first->runtime_handler) &&
                    view.facts.runtime_handler_len > 0 &&
                    memchr(view.facts.runtime_handler, 0, view.facts.runtime_handler_len) == NULL) {
                        memcpy(mine, view.facts.runtime_handler, view.facts.runtime_handler_len);
                        mine[view.facts.runtime_handler_len] = '\0';
                }
                exempt = crisp_policy_exemption(policy, &view.facts, res->exemption,
                                                sizeof(res->exemption));
        } else {
                log_warn("policy: cannot read the pod's namespace, labels and handler "
                         "method=%s reason=\"%s\"; no exemption applies",
                         st->path, err->msg);
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

/* issue 6: the new sandbox's runtime handler, remembered for its containers
 * once the runtime's response says the sandbox's id. */
void first_response(struct relay_stream *st, const uint8_t *msg, size_t len)
{
        struct first_state *f = st->first;
        if (st->method != CRISP_METHOD_RUN_POD_SANDBOX || f->runtime_handler[0] == '\0' ||
            f->handler_remembered)
                return;
        char id[96];
        crisp_pod_sandbox_id_of_response(msg, len, id, sizeof(id));
        crisp_sandbox_handlers_put(id, f->runtime_handler, strlen(f->runtime_handler));
        f->handler_remembered = true;
}

/* ---- issue 8: the pod spec settles the ambiguous case --------------------------------- */

/* Turns the resolver's answer into the rewriter's option for the container
 * context, and logs which source decided and why. */
static void settle_from_spec(struct relay_stream *st, struct crisp_rewrite_options *opts)
{
        struct first_state *f = st->first;
        const struct crisp_spec_answer *a = &f->spec;
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
                         st->path, f->spec_query_uid, f->spec_query_container,
                         crisp_spec_source_name(a->source), a->result, a->why, facts,
                         decided == CRISP_AMBIGUOUS_KEEP ? "unchanged" : "runtime-default");
        else
                log_info("pod-spec: decided method=%s uid=%s container=%s source=%s result=%s "
                         "reason=\"%s\"%s outcome=%s",
                         st->path, f->spec_query_uid, f->spec_query_container,
                         crisp_spec_source_name(a->source), a->result, a->why, facts, outcome);
}

/* On the resolver's thread: the answer is in f->spec; the loop picks the
 * stream up (server.c drains the list). The mutex orders the resolver's
 * writes before the loop's reads. */
static void spec_answered(void *arg)
{
        struct relay_stream *st = arg;
        struct crisp_server *srv = st->srv;
        pthread_mutex_lock(&srv->spec_mu);
        st->spec_next = srv->spec_done;
        srv->spec_done = st;
        pthread_mutex_unlock(&srv->spec_mu);
        uv_async_send(&srv->spec_async);
}

/* Asks the resolver when `msg` is an ambiguous CreateContainer. Returns true
 * when the call must wait for the answer. */
static bool ask_spec(struct relay_stream *st, const uint8_t *msg, size_t len)
{
        struct first_state *f = st->first;
        if (st->srv->resolver == NULL || st->method != CRISP_METHOD_CREATE_CONTAINER)
                return false;
        struct crisp_rewrite_result res;
        if (crisp_rewrite_request(st->method, msg, len, &st->snap->rewrite, &res, NULL) < 0)
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
        snprintf(f->spec_query_uid, sizeof(f->spec_query_uid), "%s", q.uid);
        snprintf(f->spec_query_container, sizeof(f->spec_query_container), "%s", q.container);
        f->spec_asked = true;
        st->pinned = true;
        if (crisp_spec_resolver_lookup(st->srv->resolver, &q, &f->spec, spec_answered, st) == 0) {
                st->pinned = false;
                return false;
        }
        log_debug("pod-spec: waiting for the pod uid=%s container=%s method=%s", q.uid, q.container,
                  st->path);
        return true;
}

/* ---- the rule ----------------------------------------------------------------------- */

/* The decision's log line, written once the request is on its way. */
static void log_decision(const struct relay_stream *st, const struct crisp_rewrite_result *res)
{
        if (res->changed || res->exemption[0] != '\0' || res->n_changes > 0)
                crisp_rewrite_result_log(res, st->path); /* also exempt, or audit */
        else
                log_debug("unchanged method=%s pod=%s/%s container=%s", st->path,
                          res->pod_namespace, res->pod_name,
                          res->container[0] ? res->container : "-");
}

/* Logs the rewriter's decision (when it made one: r == 0) and releases it. */
static void decided(const struct relay_stream *st, struct crisp_rewrite_result *res, int r)
{
        if (r != 0)
                return;
        log_decision(st, res);
        crisp_rewrite_result_release(res);
}

static void observe_request(struct relay_stream *st, const uint8_t *in, size_t in_len,
                            const uint8_t *fwd, size_t fwd_len)
{
        if (st->observed && (st->wants & CRISP_OBSERVE_REQUESTS))
                st->srv->observer->request(st->observed, in, in_len, fwd, fwd_len);
}

/* Applies the rule and the policy to the first message msg[5 + len] (its
 * bytes after room for the prefix; owned from here on) and opens the
 * runtime's stream with the result, or answers the client. */
static void forward_first(struct relay_stream *st, uint8_t *msg, size_t len)
{
        const uint8_t *in = msg + CRISP_GRPC_PREFIX;
        struct crisp_rewrite_result res;
        _cleanup_error_ crisp_error *err = NULL;
        struct crisp_rewrite_options opts = st->snap->rewrite;
        if (st->first->spec_asked)
                settle_from_spec(st, &opts);
        int r = crisp_rewrite_request(st->method, in, len, &opts, &res, &err);
        if (r == 0 && st->first->spec_asked && res.container_ambiguous)
                snprintf(res.source, sizeof(res.source), "%s",
                         crisp_spec_source_name(st->first->spec.source));
        if (r == 0)
                apply_policy(st, in, len, &res);
        const struct crisp_call_observer *o = st->srv->observer;
        if (r == 0 && st->observed)
                o->rewrite(st->observed, &res);
        if (r < 0 && st->observed && o->rejected)
                o->rejected(st->observed, err->msg); /* issue 6 */

        bool forward = r == 0;
        if (r < 0 && st->snap->policy.mode == CRISP_MODE_AUDIT) {
                /* issue 6: audit never answers for the runtime; it says what
                 * enforce would have done and forwards the request as it came. */
                log_warn("audit: enforce would reject method=%s code=INVALID_ARGUMENT "
                         "reason=\"%s\" mode=audit",
                         st->path, err->msg);
                forward = true;
        }
        if (!forward) {
                /* Refused: recorded as it came, never forwarded. */
                observe_request(st, in, len, NULL, 0);
                free(msg);
                log_warn("rejected method=%s code=INVALID_ARGUMENT reason=\"%s\"", st->path,
                         err->msg);
                char details[512];
                snprintf(details, sizeof(details), "crisp: %s; not forwarded to the runtime",
                         err->msg);
                stream_answer(st, 3, details);
                return;
        }

        /* The bytes to forward: the message as the rewriter made it, or as
         * it came (read with room for its prefix in front); neither copied. */
        struct crisp_block *prefix = NULL, *body;
        bool changed = r == 0 && res.changed;
        if (changed) {
                observe_request(st, in, len, res.bytes, res.len);
                free(msg); /* before anything else: a big request is held once */
                len = res.len;
                body = crisp_block_wrap(res.bytes, res.len);
                if (body != NULL)
                        res.bytes = NULL; /* the block owns them now */
                prefix = crisp_block_new(CRISP_GRPC_PREFIX);
        } else {
                observe_request(st, in, len, NULL, 0);
                body = crisp_block_wrap(msg, CRISP_GRPC_PREFIX + len);
                if (body == NULL)
                        free(msg);
                prefix = body ? crisp_block_ref(body) : NULL;
        }
        if (body == NULL || prefix == NULL) {
                crisp_block_unref(body);
                crisp_block_unref(prefix);
                decided(st, &res, r);
                stream_answer(st, 8, "crisp: out of memory");
                return;
        }
        uint8_t *pre = prefix->data;
        pre[0] = 0; /* not compressed */
        pre[1] = (uint8_t)(len >> 24);
        pre[2] = (uint8_t)(len >> 16);
        pre[3] = (uint8_t)(len >> 8);
        pre[4] = (uint8_t)len;
        /* First in the queue, before anything the client sent after it; its
         * window was given back as it was read. */
        struct crisp_chunkq later = st->c2p.q;
        crisp_chunkq_init(&st->c2p.q);
        int pr = crisp_chunkq_push(&st->c2p.q, prefix, pre, CRISP_GRPC_PREFIX);
        if (pr == 0)
                pr = crisp_chunkq_push(&st->c2p.q, body, changed ? body->data : pre + 5, len);
        crisp_block_unref(prefix);
        crisp_block_unref(body);
        crisp_chunkq_move(&later, later.bytes, &st->c2p.q);
        crisp_chunkq_clear(&later);
        if (pr < 0) {
                decided(st, &res, r);
                stream_answer(st, 8, "crisp: out of memory");
                return;
        }
        st->c2p.nocredit += CRISP_GRPC_PREFIX + len;
        stream_open_upstream(st);
        /* The decision's log line costs a write(2): the request leaves
         * first, so the runtime is not kept waiting for the log. */
        if (st->up != NULL)
                h2_conn_flush(st->up);
        decided(st, &res, r);
}

void first_message(struct relay_stream *st, uint8_t *msg, size_t len)
{
        if (ask_spec(st, msg + CRISP_GRPC_PREFIX, len)) {
                st->first->parked = msg;
                st->first->parked_len = len;
                return;
        }
        forward_first(st, msg, len);
}

void first_spec_answered(struct relay_stream *st)
{
        struct first_state *f = st->first;
        uint8_t *msg = f->parked;
        f->parked = NULL;
        st->pinned = false;
        if (st->down == NULL || st->answered) {
                /* The client went away while the pod was looked up. */
                log_info("pod-spec: the client went away while its pod was looked up "
                         "method=%s uid=%s; not forwarded",
                         st->path, f->spec_query_uid);
                free(msg);
                stream_maybe_free(st);
                return;
        }
        forward_first(st, msg, f->parked_len);
}

void first_incomplete(struct relay_stream *st)
{
        const struct crisp_grpc_framer *fr = &st->c2p.framer;
        if (crisp_grpc_framer_at_boundary(fr) && fr->messages == 0) {
                /* No message at all: the runtime says what it makes of that. */
                stream_open_upstream(st);
                return;
        }
        char reason[160];
        snprintf(reason, sizeof(reason), "%s: the request ended inside its first message",
                 crisp_method_name(st->method));
        if (st->observed && st->srv->observer->rejected)
                st->srv->observer->rejected(st->observed, reason);
        log_warn("rejected method=%s code=INVALID_ARGUMENT reason=\"%s\"", st->path, reason);
        char details[256];
        snprintf(details, sizeof(details), "crisp: %s; not forwarded to the runtime", reason);
        stream_answer(st, 3, details);
}
