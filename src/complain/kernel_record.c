/* issue 14: parsing the kernel's seccomp records (the audit socket's text,
 * /dev/kmsg lines) and container ids in cgroup paths; kernel_record.h. */
#include "complain/kernel_record.h"

#include <linux/netlink.h>
#include <string.h>

/* A bounded view of the bytes: nothing here reads past `end`. */
struct view {
        const char *p, *end;
};

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Parses an unsigned number in `base` (10 or 16) at v->p; false when
 * there is none or it overflows 64 bits. */
static bool number(struct view *v, unsigned base, uint64_t *out)
{
        uint64_t n = 0;
        const char *start = v->p;
        while (v->p < v->end) {
                char c = *v->p;
                unsigned d;
                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (base == 16 && c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (base == 16 && c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        break;
                if (n > (UINT64_MAX - d) / base)
                        return false;
                n = n * base + d;
                v->p++;
        }
        *out = n;
        return v->p > start;
}

/* Finds " key=" (or the key at the start of the message) in [msg, end),
 * outside quoted values (the kernel quotes comm and exe only when they hold
 * no space, but a value must never be able to fake a key); returns the
 * value's start or NULL. */
static const char *find_key(const char *msg, const char *end, const char *key)
{
        size_t k = strlen(key);
        bool quoted = false;
        for (const char *p = msg; p < end; p++) {
                if (*p == '"') {
                        quoted = !quoted;
                        continue;
                }
                if (!quoted && (p == msg || p[-1] == ' ') && (size_t)(end - p) >= k + 1 &&
                    memcmp(p, key, k) == 0 && p[k] == '=')
                        return p + k + 1;
        }
        return NULL;
}

static bool key_number(const char *msg, const char *end, const char *key, unsigned base,
                       uint64_t *out)
{
        const char *at = find_key(msg, end, key);
        if (at == NULL)
                return false;
        struct view v = {at, end};
        if (base == 16 && v.end - v.p >= 2 && v.p[0] == '0' && v.p[1] == 'x')
                v.p += 2;
        return number(&v, base, out);
}

static void comm_of(const char *msg, const char *end, char *out, size_t size)
{
        out[0] = '\0';
        const char *at = find_key(msg, end, "comm");
        if (at == NULL || at >= end)
                return;
        size_t n = 0;
        bool quoted = *at == '"';
        for (const char *p = at + quoted; p < end && n + 1 < size; p++) {
                char c = *p;
                if ((quoted && c == '"') || (!quoted && c == ' '))
                        break;
                out[n++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : c;
        }
        out[n] = '\0';
}

static enum crisp_kmsg_kind seccomp_fields(const char *msg, const char *end,
                                           struct crisp_seccomp_record *out);

enum crisp_kmsg_kind crisp_kmsg_parse(const char *data, size_t len,
                                      struct crisp_seccomp_record *out)
{
        memset(out, 0, sizeof(*out));
        const char *end = data + len;
        const char *semi = memchr(data, ';', len);
        if (semi == NULL)
                return CRISP_KMSG_OTHER;
        /* The prefix: PRI,SEQ,... */
        struct view v = {data, semi};
        uint64_t pri, seq = 0;
        if (number(&v, 10, &pri) && v.p < v.end && *v.p == ',') {
                v.p++;
                if (!number(&v, 10, &seq))
                        seq = 0;
        }
        out->seq = seq;
        const char *msg = semi + 1;
        const char *nl = memchr(msg, '\n', (size_t)(end - msg));
        if (nl != NULL)
                end = nl; /* continuation lines carry nothing crisp needs */

        static const char suppressed[] = "kauditd_printk_skb: ";
        size_t sl = sizeof(suppressed) - 1;
        if ((size_t)(end - msg) > sl && memcmp(msg, suppressed, sl) == 0) {
                struct view n = {msg + sl, end};
                uint64_t lost;
                if (number(&n, 10, &lost) && (size_t)(end - n.p) >= 21 &&
                    memcmp(n.p, " callbacks suppressed", 21) == 0) {
                        out->lost = lost;
                        return CRISP_KMSG_SUPPRESSED;
                }
                return CRISP_KMSG_OTHER;
        }
        static const char audit[] = "audit: type=1326 ";
        size_t al = sizeof(audit) - 1;
        if ((size_t)(end - msg) < al || memcmp(msg, audit, al) != 0)
                return CRISP_KMSG_OTHER;
        return seccomp_fields(msg + al, end, out);
}

enum crisp_kmsg_kind crisp_audit_parse(int type, const char *data, size_t len,
                                       struct crisp_seccomp_record *out)
{
        memset(out, 0, sizeof(*out));
        if (type != CRISP_AUDIT_SECCOMP)
                return CRISP_KMSG_OTHER;
        const char *end = data + len;
        const char *nul = memchr(data, '\0', len);
        if (nul != NULL)
                end = nul; /* the kernel's text may carry its terminating NUL */
        return seccomp_fields(data, end, out);
}

static enum crisp_kmsg_kind seccomp_fields(const char *msg, const char *end,
                                           struct crisp_seccomp_record *out)
{
        uint64_t pid, arch, nr, code;
        if (!key_number(msg, end, "pid", 10, &pid) || pid == 0 || pid > 0x7fffffff ||
            !key_number(msg, end, "arch", 16, &arch) || arch > UINT32_MAX ||
            !key_number(msg, end, "syscall", 10, &nr) || nr > 0x7fffffff ||
            !key_number(msg, end, "code", 16, &code) || code > UINT32_MAX)
                return CRISP_KMSG_MALFORMED;
        out->pid = (int)pid;
        out->arch = (uint32_t)arch;
        out->syscall = (int)nr;
        out->code = (uint32_t)code;
        comm_of(msg, end, out->comm, sizeof(out->comm));
        return CRISP_KMSG_SECCOMP;
}

bool crisp_cgroup_container_id(const char *text, size_t len, char id[65])
{
        const char *end = text + len;
        for (const char *p = text; p < end; p++) {
                /* a component starts after '/' or '-' (cri-containerd-<id>.scope) */
                if (p != text && p[-1] != '/' && p[-1] != '-')
                        continue;
                if (end - p < 64)
                        return false;
                size_t n = 0;
                while (n < 64 && is_hex(p[n]))
                        n++;
                if (n < 64)
                        continue;
                const char *after = p + 64;
                if (after == end || *after == '/' || *after == '\n' || *after == '.') {
                        memcpy(id, p, 64);
                        id[64] = '\0';
                        return true;
                }
        }
        return false;
}

const struct nlmsghdr *crisp_netlink_next(const char *buf, size_t len, size_t *off)
{
        if (*off > len || len - *off < sizeof(struct nlmsghdr))
                return NULL;
        struct nlmsghdr h;
        memcpy(&h, buf + *off, sizeof(h)); /* the buffer need not be aligned */
        if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - *off)
                return NULL;
        const struct nlmsghdr *at = (const struct nlmsghdr *)(buf + *off);
        size_t step = NLMSG_ALIGN(h.nlmsg_len);
        *off = step > len - *off ? len : *off + step;
        return at;
}
