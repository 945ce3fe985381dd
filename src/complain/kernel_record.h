/* issue 14 (complain mode): the kernel's records, parsed. Pure code.
 *
 * - the audit netlink multicast group's records (crisp_audit_parse), the
 *   route crisp prefers;
 * - /dev/kmsg records: "PRI,SEQ,USEC,FLAGS;MESSAGE" and optional
 *   continuation lines. The one crisp wants is the seccomp audit record the
 *   kernel prints when no audit daemon takes it:
 *     audit: type=1326 audit(1796287490.654:7): auid=4294967295 uid=0 gid=0
 *     ses=4294967295 pid=6884 comm="t" exe="/t" sig=0 arch=c000003e
 *     syscall=250 compat=0 ip=0x7fc277eab829 code=0x7ffc0000
 *   and the printk rate limiter's "kauditd_printk_skb: N callbacks
 *   suppressed", which says N records were lost.
 * - /proc/<pid>/cgroup text: which container (a 64-hex id in the path, the
 *   way containerd names a container's cgroup, cgroupfs or systemd) a
 *   process is in. */
#ifndef CRISP_COMPLAIN_KERNEL_RECORD_H
#define CRISP_COMPLAIN_KERNEL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRISP_SECCOMP_RET_LOG 0x7ffc0000u

enum crisp_kmsg_kind {
        CRISP_KMSG_OTHER = 0,  /* not a record crisp reads */
        CRISP_KMSG_SECCOMP,    /* an audit type=1326 record: *out filled */
        CRISP_KMSG_SUPPRESSED, /* audit records lost to the rate limiter: out->lost */
        CRISP_KMSG_MALFORMED,  /* looks like type=1326 but does not parse: count, skip */
};

struct crisp_seccomp_record {
        uint64_t seq; /* /dev/kmsg sequence number */
        int pid;
        uint32_t arch; /* AUDIT_ARCH_*, which libseccomp's SCMP_ARCH_* equal */
        int syscall;   /* the number for that arch */
        uint32_t code; /* the seccomp action (CRISP_SECCOMP_RET_LOG for a twin) */
        char comm[64]; /* made safe to print */
        uint64_t lost; /* CRISP_KMSG_SUPPRESSED only */
};

/* Parses one record as read() from /dev/kmsg returns it (`len` bytes, not
 * NUL-terminated, any bytes). */
enum crisp_kmsg_kind crisp_kmsg_parse(const char *data, size_t len,
                                      struct crisp_seccomp_record *out);

/* The same record from the audit netlink socket's read-only multicast
 * group (AUDIT_NLGRP_READLOG): nlmsg_type `type` (CRISP_AUDIT_SECCOMP for
 * seccomp) and its text "audit(1796287490.654:7): auid=... pid=...", `len`
 * bytes. This route is not rate-limited and works with auditd running. */
#define CRISP_AUDIT_SECCOMP 1326
enum crisp_kmsg_kind crisp_audit_parse(int type, const char *data, size_t len,
                                       struct crisp_seccomp_record *out);

/* The next netlink message of a datagram buf[0..len) at *off (start at 0),
 * or NULL at the end or at a message whose length does not fit. Checked by
 * hand: NLMSG_NEXT steps by the aligned length, which passes the end of a
 * datagram whose last message is not padded (the audit socket's are not),
 * and NLMSG_OK given that length as size_t reads on. */
struct nlmsghdr;
const struct nlmsghdr *crisp_netlink_next(const char *buf, size_t len, size_t *off);

/* Finds in /proc/<pid>/cgroup text the first 64-hex-digit path component
 * (optionally "cri-containerd-<id>.scope"); copies it to id[65]. */
bool crisp_cgroup_container_id(const char *text, size_t len, char id[65]);

#endif
