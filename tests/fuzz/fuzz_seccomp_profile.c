/* libFuzzer target: the seccomp profile validator (src/config/seccomp_profile.c,
 * json-c and libseccomp), through crisp_seccomp_profile_check_buffer, which
 * checks a profile's bytes from memory as crisp_seccomp_profile_check does
 * a file's.
 *
 * Input: the profile's bytes, as they are.
 *
 * Besides "no crash, no leak, no undefined behaviour, no hang" (ASan, LSan,
 * UBSan, libFuzzer's -timeout), every run checks these invariants and traps
 * when one does not hold:
 *
 *  1. The call fails (negative errno, EINVAL or ENOMEM, err set with that
 *     code) or succeeds (0, err untouched).
 *  2. An error names the profile and says what is wrong:
 *     "seccomp profile fuzz.json: " and something after it.
 *  3. Success: the summary is well formed: the default action is one of
 *     crisp_profile_action_names, "architectures" starts with "native" and
 *     lists names libseccomp knows, unresolved names are listed only when
 *     counted, every buffer is NUL-terminated, and the counts agree (at
 *     most 6 rules per name, as args allow 6).
 *  4. Success: a name crisp matched against a fixed list (an action, an
 *     operator, an architecture, a flag) is that name byte for byte: a JSON
 *     string holding a NUL byte ("SCMP_ACT_ALLOW\u0000...") is not one the
 *     runtime knows (runc compares Go strings), so it is not accepted.
 *  5. The same bytes give the same result twice (no state kept between
 *     checks), and the summary prints. */
#include <errno.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/seccomp_profile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libseccomp 2.5.4 (Debian 12) leaks inside seccomp_rule_add_array when a
 * rule is added beside an overlapping one on the same syscall (allow
 * personality if a0==0 && a1==0, then if a1==8, then if a1==0): its rule tree
 * drops nodes without freeing them, so seccomp_release cannot reach them. A
 * program using only libseccomp shows it (576 bytes in 6 allocations). crisp
 * builds such a filter only to validate a Localhost defaultProfile, at start
 * and on reload: a bounded cost, and not crisp's to fix. Found by this target
 * on 2026-11-29. Only what that libseccomp call allocates is suppressed; to
 * see it in the stack, LeakSanitizer needs the slow unwinder (libseccomp has
 * no frame pointers), which costs this target, alone, about ten times in speed. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
        return "leak:seccomp_rule_add_array\n";
}

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
        return "fast_unwind_on_malloc=0";
}

#define NAME   "fuzz.json"
#define PREFIX "seccomp profile " NAME ": "

#define FUZZ_TARGET "fuzz_seccomp_profile"
#include "fuzz_check.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        devnull = fopen("/dev/null", "w");
        if (devnull == NULL)
                abort();
        return 0;
}

static void check_error(int r, const crisp_error *err)
{
        CHECK(err != NULL, "failure %d without an error", r);
        CHECK(err->code == EINVAL || err->code == ENOMEM, "error code %d: %s", err->code, err->msg);
        CHECK(r == -err->code, "return %d, error code %d", r, err->code);
        CHECK(err->msg != NULL, "error without a message");
        CHECK(strncmp(err->msg, PREFIX, strlen(PREFIX)) == 0 && err->msg[strlen(PREFIX)] != '\0',
              "error does not name the profile and the problem: %s", err->msg);
}

static void check_c_string(const char *s, size_t size, const char *what)
{
        CHECK(strnlen(s, size) < size, "%s is not NUL-terminated", what);
}

static void check_summary(const struct crisp_profile_summary *sum)
{
        check_c_string(sum->default_action, sizeof(sum->default_action), "default_action");
        bool known = false;
        for (int i = 0; i < CRISP_PROFILE_N_ACTIONS; i++)
                known = known || strcmp(sum->default_action, crisp_profile_action_names[i]) == 0;
        CHECK(known, "default action '%s'", sum->default_action);

        check_c_string(sum->architectures, sizeof(sum->architectures), "architectures");
        CHECK(strncmp(sum->architectures, "native", 6) == 0, "architectures '%s'",
              sum->architectures);
        char archs[sizeof(sum->architectures)];
        memcpy(archs, sum->architectures, sizeof(archs));
        /* add_arch cuts the list when it fills the buffer: then its last
         * name may be a part of one. */
        char *last = strrchr(archs, ' ');
        if (strlen(archs) + 1 >= sizeof(archs) && last != NULL)
                *last = '\0';
        char *save = NULL;
        for (char *a = strtok_r(archs + 6, " ", &save); a; a = strtok_r(NULL, " ", &save))
                CHECK(seccomp_arch_resolve_name(a) != 0, "architecture '%s' unknown", a);

        unsigned names = 0;
        for (int i = 0; i < CRISP_PROFILE_N_ACTIONS; i++)
                names += sum->names_per_action[i];
        CHECK(sum->n_unresolved <= names, "%u unresolved of %u names", sum->n_unresolved, names);
        CHECK(sum->n_rules <= 6u * names, "%u rules from %u names", sum->n_rules, names);
        check_c_string(sum->unresolved, sizeof(sum->unresolved), "unresolved");
        /* Only this way round: the list is for a reader, space-separated,
         * and a name may be empty or hold spaces ("im drakt"), so its words
         * are not the names. */
        CHECK(sum->n_unresolved > 0 || sum->unresolved[0] == '\0', "none unresolved, listed: '%s'",
              sum->unresolved);
}

/* 4: the strings crisp matches against a list of names, where it reads
 * them (keys it does not know, and rules for other architectures, are not
 * read; the runtime does not read them either). */
static void check_exact(json_object *v, const char *what)
{
        if (v == NULL || !json_object_is_type(v, json_type_string))
                return;
        CHECK(strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v),
              "accepted '%s' holding a NUL byte as %s", json_object_get_string(v), what);
}

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;
        if (o == NULL || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

static void check_each_exact(json_object *arr, const char *what)
{
        if (arr == NULL || !json_object_is_type(arr, json_type_array))
                return;
        for (size_t i = 0; i < json_object_array_length(arr); i++)
                check_exact(json_object_array_get_idx(arr, i), what);
}

/* Whether `filter` (includes / excludes) lists this machine's Go
 * architecture, as src/config/seccomp_profile.c decides. */
static bool lists_native(json_object *filter)
{
#if defined(__x86_64__)
        const char *native = "amd64";
#elif defined(__aarch64__)
        const char *native = "arm64";
#else
        const char *native = "";
#endif
        json_object *arches = get(filter, "arches");
        if (arches == NULL || !json_object_is_type(arches, json_type_array))
                return false;
        for (size_t i = 0; i < json_object_array_length(arches); i++) {
                const char *a = json_object_get_string(json_object_array_get_idx(arches, i));
                if (a != NULL && strcmp(a, native) == 0)
                        return true;
        }
        return false;
}

static void check_names_exact(json_object *root)
{
        check_exact(get(root, "defaultAction"), "defaultAction");
        check_each_exact(get(root, "flags"), "flags");
        json_object *archs = get(root, "architectures");
        if (archs != NULL && !json_object_is_type(archs, json_type_null)) {
                check_each_exact(archs, "architectures");
        } else {
                json_object *map = get(root, "archMap");
                for (size_t i = 0; map && json_object_is_type(map, json_type_array) &&
                                   i < json_object_array_length(map);
                     i++) {
                        json_object *e = json_object_array_get_idx(map, i);
                        check_exact(get(e, "architecture"), "archMap.architecture");
                        /* Only the native entry's are read; checking all
                         * is stricter than crisp, so only when it is that
                         * one: its name resolves to this machine's. */
                        const char *a = json_object_get_string(get(e, "architecture"));
                        char lower[32] = "";
                        for (size_t k = 0; a && strncmp(a, "SCMP_ARCH_", 10) == 0 && a[10 + k] &&
                                           k + 1 < sizeof(lower);
                             k++) {
                                char c = a[10 + k];
                                lower[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
                                lower[k + 1] = '\0';
                        }
                        if (lower[0] && seccomp_arch_resolve_name(lower) == seccomp_arch_native())
                                check_each_exact(get(e, "subArchitectures"),
                                                 "archMap.subArchitectures");
                }
        }
        json_object *rules = get(root, "syscalls");
        for (size_t i = 0; rules && json_object_is_type(rules, json_type_array) &&
                           i < json_object_array_length(rules);
             i++) {
                json_object *rule = json_object_array_get_idx(rules, i);
                json_object *inc = get(rule, "includes"), *arches = get(inc, "arches");
                if (arches != NULL && json_object_is_type(arches, json_type_array) &&
                    json_object_array_length(arches) > 0 && !lists_native(inc))
                        continue;
                if (lists_native(get(rule, "excludes")))
                        continue;
                check_exact(get(rule, "action"), "syscalls[].action");
                json_object *args = get(rule, "args");
                for (size_t k = 0; args && json_object_is_type(args, json_type_array) &&
                                   k < json_object_array_length(args);
                     k++)
                        check_exact(get(json_object_array_get_idx(args, k), "op"),
                                    "syscalls[].args[].op");
        }
}

static void check_names_exact_in(const uint8_t *data, size_t size)
{
        struct json_tokener *tok = json_tokener_new();
        CHECK(tok != NULL, "json_tokener_new");
        json_object *root = json_tokener_parse_ex(tok, (const char *)data, (int)size);
        json_tokener_free(tok);
        CHECK(root != NULL, "crisp accepted what json-c does not parse");
        check_names_exact(root);
        json_object_put(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct crisp_profile_summary sum, again;
        crisp_error *err = NULL, *err2 = NULL;
        int r = crisp_seccomp_profile_check_buffer(NAME, (const char *)data, size, &sum, &err);
        int r2 = crisp_seccomp_profile_check_buffer(NAME, (const char *)data, size, &again, &err2);
        CHECK(r == r2, "returned %d, then %d", r, r2);
        if (r < 0) {
                check_error(r, err);
                CHECK(strcmp(err->msg, err2->msg) == 0, "error '%s', then '%s'", err->msg,
                      err2->msg);
        } else {
                CHECK(r == 0, "returned %d", r);
                CHECK(err == NULL, "success with an error set: %s", err->msg);
                CHECK(memcmp(&sum, &again, sizeof(sum)) == 0, "the summary differs the 2nd time");
                check_summary(&sum);
                check_names_exact_in(data, size);
                crisp_profile_summary_print(devnull, NAME, &sum);
        }
        crisp_error_free(&err);
        crisp_error_free(&err2);
        return 0;
}
