/* issue 14: the kernel reader of complain mode, on a thread of its own.
 *
 * Records: each SCMP_ACT_LOG of a twin is an audit type=1326 record. crisp
 * reads them from the audit netlink socket's read-only multicast group
 * (AUDIT_NLGRP_READLOG, CAP_AUDIT_READ): every record, with or without
 * auditd, not rate-limited. Without it (--complain-source kmsg, or a
 * kernel or capability set that refuses the group) from /dev/kmsg, where
 * the kernel prints them through printk's rate limiter when no audit
 * daemon takes them.
 * Attribution: a record names a host pid, and the process may be gone by
 * the time crisp reads it (the kernel's audit thread prints the record
 * after the syscall returned). So crisp keeps pid -> container current
 * from the kernel's process events (the proc connector, NETLINK_CONNECTOR):
 *   - exec: the process's /proc/<pid>/cgroup names its container;
 *   - fork: the child inherits its parent's container (no /proc read, so
 *     a child that makes one syscall and exits is still attributed);
 * and, for a record whose pid is not known yet, reads /proc/<pid>/cgroup
 * when the record arrives. A record still unattributed is counted. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "complain.h"
#include "complain/kernel_record.h"
#include "base/log.h"
#include "config/settings.h"

struct crisp_kernel_reader {
        struct crisp_report *report;
        int records, proc, stop; /* records: the audit socket or /dev/kmsg */
        bool audit;
        pthread_t thread;
};

/* Which of crisp's twin containers `pid` is in, from /proc; "" if none. */
static bool container_of_pid(struct crisp_report *report, int pid, char id[65])
{
        char path[64], text[4096];
        snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, text, sizeof(text));
        if (n <= 0)
                return false;
        /* cgroup v1 lists one line per hierarchy: any line naming a known
         * container will do. */
        const char *p = text, *end = text + n;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (crisp_cgroup_container_id(p, len, id) && crisp_report_knows(report, id))
                        return true;
                p += len + 1;
        }
        return false;
}

static void on_seccomp(struct crisp_kernel_reader *kr, const struct crisp_seccomp_record *rec)
{
        if (rec->code != CRISP_SECCOMP_RET_LOG)
                return; /* another profile's action: not a twin's */
        char id[65] = "";
        if (!crisp_report_pid(kr->report, rec->pid, id)) {
                if (container_of_pid(kr->report, rec->pid, id))
                        crisp_report_set_pid(kr->report, rec->pid, id);
                else
                        id[0] = '\0';
        }
        char *name = seccomp_syscall_resolve_num_arch(rec->arch, rec->syscall);
        char fallback[32];
        snprintf(fallback, sizeof(fallback), "syscall-%d", rec->syscall);
        struct crisp_workload w;
        uint64_t count =
            crisp_report_hit(kr->report, id, name ? name : fallback, (int64_t)time(NULL), &w);
        if (count == 1)
                log_warn("complain: would be blocked pod=%s/%s container=%s syscall=%s count=%llu "
                         "pid=%d comm=\"%s\"",
                         w.namespace_, w.pod, w.container, name ? name : fallback,
                         (unsigned long long)count, rec->pid, rec->comm);
        else if (count == 0 && id[0] == '\0')
                log_debug("complain: unattributed seccomp record pid=%d syscall=%s comm=\"%s\"",
                          rec->pid, name ? name : fallback, rec->comm);
        free(name);
}

static void read_kmsg(struct crisp_kernel_reader *kr)
{
        char buf[8192];
        for (;;) {
                ssize_t n = read(kr->records, buf, sizeof(buf));
                if (n < 0 && errno == EPIPE) {
                        /* records were overwritten before crisp read them */
                        struct crisp_report_counters lost = {.lost = 1};
                        crisp_report_count(kr->report, &lost);
                        continue;
                }
                if (n <= 0)
                        return; /* EAGAIN: all read */
                struct crisp_seccomp_record rec;
                switch (crisp_kmsg_parse(buf, (size_t)n, &rec)) {
                case CRISP_KMSG_SECCOMP:
                        on_seccomp(kr, &rec);
                        break;
                case CRISP_KMSG_SUPPRESSED: {
                        struct crisp_report_counters lost = {.lost = rec.lost};
                        crisp_report_count(kr->report, &lost);
                        log_warn("complain: the kernel dropped %llu audit records (printk rate "
                                 "limit); counts are lower bounds",
                                 (unsigned long long)rec.lost);
                        break;
                }
                case CRISP_KMSG_MALFORMED: {
                        struct crisp_report_counters bad = {.unparsed = 1};
                        crisp_report_count(kr->report, &bad);
                        break;
                }
                case CRISP_KMSG_OTHER:
                        break;
                }
        }
}

static void count_kind(struct crisp_kernel_reader *kr, enum crisp_kmsg_kind kind,
                       const struct crisp_seccomp_record *rec)
{
        struct crisp_report_counters add = {0};
        if (kind == CRISP_KMSG_SECCOMP)
                on_seccomp(kr, rec);
        else if (kind == CRISP_KMSG_MALFORMED)
                add.unparsed = 1;
        else if (kind == CRISP_KMSG_SUPPRESSED)
                add.lost = rec->lost;
        if (add.unparsed || add.lost)
                crisp_report_count(kr->report, &add);
}

static void read_audit(struct crisp_kernel_reader *kr)
{
        char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
        for (;;) {
                ssize_t n = recv(kr->records, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && errno == ENOBUFS) {
                        /* the socket overran: records lost, how many unknown */
                        struct crisp_report_counters lost = {.lost = 1};
                        crisp_report_count(kr->report, &lost);
                        log_warn("complain: the audit socket overran; records were lost");
                        continue;
                }
                if (n <= 0)
                        return;
                size_t off = 0;
                for (const struct nlmsghdr *h; (h = crisp_netlink_next(buf, (size_t)n, &off));) {
                        struct crisp_seccomp_record rec;
                        enum crisp_kmsg_kind kind =
                            crisp_audit_parse(h->nlmsg_type, (const char *)NLMSG_DATA(h),
                                              h->nlmsg_len - NLMSG_HDRLEN, &rec);
                        count_kind(kr, kind, &rec);
                }
        }
}

static void read_proc_events(struct crisp_kernel_reader *kr)
{
        char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
        for (;;) {
                ssize_t n = recv(kr->proc, buf, sizeof(buf), MSG_DONTWAIT);
                if (n <= 0)
                        return;
                if (crisp_report_empty(kr->report))
                        continue; /* no twin container yet: nothing to follow */
                size_t off = 0;
                for (const struct nlmsghdr *h; (h = crisp_netlink_next(buf, (size_t)n, &off));) {
                        if (h->nlmsg_type != NLMSG_DONE)
                                continue;
                        struct cn_msg cn;
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(cn)))
                                continue;
                        memcpy(&cn, NLMSG_DATA(h), sizeof(cn));
                        if (cn.id.idx != CN_IDX_PROC || cn.len < sizeof(struct proc_event) ||
                            h->nlmsg_len < NLMSG_LENGTH(sizeof(cn) + sizeof(struct proc_event)))
                                continue;
                        /* the event sits 4-byte aligned after cn_msg: copy it out */
                        struct proc_event event;
                        memcpy(&event, (const char *)NLMSG_DATA(h) + sizeof(cn), sizeof(event));
                        const struct proc_event *ev = &event;
                        char id[65] = "";
                        if (ev->what == PROC_EVENT_FORK) {
                                int child = ev->event_data.fork.child_tgid;
                                if (ev->event_data.fork.child_pid != child)
                                        continue; /* a thread */
                                /* Inherited, or cleared (a reused pid): no /proc
                                 * read per fork. A container's processes are
                                 * known from its first exec on. */
                                if (!crisp_report_pid(kr->report, ev->event_data.fork.parent_tgid,
                                                      id))
                                        id[0] = '\0';
                                crisp_report_set_pid(kr->report, child, id);
                        } else if (ev->what == PROC_EVENT_EXEC) {
                                int pid = ev->event_data.exec.process_tgid;
                                if (container_of_pid(kr->report, pid, id))
                                        crisp_report_set_pid(kr->report, pid, id);
                        }
                }
        }
}

static void *reader_main(void *arg)
{
        struct crisp_kernel_reader *kr = arg;
        struct pollfd fds[3] = {{.fd = kr->stop, .events = POLLIN},
                                {.fd = kr->proc, .events = POLLIN},
                                {.fd = kr->records, .events = POLLIN}};
        for (;;) {
                int r = poll(fds, 3, -1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || fds[0].revents)
                        break;
                /* Process events first: they say whose a record's pid is. */
                if (fds[1].revents & POLLIN)
                        read_proc_events(kr);
                if (fds[2].revents & (POLLIN | POLLERR)) {
                        if (kr->audit)
                                read_audit(kr);
                        else
                                read_kmsg(kr);
                }
        }
        return NULL;
}

static int proc_events_open(crisp_error **err)
{
        int s = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
        if (s < 0)
                return crisp_error_set_errno(err, errno, "complain: no process events socket");
        struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
        int rcv = 4 << 20;
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
        if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int e = errno;
                close(s);
                return crisp_error_set_errno(err, e, "complain: cannot bind the process events");
        }
        /* nlmsghdr, cn_msg (whose data is the operation), operation: laid
         * out by hand, as cn_msg ends in a flexible array. */
        enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
        uint8_t msg[NLMSG_HDRLEN + sizeof(struct cn_msg) + sizeof(op)] = {0};
        struct nlmsghdr h = {.nlmsg_len = sizeof(msg), .nlmsg_type = NLMSG_DONE};
        struct cn_msg cn = {.id = {.idx = CN_IDX_PROC, .val = CN_VAL_PROC}, .len = sizeof(op)};
        memcpy(msg, &h, sizeof(h));
        memcpy(msg + NLMSG_HDRLEN, &cn, sizeof(cn));
        memcpy(msg + NLMSG_HDRLEN + sizeof(cn), &op, sizeof(op));
        if (send(s, msg, sizeof(msg), 0) < 0) {
                int e = errno;
                close(s);
                return crisp_error_set_errno(err, e, "complain: cannot listen to process events");
        }
        return s;
}

/* The audit netlink socket, bound to the read-only multicast group. */
static int audit_open(crisp_error **err)
{
        int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
        if (s < 0)
                return crisp_error_set_errno(err, errno, "complain: no audit netlink socket");
        int rcv = 8 << 20;
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
        struct sockaddr_nl addr = {.nl_family = AF_NETLINK,
                                   .nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1)};
        if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int e = errno;
                close(s);
                return crisp_error_set_errno(err, e,
                                             "complain: cannot join the audit log group "
                                             "(needs CAP_AUDIT_READ)");
        }
        return s;
}

static int kmsg_open(crisp_error **err)
{
        int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return crisp_error_set_errno(err, errno, "complain: cannot open /dev/kmsg");
        lseek(fd, 0, SEEK_END); /* what happened before crisp is not its to judge */
        return fd;
}

int crisp_kernel_reader_start(struct crisp_report *report, int source,
                              struct crisp_kernel_reader **out, crisp_error **err)
{
        *out = NULL;
        struct crisp_kernel_reader *kr = calloc(1, sizeof(*kr));
        if (kr == NULL)
                return crisp_error_set(err, ENOMEM, "complain: out of memory");
        kr->report = report;
        kr->records = -1;
        if (source != CRISP_COMPLAIN_SOURCE_KMSG) {
                _cleanup_error_ crisp_error *audit_err = NULL;
                kr->records = audit_open(&audit_err);
                kr->audit = kr->records >= 0;
                if (kr->records < 0 && source == CRISP_COMPLAIN_SOURCE_AUDIT) {
                        crisp_error_set(err, audit_err->code, "%s", audit_err->msg);
                        free(kr);
                        return -audit_err->code;
                }
                if (kr->records < 0)
                        log_warn("%s; reading /dev/kmsg instead (rate-limited by printk)",
                                 audit_err->msg);
        }
        if (kr->records < 0)
                kr->records = kmsg_open(err);
        if (kr->records < 0) {
                free(kr);
                return -EIO;
        }
        {
                _cleanup_error_ crisp_error *proc_err = NULL;
                kr->proc = proc_events_open(&proc_err);
                if (kr->proc < 0) /* poll() skips a negative fd */
                        log_warn("%s (needs CAP_NET_ADMIN): a process that exits before its "
                                 "record is read will count as unattributed",
                                 proc_err->msg);
        }
        kr->stop = eventfd(0, EFD_CLOEXEC);
        if (kr->stop < 0 || (errno = pthread_create(&kr->thread, NULL, reader_main, kr)) != 0) {
                int e = errno;
                if (kr->proc >= 0)
                        close(kr->proc);
                if (kr->stop >= 0)
                        close(kr->stop);
                close(kr->records);
                free(kr);
                return crisp_error_set_errno(err, e, "complain: cannot start the kernel reader");
        }
        log_info("complain: reading seccomp records from %s",
                 kr->audit ? "the audit netlink socket (AUDIT_NLGRP_READLOG)" : "/dev/kmsg");
        *out = kr;
        return 0;
}

void crisp_kernel_reader_stop(struct crisp_kernel_reader *kr)
{
        if (kr == NULL)
                return;
        uint64_t one = 1;
        if (write(kr->stop, &one, sizeof(one)) < 0)
                log_warn("complain: cannot stop the kernel reader: %s", strerror(errno));
        pthread_join(kr->thread, NULL);
        close(kr->stop);
        if (kr->proc >= 0)
                close(kr->proc);
        close(kr->records);
        free(kr);
}
