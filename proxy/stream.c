/* One call through the relay (relay.h): the kubelet's stream ("down") and
 * the runtime's ("up"), and the bytes between them.
 *
 *   request:   HEADERS -> [held, for RunPodSandbox / CreateContainer, until
 *              the first message is checked: first_message.c] -> the
 *              runtime's stream is opened with the same header fields;
 *              DATA -> c2p queue -> the runtime, as the same bytes.
 *   response:  HEADERS -> the client, at once; DATA -> p2c queue -> the
 *              client; trailers -> the client after the last byte.
 *
 * The bytes are chunks of the blocks they were read into (no copy). Each
 * direction's gRPC framing is followed (wire/grpc_framing.h) without
 * reassembling anything, to check every message's size before a byte of
 * it passes, and to find message boundaries; a message is reassembled only
 * for the rewriter or for an observer that asks for it.
 *
 * Flow control: a stream's bytes are "consumed" (its window opened again to
 * the sender) only once they are handed to the other side's connection,
 * so a slow receiver holds back its sender, stream by stream, and crisp
 * holds at most a window (RELAY_STREAM_WINDOW) of each call. Connection
 * windows are opened at once: a stalled stream never stalls the others.
 *
 * Every call gets exactly one answer: the runtime's, passed on; or crisp's
 * own (stream_answer: a refused request, a message over the limit, the
 * runtime unreachable, shutdown); or, when the client went away first,
 * none it could hear (the observers count it CANCELLED). */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "h2_mem.h"
#include "wire/block.h"
#include "wire/grpc_status.h"

/* gRPC status codes crisp uses. */
enum {
        CODE_CANCELLED = 1,
        CODE_UNKNOWN = 2,
        CODE_RESOURCE_EXHAUSTED = 8,
        CODE_INTERNAL = 13,
        CODE_UNAVAILABLE = 14,
};

struct relay_stream *stream_new(struct crisp_server *srv)
{
        struct relay_stream *st = h2_mem_calloc(1, sizeof(*st));
        if (st == NULL)
                return NULL;
        st->srv = srv;
        crisp_chunkq_init(&st->c2p.q);
        crisp_chunkq_init(&st->p2c.q);
        st->code = -1;
        st->content_length = -1;
        srv->streams++;
        return st;
}

/* ---- which connection a stream is on ------------------------------------------ */

/* A stream is on two lists at once: its client connection's and its
 * runtime connection's; `role` says which one's links. */
static struct stream_links *links_on(struct relay_stream *st, enum h2_role role)
{
        return role == H2_DOWN ? &st->down_links : &st->up_links;
}

struct relay_stream *stream_next_on(const struct relay_stream *st, const struct h2_conn *c)
{
        return c->role == H2_DOWN ? st->down_links.next : st->up_links.next;
}

void stream_link(struct relay_stream *st, struct h2_conn *c, int32_t id)
{
        if (c->role == H2_DOWN) {
                st->down = c;
                st->down_id = id;
        } else {
                st->up = c;
                st->up_id = id;
        }
        struct stream_links *l = links_on(st, c->role);
        l->prev = NULL;
        l->next = c->streams;
        if (c->streams)
                links_on(c->streams, c->role)->prev = st;
        c->streams = st;
        c->nstreams++;
}

/* Takes the stream off connection `c`, where it is stream `id`. */
static void unlink_from(struct relay_stream *st, struct h2_conn *c, int32_t id)
{
        struct stream_links *l = links_on(st, c->role);
        if (l->prev)
                links_on(l->prev, c->role)->next = l->next;
        else
                c->streams = l->next;
        if (l->next)
                links_on(l->next, c->role)->prev = l->prev;
        c->nstreams--;
        if (c->session)
                nghttp2_session_set_stream_user_data(c->session, id, NULL);
}

static void unlink_down(struct relay_stream *st)
{
        if (st->down == NULL)
                return;
        unlink_from(st, st->down, st->down_id);
        st->down = NULL;
}

static void unlink_up(struct relay_stream *st)
{
        if (st->up == NULL)
                return;
        unlink_from(st, st->up, st->up_id);
        st->up = NULL;
}

/* ---- the call's end ------------------------------------------------------------- */

/* Tells the observer, once, what the client was told, and stops counting
 * the call as in flight. */
static void finish_call(struct relay_stream *st)
{
        if (!st->counted)
                return;
        st->counted = false;
        st->srv->calls--;
        if (st->observed) {
                const struct crisp_call_observer *o = st->srv->observer;
                int code = st->code >= 0 ? st->code : CODE_CANCELLED;
                const char *d = st->details ? st->details : "";
                o->end(st->observed, code, d, strlen(d));
                st->observed = NULL;
        }
}

static void flow_release(struct relay_flow *f)
{
        crisp_chunkq_clear(&f->q);
        free(f->trailers);
        f->trailers = NULL;
        free(f->msg);
        f->msg = NULL;
}

void stream_maybe_free(struct relay_stream *st)
{
        if (st->down != NULL || st->up != NULL || st->pinned)
                return;
        finish_call(st);
        struct crisp_server *srv = st->srv;
        flow_release(&st->c2p);
        flow_release(&st->p2c);
        free(st->held_headers);
        free(st->details);
        first_free(st->first);
        if (st->snap)
                crisp_policy_release_snapshot(st->snap);
        h2_mem_free(st);
        srv->streams--;
        server_maybe_stopped(srv);
}

static void set_status(struct relay_stream *st, int code, const char *details, size_t len)
{
        st->code = code;
        free(st->details);
        st->details = NULL;
        if (st->observed && len > 0) {
                st->details = malloc(len + 1);
                if (st->details)
                        crisp_grpc_message_decode(details, len, st->details, len + 1);
        }
}

/* The status in a block of response headers or trailers. */
static void read_status(struct relay_stream *st, const struct hdr_list *h)
{
        size_t len = 0, mlen = 0;
        const uint8_t *v = hdr_list_get(h, "grpc-status", &len);
        if (v == NULL)
                return;
        int code = crisp_grpc_status_parse((const char *)v, len);
        const uint8_t *m = hdr_list_get(h, "grpc-message", &mlen);
        set_status(st, code >= 0 ? code : CODE_UNKNOWN, m ? (const char *)m : "", m ? mlen : 0);
}

/* What gRPC makes of a stream reset with `error_code` (grpc-go's table). */
static int code_of_reset(uint32_t error_code)
{
        switch (error_code) {
        case NGHTTP2_CANCEL:
                return CODE_CANCELLED;
        case NGHTTP2_REFUSED_STREAM:
                return CODE_UNAVAILABLE;
        case NGHTTP2_ENHANCE_YOUR_CALM:
                return CODE_RESOURCE_EXHAUSTED;
        case NGHTTP2_INADEQUATE_SECURITY:
                return 7; /* PERMISSION_DENIED */
        default:
                return CODE_INTERNAL;
        }
}

static void reset_up(struct relay_stream *st, uint32_t error_code)
{
        if (st->up == NULL || st->up_finished || st->up->closing)
                return;
        nghttp2_submit_rst_stream(st->up->session, NGHTTP2_FLAG_NONE, st->up_id, error_code);
        h2_conn_want_flush(st->up);
}

static void reset_down(struct relay_stream *st, uint32_t error_code)
{
        if (st->down == NULL || st->down->closing)
                return;
        nghttp2_submit_rst_stream(st->down->session, NGHTTP2_FLAG_NONE, st->down_id, error_code);
        h2_conn_want_flush(st->down);
}

static void resume(struct h2_conn *c, int32_t id, struct relay_flow *f)
{
        if (c == NULL || c->closing || !f->deferred)
                return;
        f->deferred = false;
        nghttp2_session_resume_data(c->session, id);
        h2_conn_want_flush(c);
}

/* The response's sender is done (p2c.eof; p2c.trailers, if any). With bytes
 * still queued, the data provider ends the stream after them. With none,
 * the end goes now, as trailers (empty ones for a plain END_STREAM): the
 * end of a stream is not flow-controlled, and nghttp2 does not ask a
 * provider for more while the client's window is 0, so waiting for the
 * provider could wait for ever. */
static void finish_response(struct relay_stream *st)
{
        struct relay_flow *f = &st->p2c;
        struct h2_conn *c = st->down;
        if (c == NULL || c->closing || f->finished)
                return;
        if (f->q.bytes > 0 || !f->started) {
                resume(c, st->down_id, f);
                return;
        }
        f->finished = true;
        int r = nghttp2_submit_trailer(c->session, st->down_id, f->trailers,
                                       f->trailers ? f->ntrailers : 0);
        free(f->trailers);
        f->trailers = NULL;
        if (r < 0) {
                log_warn("cannot end a response method=%s: %s", st->path, nghttp2_strerror(r));
                reset_down(st, NGHTTP2_INTERNAL_ERROR);
        }
        h2_conn_want_flush(c);
}

/* ---- crisp's own answers ----------------------------------------------------------- */

void stream_answer(struct relay_stream *st, int code, const char *message)
{
        if (st->answered || st->response_complete || st->code >= 0)
                goto stop_runtime;
        st->answered = true;
        set_status(st, code, message, strlen(message));
        if (st->own) {
                if (st->on_own_done)
                        st->on_own_done(st->own_arg, code);
                st->on_own_done = NULL;
        } else if (st->down != NULL && !st->down->closing) {
                char status[4], encoded[1024];
                snprintf(status, sizeof(status), "%d", code);
                crisp_grpc_message_encode(message, encoded, sizeof(encoded));
                nghttp2_nv trailers[] = {
                    {(uint8_t *)"grpc-status", (uint8_t *)status, 11, strlen(status), 0},
                    {(uint8_t *)"grpc-message", (uint8_t *)encoded, 12, strlen(encoded), 0},
                };
                if (!st->response_started) {
                        /* Trailers-Only: one HEADERS frame that ends the stream. */
                        nghttp2_nv nv[] = {
                            {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
                            {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
                            trailers[0],
                            trailers[1],
                        };
                        downstream_submit_response(st, nv, 4, true);
                } else {
                        /* After what the client already has, then the status. */
                        free(st->p2c.trailers);
                        st->p2c.trailers = nv_copy(trailers, 2);
                        st->p2c.ntrailers = st->p2c.trailers ? 2 : 0;
                        st->p2c.eof = true;
                        finish_response(st);
                }
        }
stop_runtime:
        /* Nothing more goes to the runtime for this call. */
        reset_up(st, NGHTTP2_CANCEL);
}

void stream_reset_client(struct relay_stream *st, uint32_t error_code, const char *why)
{
        log_debug("client stream %d reset: %s: %s", st->down_id, nghttp2_http2_strerror(error_code),
                  why);
        if (st->answered || st->response_complete)
                return;
        st->answered = true; /* nothing more is passed on, either way */
        set_status(st, code_of_reset(error_code), why, strlen(why));
        reset_down(st, error_code);
        reset_up(st, NGHTTP2_CANCEL);
}

/* ---- request: client to runtime --------------------------------------------------- */

void stream_request_headers(struct relay_stream *st, const struct hdr_list *h)
{
        struct crisp_server *srv = st->srv;
        size_t len = 0;
        const uint8_t *path = hdr_list_get(h, ":path", &len);
        if (path == NULL) { /* h2_request.c refused such a request */
                path = (const uint8_t *)"";
                len = 0;
        }
        /* The method for logs (cut if longer), and whole for the observers. */
        size_t cut = len < sizeof(st->path) ? len : sizeof(st->path) - 1;
        memcpy(st->path, path, cut);
        st->path[cut] = '\0';
        st->counted = true;
        srv->calls++;
        st->snap = crisp_policy_acquire(&srv->policy);
        st->method = st->snap->policy.mode != CRISP_MODE_OFF
                         ? crisp_method_classify((const char *)path, len)
                         : CRISP_METHOD_OTHER;
        if (srv->observer) {
                char full[512];
                size_t n = len < sizeof(full) ? len : sizeof(full) - 1;
                memcpy(full, path, n);
                full[n] = '\0';
                st->observed = srv->observer->begin(srv->observer->self, full, &st->wants);
        }
        if (st->method != CRISP_METHOD_OTHER) {
                /* Held until the first message has been checked. */
                st->held_headers = hdr_list_copy(h, &st->nheld);
                if (st->held_headers == NULL || first_begin(st) < 0) {
                        stream_answer(st, CODE_RESOURCE_EXHAUSTED, "crisp: out of memory");
                        return;
                }
        } else {
                nghttp2_nv nv[h->n > 0 ? h->n : 1];
                hdr_list_view(h, nv);
                upstream_open(st, nv, h->n);
        }
}

void stream_open_upstream(struct relay_stream *st)
{
        nghttp2_nv *nv = st->held_headers;
        st->held_headers = NULL;
        upstream_open(st, nv, st->nheld);
        free(nv);
}

void stream_forward_request(struct relay_stream *st, struct crisp_block *block, const uint8_t *p,
                            size_t len)
{
        if (crisp_chunkq_push(&st->c2p.q, block, p, len) < 0) {
                stream_answer(st, CODE_RESOURCE_EXHAUSTED, "crisp: out of memory");
                return;
        }
        resume(st->up, st->up_id, &st->c2p);
}

/* Gives the client's window back for bytes crisp will not pass on. */
static void consume_down(struct relay_stream *st, size_t len)
{
        if (st->down != NULL && !st->down->closing && len > 0)
                nghttp2_session_consume_stream(st->down->session, st->down_id, len);
}

static void consume_up(struct relay_stream *st, size_t len)
{
        if (st->up != NULL && !st->up->closing && len > 0) {
                nghttp2_session_consume_stream(st->up->session, st->up_id, len);
                h2_conn_want_flush(st->up);
        }
}

/* Starts reassembling a message of `length` bytes into f->msg, with room
 * for its 5-byte prefix in front (the rewriter's path forwards it from
 * there). Returns 0 or -ENOMEM. */
static int msg_start(struct relay_flow *f, uint32_t length)
{
        free(f->msg);
        f->msg = malloc((size_t)length + CRISP_GRPC_PREFIX);
        f->msg_have = 0;
        return f->msg ? 0 : -ENOMEM;
}

static void msg_add(struct relay_flow *f, const uint8_t *p, size_t len)
{
        if (f->msg == NULL)
                return;
        memcpy(f->msg + CRISP_GRPC_PREFIX + f->msg_have, p, len);
        f->msg_have += (uint32_t)len;
}

/* The prefix of a message over the limit: the client is told, the runtime's
 * stream cancelled. */
static void over_limit(struct relay_stream *st, const char *which, uint32_t length)
{
        char msg[160];
        snprintf(msg, sizeof(msg), "crisp: %s message larger than max (%u vs. %zu bytes)", which,
                 length, st->srv->max_message_size);
        log_warn("refused method=%s code=RESOURCE_EXHAUSTED reason=\"%s\"", st->path, msg + 7);
        stream_answer(st, CODE_RESOURCE_EXHAUSTED, msg);
}

static bool collecting_first(const struct relay_stream *st);

void stream_request_data(struct relay_stream *st, struct crisp_block *block, const uint8_t *p,
                         size_t len)
{
        struct relay_flow *f = &st->c2p;
        while (len > 0) {
                if (st->answered || st->up_finished || st->response_complete) {
                        consume_down(st, len); /* nobody takes these bytes any more */
                        return;
                }
                bool whole_prefix = f->framer.have == 0 && len >= CRISP_GRPC_PREFIX;
                bool first = collecting_first(st);
                struct crisp_grpc_step s = crisp_grpc_framer_step(&f->framer, p, len);
                if (s.piece == CRISP_GRPC_PREFIX_DONE) {
                        if (f->framer.length > st->srv->max_message_size) {
                                over_limit(st, "request", f->framer.length);
                                continue; /* the rest is consumed above */
                        }
                        if (first) {
                                if (f->framer.compressed) {
                                        log_warn("rejected method=%s code=INVALID_ARGUMENT "
                                                 "reason=\"a compressed request\"",
                                                 st->path);
                                        stream_answer(st, 3,
                                                      "crisp: the request is compressed; "
                                                      "crisp cannot check it, so it is "
                                                      "not forwarded to the runtime");
                                        continue;
                                }
                                consume_down(st, s.used);
                        } else if (whole_prefix) {
                                stream_forward_request(st, block, p, s.used);
                        } else {
                                /* The prefix came in pieces: pass on the framer's copy. */
                                struct crisp_block *copy =
                                    crisp_block_copy(f->framer.prefix, CRISP_GRPC_PREFIX);
                                if (copy == NULL) {
                                        stream_answer(st, CODE_RESOURCE_EXHAUSTED,
                                                      "crisp: out of memory");
                                        continue;
                                }
                                stream_forward_request(st, copy, copy->data, CRISP_GRPC_PREFIX);
                                crisp_block_unref(copy);
                        }
                        if ((first || (st->wants & CRISP_OBSERVE_REQUESTS)) &&
                            msg_start(f, f->framer.length) < 0) {
                                stream_answer(st, CODE_RESOURCE_EXHAUSTED, "crisp: out of memory");
                                continue;
                        }
                } else if (s.piece == CRISP_GRPC_BODY) {
                        if (first || (st->wants & CRISP_OBSERVE_REQUESTS))
                                msg_add(f, p, s.used);
                        if (first)
                                consume_down(st, s.used);
                        else
                                stream_forward_request(st, block, p, s.used);
                } else if (first) {
                        consume_down(st, s.used); /* a piece of a prefix, kept by the framer */
                }
                /* A piece of a prefix of a passed-on message waits in the framer. */
                if (s.message_end && f->msg != NULL) {
                        uint8_t *msg = f->msg;
                        f->msg = NULL;
                        if (first) {
                                first_message(st, msg, f->msg_have);
                        } else {
                                if (st->observed)
                                        st->srv->observer->request(st->observed,
                                                                   msg + CRISP_GRPC_PREFIX,
                                                                   f->msg_have, NULL, 0);
                                free(msg);
                        }
                }
                p += s.used;
                len -= s.used;
        }
}

void stream_request_end(struct relay_stream *st)
{
        st->c2p.eof = true;
        if (collecting_first(st)) {
                first_incomplete(st);
                return;
        }
        /* An empty END_STREAM is held by nghttp2 while the runtime's window
         * for the stream is 0, as the client's own would be without crisp:
         * the runtime opens it as it reads the request. */
        if (st->up != NULL && !st->c2p.deferred)
                return; /* the data provider will see it */
        resume(st->up, st->up_id, &st->c2p);
}

static bool collecting_first(const struct relay_stream *st)
{
        return st->first != NULL && st->c2p.framer.messages == 0 && st->held_headers != NULL &&
               st->up == NULL && !st->answered;
}

/* ---- response: runtime to client ----------------------------------------------------- */

void stream_response_headers(struct relay_stream *st, const struct hdr_list *h, bool end_stream)
{
        if (end_stream)
                read_status(st, h); /* Trailers-Only */
        if (st->own || st->answered || st->down == NULL) {
                if (st->own && end_stream && st->on_own_done) {
                        st->on_own_done(st->own_arg, st->code >= 0 ? st->code : CODE_UNKNOWN);
                        st->on_own_done = NULL;
                }
                return;
        }
        nghttp2_nv nv[h->n > 0 ? h->n : 1];
        hdr_list_view(h, nv);
        if (downstream_submit_response(st, nv, h->n, end_stream) < 0)
                stream_answer(st, CODE_INTERNAL, "crisp: cannot pass the response on");
        if (end_stream)
                st->p2c.eof = true;
}

void stream_response_data(struct relay_stream *st, struct crisp_block *block, const uint8_t *p,
                          size_t len)
{
        struct relay_flow *f = &st->p2c;
        bool want_first = st->first != NULL && f->framer.messages == 0;
        while (len > 0) {
                if (st->answered || st->down == NULL) {
                        consume_up(st, len);
                        return;
                }
                bool whole_prefix = f->framer.have == 0 && len >= CRISP_GRPC_PREFIX;
                struct crisp_grpc_step s = crisp_grpc_framer_step(&f->framer, p, len);
                bool keep = (st->wants & CRISP_OBSERVE_RESPONSES) || want_first;
                if (s.piece == CRISP_GRPC_PREFIX_DONE) {
                        if (f->framer.length > st->srv->max_message_size) {
                                over_limit(st, "response", f->framer.length);
                                continue;
                        }
                        struct crisp_block *b = block;
                        const uint8_t *q = p;
                        if (!whole_prefix) {
                                b = crisp_block_copy(f->framer.prefix, CRISP_GRPC_PREFIX);
                                q = b ? b->data : NULL;
                        }
                        if (b == NULL || crisp_chunkq_push(&f->q, b, q, CRISP_GRPC_PREFIX) < 0) {
                                if (b != block)
                                        crisp_block_unref(b);
                                stream_answer(st, CODE_RESOURCE_EXHAUSTED, "crisp: out of memory");
                                continue;
                        }
                        if (b != block) {
                                crisp_block_unref(b);
                                /* Those bytes were counted by the reads that brought them. */
                        }
                        if (keep && msg_start(f, f->framer.length) < 0)
                                f->msg = NULL; /* not observed; the call goes on */
                } else if (s.piece == CRISP_GRPC_BODY) {
                        if (keep)
                                msg_add(f, p, s.used);
                        if (crisp_chunkq_push(&f->q, block, p, s.used) < 0) {
                                stream_answer(st, CODE_RESOURCE_EXHAUSTED, "crisp: out of memory");
                                continue;
                        }
                }
                if (s.message_end && f->msg != NULL) {
                        uint8_t *msg = f->msg;
                        f->msg = NULL;
                        if (want_first)
                                first_response(st, msg + CRISP_GRPC_PREFIX, f->msg_have);
                        if (st->observed && (st->wants & CRISP_OBSERVE_RESPONSES))
                                st->srv->observer->response(st->observed, msg + CRISP_GRPC_PREFIX,
                                                            f->msg_have);
                        free(msg);
                        want_first = false;
                }
                p += s.used;
                len -= s.used;
        }
        resume(st->down, st->down_id, f);
}

void stream_response_trailers(struct relay_stream *st, const struct hdr_list *h)
{
        read_status(st, h);
        if (st->own) {
                if (st->on_own_done)
                        st->on_own_done(st->own_arg, st->code >= 0 ? st->code : CODE_UNKNOWN);
                st->on_own_done = NULL;
                return;
        }
        if (st->answered || st->down == NULL)
                return;
        free(st->p2c.trailers);
        st->p2c.trailers = hdr_list_copy(h, &st->p2c.ntrailers);
        st->p2c.eof = true;
        finish_response(st);
}

void stream_response_end(struct relay_stream *st)
{
        if (st->code < 0)
                set_status(st, CODE_INTERNAL, "the runtime ended the stream without a status", 45);
        if (st->own && st->on_own_done) {
                st->on_own_done(st->own_arg, st->code);
                st->on_own_done = NULL;
        }
        st->p2c.eof = true;
        finish_response(st);
}

/* ---- data providers ------------------------------------------------------------------ */

/* Hands nghttp2 the next bytes of a flow (no copy: stream_flow_sent moves
 * them when the frame is written); at the end of the flow, its trailers. */
static ssize_t read_flow(nghttp2_session *session, int32_t stream_id, struct relay_flow *f,
                         size_t length, uint32_t *data_flags)
{
        if ((f->q.bytes == 0 && !f->eof) || f->finished) {
                f->deferred = !f->finished;
                return NGHTTP2_ERR_DEFERRED; /* finished: the end went as trailers */
        }
        size_t n = f->q.bytes < length ? f->q.bytes : length;
        if (n > 0)
                *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        if (f->eof && n == f->q.bytes) {
                *data_flags |= NGHTTP2_DATA_FLAG_EOF;
                f->finished = true;
                if (f->trailers != NULL) {
                        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
                        int r =
                            nghttp2_submit_trailer(session, stream_id, f->trailers, f->ntrailers);
                        free(f->trailers);
                        f->trailers = NULL;
                        if (r < 0)
                                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
                }
        }
        return (ssize_t)n;
}

ssize_t stream_read_c2p(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
        (void)buf, (void)source, (void)user_data;
        struct relay_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);
        if (st == NULL)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return read_flow(session, stream_id, &st->c2p, length, data_flags);
}

ssize_t stream_read_p2c(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
        (void)buf, (void)source, (void)user_data;
        struct relay_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);
        if (st == NULL)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return read_flow(session, stream_id, &st->p2c, length, data_flags);
}

void stream_flow_sent(struct relay_stream *st, struct relay_flow *flow, size_t length,
                      struct crisp_chunkq *out)
{
        size_t have = flow->q.bytes < length ? flow->q.bytes : length;
        if (crisp_chunkq_move(&flow->q, have, out) < 0 || have < length) {
                /* Cannot happen: nghttp2 asked for what read_flow offered. */
                log_error("internal: a DATA frame of %zu bytes has %zu method=%s", length, have,
                          st->path);
        }
        size_t credit = length;
        if (flow->nocredit > 0) {
                size_t k = flow->nocredit < credit ? flow->nocredit : credit;
                flow->nocredit -= k;
                credit -= k;
        }
        if (flow == &st->c2p) {
                consume_down(st, credit);
                if (st->down)
                        h2_conn_want_flush(st->down);
        } else {
                consume_up(st, credit);
        }
}

/* ---- endings ------------------------------------------------------------------------ */

void stream_response_sent(struct relay_stream *st)
{
        st->response_complete = true;
        if (st->down == NULL || st->down->closing)
                return;
        /* The answer is complete while the client still sends: when crisp
         * answered, or the runtime said it needs no more (RST_STREAM
         * NO_ERROR after its answer, as a gRPC server does), the client
         * may stop. A relayed answer otherwise leaves the request open, as
         * it would be without crisp. */
        if ((st->answered || st->up_done_early) &&
            !nghttp2_session_get_stream_remote_close(st->down->session, st->down_id))
                reset_down(st, NGHTTP2_NO_ERROR);
}

void stream_down_closed(struct relay_stream *st, uint32_t error_code)
{
        unlink_down(st);
        if (!st->response_complete && st->code < 0)
                set_status(st, CODE_CANCELLED, "", 0);
        /* The runtime's side goes too: cancelled, or (its answer already
         * passed on) simply ended. */
        (void)error_code;
        reset_up(st, st->response_complete ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
        finish_call(st);
        stream_maybe_free(st);
}

void stream_down_lost(struct relay_stream *st)
{
        stream_down_closed(st, NGHTTP2_CANCEL);
}

void stream_up_closed(struct relay_stream *st, uint32_t error_code)
{
        unlink_up(st);
        st->up_finished = true;
        if (st->own && st->on_own_done) {
                st->on_own_done(st->own_arg, error_code ? code_of_reset(error_code) : CODE_UNKNOWN);
                st->on_own_done = NULL;
        }
        if (st->p2c.eof && error_code == NGHTTP2_NO_ERROR)
                st->up_done_early = true; /* its answer is whole: passed on as above */
        if (!st->p2c.eof && !st->answered && st->down != NULL) {
                /* The runtime reset the call: the client gets the same reset
                 * (REFUSED_STREAM, after a GOAWAY: the client may try again). */
                set_status(st, code_of_reset(error_code), "", 0);
                reset_down(st, error_code ? error_code : NGHTTP2_INTERNAL_ERROR);
        }
        if (st->up_done_early && st->response_complete && st->down != NULL &&
            !nghttp2_session_get_stream_remote_close(st->down->session, st->down_id))
                reset_down(st, NGHTTP2_NO_ERROR); /* the answer had already gone */
        stream_maybe_free(st);
}

void stream_up_lost(struct relay_stream *st, const char *why)
{
        unlink_up(st);
        st->up_finished = true;
        if (!st->p2c.eof) {
                char msg[256];
                snprintf(msg, sizeof(msg), "crisp: the connection to the runtime failed: %s", why);
                stream_answer(st, CODE_UNAVAILABLE, msg);
        }
        stream_maybe_free(st);
}
