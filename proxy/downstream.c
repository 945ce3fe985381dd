/* The kubelet's side of the relay (relay.h): each accepted connection gets
 * an nghttp2 server session, with nghttp2's own HTTP/2 and HTTP messaging
 * checks on (a malformed request is a stream or connection error, as the
 * RFC says, before crisp sees it). Its requests become relay streams.
 *
 * Settings crisp advertises: RELAY_MAX_STREAMS concurrent streams, and a
 * RELAY_STREAM_WINDOW receive window per stream whose bytes crisp gives back
 * only once the runtime's connection has taken them (stream.c); the
 * connection window is large and given back at once. */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "frame_guard.h"
#include "h2_mem.h"
#include "wire/h2_request.h"

/* A client that has not sent its preface and SETTINGS by then is dropped:
 * an open socket that never speaks must not hold a file descriptor for
 * ever. */
#define HANDSHAKE_TIMEOUT_MS 20000

static struct h2_conn *conn_of(void *user_data)
{
        return user_data;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        struct h2_conn *c = conn_of(user_data);
        if (c->closing)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        hdr_list_reset(&c->hdrs);
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
                return 0;
        struct relay_stream *st = stream_new(c->srv);
        if (st == NULL) {
                nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                          NGHTTP2_INTERNAL_ERROR);
                return 0;
        }
        stream_link(st, c, frame->hd.stream_id);
        nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, st);
        return 0;
}

/* The request's fields as src/wire/h2_request.h takes them. */
static int check_fields(const struct hdr_list *h, bool request, int64_t *content_length,
                        const char **why)
{
        nghttp2_nv nv[h->n > 0 ? h->n : 1];
        struct crisp_h2_field f[h->n > 0 ? h->n : 1];
        hdr_list_view(h, nv);
        for (uint32_t i = 0; i < h->n; i++)
                f[i] =
                    (struct crisp_h2_field){nv[i].name, nv[i].namelen, nv[i].value, nv[i].valuelen};
        return request ? crisp_h2_check_request(f, h->n, content_length, why)
                       : crisp_h2_check_trailers(f, h->n, why);
}

/* The request ends: its body must be as long as its content-length said. */
static void request_end(struct relay_stream *st)
{
        if (st->content_length >= 0 && (uint64_t)st->content_length != st->received) {
                stream_reset_client(st, NGHTTP2_PROTOCOL_ERROR,
                                    "a body shorter than its content-length");
                return;
        }
        stream_request_end(st);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        struct h2_conn *c = conn_of(user_data);
        bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        struct relay_stream *st;
        const char *why = NULL;
        switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
                st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
                if (st == NULL)
                        break;
                if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
                        if (check_fields(&c->hdrs, true, &st->content_length, &why) < 0) {
                                stream_reset_client(st, NGHTTP2_PROTOCOL_ERROR, why);
                                break;
                        }
                        stream_request_headers(st, &c->hdrs);
                        if (end)
                                request_end(st);
                } else if (!end || check_fields(&c->hdrs, false, NULL, &why) < 0) {
                        /* Trailers: regular fields only, and the request's end. */
                        stream_reset_client(st, NGHTTP2_PROTOCOL_ERROR,
                                            why ? why : "trailers that do not end the request");
                } else {
                        request_end(st);
                }
                break;
        case NGHTTP2_DATA:
                st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
                if (st != NULL && end)
                        request_end(st);
                break;
        case NGHTTP2_SETTINGS:
                if (c->handshake != NULL && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
                        uv_timer_stop(c->handshake); /* the client is an HTTP/2 client */
                }
                break;
        default:
                break;
        }
        return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
        (void)flags;
        struct h2_conn *c = conn_of(user_data);
        struct relay_stream *st = h2_data_stream(session, stream_id, len);
        if (st == NULL)
                return 0;
        st->received += len;
        if (st->content_length >= 0 && st->received > (uint64_t)st->content_length) {
                nghttp2_session_consume_stream(session, stream_id, len);
                stream_reset_client(st, NGHTTP2_PROTOCOL_ERROR,
                                    "a body longer than its content-length");
                return 0;
        }
        stream_request_data(st, c->rblock, data, len);
        return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
        struct h2_conn *c = conn_of(user_data);
        struct relay_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);
        if (st != NULL)
                stream_down_closed(st, error_code);
        downstream_maybe_close(c);
        return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        (void)user_data;
        if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
                struct relay_stream *st =
                    nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
                if (st != NULL)
                        stream_response_sent(st);
        }
        if (frame->hd.type == NGHTTP2_RST_STREAM)
                frame_guard_reset_sent(conn_of(user_data)->guard, frame->hd.stream_id);
        if (frame->hd.type == NGHTTP2_GOAWAY)
                frame_guard_goaway_sent(conn_of(user_data)->guard, frame->goaway.last_stream_id);
        return 0;
}

int downstream_submit_response(struct relay_stream *st, const nghttp2_nv *nv, size_t n,
                               bool end_stream)
{
        struct h2_conn *c = st->down;
        if (c == NULL || c->closing)
                return 0;
        nghttp2_data_provider prd = {.source.ptr = st, .read_callback = stream_read_p2c};
        int r = nghttp2_submit_response(c->session, st->down_id, nv, n, end_stream ? NULL : &prd);
        if (r < 0) {
                log_warn("cannot pass a response on method=%s: %s", st->path, nghttp2_strerror(r));
                return r;
        }
        st->response_started = true;
        st->p2c.started = !end_stream;
        h2_conn_want_flush(c);
        return 0;
}

/* ---- connections ----------------------------------------------------------------- */

static void on_handshake_timeout(uv_timer_t *t)
{
        struct h2_conn *c = t->data;
        log_warn("client connection: no HTTP/2 preface within %d s; closing it",
                 HANDSHAKE_TIMEOUT_MS / 1000);
        h2_conn_close(c, "no HTTP/2 preface");
}

void downstream_accept(int fd, void *arg)
{
        struct crisp_server *srv = arg;
        struct h2_conn *c = malloc(sizeof(*c));
        if (c == NULL) {
                log_error("out of memory: a client connection is refused");
                close(fd);
                return;
        }
        h2_conn_init(c, srv, H2_DOWN);
        c->next = srv->downs;
        if (srv->downs)
                srv->downs->prev = c;
        srv->downs = c;
        int r = uv_pipe_open(&c->pipe, fd);
        if (r < 0) {
                close(fd);
                h2_conn_close(c, uv_strerror(r));
                return;
        }
        c->guard = frame_guard_new();
        c->handshake = malloc(sizeof(*c->handshake));
        if (c->guard == NULL || c->handshake == NULL ||
            nghttp2_session_server_new3(&c->session, srv->down_callbacks, c, srv->down_option,
                                        h2_mem()) != 0) {
                log_error("out of memory: a client connection is refused");
                h2_conn_close(c, "out of memory");
                return;
        }
        uv_timer_init(srv->loop, c->handshake);
        c->handshake->data = c;
        uv_timer_start(c->handshake, on_handshake_timeout, HANDSHAKE_TIMEOUT_MS, 0);
        nghttp2_settings_entry settings[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, RELAY_MAX_STREAMS},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, RELAY_STREAM_WINDOW},
        };
        nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, RELAY_CONN_WINDOW);
        if (srv->shutting_down) {
                /* Accepted as the listener closed: say goodbye properly. */
                nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
                c->goaway_sent = true;
        }
        r = h2_conn_start_reading(c);
        if (r < 0) {
                h2_conn_close(c, uv_strerror(r));
                return;
        }
        h2_conn_want_flush(c);
}

void downstream_goaway_all(struct crisp_server *srv)
{
        for (struct h2_conn *c = srv->downs; c != NULL; c = c->next) {
                if (c->closing || c->goaway_sent)
                        continue;
                nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                                      nghttp2_session_get_last_proc_stream_id(c->session),
                                      NGHTTP2_NO_ERROR, NULL, 0);
                c->goaway_sent = true;
                h2_conn_want_flush(c);
        }
}

void downstream_maybe_close(struct h2_conn *c)
{
        /* After a GOAWAY with no stream left, nghttp2 wants neither to read
         * nor to write: the flush closes the connection. */
        if (c->goaway_sent && c->nstreams == 0)
                h2_conn_want_flush(c);
}

/* ---- set-up ----------------------------------------------------------------------- */

static int invalid_frame(nghttp2_session *session, const nghttp2_frame *frame, int lib_error,
                         void *user_data)
{
        (void)session, (void)user_data;
        log_debug("client connection: invalid frame type=%u stream=%d: %s", frame->hd.type,
                  frame->hd.stream_id, nghttp2_strerror(lib_error));
        return 0;
}

int downstream_init(struct crisp_server *srv)
{
        static const struct h2_role_callbacks role = {
            .begin_headers = on_begin_headers,
            .frame_recv = on_frame_recv,
            .data_chunk = on_data_chunk,
            .stream_close = on_stream_close,
            .frame_send = on_frame_send,
            .invalid_frame = invalid_frame,
        };
        return h2_session_setup(&role, &srv->down_callbacks, &srv->down_option);
}
