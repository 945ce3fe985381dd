/* issue 14: the kernel-record parser (src/complain/kernel_record.c): the
 * seccomp audit record as /dev/kmsg gives it, the rate limiter's "lost"
 * line, everything else ignored, malformed records told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/netlink.h>

#include "complain/kernel_record.h"

#define REAL                                                                                       \
        "5,346,286036679,-;audit: type=1326 audit(1796287490.654:7): auid=4294967295 uid=0 "       \
        "gid=0 ses=4294967295 pid=6884 comm=\"t\" exe=\"/tmp/cx/t\" sig=0 arch=c000003e "          \
        "syscall=250 compat=0 ip=0x7fc277eab829 code=0x7ffc0000\n"

static enum crisp_kmsg_kind parse(const char *s, struct crisp_seccomp_record *r)
{
        return crisp_kmsg_parse(s, strlen(s), r);
}

static void real_record(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        assert_int_equal(parse(REAL, &r), CRISP_KMSG_SECCOMP);
        assert_int_equal(r.seq, 346);
        assert_int_equal(r.pid, 6884);
        assert_int_equal(r.arch, 0xc000003e);
        assert_int_equal(r.syscall, 250);
        assert_int_equal(r.code, CRISP_SECCOMP_RET_LOG);
        assert_string_equal(r.comm, "t");
}

static void continuation_lines_are_ignored(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        const char *s = "6,10,1,-;audit: type=1326 audit(1.2:3): pid=7 comm=\"a b\" arch=c000003e "
                        "syscall=272 code=0x7ffc0000\n SUBSYSTEM=x\n DEVICE=+y\n";
        assert_int_equal(parse(s, &r), CRISP_KMSG_SECCOMP);
        assert_int_equal(r.syscall, 272);
        assert_string_equal(r.comm, "a b");
}

static void comm_is_made_safe(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        const char *s = "6,10,1,-;audit: type=1326 audit(1.2:3): pid=7 comm=\"x\\\x01y\" "
                        "arch=c000003e syscall=1 code=0x7ffc0000";
        assert_int_equal(parse(s, &r), CRISP_KMSG_SECCOMP);
        assert_null(strchr(r.comm, '\\'));
        assert_null(strchr(r.comm, '\x01'));
}

static void other_records(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        assert_int_equal(parse("6,1,1,-;eth0: link up", &r), CRISP_KMSG_OTHER);
        assert_int_equal(parse("no semicolon at all", &r), CRISP_KMSG_OTHER);
        assert_int_equal(parse("5,2,3,-;audit: type=1400 audit(1.2:3): apparmor=\"DENIED\"", &r),
                         CRISP_KMSG_OTHER);
        assert_int_equal(parse("", &r), CRISP_KMSG_OTHER);
}

static void lost_records(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        assert_int_equal(parse("4,99,5,-;kauditd_printk_skb: 30 callbacks suppressed", &r),
                         CRISP_KMSG_SUPPRESSED);
        assert_int_equal(r.lost, 30);
        assert_int_equal(parse("4,99,5,-;kauditd_printk_skb: many callbacks suppressed", &r),
                         CRISP_KMSG_OTHER);
}

static void malformed(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        const char *bad[] = {
            "5,1,1,-;audit: type=1326 audit(1.2:3): comm=\"t\" arch=c000003e syscall=1 "
            "code=0x7ffc0000", /* no pid */
            "5,1,1,-;audit: type=1326 audit(1.2:3): pid=0 arch=c000003e syscall=1 code=0x0",
            "5,1,1,-;audit: type=1326 audit(1.2:3): pid=99999999999 arch=c000003e syscall=1 "
            "code=0x0",
            "5,1,1,-;audit: type=1326 audit(1.2:3): pid=1 arch=zz syscall=1 code=0x0",
            "5,1,1,-;audit: type=1326 audit(1.2:3): pid=1 arch=c000003e syscall=x code=0x0",
            "5,1,1,-;audit: type=1326 audit(1.2:3): pid=1 arch=c000003e syscall=1",
            "5,1,1,-;audit: type=1326 audit(1.2:3): pid=1 arch=c000003e syscall=1 "
            "code=0x1ffffffff",
            "5,1,1,-;audit: type=1326 ",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(parse(bad[i], &r), CRISP_KMSG_MALFORMED);
}

static void no_read_past_the_end(void **state)
{
        (void)state;
        /* every prefix of a real record parses without reading beyond it
         * (ASan catches it in the sanitizer build) */
        size_t n = strlen(REAL);
        for (size_t i = 0; i < n; i++) {
                char *copy = malloc(i ? i : 1);
                memcpy(copy, REAL, i);
                struct crisp_seccomp_record r;
                crisp_kmsg_parse(copy, i, &r);
                free(copy);
        }
}

static void audit_socket_records(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        const char text[] = "audit(1796289325.370:270): auid=4294967295 uid=0 gid=0 "
                            "ses=4294967295 pid=14993 comm=\"t\" exe=\"/tmp/cx/t\" sig=0 "
                            "arch=c000003e syscall=250 compat=0 ip=0x7fa83248c829 "
                            "code=0x7ffc0000";
        /* with and without the kernel's terminating NUL */
        assert_int_equal(crisp_audit_parse(1326, text, sizeof(text), &r), CRISP_KMSG_SECCOMP);
        assert_int_equal(r.pid, 14993);
        assert_int_equal(r.syscall, 250);
        assert_int_equal(r.code, CRISP_SECCOMP_RET_LOG);
        assert_int_equal(crisp_audit_parse(1326, text, sizeof(text) - 1, &r), CRISP_KMSG_SECCOMP);
        assert_int_equal(crisp_audit_parse(1300, text, sizeof(text), &r), CRISP_KMSG_OTHER);
        assert_int_equal(r.pid, 0);
        assert_int_equal(crisp_audit_parse(1326, "audit(1.2:3): pid=1", 19, &r),
                         CRISP_KMSG_MALFORMED);
}

static void a_quoted_value_cannot_fake_a_key(void **state)
{
        (void)state;
        struct crisp_seccomp_record r;
        const char *s = "audit(1.2:3): pid=5 comm=\"x syscall=1 code=0x0\" exe=\"/e\" "
                        "arch=c000003e syscall=250 code=0x7ffc0000";
        assert_int_equal(crisp_audit_parse(1326, s, strlen(s), &r), CRISP_KMSG_SECCOMP);
        assert_int_equal(r.syscall, 250);
        assert_int_equal(r.code, CRISP_SECCOMP_RET_LOG);
}

static void netlink_datagrams(void **state)
{
        (void)state;
        /* two messages: one padded, the last not (as the audit socket sends) */
        char buf[64] = {0};
        struct nlmsghdr a = {.nlmsg_len = NLMSG_HDRLEN + 5, .nlmsg_type = 1326};
        struct nlmsghdr b = {.nlmsg_len = NLMSG_HDRLEN + 3, .nlmsg_type = 1300};
        memcpy(buf, &a, sizeof(a));
        memcpy(buf + NLMSG_ALIGN(a.nlmsg_len), &b, sizeof(b));
        size_t len = NLMSG_ALIGN(a.nlmsg_len) + b.nlmsg_len, off = 0;
        const struct nlmsghdr *h = crisp_netlink_next(buf, len, &off);
        assert_ptr_equal(h, buf);
        h = crisp_netlink_next(buf, len, &off);
        assert_ptr_equal(h, buf + NLMSG_ALIGN(a.nlmsg_len));
        assert_int_equal(off, len); /* not past the end */
        assert_null(crisp_netlink_next(buf, len, &off));
        /* a length that does not fit, or too small */
        struct nlmsghdr big = {.nlmsg_len = 1000};
        memcpy(buf, &big, sizeof(big));
        off = 0;
        assert_null(crisp_netlink_next(buf, sizeof(buf), &off));
        struct nlmsghdr tiny = {.nlmsg_len = 4};
        memcpy(buf, &tiny, sizeof(tiny));
        off = 0;
        assert_null(crisp_netlink_next(buf, sizeof(buf), &off));
        off = 0;
        assert_null(crisp_netlink_next(buf, 8, &off));
}

static void container_ids_in_cgroups(void **state)
{
        (void)state;
        const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        char got[65], text[512];
        snprintf(text, sizeof(text), "12:pids:/k8s.io/%s", id);
        assert_true(crisp_cgroup_container_id(text, strlen(text), got));
        assert_string_equal(got, id);
        snprintf(text, sizeof(text),
                 "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-%s.scope", id);
        assert_true(crisp_cgroup_container_id(text, strlen(text), got));
        assert_string_equal(got, id);
        snprintf(text, sizeof(text), "4:memory:/kubepods/besteffort/pod1-2-3/%s\n", id);
        assert_true(crisp_cgroup_container_id(text, strlen(text), got));
        assert_false(crisp_cgroup_container_id("0::/user.slice", 14, got));
        /* 65 hex digits are not an id */
        snprintf(text, sizeof(text), "1:pids:/k8s.io/%sa", id);
        assert_false(crisp_cgroup_container_id(text, strlen(text), got));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(real_record),
            cmocka_unit_test(continuation_lines_are_ignored),
            cmocka_unit_test(comm_is_made_safe),
            cmocka_unit_test(other_records),
            cmocka_unit_test(lost_records),
            cmocka_unit_test(malformed),
            cmocka_unit_test(no_read_past_the_end),
            cmocka_unit_test(container_ids_in_cgroups),
            cmocka_unit_test(audit_socket_records),
            cmocka_unit_test(netlink_datagrams),
            cmocka_unit_test(a_quoted_value_cannot_fake_a_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
