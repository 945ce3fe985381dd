/* issue 14: twin profiles: containerd 1.6's RuntimeDefault as crisp's own
 * table, the capability rules it depends on, custom-profile twins and
 * writing them; twin.h. */
#include "complain/twin.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "config/paths.h"
#include "config/seccomp_profile.h"

#define ENOSYS_ERRNO 38 /* the value on every Linux arch crisp runs on */

/* ---- capabilities ----------------------------------------------------------- */

static const char *const cap_names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};
#define N_CAPS (sizeof(cap_names) / sizeof(cap_names[0]))

enum {
        CAP_DAC_READ_SEARCH_ = 2,
        CAP_SYS_MODULE_ = 16,
        CAP_SYS_RAWIO_ = 17,
        CAP_SYS_CHROOT_ = 18,
        CAP_SYS_PTRACE_ = 19,
        CAP_SYS_PACCT_ = 20,
        CAP_SYS_ADMIN_ = 21,
        CAP_SYS_BOOT_ = 22,
        CAP_SYS_NICE_ = 23,
        CAP_SYS_TIME_ = 25,
        CAP_SYS_TTY_CONFIG_ = 26,
        CAP_SYSLOG_ = 34,
        CAP_PERFMON_ = 38,
        CAP_BPF_ = 39,
};

#define BIT(n) ((crisp_caps)1 << (n))

int crisp_cap_number(const char *name, size_t len)
{
        if (len >= 4 && strncasecmp(name, "CAP_", 4) == 0) {
                name += 4;
                len -= 4;
        }
        for (size_t i = 0; i < N_CAPS; i++)
                if (strlen(cap_names[i]) == len && strncasecmp(cap_names[i], name, len) == 0)
                        return (int)i;
        return -1;
}

crisp_caps crisp_caps_containerd_default(void)
{
        /* containerd 1.6 oci/spec.go defaultUnixCaps (seen in the bounding
         * set of a real containerd 1.6.20 container). */
        static const char *const names[] = {
            "CHOWN",   "DAC_OVERRIDE", "FSETID",           "FOWNER",
            "MKNOD",   "NET_RAW",      "SETGID",           "SETUID",
            "SETFCAP", "SETPCAP",      "NET_BIND_SERVICE", "SYS_CHROOT",
            "KILL",    "AUDIT_WRITE",
        };
        crisp_caps caps = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                caps |= BIT(crisp_cap_number(names[i], strlen(names[i])));
        return caps;
}

static bool is_all(const struct crisp_cap_name *c)
{
        return c->len == 3 && strncasecmp(c->name, "ALL", 3) == 0;
}

crisp_caps crisp_caps_effective(const struct crisp_cap_name *add, size_t n_add,
                                const struct crisp_cap_name *drop, size_t n_drop)
{
        crisp_caps caps = crisp_caps_containerd_default();
        for (size_t i = 0; i < n_add; i++)
                if (is_all(&add[i]))
                        caps = BIT(N_CAPS) - 1;
        for (size_t i = 0; i < n_drop; i++)
                if (is_all(&drop[i]))
                        caps = 0;
        /* containerd prefixes "CAP_" itself: a name that already has it
         * becomes CAP_CAP_..., which matches nothing. */
        for (size_t i = 0; i < n_add; i++) {
                int n = crisp_cap_number(add[i].name, add[i].len);
                if (n >= 0 && !(add[i].len >= 4 && strncasecmp(add[i].name, "CAP_", 4) == 0))
                        caps |= BIT(n);
        }
        for (size_t i = 0; i < n_drop; i++) {
                int n = crisp_cap_number(drop[i].name, drop[i].len);
                if (n >= 0 && !(drop[i].len >= 4 && strncasecmp(drop[i].name, "CAP_", 4) == 0))
                        caps &= ~BIT(n);
        }
        return caps;
}

/* ---- containerd 1.6's RuntimeDefault, as crisp's table ------------------------ */

/* Source: containerd v1.6.x contrib/seccomp/seccomp_default.go
 * (DefaultProfile), checked against the profile a real containerd 1.6.20
 * (Debian 12, amd64) writes into the OCI spec of a RuntimeDefault container
 * for the default capabilities, for "ALL" and for each capability added on
 * its own (tests/e2e/test_complain_e2e.py compares them again on every
 * run). Shape of the profile:
 *   - defaultAction SCMP_ACT_ERRNO (EPERM), architectures x86_64 x86 x32;
 *   - one unconditional allow-list (below);
 *   - personality allowed only for 0x0, 0x8, 0x20000, 0x20008, 0xffffffff;
 *   - ptrace allowed on kernels >= 4.8;
 *   - amd64: arch_prctl, modify_ldt;
 *   - capability-dependent allow blocks (cap_blocks);
 *   - without CAP_SYS_ADMIN: clone allowed only when arg 0 has none of the
 *     CLONE_NEW* flags (mask 0x7E020000), and clone3 answered ENOSYS;
 *   - no argument rule for socket (1.6.20's profile has none).
 * Only amd64 is tabled: containerd builds the arch block for its own GOARCH,
 * so on any other architecture crisp makes no RuntimeDefault twin (the
 * container gets enforce's RuntimeDefault, loudly) rather than a wrong one. */
static const char *const allowed[] = {
#include "complain/twin_allow.inc"
};

static const struct {
        int cap;
        const char *const names[25];
} cap_blocks[] = {
    {CAP_DAC_READ_SEARCH_, {"open_by_handle_at"}},
    {CAP_SYS_ADMIN_,
     {"bpf",
      "clone",
      "clone3",
      "fanotify_init",
      "fsconfig",
      "fsmount",
      "fsopen",
      "fspick",
      "lookup_dcookie",
      "mount",
      "mount_setattr",
      "move_mount",
      "name_to_handle_at",
      "open_tree",
      "perf_event_open",
      "quotactl",
      "quotactl_fd",
      "setdomainname",
      "sethostname",
      "setns",
      "syslog",
      "umount",
      "umount2",
      "unshare"}},
    {CAP_SYS_BOOT_, {"reboot"}},
    {CAP_SYS_CHROOT_, {"chroot"}},
    {CAP_SYS_MODULE_, {"delete_module", "init_module", "finit_module"}},
    {CAP_SYS_PACCT_, {"acct"}},
    {CAP_SYS_PTRACE_,
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
    {CAP_SYS_RAWIO_, {"iopl", "ioperm"}},
    {CAP_SYS_TIME_, {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
    {CAP_SYS_TTY_CONFIG_, {"vhangup"}},
    {CAP_SYS_NICE_, {"get_mempolicy", "mbind", "set_mempolicy"}},
    {CAP_SYSLOG_, {"syslog"}},
    {CAP_BPF_, {"bpf"}},
    {CAP_PERFMON_, {"perf_event_open"}},
};

static const unsigned long personality_allowed[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
/* CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP */
#define CLONE_NS_FLAGS 0x7E020000UL

static json_object *names_of(const char *const *names, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n && names[i]; i++)
                json_object_array_add(a, json_object_new_string(names[i]));
        return a;
}

static json_object *rule(json_object *names, const char *action, json_object *args)
{
        json_object *r = json_object_new_object();
        json_object_object_add(r, "names", names);
        json_object_object_add(r, "action", json_object_new_string(action));
        if (args)
                json_object_object_add(r, "args", args);
        return r;
}

static json_object *one_arg(unsigned index, uint64_t value, uint64_t value_two, const char *op)
{
        json_object *args = json_object_new_array();
        json_object *a = json_object_new_object();
        json_object_object_add(a, "index", json_object_new_int((int)index));
        json_object_object_add(a, "value", json_object_new_uint64(value));
        json_object_object_add(a, "valueTwo", json_object_new_uint64(value_two));
        json_object_object_add(a, "op", json_object_new_string(op));
        json_object_array_add(args, a);
        return args;
}

static int to_text(json_object *root, char **json, crisp_error **err)
{
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
        *json = text ? strdup(text) : NULL;
        json_object_put(root);
        if (*json == NULL)
                return crisp_error_set(err, ENOMEM, "complain: out of memory for a twin profile");
        return 0;
}

int crisp_twin_runtime_default(crisp_caps caps, unsigned kernel_major, unsigned kernel_minor,
                               char **json, crisp_error **err)
{
        *json = NULL;
#if !defined(__x86_64__)
        (void)caps, (void)kernel_major, (void)kernel_minor;
        return crisp_error_set(err, ENOTSUP,
                               "complain: crisp's table of containerd's RuntimeDefault is for "
                               "amd64 only");
#endif
        json_object *root = json_object_new_object();
        if (root == NULL)
                return crisp_error_set(err, ENOMEM, "complain: out of memory for a twin profile");
        json_object_object_add(root, "defaultAction", json_object_new_string("SCMP_ACT_LOG"));
        const char *arches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
        json_object_object_add(root, "architectures", names_of(arches, 3));
        json_object *rules = json_object_new_array();
        json_object_object_add(root, "syscalls", rules);

        json_object_array_add(rules, rule(names_of(allowed, sizeof(allowed) / sizeof(allowed[0])),
                                          "SCMP_ACT_ALLOW", NULL));
        for (size_t i = 0; i < sizeof(personality_allowed) / sizeof(personality_allowed[0]); i++) {
                const char *p[] = {"personality"};
                json_object_array_add(rules,
                                      rule(names_of(p, 1), "SCMP_ACT_ALLOW",
                                           one_arg(0, personality_allowed[i], 0, "SCMP_CMP_EQ")));
        }
        if (kernel_major > 4 || (kernel_major == 4 && kernel_minor >= 8)) {
                const char *p[] = {"ptrace"};
                json_object_array_add(rules, rule(names_of(p, 1), "SCMP_ACT_ALLOW", NULL));
        }
        const char *amd64[] = {"arch_prctl", "modify_ldt"};
        json_object_array_add(rules, rule(names_of(amd64, 2), "SCMP_ACT_ALLOW", NULL));
        for (size_t i = 0; i < sizeof(cap_blocks) / sizeof(cap_blocks[0]); i++) {
                if (!(caps & BIT(cap_blocks[i].cap)))
                        continue;
                size_t n = 0;
                while (n < 25 && cap_blocks[i].names[n])
                        n++;
                json_object_array_add(
                    rules, rule(names_of(cap_blocks[i].names, n), "SCMP_ACT_ALLOW", NULL));
        }
        if (!(caps & BIT(CAP_SYS_ADMIN_))) {
                const char *clone[] = {"clone"};
                json_object_array_add(rules,
                                      rule(names_of(clone, 1), "SCMP_ACT_ALLOW",
                                           one_arg(0, CLONE_NS_FLAGS, 0, "SCMP_CMP_MASKED_EQ")));
                /* Kept as it is: see twin.h on ENOSYS. */
                const char *clone3[] = {"clone3"};
                json_object *r = rule(names_of(clone3, 1), "SCMP_ACT_ERRNO", NULL);
                json_object_object_add(r, "errnoRet", json_object_new_int(ENOSYS_ERRNO));
                json_object_array_add(rules, r);
        }
        return to_text(root, json, err);
}

/* ---- the twin of a custom profile ---------------------------------------------- */

static bool blocks(const char *action)
{
        return strcmp(action, "SCMP_ACT_ERRNO") == 0 || strcmp(action, "SCMP_ACT_KILL") == 0 ||
               strcmp(action, "SCMP_ACT_KILL_PROCESS") == 0 ||
               strcmp(action, "SCMP_ACT_KILL_THREAD") == 0 || strcmp(action, "SCMP_ACT_TRAP") == 0;
}

static bool answers_enosys(json_object *obj, const char *action, const char *errno_key)
{
        json_object *ret;
        return strcmp(action, "SCMP_ACT_ERRNO") == 0 &&
               json_object_object_get_ex(obj, errno_key, &ret) &&
               json_object_is_type(ret, json_type_int) &&
               json_object_get_int64(ret) == ENOSYS_ERRNO;
}

/* Turns obj[action_key] into SCMP_ACT_LOG when it blocks. */
static void soften(json_object *obj, const char *action_key, const char *errno_key)
{
        json_object *a;
        if (!json_object_object_get_ex(obj, action_key, &a) ||
            !json_object_is_type(a, json_type_string))
                return; /* the checker refuses it later */
        const char *action = json_object_get_string(a);
        if (!blocks(action) || answers_enosys(obj, action, errno_key))
                return;
        json_object_object_add(obj, action_key, json_object_new_string("SCMP_ACT_LOG"));
        json_object_object_del(obj, errno_key);
}

int crisp_twin_of_profile(const char *name, const char *data, size_t len, char **json,
                          crisp_error **err)
{
        *json = NULL;
        struct crisp_profile_summary sum;
        int r = crisp_seccomp_profile_check_buffer(name, data, len, &sum, err);
        if (r < 0)
                return r;
        json_tokener *tok = json_tokener_new();
        if (tok == NULL)
                return crisp_error_set(err, ENOMEM, "complain: out of memory reading %s", name);
        json_object *root = json_tokener_parse_ex(tok, data, (int)len);
        json_tokener_free(tok);
        if (root == NULL || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return crisp_error_set(err, EINVAL, "complain: %s is not a JSON object", name);
        }
        soften(root, "defaultAction", "defaultErrnoRet");
        json_object *rules;
        if (json_object_object_get_ex(root, "syscalls", &rules) &&
            json_object_is_type(rules, json_type_array))
                for (size_t i = 0; i < json_object_array_length(rules); i++) {
                        json_object *rl = json_object_array_get_idx(rules, i);
                        if (json_object_is_type(rl, json_type_object))
                                soften(rl, "action", "errnoRet");
                }
        return to_text(root, json, err);
}

/* ---- writing ------------------------------------------------------------------- */

static uint64_t fnv1a64(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

int crisp_twin_write(const char *dir, const char *json, char *path, size_t path_size,
                     crisp_error **err)
{
        size_t len = strlen(json);
        struct crisp_profile_summary sum;
        int r = crisp_seccomp_profile_check_buffer("the twin profile", json, len, &sum, err);
        if (r < 0)
                return r;
        /* A twin blocks nothing: no blocking default (a deny-list profile's
         * ALLOW default stays), no KILL or TRAP rule (ERRNO rules left are
         * the ENOSYS ones, see twin.h). */
        unsigned killing = 0;
        for (size_t i = 0; i < CRISP_PROFILE_N_ACTIONS; i++)
                if (strncmp(crisp_profile_action_names[i], "SCMP_ACT_KILL", 13) == 0 ||
                    strcmp(crisp_profile_action_names[i], "SCMP_ACT_TRAP") == 0)
                        killing += sum.names_per_action[i];
        if (blocks(sum.default_action) || killing > 0)
                return crisp_error_set(err, EINVAL,
                                       "complain: not a twin: default action %s, %u syscall "
                                       "names with KILL or TRAP",
                                       sum.default_action, killing);
        int n = snprintf(path, path_size, "%s/twin-%016llx.json", dir,
                         (unsigned long long)fnv1a64(json));
        if (n < 0 || (size_t)n >= path_size)
                return crisp_error_set(err, ENAMETOOLONG, "complain: folder name too long: %s",
                                       dir);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
                return 0; /* content-addressed: already written */
        /* Made at start (config/paths.h); again here, with the same modes,
         * if it was removed since. */
        r = crisp_dir_make(dir, CRISP_COMPLAIN_DIR_MODE, NULL, err);
        if (r < 0)
                return r;
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s/.twin-XXXXXX", dir);
        _cleanup_close_ int fd = mkstemp(tmp);
        if (fd < 0)
                return crisp_error_set_errno(err, errno, "complain: cannot write a twin in %s",
                                             dir);
        size_t done = 0;
        while (done < len) {
                ssize_t w = write(fd, json + done, len - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        int e = w < 0 ? errno : EIO;
                        unlink(tmp);
                        return crisp_error_set_errno(err, e, "complain: cannot write %s", tmp);
                }
                done += (size_t)w;
        }
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
                int e = errno;
                unlink(tmp);
                return crisp_error_set_errno(err, e, "complain: cannot put %s in place", path);
        }
        return 0;
}
