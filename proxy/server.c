/* The relay as a whole (server.h, relay.h): start, the end-of-turn flush,
 * pod-spec answers coming back, policy, shutdown and crisp's own calls. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acceptor.h"
#include "base/log.h"
#include "h2_mem.h"
#include "listen_socket.h"
#include "relay.h"
#include "wire/block.h"

/* After the grace period crisp answers every call itself; a client that
 * does not even read that answer is disconnected this much later. */
#define CANCEL_LINGER_MS 2000

/* ---- the end of a loop turn ------------------------------------------------------ */

/* Every connection that has something to write writes it, once: all the
 * frames the turn produced for it in one writev. Before the loop polls
 * (after timers and the like) and after it polled (after I/O). */
static void flush_all(struct crisp_server *srv)
{
        while (srv->dirty != NULL) {
                struct h2_conn *c = srv->dirty;
                srv->dirty = c->dirty_next;
                c->dirty_next = NULL;
                c->dirty = false;
                h2_conn_flush(c);
        }
}

static void on_prepare(uv_prepare_t *h)
{
        flush_all(h->data);
}

static void on_check(uv_check_t *h)
{
        flush_all(h->data);
}

/* Pod-spec lookups answered on the resolver's thread. */
static void on_spec_async(uv_async_t *h)
{
        struct crisp_server *srv = h->data;
        pthread_mutex_lock(&srv->spec_mu);
        struct relay_stream *list = srv->spec_done;
        srv->spec_done = NULL;
        pthread_mutex_unlock(&srv->spec_mu);
        while (list != NULL) {
                struct relay_stream *st = list;
                list = st->spec_next;
                first_spec_answered(st);
        }
}

/* ---- start ---------------------------------------------------------------------- */

static void free_setup(struct crisp_server *s)
{
        nghttp2_session_callbacks_del(s->down_callbacks);
        nghttp2_session_callbacks_del(s->up_callbacks);
        nghttp2_option_del(s->down_option);
        nghttp2_option_del(s->up_option);
        crisp_policy_holder_destroy(&s->policy);
        pthread_mutex_destroy(&s->spec_mu);
        free(s);
}

int crisp_server_start(uv_loop_t *loop, const struct crisp_options *opts,
                       const struct crisp_call_observer *observer,
                       struct crisp_spec_resolver *resolver, void (*on_stopped)(void *arg),
                       void *arg, struct crisp_server **out, crisp_error **err)
{
        int r = crisp_listen_socket_prepare(opts->listen, err);
        if (r < 0)
                return r;
        struct crisp_server *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        struct crisp_policy_snapshot *first = NULL;
        r = crisp_policy_snapshot_new(&opts->policy, &first, err);
        if (r < 0) {
                free(s);
                return r;
        }
        crisp_policy_holder_init(&s->policy, first);
        pthread_mutex_init(&s->spec_mu, NULL);
        s->loop = loop;
        s->max_message_size = (size_t)opts->max_message_size;
        snprintf(s->listen, sizeof(s->listen), "%s", opts->listen);
        snprintf(s->runtime_endpoint, sizeof(s->runtime_endpoint), "%s", opts->runtime_endpoint);
        s->observer = observer;
        s->resolver = resolver;
        s->on_stopped = on_stopped;
        s->on_stopped_arg = arg;
        if (downstream_init(s) < 0 || upstream_init(s) < 0) {
                free_setup(s);
                return crisp_error_set(err, ENOMEM, "out of memory");
        }
        r = crisp_acceptor_start(loop, opts->listen, opts->socket_mode, downstream_accept, s,
                                 &s->acceptor, err);
        if (r < 0) {
                free_setup(s);
                return r;
        }
        uv_prepare_init(loop, &s->flush_before_poll);
        uv_check_init(loop, &s->flush_after_poll);
        uv_async_init(loop, &s->spec_async, on_spec_async);
        uv_timer_init(loop, &s->linger);
        s->flush_before_poll.data = s->flush_after_poll.data = s->spec_async.data = s->linger.data =
            s;
        uv_prepare_start(&s->flush_before_poll, on_prepare);
        uv_check_start(&s->flush_after_poll, on_check);
        /* Neither keeps the loop alive on its own. */
        uv_unref((uv_handle_t *)&s->flush_before_poll);
        uv_unref((uv_handle_t *)&s->flush_after_poll);
        uv_unref((uv_handle_t *)&s->linger);
        s->open_handles = 4;
        *out = s;
        return 0;
}

/* ---- policy, counts --------------------------------------------------------------- */

void crisp_server_set_policy(struct crisp_server *s, struct crisp_policy_snapshot *next)
{
        crisp_policy_swap(&s->policy, next);
}

long crisp_server_calls_in_flight(struct crisp_server *s)
{
        return s->calls;
}

int crisp_server_upstream_state(struct crisp_server *s)
{
        return upstream_state(s);
}

/* ---- shutdown ------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
        struct crisp_server *s = h->data;
        if (--s->open_handles == 0 && !s->stopped) {
                s->stopped = true;
                if (s->on_stopped)
                        s->on_stopped(s->on_stopped_arg);
        }
}

static bool closing_handles(const struct crisp_server *s)
{
        return uv_is_closing((const uv_handle_t *)&s->spec_async);
}

void server_maybe_stopped(struct crisp_server *s)
{
        if (!s->shutting_down || s->stopped || closing_handles(s))
                return;
        if (s->calls == 0) {
                /* No call left: each client's connection closes once its
                 * GOAWAY is out. */
                for (struct h2_conn *c = s->downs; c != NULL; c = c->next)
                        if (c->nstreams == 0)
                                h2_conn_want_flush(c);
        }
        if (s->downs != NULL || s->streams != 0)
                return;
        upstream_close_all(s);
        if (s->ups != NULL)
                return;
        /* Everything is answered and closed: the relay's own handles go. */
        uv_close((uv_handle_t *)&s->flush_before_poll, on_handle_closed);
        uv_close((uv_handle_t *)&s->flush_after_poll, on_handle_closed);
        uv_close((uv_handle_t *)&s->spec_async, on_handle_closed);
        uv_close((uv_handle_t *)&s->linger, on_handle_closed);
}

void crisp_server_begin_shutdown(struct crisp_server *s)
{
        if (s->shutting_down)
                return;
        s->shutting_down = true;
        /* First: no new client, and each client hears that no new call is taken. */
        crisp_acceptor_stop(s->acceptor);
        s->acceptor = NULL;
        downstream_goaway_all(s);
        server_maybe_stopped(s);
}

static void on_linger_over(uv_timer_t *t)
{
        struct crisp_server *s = t->data;
        for (struct h2_conn *c = s->downs; c != NULL; c = c->next)
                if (!c->closing) {
                        log_warn("a client did not take crisp's answers; disconnecting it");
                        h2_conn_close(c, "shutdown: the client does not read");
                }
}

void crisp_server_cancel_all(struct crisp_server *s)
{
        crisp_server_begin_shutdown(s);
        if (s->cancelling)
                return;
        s->cancelling = true;
        for (struct h2_conn *c = s->downs; c != NULL; c = c->next)
                for (struct relay_stream *st = c->streams; st != NULL; st = stream_next_on(st, c))
                        stream_answer(st, 14, "crisp: shutting down: the call was cancelled");
        for (struct h2_conn *c = s->ups; c != NULL; c = c->next)
                for (struct relay_stream *st = c->streams; st != NULL; st = stream_next_on(st, c))
                        if (st->own)
                                crisp_server_cancel_own(s, st);
        uv_timer_start(&s->linger, on_linger_over, CANCEL_LINGER_MS, 0);
        server_maybe_stopped(s);
}

/* ---- crisp's own calls -------------------------------------------------------------- */

struct relay_stream *crisp_server_call_own(struct crisp_server *s, const char *method,
                                           void (*done)(void *arg, int code), void *arg)
{
        if (s->shutting_down)
                return NULL;
        struct relay_stream *st = stream_new(s);
        if (st == NULL)
                return NULL;
        st->own = true;
        st->on_own_done = done;
        st->own_arg = arg;
        snprintf(st->path, sizeof(st->path), "%s", method);
        static const uint8_t empty[CRISP_GRPC_PREFIX] = {0};
        struct crisp_block *b = crisp_block_copy(empty, sizeof(empty));
        if (b == NULL || crisp_chunkq_push(&st->c2p.q, b, b->data, sizeof(empty)) < 0) {
                crisp_block_unref(b);
                st->on_own_done = NULL;
                stream_maybe_free(st);
                return NULL;
        }
        crisp_block_unref(b);
        st->c2p.eof = true;
        nghttp2_nv nv[] = {
            {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
            {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
            {(uint8_t *)":path", (uint8_t *)method, 5, strlen(method), 0},
            {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0},
            {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
            {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0},
            {(uint8_t *)"user-agent", (uint8_t *)"crisp-readiness", 10, 15, 0},
        };
        upstream_open(st, nv, sizeof(nv) / sizeof(nv[0]));
        if (st->up == NULL) {
                stream_maybe_free(st); /* answered at once: done was called */
                return NULL;
        }
        return st;
}

void crisp_server_cancel_own(struct crisp_server *s, struct relay_stream *st)
{
        (void)s;
        st->on_own_done = NULL;
        stream_answer(st, 1, "crisp: cancelled");
}

void crisp_server_destroy(struct crisp_server *s)
{
        crisp_listen_socket_remove(s->listen);
        free_setup(s);
        crisp_block_trim();
        crisp_chunkq_trim();
        h2_mem_trim();
}
