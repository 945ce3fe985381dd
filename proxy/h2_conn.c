/* One HTTP/2 connection of the relay, either side (relay.h): a libuv pipe
 * and an nghttp2 session.
 *
 * Reading: each read lands in a reference-counted block and nghttp2 parses
 * it in place; the DATA it finds is handed to the other side as chunks of
 * that block, so request and response bytes are never copied. A block that
 * nothing else holds is reused from its start, and given back when the
 * connection has no call open: an idle connection holds no buffer.
 *
 * Writing: nothing is written while the loop turn's events are being
 * handled. At the end of the turn (server.c's flush hooks) each connection
 * with something to say asks nghttp2 for its frames, and writes them with
 * one writev: frame headers and control frames copied into a small block,
 * DATA as the chunks the other side received. A write the socket cannot
 * take at once goes on with uv_write, and nghttp2 is not asked for more
 * until it is done, nor past RELAY_OUT_MAX bytes: a peer that does not read
 * makes crisp hold a bounded amount, never more. */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "frame_guard.h"
#include "wire/block.h"

/* A read is given at least this much room; less left in the block: a new one. */
#define MIN_READ 4096
/* The block frame headers and control frames are copied into. */
#define WBLOCK_SIZE CRISP_BLOCK_SLAB /* from the same reuse list as reads */
/* Buffers per writev. */
#define WRITE_BUFS 64

/* ---- header lists -------------------------------------------------------------- */

void hdr_list_reset(struct hdr_list *h)
{
        h->used = 0;
        h->n = 0;
}

static int grow(void **p, uint32_t *cap, size_t need, size_t elem, size_t first)
{
        if (need <= *cap)
                return 0;
        size_t cap2 = *cap ? *cap : first;
        while (cap2 < need)
                cap2 *= 2;
        if (cap2 > UINT32_MAX)
                return -ENOMEM;
        void *q = realloc(*p, cap2 * elem);
        if (q == NULL)
                return -ENOMEM;
        *p = q;
        *cap = (uint32_t)cap2;
        return 0;
}

/* Names and values that nearly every gRPC call carries: kept as pointers
 * to these constants rather than copied, and handed to nghttp2 with
 * NGHTTP2_NV_FLAG_NO_COPY_*, which spares it a copy and (for names) a
 * lower-casing. Names arrive lower-case (the kubelet's side checks it). */
static const struct {
        const char *s;
        uint8_t len;
} common[] = {
#define C(text)                                                                                    \
        {                                                                                          \
                text, sizeof(text) - 1                                                             \
        }
    C(""),
    C("0"),
    C("te"),
    C("200"),
    C("POST"),
    C("http"),
    C(":path"),
    C(":method"),
    C(":scheme"),
    C(":status"),
    C("trailers"),
    C("localhost"),
    C(":authority"),
    C("user-agent"),
    C("grpc-status"),
    C("content-type"),
    C("grpc-timeout"),
    C("grpc-message"),
    C("grpc-encoding"),
    C("application/grpc"),
    C("grpc-accept-encoding"),
#undef C
};
#define COMMON         (sizeof(common) / sizeof(common[0]))
#define COMMON_MAX_LEN 20
#define IS_COMMON      0x80000000u

/* The table's entries of each length (first, past last), built once. */
static uint8_t by_len[COMMON_MAX_LEN + 2];

static void index_common(void)
{
        size_t i = 0;
        for (unsigned len = 0; len <= COMMON_MAX_LEN + 1; len++) {
                while (i < COMMON && common[i].len < len)
                        i++;
                by_len[len] = (uint8_t)i;
        }
}

static uint32_t common_index(const uint8_t *p, size_t len)
{
        for (uint32_t i = by_len[len]; i < by_len[len + 1]; i++)
                if (common[i].s[0] == (char)p[0] && memcmp(common[i].s, p, len) == 0)
                        return IS_COMMON | i;
        return 0;
}

/* Stores `p` in the list's buffer, or refers to a common constant. */
static uint32_t store(struct hdr_list *h, const uint8_t *p, size_t len)
{
        if (len == 0)
                return IS_COMMON; /* common[0] is "" */
        if (len <= COMMON_MAX_LEN) {
                uint32_t c = common_index(p, len);
                if (c != 0)
                        return c;
        }
        uint32_t off = h->used;
        memcpy(h->buf + off, p, len);
        h->used += (uint32_t)len;
        return off;
}

int hdr_list_add(struct hdr_list *h, const uint8_t *name, size_t namelen, const uint8_t *value,
                 size_t valuelen)
{
        size_t need = (size_t)h->used + namelen + valuelen;
        if (need > UINT32_MAX / 2 || grow((void **)&h->buf, &h->cap, need, 1, 512) < 0 ||
            grow((void **)&h->field, &h->nmax, (size_t)h->n + 1, sizeof(*h->field), 16) < 0)
                return -ENOMEM;
        uint32_t *f = h->field[h->n++];
        f[0] = store(h, name, namelen);
        f[1] = (uint32_t)namelen;
        f[2] = store(h, value, valuelen);
        f[3] = (uint32_t)valuelen;
        return 0;
}

static const uint8_t *at(const struct hdr_list *h, uint32_t ref)
{
        return ref & IS_COMMON ? (const uint8_t *)common[ref & ~IS_COMMON].s : h->buf + ref;
}

void hdr_list_view(const struct hdr_list *h, nghttp2_nv *nv)
{
        for (uint32_t i = 0; i < h->n; i++) {
                const uint32_t *f = h->field[i];
                uint8_t flags = NGHTTP2_NV_FLAG_NONE;
                if (f[0] & IS_COMMON)
                        flags |= NGHTTP2_NV_FLAG_NO_COPY_NAME;
                if (f[2] & IS_COMMON)
                        flags |= NGHTTP2_NV_FLAG_NO_COPY_VALUE;
                nv[i] = (nghttp2_nv){.name = (uint8_t *)at(h, f[0]),
                                     .namelen = f[1],
                                     .value = (uint8_t *)at(h, f[2]),
                                     .valuelen = f[3],
                                     .flags = flags};
        }
}

nghttp2_nv *nv_copy(const nghttp2_nv *nv, size_t n)
{
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
                bytes += nv[i].namelen + nv[i].valuelen;
        nghttp2_nv *out = malloc(n * sizeof(*out) + bytes + 1);
        if (out == NULL)
                return NULL;
        uint8_t *p = (uint8_t *)(out + n);
        for (size_t i = 0; i < n; i++) {
                out[i] = nv[i];
                if (!(nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_NAME)) {
                        out[i].name = p;
                        memcpy(p, nv[i].name, nv[i].namelen);
                        p += nv[i].namelen;
                }
                if (!(nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_VALUE)) {
                        out[i].value = p;
                        memcpy(p, nv[i].value, nv[i].valuelen);
                        p += nv[i].valuelen;
                }
        }
        return out;
}

nghttp2_nv *hdr_list_copy(const struct hdr_list *h, size_t *n)
{
        nghttp2_nv view[h->n > 0 ? h->n : 1];
        hdr_list_view(h, view);
        *n = h->n;
        return nv_copy(view, h->n);
}

const uint8_t *hdr_list_get(const struct hdr_list *h, const char *name, size_t *len)
{
        size_t nlen = strlen(name);
        for (uint32_t i = 0; i < h->n; i++) {
                const uint32_t *f = h->field[i];
                if (f[1] == nlen && memcmp(at(h, f[0]), name, nlen) == 0) {
                        *len = f[3];
                        return at(h, f[2]);
                }
        }
        return NULL;
}

void hdr_list_free(struct hdr_list *h)
{
        free(h->buf);
        free(h->field);
        *h = (struct hdr_list){0};
}

/* ---- sessions ---------------------------------------------------------------- */

/* Both sides collect a HEADERS block's fields the same way. */
static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
        (void)session, (void)flags;
        struct h2_conn *c = user_data;
        if (frame->hd.type != NGHTTP2_HEADERS)
                return 0;
        if (hdr_list_add(&c->hdrs, name, namelen, value, valuelen) < 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
        return 0;
}

struct relay_stream *h2_data_stream(nghttp2_session *session, int32_t stream_id, size_t len)
{
        /* The connection's window goes back at once; a stream's when its
         * bytes have been passed on (stream.c). */
        nghttp2_session_consume_connection(session, len);
        struct relay_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);
        if (st == NULL) /* crisp let the stream go: its bytes go nowhere */
                nghttp2_session_consume_stream(session, stream_id, len);
        return st;
}

int h2_session_setup(const struct h2_role_callbacks *role, nghttp2_session_callbacks **callbacks,
                     nghttp2_option **option)
{
        nghttp2_session_callbacks *cb;
        if (nghttp2_session_callbacks_new(&cb) != 0)
                return -ENOMEM;
        nghttp2_session_callbacks_set_send_callback(cb, h2_conn_send_cb);
        nghttp2_session_callbacks_set_send_data_callback(cb, h2_conn_send_data_cb);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, role->begin_headers);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, role->frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, role->data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, role->stream_close);
        if (role->frame_send)
                nghttp2_session_callbacks_set_on_frame_send_callback(cb, role->frame_send);
        if (role->frame_not_send)
                nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, role->frame_not_send);
        if (role->invalid_frame)
                nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb,
                                                                             role->invalid_frame);
        nghttp2_option *opt;
        if (nghttp2_option_new(&opt) != 0) {
                nghttp2_session_callbacks_del(cb);
                return -ENOMEM;
        }
        /* Closed streams are forgotten at once. A server session would keep
         * up to its concurrent-stream limit of them (4096 here, about 1 MiB
         * per connection) for RFC 7540's priority tree, which gRPC does
         * not use. */
        nghttp2_option_set_no_closed_streams(opt, 1);
        /* Windows go back as the bytes are passed on, not as they arrive
         * (stream.c). */
        nghttp2_option_set_no_auto_window_update(opt, 1);
        /* HTTP messaging is crisp's, not nghttp2's. The kubelet's side:
         * src/wire/h2_request.h checks every request as strictly but for
         * one rule: libnghttp2 refuses an :authority with a '/', which is
         * what the kubelet's gRPC dialer sends (the runtime socket's path).
         * The runtime's side: its answers pass on as the kubelet would get
         * them without crisp. Framing, HPACK, flow control and stream
         * states stay nghttp2's on both. */
        nghttp2_option_set_no_http_messaging(opt, 1);
        *callbacks = cb;
        *option = opt;
        return 0;
}

/* ---- set-up ----------------------------------------------------------------- */

void h2_conn_init(struct h2_conn *c, struct crisp_server *srv, enum h2_role role)
{
        if (by_len[COMMON_MAX_LEN + 1] == 0)
                index_common();
        memset(c, 0, sizeof(*c));
        c->role = role;
        c->srv = srv;
        crisp_chunkq_init(&c->out);
        uv_pipe_init(srv->loop, &c->pipe, 0);
        c->pipe.data = c;
        srv->open_handles++;
}

void h2_conn_want_flush(struct h2_conn *c)
{
        if (c->dirty || c->closing)
                return;
        c->dirty = true;
        c->dirty_next = c->srv->dirty;
        c->srv->dirty = c;
}

/* ---- reading ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        (void)suggested;
        struct h2_conn *c = h->data;
        if (c->rblock != NULL && c->rblock->refs == 1)
                c->rused = 0; /* nothing holds its bytes any more: start over */
        if (c->rblock == NULL || c->rblock->cap - c->rused < MIN_READ) {
                crisp_block_unref(c->rblock);
                c->rblock = crisp_block_new(CRISP_BLOCK_SLAB);
                c->rused = 0;
                if (c->rblock == NULL) {
                        *buf = uv_buf_init(NULL, 0); /* the read fails with UV_ENOBUFS */
                        return;
                }
        }
        *buf =
            uv_buf_init((char *)c->rblock->data + c->rused, (unsigned)(c->rblock->cap - c->rused));
}

/* A connection with no call open holds no buffer: an idle kubelet
 * connection costs its nghttp2 session and nothing more. */
static void release_idle_blocks(struct h2_conn *c)
{
        if (c->nstreams > 0)
                return;
        if (c->rblock != NULL && c->rblock->refs == 1) {
                crisp_block_unref(c->rblock);
                c->rblock = NULL;
                c->rused = 0;
        }
        if (c->wblock != NULL && c->wblock->refs == 1 && c->out.bytes == 0) {
                crisp_block_unref(c->wblock);
                c->wblock = NULL;
                c->wused = 0;
        }
}

static void finish_close(struct h2_conn *c);

/* Gives nghttp2 a read; on the kubelet's side, past the frame guard, which
 * looks at each DATA and HEADERS header just before nghttp2 does. */
static ssize_t feed(struct h2_conn *c, const uint8_t *p, size_t n)
{
        if (c->guard == NULL)
                return nghttp2_session_mem_recv(c->session, p, n);
        size_t pos = 0, fed = 0;
        while (pos < n) {
                bool check = false;
                pos += frame_guard_scan(c->guard, p + pos, n - pos, &check);
                if (!check)
                        break;
                /* nghttp2 acts on a frame header only once it has its last byte. */
                ssize_t r = nghttp2_session_mem_recv(c->session, p + fed, pos - 1 - fed);
                if (r < 0 || c->closing)
                        return r;
                fed = pos - 1;
                uint32_t error = frame_guard_verdict(c->guard, c->session);
                if (error != 0) {
                        log_debug("client connection: DATA or HEADERS on a closed or reused "
                                  "stream: %s",
                                  nghttp2_http2_strerror(error));
                        nghttp2_session_terminate_session(c->session, error);
                        return 0;
                }
        }
        return nghttp2_session_mem_recv(c->session, p + fed, n - fed);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
        struct h2_conn *c = s->data;
        if (nread == 0)
                return;
        if (nread < 0) {
                h2_conn_close(c, nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
                return;
        }
        c->rused += (size_t)nread;
        /* Held across the parse: a stream it ends may drop its chunks. */
        struct crisp_block *b = crisp_block_ref(c->rblock);
        c->busy = true;
        ssize_t r = feed(c, (const uint8_t *)buf->base, (size_t)nread);
        c->busy = false;
        crisp_block_unref(b);
        if (c->closing) {
                finish_close(c);
                return;
        }
        if (r < 0) {
                /* Fatal for the connection (a bad client preface, a flood, no
                 * memory); protocol errors nghttp2 answers itself with GOAWAY.
                 * A flood gets a GOAWAY too before the close (RFC 9113
                 * §5.4.1): the session is whole, only the peer is too much. */
                log_warn("%s connection: %s; closing it", c->role == H2_DOWN ? "client" : "runtime",
                         nghttp2_strerror((int)r));
                if ((r == NGHTTP2_ERR_FLOODED || r == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) &&
                    nghttp2_session_terminate_session(c->session, NGHTTP2_ENHANCE_YOUR_CALM) == 0) {
                        h2_conn_want_flush(c); /* the flush closes it once written */
                        return;
                }
                h2_conn_close(c, nghttp2_strerror((int)r));
                return;
        }
        release_idle_blocks(c);
        h2_conn_want_flush(c);
}

int h2_conn_start_reading(struct h2_conn *c)
{
        return uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ---- writing ------------------------------------------------------------------ */

/* Copies `len` bytes of nghttp2's output into the write block. */
static int out_copy(struct h2_conn *c, const uint8_t *data, size_t len)
{
        if (c->wblock != NULL && c->wblock->refs == 1)
                c->wused = 0;
        if (c->wblock == NULL || c->wblock->cap - c->wused < len) {
                crisp_block_unref(c->wblock);
                c->wblock = crisp_block_new(len > WBLOCK_SIZE ? len : WBLOCK_SIZE);
                c->wused = 0;
                if (c->wblock == NULL)
                        return -ENOMEM;
        }
        uint8_t *p = c->wblock->data + c->wused;
        memcpy(p, data, len);
        c->wused += len;
        return crisp_chunkq_push(&c->out, c->wblock, p, len);
}

ssize_t h2_conn_send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                        void *user_data)
{
        (void)session, (void)flags;
        struct h2_conn *c = user_data;
        if (c->out.bytes >= RELAY_OUT_MAX) {
                c->held_back = true;
                return NGHTTP2_ERR_WOULDBLOCK;
        }
        if (out_copy(c, data, length) < 0)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        return (ssize_t)length;
}

/* A DATA frame: its 9-byte header, then the payload as the flow's chunks. */
int h2_conn_send_data_cb(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
                         size_t length, nghttp2_data_source *source, void *user_data)
{
        (void)source;
        struct h2_conn *c = user_data;
        struct relay_stream *st =
            nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (st == NULL || c->closing)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
        if (c->out.bytes >= RELAY_OUT_MAX) {
                c->held_back = true;
                return NGHTTP2_ERR_WOULDBLOCK;
        }
        if (out_copy(c, framehd, 9) < 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        stream_flow_sent(st, c->role == H2_UP ? &st->c2p : &st->p2c, length, &c->out);
        return 0;
}

static void write_more(struct h2_conn *c);

static void on_written(uv_write_t *req, int status)
{
        struct h2_conn *c = req->data;
        crisp_chunkq_drop(&c->out, c->writing);
        c->writing = 0;
        if (c->closing)
                return;
        if (status < 0) {
                h2_conn_close(c, uv_strerror(status));
                return;
        }
        h2_conn_want_flush(c);
}

/* Writes c->out: as much as the socket takes now, the rest with uv_write. */
static void write_more(struct h2_conn *c)
{
        uv_buf_t bufs[WRITE_BUFS];
        while (c->out.bytes > 0) {
                /* uv_buf_t is laid out as struct iovec on Unix (libuv says so). */
                size_t n = crisp_chunkq_iov(&c->out, (struct iovec *)bufs, WRITE_BUFS);
                int w = uv_try_write((uv_stream_t *)&c->pipe, bufs, (unsigned)n);
                if (w == UV_EAGAIN)
                        w = 0;
                if (w < 0) {
                        h2_conn_close(c, uv_strerror(w));
                        return;
                }
                size_t total = 0;
                for (size_t i = 0; i < n; i++)
                        total += bufs[i].len;
                crisp_chunkq_drop(&c->out, (size_t)w);
                if ((size_t)w == total)
                        continue;
                /* The socket is full: the rest goes when it can. */
                n = crisp_chunkq_iov(&c->out, (struct iovec *)bufs, WRITE_BUFS);
                total = 0;
                for (size_t i = 0; i < n; i++)
                        total += bufs[i].len;
                c->wreq.data = c;
                int r = uv_write(&c->wreq, (uv_stream_t *)&c->pipe, bufs, (unsigned)n, on_written);
                if (r < 0) {
                        h2_conn_close(c, uv_strerror(r));
                        return;
                }
                c->writing = total;
                return;
        }
}

void h2_conn_flush(struct h2_conn *c)
{
        if (c->closing || c->writing > 0 || c->session == NULL)
                return;
        if (c->role == H2_UP && c->state == UP_CONNECTING)
                return; /* flushed once connected */
        do {
                /* held_back: nghttp2 had more than RELAY_OUT_MAX to say. When
                 * the socket took all of it at once, ask for the rest now:
                 * no write completion will come to ask for it later. */
                c->held_back = false;
                c->busy = true;
                int r = nghttp2_session_send(c->session);
                c->busy = false;
                if (c->closing) {
                        finish_close(c);
                        return;
                }
                if (r < 0) {
                        log_warn("%s connection: %s; closing it",
                                 c->role == H2_DOWN ? "client" : "runtime", nghttp2_strerror(r));
                        h2_conn_close(c, nghttp2_strerror(r));
                        return;
                }
                write_more(c);
                if (c->closing || c->writing > 0)
                        return;
        } while (c->held_back);
        release_idle_blocks(c);
        if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session))
                h2_conn_close(c, "the session is over");
}

/* ---- closing ------------------------------------------------------------------ */

static void on_closed(uv_handle_t *h)
{
        struct h2_conn *c = h->data;
        struct crisp_server *srv = c->srv;
        struct h2_conn **list = c->role == H2_DOWN ? &srv->downs : &srv->ups;
        if (c->prev)
                c->prev->next = c->next;
        else if (*list == c)
                *list = c->next;
        if (c->next)
                c->next->prev = c->prev;
        crisp_chunkq_clear(&c->out);
        crisp_block_unref(c->rblock);
        crisp_block_unref(c->wblock);
        hdr_list_free(&c->hdrs);
        free(c->guard);
        free(c);
        srv->open_handles--;
        server_maybe_stopped(srv);
}

static void on_timer_closed(uv_handle_t *h)
{
        free(h);
}

void h2_conn_close(struct h2_conn *c, const char *why)
{
        if (c->closing)
                return;
        c->closing = true;
        log_debug("%s connection closed: %s", c->role == H2_DOWN ? "client" : "runtime", why);
        if (c->handshake) {
                uv_close((uv_handle_t *)c->handshake, on_timer_closed);
                c->handshake = NULL;
        }
        if (c->role == H2_UP && c->srv->current_up == c)
                c->srv->current_up = NULL;
        /* Its streams end now: the other side of each is told. */
        while (c->streams != NULL) {
                struct relay_stream *st = c->streams;
                if (c->role == H2_DOWN)
                        stream_down_lost(st);
                else
                        stream_up_lost(st, why);
        }
        if (!c->busy)
                finish_close(c);
}

/* The session goes once nghttp2 is not inside it (a callback may end the
 * connection). */
static void finish_close(struct h2_conn *c)
{
        if (c->session == NULL && uv_is_closing((uv_handle_t *)&c->pipe))
                return;
        nghttp2_session_del(c->session);
        c->session = NULL;
        c->state = UP_DEAD;
        uv_close((uv_handle_t *)&c->pipe, on_closed);
}
