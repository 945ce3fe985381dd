/* libFuzzer target: a kernel record as /dev/kmsg gives it
 * (src/complain/kernel_record.c, crisp_kmsg_parse), and the cgroup text
 * crisp reads container ids from (crisp_cgroup_container_id).
 *
 * Input: the record's bytes (any bytes: a record is not NUL-terminated),
 * read both as a /dev/kmsg record and as an audit socket record's text
 * (crisp_audit_parse).
 *
 * Invariants, besides ASan/UBSan (which catch any read past the input):
 *  1. The kind is one of the four; a seccomp record has pid > 0 and a
 *     NUL-terminated, printable comm without quotes or backslashes.
 *  2. A record that is not a seccomp one leaves pid 0.
 *  3. A container id found is 64 lower-case hex digits and occurs in the
 *     input. */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "complain/kernel_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET "fuzz_kernel_record"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1 << 16)
                return 0;
        /* an exact-size copy, so ASan sees a read past the end */
        char *copy = malloc(size ? size : 1);
        if (copy == NULL)
                return 0;
        memcpy(copy, data, size);
        struct crisp_seccomp_record r;
        enum crisp_kmsg_kind kind = crisp_kmsg_parse(copy, size, &r);
        CHECK(kind >= CRISP_KMSG_OTHER && kind <= CRISP_KMSG_MALFORMED, "kind %d", (int)kind);
        if (kind == CRISP_KMSG_SECCOMP) {
                CHECK(r.pid > 0, "pid %d", r.pid);
                CHECK(memchr(r.comm, 0, sizeof(r.comm)) != NULL, "comm not terminated");
                for (const char *p = r.comm; *p; p++)
                        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\',
                              "unsafe byte 0x%02x in comm", (unsigned char)*p);
        } else {
                CHECK(r.pid == 0, "pid %d for kind %d", r.pid, (int)kind);
        }
        /* the same bytes as an audit socket record's text */
        kind = crisp_audit_parse(CRISP_AUDIT_SECCOMP, copy, size, &r);
        CHECK(kind == CRISP_KMSG_OTHER || kind == CRISP_KMSG_SECCOMP ||
                  kind == CRISP_KMSG_MALFORMED,
              "audit kind %d", (int)kind);
        if (kind == CRISP_KMSG_SECCOMP)
                CHECK(r.pid > 0 && memchr(r.comm, 0, sizeof(r.comm)) != NULL, "audit pid %d",
                      r.pid);
        else
                CHECK(r.pid == 0, "audit pid %d for kind %d", r.pid, (int)kind);
        /* the same bytes as a netlink datagram of audit records: every
         * message the walker returns lies inside the input */
        size_t off = 0, n_messages = 0;
        for (const struct nlmsghdr *h; (h = crisp_netlink_next(copy, size, &off));) {
                struct nlmsghdr hdr;
                memcpy(&hdr, h, sizeof(hdr));
                size_t at = (size_t)((const char *)h - copy);
                CHECK(at + hdr.nlmsg_len <= size && hdr.nlmsg_len >= sizeof(hdr),
                      "message at %zu of %u bytes in %zu", at, hdr.nlmsg_len, size);
                CHECK(off <= size, "offset %zu past %zu", off, size);
                crisp_audit_parse(hdr.nlmsg_type, (const char *)h + NLMSG_HDRLEN,
                                  hdr.nlmsg_len - NLMSG_HDRLEN, &r);
                CHECK(++n_messages <= size / sizeof(hdr), "%zu messages in %zu bytes", n_messages,
                      size);
        }
        char id[65];
        if (crisp_cgroup_container_id(copy, size, id)) {
                CHECK(strlen(id) == 64, "id of %zu bytes", strlen(id));
                for (int i = 0; i < 64; i++)
                        CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'),
                              "id byte 0x%02x", (unsigned char)id[i]);
                CHECK(memmem(copy, size, id, 64) != NULL, "id not in the input");
        }
        free(copy);
        return 0;
}
