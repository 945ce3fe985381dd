/* The runtime's side of the relay (relay.h): the connection crisp opens to
 * the runtime's socket, an nghttp2 client session on it, and the responses
 * that come back.
 *
 * One connection serves every call from every client (the benchmark chose
 * it: BENCHMARKS.md), as gRPC's channel did. It is opened when a call needs
 * it, and calls are submitted at once, before the connection is even
 * established: they leave when it is. A runtime that is down fails the
 * connect, and the calls on it get UNAVAILABLE at once; the next call
 * tries again, so crisp serves again as soon as the runtime is back. A
 * GOAWAY from the runtime (it is stopping), or stream ids running out, sends
 * new calls to a new connection while the old one finishes its own. */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "h2_mem.h"

/* gRPC's connectivity states, which /metrics reports. */
enum { STATE_IDLE = 0, STATE_CONNECTING = 1, STATE_READY = 2, STATE_TRANSIENT_FAILURE = 3 };

static struct h2_conn *conn_of(void *user_data)
{
        return user_data;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        (void)session, (void)frame;
        struct h2_conn *c = conn_of(user_data);
        if (c->closing)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        hdr_list_reset(&c->hdrs);
        return 0;
}

static void going_away(struct h2_conn *c, const char *why)
{
        if (c->state == UP_READY || c->state == UP_CONNECTING) {
                log_info("runtime connection: %s; new calls go to a new connection", why);
                c->state = UP_GOING_AWAY;
        }
        if (c->srv->current_up == c)
                c->srv->current_up = NULL;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        struct h2_conn *c = conn_of(user_data);
        bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        struct relay_stream *st;
        switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
                st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
                if (st == NULL)
                        break;
                if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE)
                        stream_response_headers(st, &c->hdrs, end);
                else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS && end)
                        stream_response_trailers(st, &c->hdrs);
                break;
        case NGHTTP2_DATA:
                st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
                if (st != NULL && end)
                        stream_response_end(st);
                break;
        case NGHTTP2_GOAWAY:
                going_away(c, "the runtime sent GOAWAY");
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
        stream_response_data(st, c->rblock, data, len);
        return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
        struct h2_conn *c = conn_of(user_data);
        struct relay_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);
        if (st != NULL)
                stream_up_closed(st, error_code);
        if (c->state == UP_GOING_AWAY && c->nstreams == 0)
                h2_conn_close(c, "no call left on a connection going away");
        return 0;
}

static int on_frame_not_send(nghttp2_session *session, const nghttp2_frame *frame, int lib_error,
                             void *user_data)
{
        (void)user_data;
        if (frame->hd.type != NGHTTP2_HEADERS)
                return 0;
        /* A request the session could not send (the runtime's GOAWAY came
         * first): the call was never seen by the runtime. */
        struct relay_stream *st =
            nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (st != NULL)
                log_debug("runtime connection: a request was not sent method=%s: %s", st->path,
                          nghttp2_strerror(lib_error));
        return 0;
}

/* ---- connections ---------------------------------------------------------------- */

static void on_connected(uv_connect_t *req, int status)
{
        struct h2_conn *c = req->data;
        if (c->closing)
                return;
        if (status < 0) {
                char why[256];
                snprintf(why, sizeof(why), "cannot connect to %s: %s", c->srv->runtime_endpoint,
                         uv_strerror(status));
                if (!c->srv->up_failing)
                        log_warn("runtime: %s; calls fail with UNAVAILABLE until it is back", why);
                c->srv->up_failing = true;
                h2_conn_close(c, why);
                return;
        }
        if (c->srv->up_failing || !c->srv->up_connected)
                log_info("runtime: connected to %s%s", c->srv->runtime_endpoint,
                         c->srv->up_connected ? " again" : "");
        c->srv->up_failing = false;
        c->srv->up_connected = true;
        if (c->state == UP_CONNECTING)
                c->state = UP_READY;
        int r = h2_conn_start_reading(c);
        if (r < 0) {
                h2_conn_close(c, uv_strerror(r));
                return;
        }
        h2_conn_want_flush(c);
}

static struct h2_conn *connect_new(struct crisp_server *srv)
{
        struct h2_conn *c = malloc(sizeof(*c));
        if (c == NULL)
                return NULL;
        h2_conn_init(c, srv, H2_UP);
        c->state = UP_CONNECTING;
        c->next = srv->ups;
        if (srv->ups)
                srv->ups->prev = c;
        srv->ups = c;
        if (nghttp2_session_client_new3(&c->session, srv->up_callbacks, c, srv->up_option,
                                        h2_mem()) != 0) {
                h2_conn_close(c, "out of memory");
                return NULL;
        }
        nghttp2_settings_entry settings[] = {
            {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, RELAY_STREAM_WINDOW},
        };
        nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, RELAY_CONN_WINDOW);
        c->connect_req.data = c;
        uv_pipe_connect(&c->connect_req, &c->pipe, srv->runtime_endpoint, on_connected);
        return c;
}

static int32_t submit(struct h2_conn *c, struct relay_stream *st, const nghttp2_nv *nv, size_t n)
{
        nghttp2_data_provider prd = {.source.ptr = st, .read_callback = stream_read_c2p};
        return nghttp2_submit_request(c->session, NULL, nv, n, &prd, st);
}

void upstream_open(struct relay_stream *st, const nghttp2_nv *nv, size_t n)
{
        struct crisp_server *srv = st->srv;
        int32_t id = -1;
        struct h2_conn *c = NULL;
        for (int attempt = 0; attempt < 2; attempt++) {
                c = srv->current_up;
                if (c == NULL || c->closing || c->state >= UP_GOING_AWAY) {
                        c = connect_new(srv);
                        if (c == NULL)
                                break;
                        srv->current_up = c;
                }
                id = submit(c, st, nv, n);
                if (id != NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE)
                        break;
                going_away(c, "stream ids are used up");
        }
        if (c == NULL || id < 0) {
                const char *why = c == NULL ? "out of memory" : nghttp2_strerror(id);
                log_error("cannot open the call to the runtime method=%s: %s", st->path, why);
                char msg[200];
                snprintf(msg, sizeof(msg), "crisp: cannot open the call to the runtime: %s", why);
                stream_answer(st, 14, msg);
                return;
        }
        stream_link(st, c, id);
        st->c2p.started = true;
        h2_conn_want_flush(c);
}

int upstream_state(struct crisp_server *srv)
{
        struct h2_conn *c = srv->current_up;
        if (c != NULL && c->state == UP_READY)
                return STATE_READY;
        if (c != NULL && c->state == UP_CONNECTING)
                return STATE_CONNECTING;
        return srv->up_failing ? STATE_TRANSIENT_FAILURE : STATE_IDLE;
}

void upstream_close_all(struct crisp_server *srv)
{
        for (struct h2_conn *c = srv->ups; c != NULL; c = c->next)
                if (!c->closing && c->nstreams == 0)
                        h2_conn_close(c, "crisp is stopping");
}

/* ---- set-up ------------------------------------------------------------------------ */

int upstream_init(struct crisp_server *srv)
{
        /* A runtime may allow few concurrent streams; calls past its limit
         * wait in the session for a free one, as they did with gRPC. */
        static const struct h2_role_callbacks role = {
            .begin_headers = on_begin_headers,
            .frame_recv = on_frame_recv,
            .data_chunk = on_data_chunk,
            .stream_close = on_stream_close,
            .frame_not_send = on_frame_not_send,
        };
        return h2_session_setup(&role, &srv->up_callbacks, &srv->up_option);
}
