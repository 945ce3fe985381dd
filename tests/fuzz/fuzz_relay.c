/* libFuzzer target: the relay (proxy/server.h) with bytes from both sides:
 * what a kubelet sends on crisp's socket, and what the runtime answers on
 * crisp's connection to it. A real crisp server runs on a libuv loop in
 * this process; the fuzzer plays the client and the runtime over real unix
 * sockets.
 *
 * Input: one byte of options, two bytes (little-endian) of the client's
 * length, the client's bytes, then the runtime's bytes.
 *   option bit 0: mode off (--no-default) instead of enforce
 *   option bit 1: the runtime's bytes go out only after the client's have
 *                 been taken (else at once, as the connection is accepted)
 *
 * Besides "no crash, no leak, no undefined behaviour" (ASan, LSan, UBSan),
 * every run checks:
 *  1. crisp's relay takes whatever both sides send without stopping the loop;
 *  2. once both sides hang up and crisp is told to stop, every call in flight
 *     ends (crisp_server_calls_in_flight() == 0) and the server stops: every
 *     handle closes and the loop ends (a hang is a libFuzzer timeout);
 *  3. nothing is left on the loop (uv_loop_close succeeds). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "base/log.h"
#include "config/options.h"
#include "server.h"

#define MAX_TURNS   400
#define QUIET_TURNS 4

static void fail(const char *what)
{
        fprintf(stderr, "fuzz_relay: invariant violated: %s\n", what);
        __builtin_trap();
}

static char dir[64];
static char listen_path[128], runtime_path[128];

static void setup_once(void)
{
        if (dir[0] != '\0')
                return;
        snprintf(dir, sizeof(dir), "/tmp/crisp-fuzz-relay-XXXXXX");
        if (mkdtemp(dir) == NULL)
                fail("cannot create a temporary folder");
        snprintf(listen_path, sizeof(listen_path), "%s/crisp.sock", dir);
        snprintf(runtime_path, sizeof(runtime_path), "%s/runtime.sock", dir);
        crisp_log_set_level(CRISP_LOG_ERROR);
}

static int unix_socket(void)
{
        return socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static struct sockaddr_un addr_of(const char *path)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
        return a;
}

/* Reads and drops what crisp wrote; returns the bytes read. */
static size_t drain(int fd)
{
        size_t total = 0;
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        return total;
                total += (size_t)n;
        }
}

/* Writes what fits now of p[*left]; returns the bytes written. */
static size_t push(int fd, const uint8_t **p, size_t *left)
{
        if (fd < 0 || *left == 0)
                return 0;
        ssize_t n = write(fd, *p, *left);
        if (n <= 0)
                return 0;
        *p += n;
        *left -= (size_t)n;
        return (size_t)n;
}

static bool stopped;

static void on_stopped(void *arg)
{
        (void)arg;
        stopped = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 3)
                return 0;
        setup_once();
        uint8_t flags = data[0];
        size_t client_len = (size_t)data[1] | (size_t)data[2] << 8;
        data += 3;
        size -= 3;
        if (client_len > size)
                client_len = size;
        const uint8_t *client = data, *runtime = data + client_len;
        size_t client_left = client_len, runtime_left = size - client_len;

        /* The runtime: a listening socket crisp connects to. */
        unlink(runtime_path);
        int lfd = unix_socket();
        struct sockaddr_un ra = addr_of(runtime_path);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&ra, sizeof(ra)) < 0 || listen(lfd, 8) < 0)
                fail("cannot listen as the runtime");

        char *argv[] = {"crisp",      "--listen",     listen_path, "--runtime-endpoint",
                        runtime_path, "--no-default", NULL};
        int argc = (flags & 1) ? 6 : 5;
        struct crisp_options opts;
        crisp_error *err = NULL;
        if (crisp_options_parse(&opts, argc, argv, &err) < 0)
                fail("options");
        uv_loop_t loop;
        uv_loop_init(&loop);
        struct crisp_server *srv = NULL;
        stopped = false;
        if (crisp_server_start(&loop, &opts, NULL, NULL, on_stopped, NULL, &srv, &err) < 0) {
                fprintf(stderr, "fuzz_relay: %s\n", err->msg);
                fail("the server does not start");
        }

        int cfd = unix_socket();
        struct sockaddr_un ca = addr_of(listen_path);
        if (cfd < 0 || connect(cfd, (struct sockaddr *)&ca, sizeof(ca)) < 0)
                fail("cannot connect to crisp");
        int rfd = -1;
        int quiet = 0;
        for (int turn = 0; turn < MAX_TURNS && quiet < QUIET_TURNS; turn++) {
                size_t moved = 0;
                uv_run(&loop, UV_RUN_NOWAIT);
                if (rfd < 0) {
                        rfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                        if (rfd >= 0)
                                moved++;
                }
                moved += push(cfd, &client, &client_left);
                if (!(flags & 2) || client_left == 0)
                        moved += push(rfd, &runtime, &runtime_left);
                moved += drain(cfd);
                if (rfd >= 0)
                        moved += drain(rfd);
                quiet = moved == 0 ? quiet + 1 : 0;
        }

        /* Both sides hang up; crisp stops. */
        close(cfd);
        if (rfd >= 0)
                close(rfd);
        close(lfd);
        uv_run(&loop, UV_RUN_NOWAIT);
        crisp_server_cancel_all(srv);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (!stopped)
                fail("the server did not stop");
        if (crisp_server_calls_in_flight(srv) != 0)
                fail("a call is still in flight after the stop");
        crisp_server_destroy(srv);
        if (uv_loop_close(&loop) != 0)
                fail("a handle is left on the loop");
        crisp_options_release(&opts);
        unlink(runtime_path);
        return 0;
}
