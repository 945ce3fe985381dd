/* Accepting on the loop. crisp has owned its listening socket since gRPC
 * 1.51's listener, which served it before crisp's own relay, gave up on it
 * after one failed accept4() (EMFILE) for good (docs/reliability.md); each
 * accepted connection goes to the relay (proxy/downstream.c).
 *
 * Running out of file descriptors is met as libuv's own listeners meet it:
 * crisp holds one spare descriptor (/dev/null); when accept() fails with
 * EMFILE or ENFILE it closes the spare, accepts the oldest waiting connection
 * into the freed slot, closes that connection at once and reopens the spare.
 * Each client that cannot be served is answered at once (its connection
 * closes, a gRPC client sees UNAVAILABLE and retries with backoff), instead
 * of waiting in the backlog for an answer that may never come; and the
 * listening socket stops being readable for connections crisp cannot take,
 * which would otherwise wake the loop without end. Only when even that is
 * impossible (the spare is gone, or there is no memory) does accepting pause
 * briefly, the connections waiting in the backlog meanwhile. */
#include "acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "listen_socket.h"
#include "base/log.h"
#include "metrics/metrics.h"

/* Connections accepted per wake-up before the loop serves its other handles
 * (signals, /metrics); the socket stays readable, so the rest follow. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when a connection can be neither accepted nor
 * refused. */
#define PAUSE_MS 100
/* Failures are logged once per episode, and episodes at most this often:
 * a node short of fds must not also fill its disk with crisp's log. */
#define WARN_INTERVAL_MS 10000

struct crisp_acceptor {
        uv_poll_t poll;
        uv_timer_t pause;
        int fd;    /* the listening socket */
        int spare; /* /dev/null, given up when fds run out; -1: not held now */
        char path[108];
        crisp_accept_fn on_accept;
        void *arg;
        int open_handles;
        bool failing;     /* accept() failed, and has not succeeded since */
        bool warned;      /* this episode was logged */
        bool ever_warned; /* last_warn_ms is set */
        uint64_t last_warn_ms;
        unsigned long refused; /* connections closed unserved in this episode */
};

static int open_spare(void)
{
        return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_closed(uv_handle_t *h)
{
        struct crisp_acceptor *a = h->data;
        if (--a->open_handles == 0)
                free(a);
}

static void begin_failing(struct crisp_acceptor *a, int e)
{
        crisp_metrics_accept_error();
        if (a->failing)
                return;
        a->failing = true;
        a->refused = 0;
        uint64_t now = uv_now(a->poll.loop);
        a->warned = !a->ever_warned || now - a->last_warn_ms >= WARN_INTERVAL_MS;
        if (!a->warned)
                return;
        a->ever_warned = true;
        a->last_warn_ms = now;
        struct rlimit lim = {0};
        getrlimit(RLIMIT_NOFILE, &lim);
        log_warn("cannot accept connections on %s: %s (open files limit %llu); new clients are "
                 "refused until this passes",
                 a->path, strerror(e), (unsigned long long)lim.rlim_cur);
}

static void end_failing(struct crisp_acceptor *a)
{
        if (!a->failing)
                return;
        a->failing = false;
        if (a->warned)
                log_info("accepting connections on %s again; refused=%lu meanwhile", a->path,
                         a->refused);
}

/* Out of fds: accept the oldest waiting connection into the spare's slot and
 * close it. False when that was not possible: no spare, or another thread
 * (gRPC's) took the freed slot first. */
static bool refuse_one(struct crisp_acceptor *a)
{
        if (a->spare < 0)
                a->spare = open_spare();
        if (a->spare < 0)
                return false;
        close(a->spare);
        a->spare = -1;
        int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
        int e = errno;
        if (fd >= 0) {
                close(fd);
                a->refused++;
        }
        a->spare = open_spare();
        return fd >= 0 || e == EAGAIN || e == EINTR || e == ECONNABORTED;
}

static void on_readable(uv_poll_t *h, int status, int events);

static void on_pause_over(uv_timer_t *t)
{
        struct crisp_acceptor *a = t->data;
        if (a->spare < 0)
                a->spare = open_spare();
        uv_poll_start(&a->poll, UV_READABLE, on_readable);
}

static void pause_accepting(struct crisp_acceptor *a)
{
        uv_poll_stop(&a->poll);
        uv_timer_start(&a->pause, on_pause_over, PAUSE_MS, 0);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
        (void)events;
        struct crisp_acceptor *a = h->data;
        if (status < 0) {
                begin_failing(a, -status);
                pause_accepting(a);
                return;
        }
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                /* gRPC's endpoint expects a non-blocking socket, as its own
                 * listener makes them. */
                int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) {
                        end_failing(a);
                        a->on_accept(fd, a->arg);
                        continue;
                }
                int e = errno;
                if (e == EAGAIN || e == EWOULDBLOCK)
                        return;
                if (e == EINTR || e == ECONNABORTED)
                        continue; /* a client that left before it was accepted */
                begin_failing(a, e);
                if ((e == EMFILE || e == ENFILE) && refuse_one(a))
                        continue;
                /* No memory, or no spare fd: let the connections wait. */
                pause_accepting(a);
                return;
        }
}

int crisp_acceptor_start(uv_loop_t *loop, const char *path, mode_t mode, crisp_accept_fn on_accept,
                         void *arg, struct crisp_acceptor **out, crisp_error **err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return crisp_error_set(err, ENAMETOOLONG,
                                       "%s: a unix socket path is at most %zu bytes", path,
                                       sizeof(addr.sun_path) - 1);
        memcpy(addr.sun_path, path, strlen(path) + 1);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return crisp_error_set_errno(err, errno, "cannot create a socket for %s", path);
        /* A tight umask makes the socket file 0600 from birth; finish() widens
         * it to the chosen mode, so it is never briefly open to everyone. */
        mode_t old_umask = umask(0177);
        int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
        int e = errno;
        umask(old_umask);
        if (r < 0)
                return crisp_error_set_errno(err, e, "cannot listen on %s", path);
        r = crisp_listen_socket_finish(path, mode, err);
        if (r < 0) {
                unlink(path);
                return r;
        }
        if (listen(fd, SOMAXCONN) < 0) {
                r = crisp_error_set_errno(err, errno, "cannot listen on %s", path);
                crisp_listen_socket_remove(path);
                return r;
        }
        _cleanup_close_ int spare = open_spare();
        if (spare < 0) {
                r = crisp_error_set_errno(err, errno, "cannot open /dev/null");
                crisp_listen_socket_remove(path);
                return r;
        }
        struct crisp_acceptor *a = calloc(1, sizeof(*a));
        if (a == NULL) {
                crisp_listen_socket_remove(path);
                return crisp_error_set(err, ENOMEM, "out of memory");
        }
        r = uv_poll_init(loop, &a->poll, fd);
        if (r < 0) {
                free(a);
                crisp_listen_socket_remove(path);
                return crisp_error_set(err, -r, "cannot watch %s: %s", path, uv_strerror(r));
        }
        uv_timer_init(loop, &a->pause);
        a->poll.data = a->pause.data = a;
        a->open_handles = 2;
        snprintf(a->path, sizeof(a->path), "%s", path);
        a->on_accept = on_accept;
        a->arg = arg;
        a->fd = fd;
        fd = -1;
        a->spare = spare;
        spare = -1;
        uv_poll_start(&a->poll, UV_READABLE, on_readable);
        *out = a;
        return 0;
}

void crisp_acceptor_stop(struct crisp_acceptor *a)
{
        if (a == NULL)
                return;
        /* Closing the handle stops the polling before the fd is closed. */
        uv_close((uv_handle_t *)&a->poll, on_closed);
        uv_close((uv_handle_t *)&a->pause, on_closed);
        close(a->fd);
        if (a->spare >= 0)
                close(a->spare);
        crisp_listen_socket_remove(a->path);
}
