/* crisp's gRPC side: the server on the listening socket, the channel to the
 * runtime, the completion queue and its threads (server.h). */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "acceptor.h"
#include "listen_socket.h"
#include "base/log.h"
#include "relay.h"
#include "tag.h"

struct crisp_server {
        struct crisp_relay_ctx relay;      /* first: relay callbacks find the server from it */
        struct crisp_policy_holder policy; /* the policy in force (relay.policy points here) */
        char listen[108];
        int n_threads;
        pthread_t threads[64];
        struct crisp_acceptor *acceptor; /* NULL: gRPC listens (no loop), or stopped */
        grpc_server_credentials *creds;  /* for connections the acceptor hands over */

        struct crisp_tag t_shutdown;
        atomic_bool shutdown_begun;
        atomic_bool shutdown_done; /* gRPC says: no call is served any more */
        atomic_bool queue_shutdown;

        void (*on_stopped)(void *arg);
        void *on_stopped_arg;
};

static void *queue_worker(void *arg)
{
        struct crisp_server *s = arg;
        for (;;) {
                grpc_event ev = grpc_completion_queue_next(
                    s->relay.cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
                if (ev.type == GRPC_QUEUE_SHUTDOWN)
                        break;
                if (ev.type == GRPC_OP_COMPLETE) {
                        struct crisp_tag *tag = ev.tag;
                        tag->fn(tag, ev.success != 0);
                }
        }
        return NULL;
}

/* The queue may shut down once gRPC has finished the server's shutdown and
 * the last relay call has released its upstream half too. */
static void maybe_finish(struct crisp_server *s)
{
        if (!atomic_load(&s->shutdown_done) || atomic_load(&s->relay.live_calls) != 0)
                return;
        if (atomic_exchange(&s->queue_shutdown, true))
                return;
        grpc_completion_queue_shutdown(s->relay.cq);
        if (s->on_stopped)
                s->on_stopped(s->on_stopped_arg);
}

static void on_call_freed(struct crisp_relay_ctx *ctx)
{
        maybe_finish((struct crisp_server *)ctx);
}

static void on_server_shutdown(struct crisp_tag *tag, bool ok)
{
        (void)ok;
        struct crisp_server *s = container_of(tag, struct crisp_server, t_shutdown);
        atomic_store(&s->shutdown_done, true);
        maybe_finish(s);
}

static grpc_channel_args *make_args(grpc_arg *args, size_t n, grpc_channel_args *holder)
{
        holder->num_args = n;
        holder->args = args;
        return holder;
}

static grpc_arg int_arg(const char *key, int value)
{
        grpc_arg a = {.type = GRPC_ARG_INTEGER, .key = (char *)key, .value.integer = value};
        return a;
}

/* On the loop's thread. gRPC takes `fd` over, and builds the transport its
 * own listener would. Safe while queue threads serve: gRPC's listener calls
 * the same code (Server::SetupTransport, which takes the server's lock) from
 * whichever thread polls, and the acceptor stops before the server shuts
 * down. */
static void on_connection(int fd, void *arg)
{
        struct crisp_server *s = arg;
        grpc_server_add_channel_from_fd(s->relay.server, fd, s->creds);
}

/* gRPC's own listener, for a caller without a loop (crisp replay --check,
 * short-lived and alone on its socket). */
static int grpc_listen(struct crisp_server *s, const struct crisp_options *opts, crisp_error **err)
{
        /* gRPC creates the socket file when the port is added; a tight umask
         * makes it 0600 from birth, and finish() widens it to the chosen mode,
         * so it is never briefly open to everyone. */
        char address[128];
        snprintf(address, sizeof(address), "unix:%s", opts->listen);
        mode_t old_umask = umask(0177);
        int port = grpc_server_add_http2_port(s->relay.server, address, s->creds);
        umask(old_umask);
        if (port == 0)
                return crisp_error_set(err, EADDRNOTAVAIL, "cannot listen on %s", opts->listen);
        return 0;
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
        s->relay.policy = &s->policy;
        snprintf(s->listen, sizeof(s->listen), "%s", opts->listen);
        s->on_stopped = on_stopped;
        s->on_stopped_arg = arg;
        s->t_shutdown.fn = on_server_shutdown;
        s->relay.on_call_freed = on_call_freed;
        s->relay.observer = observer;
        s->relay.resolver = resolver;
        s->n_threads = opts->threads;

        int max = (int)opts->max_message_size;
        grpc_channel_args holder;

        /* The runtime's channel. Retries are off: crisp relays each call exactly
         * once, and gRPC's retry buffering would hold copies of messages.
         * Reconnect backoff is capped at 1 s, so that calls succeed again soon
         * after a restarted runtime is back (gRPC's default cap is 120 s).
         * gRPC also reads GRPC_ARG_MIN_RECONNECT_BACKOFF_MS as the minimum
         * time a connection attempt may take (its default is 20 s): 5 s lets
         * a busy runtime finish the HTTP/2 handshake without a spurious
         * UNAVAILABLE, while a runtime that is down (socket missing or
         * refusing) still fails calls at once.
         *
         * No BDP probe, here or on the server: it sends an HTTP/2 PING (and
         * reads its ACK) on the first data after every pause, and a kubelet's
         * calls all come after pauses. Off, a sparse call costs about 20%
         * less CPU and 1.5 fewer context switches; on a unix socket the
         * default window moves 16 MiB as fast (BENCHMARKS.md).
         *
         * Not GRPC_ARG_MINIMAL_STACK: it saves about 2 KB per call in flight,
         * but in gRPC 1.51 it also drops the filter that enforces the
         * message size limits (tests/grpc/test_limits.py). */
        grpc_arg channel_args[] = {
            int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, max),
            int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, max),
            int_arg(GRPC_ARG_ENABLE_RETRIES, 0),
            int_arg(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100),
            int_arg(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000),
            int_arg(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000),
            int_arg(GRPC_ARG_HTTP2_BDP_PROBE, 0),
        };
        char target[128];
        snprintf(target, sizeof(target), "unix:%s", opts->runtime_endpoint);
        grpc_channel_credentials *ccreds = grpc_insecure_credentials_create();
        s->relay.upstream = grpc_channel_create(
            target, ccreds,
            make_args(channel_args, sizeof(channel_args) / sizeof(channel_args[0]), &holder));
        grpc_channel_credentials_release(ccreds);

        s->relay.cq = grpc_completion_queue_create_for_next(NULL);

        grpc_arg server_args[] = {
            int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, max),
            int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, max),
            int_arg(GRPC_ARG_HTTP2_BDP_PROBE, 0),
        };
        s->relay.server = grpc_server_create(
            make_args(server_args, sizeof(server_args) / sizeof(server_args[0]), &holder), NULL);
        grpc_server_register_completion_queue(s->relay.server, s->relay.cq, NULL);
        /* Before the server starts: the CRI's unary methods take the fast path. */
        if (crisp_relay_register_unary(&s->relay) < 0) {
                r = crisp_error_set(err, ENOMEM, "out of memory");
                goto fail_unstarted;
        }

        s->creds = grpc_insecure_server_credentials_create();
        if (loop == NULL) {
                r = grpc_listen(s, opts, err);
                if (r < 0)
                        goto fail_unstarted;
                grpc_server_start(s->relay.server);
                r = crisp_listen_socket_finish(opts->listen, opts->socket_mode, err);
        } else {
                /* Started before the socket listens: the loop hands connections
                 * over only once this returns, to a server ready for them. */
                grpc_server_start(s->relay.server);
                r = crisp_acceptor_start(loop, opts->listen, opts->socket_mode, on_connection, s,
                                         &s->acceptor, err);
        }
        if (r < 0) {
                s->n_threads = 0; /* none started yet */
                goto fail_started;
        }

        /* One pending request per worker keeps a burst of new calls from
         * queueing behind a single accept; each unary method has one of its
         * own, renewed as each of its calls arrives. */
        if (crisp_relay_await_unary(&s->relay) < 0) {
                s->n_threads = 0; /* none started yet */
                r = crisp_error_set(err, ENOMEM, "cannot wait for calls");
                goto fail_started;
        }
        for (int i = 0; i < s->n_threads; i++) {
                if (crisp_relay_await_call(&s->relay) < 0) {
                        s->n_threads = 0; /* none started yet */
                        r = crisp_error_set(err, ENOMEM, "cannot wait for calls");
                        goto fail_started;
                }
        }
        for (int i = 0; i < s->n_threads; i++) {
                int e = pthread_create(&s->threads[i], NULL, queue_worker, s);
                if (e != 0) {
                        /* Threads already started end when the queue shuts down. */
                        s->n_threads = i;
                        r = crisp_error_set_errno(err, e, "cannot start a worker thread");
                        goto fail_started;
                }
        }
        *out = s;
        return 0;

fail_started:
        /* Shut down through the normal path, then wait for it on this thread. */
        crisp_server_begin_shutdown(s);
        crisp_server_cancel_all(s);
        if (s->n_threads == 0)
                queue_worker(s); /* no worker thread: drain the queue here */
        s->on_stopped = NULL;
        crisp_server_destroy(s);
        return r;

fail_unstarted:
        grpc_server_credentials_release(s->creds);
        grpc_server_destroy(s->relay.server);
        crisp_relay_unregister_unary(&s->relay);
        grpc_completion_queue_shutdown(s->relay.cq);
        while (grpc_completion_queue_next(s->relay.cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
                ;
        grpc_completion_queue_destroy(s->relay.cq);
        grpc_channel_destroy(s->relay.upstream);
        crisp_policy_holder_destroy(&s->policy);
        free(s);
        return r;
}

void crisp_server_set_policy(struct crisp_server *s, struct crisp_policy_snapshot *next)
{
        crisp_policy_swap(&s->policy, next);
}

grpc_connectivity_state crisp_server_upstream_state(struct crisp_server *s)
{
        return grpc_channel_check_connectivity_state(s->relay.upstream, 0);
}

void crisp_server_begin_shutdown(struct crisp_server *s)
{
        if (atomic_exchange(&s->shutdown_begun, true))
                return;
        /* First: no connection is handed to a server shutting down. */
        crisp_acceptor_stop(s->acceptor);
        s->acceptor = NULL;
        grpc_server_shutdown_and_notify(s->relay.server, s->relay.cq, &s->t_shutdown);
}

void crisp_server_cancel_all(struct crisp_server *s)
{
        grpc_server_cancel_all_calls(s->relay.server);
}

long crisp_server_calls_in_flight(struct crisp_server *s)
{
        /* Relay calls waiting for a new call serve none yet. */
        long live = atomic_load(&s->relay.live_calls) - atomic_load(&s->relay.waiting);
        return live < 0 ? 0 : live;
}

void crisp_server_destroy(struct crisp_server *s)
{
        for (int i = 0; i < s->n_threads; i++)
                pthread_join(s->threads[i], NULL);
        grpc_server_destroy(s->relay.server);
        crisp_relay_unregister_unary(&s->relay);
        grpc_server_credentials_release(s->creds);
        grpc_completion_queue_destroy(s->relay.cq);
        grpc_channel_destroy(s->relay.upstream);
        crisp_listen_socket_remove(s->listen);
        crisp_policy_holder_destroy(&s->policy);
        free(s);
}
