/* Validates a seccomp profile file (OCI/Docker JSON) the way the runtime
 * will load it, with json-c and libseccomp (seccomp_profile.h). */
#include "config/seccomp_profile.h"

#include <errno.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

const char *const crisp_profile_action_names[CRISP_PROFILE_N_ACTIONS] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};

static const struct {
        const char *name;
        enum scmp_compare op;
} operators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const char *const known_flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

static void json_putp(json_object **o)
{
        if (*o)
                json_object_put(*o);
}

/* The value of a JSON string matched against a list of names, or NULL when
 * `v` is not a string or holds a NUL character: as a C string it would end
 * there and match a name the runtime (comparing Go strings) does not see. */
static const char *name_string(json_object *v)
{
        if (!json_object_is_type(v, json_type_string))
                return NULL;
        const char *s = json_object_get_string(v);
        return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* `v` in an error message: a name as it is, anything else as JSON. */
static const char *shown(json_object *v)
{
        const char *s = name_string(v);
        return s ? s : json_object_to_json_string(v);
}

/* The action's index in crisp_profile_action_names, or -1. */
static int action_index(const char *name)
{
        for (int i = 0; i < CRISP_PROFILE_N_ACTIONS; i++)
                if (strcmp(name, crisp_profile_action_names[i]) == 0)
                        return i;
        return -1;
}

/* The libseccomp action for a profile action, with errnoRet for ERRNO and
 * TRACE (EPERM when absent, as runc does). */
static uint32_t action_value(int index, bool has_errno, uint32_t errno_ret)
{
        uint32_t e = has_errno ? errno_ret : EPERM;
        switch (index) {
        case 0:
                return SCMP_ACT_KILL;
        case 1:
                return SCMP_ACT_KILL_PROCESS;
        case 2:
                return SCMP_ACT_KILL_THREAD;
        case 3:
                return SCMP_ACT_TRAP;
        case 4:
                return SCMP_ACT_ERRNO(e);
        case 5:
                return SCMP_ACT_TRACE(e);
        case 6:
                return SCMP_ACT_ALLOW;
        case 7:
                return SCMP_ACT_LOG;
        default:
                return SCMP_ACT_NOTIFY;
        }
}

struct check {
        const char *path;
        struct crisp_profile_summary *sum;
        bool has_listener;
};

static int refuse(struct check *ck, crisp_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Refuses the profile with a reason that names the key. */
static int refuse(struct check *ck, crisp_error **err, const char *fmt, ...)
{
        char what[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return crisp_error_set(err, EINVAL, "seccomp profile %s: %s", ck->path, what);
}

/* Reads an action key ("defaultAction" / "syscalls[3].action"). */
static int read_action(struct check *ck, json_object *o, const char *key, const char *where,
                       int *index, crisp_error **err)
{
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                return refuse(ck, err,
                              "%s: missing (one of SCMP_ACT_KILL, _KILL_PROCESS, "
                              "_KILL_THREAD, _TRAP, _ERRNO, _TRACE, _ALLOW, _LOG, _NOTIFY)",
                              where);
        if (!json_object_is_type(v, json_type_string))
                return refuse(ck, err, "%s: must be a string", where);
        const char *name = name_string(v);
        *index = name ? action_index(name) : -1;
        if (*index < 0)
                return refuse(ck, err,
                              "%s: unknown action '%s'; the runtime refuses the container (known: "
                              "SCMP_ACT_KILL, _KILL_PROCESS, _KILL_THREAD, _TRAP, _ERRNO, _TRACE, "
                              "_ALLOW, _LOG, _NOTIFY)",
                              where, shown(v));
        if (*index == 8 && !ck->has_listener)
                return refuse(ck, err, "%s: SCMP_ACT_NOTIFY needs listenerPath", where);
        return 0;
}

static int read_errno(struct check *ck, json_object *o, const char *key, const char *where,
                      bool *has, uint32_t *value, crisp_error **err)
{
        json_object *v = NULL;
        *has = false;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_get_int64(v) > 0xffff)
                return refuse(ck, err, "%s: must be an errno number from 0 to 65535", where);
        *has = true;
        *value = (uint32_t)json_object_get_int64(v);
        return 0;
}

static void add_unresolved(struct crisp_profile_summary *sum, const char *name)
{
        sum->n_unresolved++;
        size_t used = strlen(sum->unresolved);
        size_t need = strlen(name) + 2;
        if (used + need + 4 >= sizeof(sum->unresolved)) {
                if (used + 4 < sizeof(sum->unresolved) && strstr(sum->unresolved, "...") == NULL)
                        strcat(sum->unresolved, " ...");
                return;
        }
        if (used > 0)
                strcat(sum->unresolved, " ");
        strcat(sum->unresolved, name);
}

/* The Go name of this machine's architecture, as Docker profiles write it
 * in includes/excludes "arches". */
#if defined(__x86_64__)
#define NATIVE_GO_ARCH "amd64"
#elif defined(__aarch64__)
#define NATIVE_GO_ARCH "arm64"
#else
#define NATIVE_GO_ARCH ""
#endif

/* Resolves an SCMP_ARCH_* name (0 when unknown); `lower` gets libseccomp's name. */
static uint32_t resolve_arch(const char *name, char *lower, size_t size)
{
        if (name == NULL || strncmp(name, "SCMP_ARCH_", 10) != 0)
                return 0;
        size_t n = 0;
        for (const char *p = name + 10; *p && n + 1 < size; p++)
                lower[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
        lower[n] = '\0';
        return seccomp_arch_resolve_name(lower);
}

static int add_arch(struct check *ck, scmp_filter_ctx ctx, json_object *a, const char *key,
                    crisp_error **err)
{
        const char *name = name_string(a);
        char lower[32];
        uint32_t arch = resolve_arch(name, lower, sizeof(lower));
        if (arch == 0)
                return refuse(ck, err,
                              "%s: unknown architecture '%s' (SCMP_ARCH_X86_64, ...); the runtime "
                              "refuses it",
                              key, shown(a));
        int r = seccomp_arch_add(ctx, arch);
        if (r < 0 && r != -EEXIST)
                return refuse(ck, err, "%s: libseccomp cannot add '%s'", key, name);
        size_t used = strlen(ck->sum->architectures);
        snprintf(ck->sum->architectures + used, sizeof(ck->sum->architectures) - used, " %s",
                 lower);
        return 0;
}

/* Docker's archMap: [{architecture, subArchitectures: [...]}]; the entry for
 * this machine's architecture is the one the runtime uses. */
static int add_arch_map(struct check *ck, json_object *root, scmp_filter_ctx ctx, crisp_error **err)
{
        json_object *map = NULL;
        if (!json_object_object_get_ex(root, "archMap", &map) ||
            json_object_is_type(map, json_type_null))
                return 0;
        if (!json_object_is_type(map, json_type_array))
                return refuse(ck, err, "archMap: must be a list");
        for (size_t i = 0; i < json_object_array_length(map); i++) {
                json_object *e = json_object_array_get_idx(map, i), *arch = NULL, *subs = NULL;
                char lower[32];
                if (!json_object_is_type(e, json_type_object) ||
                    !json_object_object_get_ex(e, "architecture", &arch) ||
                    name_string(arch) == NULL)
                        return refuse(ck, err, "archMap[%zu]: needs an architecture", i);
                if (resolve_arch(name_string(arch), lower, sizeof(lower)) != seccomp_arch_native())
                        continue;
                int r = add_arch(ck, ctx, arch, "archMap", err);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(e, "subArchitectures", &subs) &&
                    json_object_is_type(subs, json_type_array))
                        for (size_t k = 0; k < json_object_array_length(subs); k++)
                                if ((r = add_arch(ck, ctx, json_object_array_get_idx(subs, k),
                                                  "archMap.subArchitectures", err)) < 0)
                                        return r;
        }
        return 0;
}

/* architectures (OCI), or else Docker's archMap: adds each to the filter. */
static int add_architectures(struct check *ck, json_object *root, scmp_filter_ctx ctx,
                             crisp_error **err)
{
        snprintf(ck->sum->architectures, sizeof(ck->sum->architectures), "native");
        json_object *archs = NULL;
        if (!json_object_object_get_ex(root, "architectures", &archs) ||
            json_object_is_type(archs, json_type_null))
                return add_arch_map(ck, root, ctx, err);
        if (!json_object_is_type(archs, json_type_array))
                return refuse(ck, err, "architectures: must be a list of SCMP_ARCH_* names");
        for (size_t i = 0; i < json_object_array_length(archs); i++) {
                int r =
                    add_arch(ck, ctx, json_object_array_get_idx(archs, i), "architectures", err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Docker's per-rule filters: a rule whose includes.arches leaves out this
 * architecture, or whose excludes.arches names it, is not used here.
 * includes/excludes caps depend on the container; every rule is checked. */
static bool lists_native_arch(json_object *filter)
{
        json_object *arches = NULL;
        if (!json_object_object_get_ex(filter, "arches", &arches) ||
            !json_object_is_type(arches, json_type_array))
                return false;
        for (size_t i = 0; i < json_object_array_length(arches); i++) {
                const char *a = json_object_get_string(json_object_array_get_idx(arches, i));
                if (a != NULL && strcmp(a, NATIVE_GO_ARCH) == 0)
                        return true;
        }
        return false;
}

static bool rule_applies_here(json_object *rule)
{
        json_object *f = NULL, *arches = NULL;
        if (json_object_object_get_ex(rule, "includes", &f) &&
            json_object_object_get_ex(f, "arches", &arches) &&
            json_object_is_type(arches, json_type_array) && json_object_array_length(arches) > 0 &&
            !lists_native_arch(f))
                return false;
        if (json_object_object_get_ex(rule, "excludes", &f) && lists_native_arch(f))
                return false;
        return true;
}

static int check_flags(struct check *ck, json_object *root, crisp_error **err)
{
        json_object *flags = NULL;
        if (!json_object_object_get_ex(root, "flags", &flags) ||
            json_object_is_type(flags, json_type_null))
                return 0;
        if (!json_object_is_type(flags, json_type_array))
                return refuse(ck, err, "flags: must be a list");
        for (size_t i = 0; i < json_object_array_length(flags); i++) {
                json_object *flag = json_object_array_get_idx(flags, i);
                const char *f = name_string(flag);
                bool known = false;
                for (size_t k = 0; k < sizeof(known_flags) / sizeof(known_flags[0]); k++)
                        known = known || (f && strcmp(f, known_flags[k]) == 0);
                if (!known)
                        return refuse(ck, err, "flags: unknown flag '%s'", shown(flag));
        }
        return 0;
}

/* args: [{index, value, valueTwo, op}] into libseccomp comparisons. */
static int read_args(struct check *ck, json_object *rule, const char *where,
                     struct scmp_arg_cmp *cmps, unsigned *n_cmps, crisp_error **err)
{
        json_object *args = NULL;
        *n_cmps = 0;
        if (!json_object_object_get_ex(rule, "args", &args) ||
            json_object_is_type(args, json_type_null))
                return 0;
        if (!json_object_is_type(args, json_type_array))
                return refuse(ck, err, "%s.args: must be a list", where);
        size_t n = json_object_array_length(args);
        if (n > 6)
                return refuse(ck, err, "%s.args: more than 6 argument rules", where);
        for (size_t i = 0; i < n; i++) {
                char at[160];
                snprintf(at, sizeof(at), "%s.args[%zu]", where, i);
                json_object *a = json_object_array_get_idx(args, i), *v = NULL;
                if (!json_object_is_type(a, json_type_object))
                        return refuse(ck, err, "%s: must be an object", at);
                if (!json_object_object_get_ex(a, "index", &v) ||
                    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                    json_object_get_int64(v) > 5)
                        return refuse(ck, err, "%s.index: must be an argument number 0 to 5", at);
                unsigned index = (unsigned)json_object_get_int64(v);
                if (!json_object_object_get_ex(a, "op", &v) ||
                    !json_object_is_type(v, json_type_string))
                        return refuse(ck, err,
                                      "%s.op: missing (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, "
                                      "_GT or _MASKED_EQ)",
                                      at);
                const char *op = name_string(v);
                int found = -1;
                for (size_t k = 0; op && k < sizeof(operators) / sizeof(operators[0]); k++)
                        if (strcmp(op, operators[k].name) == 0)
                                found = (int)k;
                if (found < 0)
                        return refuse(ck, err,
                                      "%s.op: unknown operator '%s'; the runtime refuses the "
                                      "container (known: SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, "
                                      "_MASKED_EQ)",
                                      at, shown(v));
                uint64_t value = 0, two = 0;
                if (json_object_object_get_ex(a, "value", &v)) {
                        if (!json_object_is_type(v, json_type_int))
                                return refuse(ck, err, "%s.value: must be a number", at);
                        value = json_object_get_uint64(v);
                }
                if (json_object_object_get_ex(a, "valueTwo", &v)) {
                        if (!json_object_is_type(v, json_type_int))
                                return refuse(ck, err, "%s.valueTwo: must be a number", at);
                        two = json_object_get_uint64(v);
                }
                cmps[i] = (struct scmp_arg_cmp){
                    .arg = index, .op = operators[found].op, .datum_a = value, .datum_b = two};
        }
        *n_cmps = (unsigned)n;
        return 0;
}

/* Adds one name's rule as runc does: conditions on distinct arguments are
 * ANDed in one rule; several on the same argument become one rule each. */
static int add_rule(struct check *ck, scmp_filter_ctx ctx, uint32_t action, int nr,
                    const struct scmp_arg_cmp *cmps, unsigned n, const char *where,
                    const char *name, crisp_error **err)
{
        bool distinct = true;
        for (unsigned i = 0; i < n; i++)
                for (unsigned j = i + 1; j < n; j++)
                        distinct = distinct && cmps[i].arg != cmps[j].arg;
        int r = 0;
        if (distinct || n == 0) {
                r = seccomp_rule_add_array(ctx, action, nr, n, cmps);
        } else {
                for (unsigned i = 0; i < n && r == 0; i++)
                        r = seccomp_rule_add_array(ctx, action, nr, 1, &cmps[i]);
        }
        if (r < 0) {
                char what[160];
                snprintf(what, sizeof(what), "libseccomp refuses the rule for '%s': %s", name,
                         strerror(-r));
                return refuse(ck, err, "%s: %s", where, what);
        }
        ck->sum->n_rules++;
        return 0;
}

static int add_syscalls(struct check *ck, json_object *root, scmp_filter_ctx ctx, int default_index,
                        crisp_error **err)
{
        json_object *list = NULL;
        if (!json_object_object_get_ex(root, "syscalls", &list) ||
            json_object_is_type(list, json_type_null))
                return 0;
        if (!json_object_is_type(list, json_type_array))
                return refuse(ck, err, "syscalls: must be a list");
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                char where[64];
                snprintf(where, sizeof(where), "syscalls[%zu]", i);
                json_object *rule = json_object_array_get_idx(list, i), *names = NULL, *name = NULL;
                if (!json_object_is_type(rule, json_type_object))
                        return refuse(ck, err, "%s: must be an object", where);
                if (!rule_applies_here(rule))
                        continue;
                int index;
                int r = read_action(ck, rule, "action", where, &index, err);
                if (r < 0)
                        return r;
                bool has_errno;
                uint32_t errno_ret = 0;
                if ((r = read_errno(ck, rule, "errnoRet", where, &has_errno, &errno_ret, err)) < 0)
                        return r;
                struct scmp_arg_cmp cmps[6];
                unsigned n_cmps;
                if ((r = read_args(ck, rule, where, cmps, &n_cmps, err)) < 0)
                        return r;

                /* "names" (OCI), or Docker's older single "name". */
                json_object_object_get_ex(rule, "names", &names);
                json_object_object_get_ex(rule, "name", &name);
                size_t n_names = names && json_object_is_type(names, json_type_array)
                                     ? json_object_array_length(names)
                                     : 0;
                if (names && !json_object_is_type(names, json_type_array))
                        return refuse(ck, err, "%s.names: must be a list of syscall names", where);
                if (n_names == 0 && !(name && json_object_is_type(name, json_type_string)))
                        return refuse(ck, err, "%s: no syscall names (names: [...])", where);
                uint32_t action = action_value(index, has_errno, errno_ret);
                for (size_t k = 0; k < (n_names ? n_names : 1); k++) {
                        json_object *nm = n_names ? json_object_array_get_idx(names, k) : name;
                        if (!json_object_is_type(nm, json_type_string))
                                return refuse(ck, err, "%s.names: must be strings", where);
                        const char *s = json_object_get_string(nm);
                        ck->sum->names_per_action[index]++;
                        int nr = seccomp_syscall_resolve_name(s);
                        if (nr == __NR_SCMP_ERROR) {
                                add_unresolved(ck->sum, s);
                                continue; /* runc and crun skip it too */
                        }
                        /* A rule with the default action changes nothing;
                         * runc skips it, and libseccomp would refuse it. */
                        if (index == default_index && n_cmps == 0)
                                continue;
                        r = add_rule(ck, ctx, action, nr, cmps, n_cmps, where, s, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int crisp_seccomp_profile_check_buffer(const char *name, const char *data, size_t len,
                                       struct crisp_profile_summary *sum, crisp_error **err)
{
        memset(sum, 0, sizeof(*sum));
        struct check ck = {.path = name, .sum = sum};
        if (len == 0)
                return refuse(&ck, err, "the file is empty");
        /* json-c takes an int length. */
        if (len > INT32_MAX)
                return refuse(&ck, err, "larger than 2 GiB");
        /* One JSON value, and nothing but white space after it: the runtimes
         * read the file with Go's json.Unmarshal, which refuses anything
         * else after the value ("invalid character after top-level value"). */
        struct json_tokener *tok = json_tokener_new();
        if (tok == NULL)
                return crisp_error_set(err, ENOMEM, "seccomp profile %s: out of memory", name);
        __attribute__((cleanup(json_putp))) json_object *root =
            json_tokener_parse_ex(tok, data, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (root == NULL)
                return refuse(&ck, err, "not valid JSON: %s",
                              jerr == json_tokener_continue ? "it ends before the JSON value does"
                                                            : json_tokener_error_desc(jerr));
        for (size_t i = end; i < len; i++)
                if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r')
                        return refuse(&ck, err,
                                      "not valid JSON: something follows the JSON value at "
                                      "byte %zu",
                                      i);
        if (!json_object_is_type(root, json_type_object))
                return refuse(&ck, err, "the top level must be a JSON object");

        json_object *v = NULL;
        if (json_object_object_get_ex(root, "listenerPath", &v) &&
            json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
                ck.has_listener = true;
        int default_index;
        int r = read_action(&ck, root, "defaultAction", "defaultAction", &default_index, err);
        if (r < 0)
                return r;
        bool has_errno;
        uint32_t errno_ret = 0;
        if ((r = read_errno(&ck, root, "defaultErrnoRet", "defaultErrnoRet", &has_errno, &errno_ret,
                            err)) < 0)
                return r;
        snprintf(sum->default_action, sizeof(sum->default_action), "%s",
                 crisp_profile_action_names[default_index]);
        if ((r = check_flags(&ck, root, err)) < 0)
                return r;

        __attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx =
            seccomp_init(action_value(default_index, has_errno, errno_ret));
        if (ctx == NULL)
                return refuse(&ck, err,
                              "defaultAction: libseccomp refuses %s as the default "
                              "action",
                              sum->default_action);
        if ((r = add_architectures(&ck, root, ctx, err)) < 0)
                return r;
        return add_syscalls(&ck, root, ctx, default_index, err);
}

/* The whole file into *out (NUL-terminated, *len without the NUL). Returns 0
 * or a negative errno. */
static int read_whole_file(const char *path, char **out, size_t *len)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (f == NULL)
                return -errno;
        char *buf = NULL;
        size_t cap = 0, n = 0;
        errno = 0;
        for (;;) {
                if (cap - n < 4096) {
                        size_t c = cap ? cap * 2 : 8192;
                        char *grown = realloc(buf, c);
                        if (grown == NULL) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = grown;
                        cap = c;
                }
                size_t got = fread(buf + n, 1, cap - n - 1, f);
                n += got;
                if (got == 0)
                        break;
        }
        if (ferror(f)) {
                int e = errno ? errno : EIO;
                free(buf);
                return -e;
        }
        buf[n] = '\0';
        *out = buf;
        *len = n;
        return 0;
}

int crisp_seccomp_profile_check(const char *path, struct crisp_profile_summary *sum,
                                crisp_error **err)
{
        memset(sum, 0, sizeof(*sum));
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_whole_file(path, &data, &len);
        if (r < 0)
                return crisp_error_set_errno(err, -r, "seccomp profile %s: cannot read it", path);
        return crisp_seccomp_profile_check_buffer(path, data, len, sum, err);
}

void crisp_profile_summary_print(FILE *out, const char *path,
                                 const struct crisp_profile_summary *sum)
{
        fprintf(out, "profile: %s\n", path);
        fprintf(out, "default action: %s\n", sum->default_action);
        fprintf(out, "architectures: %s\n", sum->architectures);
        fprintf(out, "rules built: %u\n", sum->n_rules);
        for (int i = 0; i < CRISP_PROFILE_N_ACTIONS; i++)
                if (sum->names_per_action[i] > 0)
                        fprintf(out, "syscalls %s: %u\n", crisp_profile_action_names[i],
                                sum->names_per_action[i]);
        if (sum->n_unresolved > 0)
                fprintf(out,
                        "WARNING: %u syscall name(s) unknown to libseccomp %u.%u.%u, skipped "
                        "as the runtime skips them (a typo disables a rule): %s\n",
                        sum->n_unresolved, seccomp_version()->major, seccomp_version()->minor,
                        seccomp_version()->micro, sum->unresolved);
        fprintf(out, "OK: the runtime would load this profile\n");
}
