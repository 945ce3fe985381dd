/* proxy/notify.c: the sd_notify datagram reaches a socket in the file system
 * or in the abstract namespace, and nothing happens without NOTIFY_SOCKET. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

struct receiver {
        int fd;
        char dir[64];
        char path[108];
};

/* A datagram socket like systemd's notify socket; abstract when `abstract`. */
static void receiver_open(struct receiver *r, int abstract)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        socklen_t len;
        r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(r->fd >= 0);
        r->dir[0] = '\0';
        if (abstract) {
                snprintf(r->path, sizeof(r->path), "@crisp-notify-test-%ld", (long)getpid());
                memcpy(addr.sun_path, r->path, strlen(r->path));
                addr.sun_path[0] = '\0';
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(r->path));
        } else {
                snprintf(r->dir, sizeof(r->dir), "/tmp/crisp-notify-XXXXXX");
                assert_non_null(mkdtemp(r->dir));
                snprintf(r->path, sizeof(r->path), "%s/notify", r->dir);
                strcpy(addr.sun_path, r->path);
                len = sizeof(addr);
        }
        assert_int_equal(bind(r->fd, (struct sockaddr *)&addr, len), 0);
        assert_int_equal(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

/* The next datagram (the sender has already sent it: no waiting needed). */
static void receiver_expect(struct receiver *r, const char *want)
{
        char buf[256];
        ssize_t n = recv(r->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        assert_true(n >= 0);
        buf[n] = '\0';
        assert_string_equal(buf, want);
}

static void receiver_close(struct receiver *r)
{
        close(r->fd);
        if (r->dir[0] != '\0') {
                unlink(r->path);
                rmdir(r->dir);
        }
        unsetenv("NOTIFY_SOCKET");
}

static void unset_or_empty_is_a_no_op(void **state)
{
        (void)state;
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(crisp_notify("READY=1"), 0);
        setenv("NOTIFY_SOCKET", "", 1);
        assert_int_equal(crisp_notify("READY=1"), 0);
        crisp_notify_ready(); /* must not crash or log an error */
        unsetenv("NOTIFY_SOCKET");
}

static void path_socket_receives_state(void **state)
{
        (void)state;
        struct receiver r;
        receiver_open(&r, 0);
        assert_int_equal(crisp_notify("READY=1"), 1);
        receiver_expect(&r, "READY=1");
        receiver_close(&r);
}

static void abstract_socket_receives_state(void **state)
{
        (void)state;
        struct receiver r;
        receiver_open(&r, 1);
        assert_int_equal(crisp_notify("STOPPING=1"), 1);
        receiver_expect(&r, "STOPPING=1");
        receiver_close(&r);
}

static void ready_and_stopping_send_their_states(void **state)
{
        (void)state;
        struct receiver r;
        receiver_open(&r, 0);
        crisp_notify_ready();
        receiver_expect(&r, "READY=1\nSTATUS=serving the CRI");
        crisp_notify_stopping();
        receiver_expect(&r, "STOPPING=1\nSTATUS=draining calls");
        receiver_close(&r);
}

static void unusable_addresses_fail(void **state)
{
        (void)state;
        char long_path[200];
        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = '\0';
        const char *bad[] = {"relative/notify", "vsock:2:1234", long_path};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                setenv("NOTIFY_SOCKET", bad[i], 1);
                assert_int_equal(crisp_notify("READY=1"), -EAFNOSUPPORT);
        }
        setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1);
        assert_int_equal(crisp_notify("READY=1"), -ENOENT);
        crisp_notify_ready(); /* logs a warning; crisp keeps running */
        unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(unset_or_empty_is_a_no_op),
            cmocka_unit_test(path_socket_receives_state),
            cmocka_unit_test(abstract_socket_receives_state),
            cmocka_unit_test(ready_and_stopping_send_their_states),
            cmocka_unit_test(unusable_addresses_fail),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
