/* issue 14: twin profiles (src/complain/twin.c): containerd 1.6's
 * capability rules, the RuntimeDefault twin, the twin of a custom profile,
 * and writing them where containerd reads them. The e2e test compares the
 * twin with a real containerd's RuntimeDefault rule for rule. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "complain/twin.h"
#include "test_files.h"

#define CAP(n) ((crisp_caps)1 << crisp_cap_number(n, strlen(n)))

static struct crisp_cap_name nm(const char *s)
{
        return (struct crisp_cap_name){s, strlen(s)};
}

static void capabilities(void **state)
{
        (void)state;
        assert_int_equal(crisp_cap_number("SYS_ADMIN", 9), 21);
        assert_int_equal(crisp_cap_number("cap_sys_admin", 13), 21);
        assert_int_equal(crisp_cap_number("CHECKPOINT_RESTORE", 18), 40);
        assert_int_equal(crisp_cap_number("NOPE", 4), -1);
        crisp_caps def = crisp_caps_containerd_default();
        assert_int_equal(__builtin_popcountll(def), 14);
        assert_true(def & CAP("SYS_CHROOT"));
        assert_false(def & CAP("SYS_ADMIN"));
        assert_int_equal(crisp_caps_effective(NULL, 0, NULL, 0), def);

        struct crisp_cap_name admin = nm("sys_admin"), all = nm("ALL"), chroot = nm("SYS_CHROOT");
        assert_int_equal(crisp_caps_effective(&admin, 1, NULL, 0), def | CAP("SYS_ADMIN"));
        assert_int_equal(crisp_caps_effective(&all, 1, NULL, 0), ((crisp_caps)1 << 41) - 1);
        assert_int_equal(crisp_caps_effective(NULL, 0, &all, 1), 0);
        /* ALL then a named drop; a named add after drop ALL */
        assert_int_equal(crisp_caps_effective(&all, 1, &chroot, 1),
                         (((crisp_caps)1 << 41) - 1) & ~CAP("SYS_CHROOT"));
        assert_int_equal(crisp_caps_effective(&admin, 1, &all, 1), CAP("SYS_ADMIN"));
        /* containerd prefixes CAP_ itself: CAP_SYS_ADMIN matches nothing */
        struct crisp_cap_name prefixed = nm("CAP_SYS_ADMIN");
        assert_int_equal(crisp_caps_effective(&prefixed, 1, NULL, 0), def);
}

/* The rules of `json` for `name`: how many, and the action of the last. */
static int rules_for(const char *json, const char *name, const char **action, json_object **doc)
{
        *doc = json_tokener_parse(json);
        assert_non_null(*doc);
        json_object *rules, *v;
        assert_true(json_object_object_get_ex(*doc, "syscalls", &rules));
        int n = 0;
        for (size_t i = 0; i < json_object_array_length(rules); i++) {
                json_object *r = json_object_array_get_idx(rules, i), *names;
                json_object_object_get_ex(r, "names", &names);
                for (size_t k = 0; k < json_object_array_length(names); k++)
                        if (strcmp(json_object_get_string(json_object_array_get_idx(names, k)),
                                   name) == 0) {
                                n++;
                                json_object_object_get_ex(r, "action", &v);
                                *action = json_object_get_string(v);
                        }
        }
        return n;
}

static int count(const char *json, const char *name, const char **action)
{
        static char kept[64]; /* the action outlives the parsed document */
        json_object *doc;
        const char *found = "";
        int n = rules_for(json, name, &found, &doc);
        snprintf(kept, sizeof(kept), "%s", found);
        *action = kept;
        json_object_put(doc);
        return n;
}

static void runtime_default_twin(void **state)
{
        (void)state;
        char *json = NULL;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(
            crisp_twin_runtime_default(crisp_caps_containerd_default(), 6, 1, &json, &err), 0);
        assert_non_null(strstr(json, "\"defaultAction\":\"SCMP_ACT_LOG\""));
        const char *action = NULL;
        assert_int_equal(count(json, "read", &action), 1);
        assert_string_equal(action, "SCMP_ACT_ALLOW");
        assert_int_equal(count(json, "keyctl", &action), 0); /* denied: the default, LOG */
        assert_int_equal(count(json, "unshare", &action), 0);
        assert_int_equal(count(json, "personality", &action), 5);
        assert_int_equal(count(json, "ptrace", &action), 1);
        assert_int_equal(count(json, "chroot", &action), 1); /* SYS_CHROOT is a default */
        assert_int_equal(count(json, "clone", &action), 1);
        assert_string_equal(action, "SCMP_ACT_ALLOW");
        assert_non_null(strstr(json, "\"SCMP_CMP_MASKED_EQ\""));
        assert_int_equal(count(json, "clone3", &action), 1);
        assert_string_equal(action, "SCMP_ACT_ERRNO"); /* ENOSYS kept, see twin.h */
        assert_non_null(strstr(json, "\"errnoRet\":38"));
        free(json);

        /* CAP_SYS_ADMIN: unshare and mount allowed, clone unconditional */
        assert_int_equal(crisp_twin_runtime_default(
                             crisp_caps_containerd_default() | CAP("SYS_ADMIN"), 6, 1, &json, &err),
                         0);
        assert_int_equal(count(json, "unshare", &action), 1);
        assert_int_equal(count(json, "mount", &action), 1);
        assert_int_equal(count(json, "clone3", &action), 1);
        assert_string_equal(action, "SCMP_ACT_ALLOW");
        assert_null(strstr(json, "SCMP_CMP_MASKED_EQ"));
        free(json);

        /* kernel < 4.8: no ptrace; dropped SYS_CHROOT: no chroot */
        assert_int_equal(crisp_twin_runtime_default(0, 4, 7, &json, &err), 0);
        assert_int_equal(count(json, "ptrace", &action), 0);
        assert_int_equal(count(json, "chroot", &action), 0);
        free(json);
}

static void twin_of_a_custom_profile(void **state)
{
        (void)state;
        const char *custom = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
                             " \"architectures\": [\"SCMP_ARCH_X86_64\"], \"x-note\": \"kept\","
                             " \"syscalls\": ["
                             "{\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"},"
                             "{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},"
                             "{\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ERRNO\","
                             " \"errnoRet\": 13},"
                             "{\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\","
                             " \"errnoRet\": 38},"
                             "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_TRAP\"}]}";
        char *json = NULL;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_twin_of_profile("custom.json", custom, strlen(custom), &json, &err),
                         0);
        assert_non_null(strstr(json, "\"defaultAction\":\"SCMP_ACT_LOG\""));
        assert_null(strstr(json, "defaultErrnoRet"));
        assert_non_null(strstr(json, "\"x-note\":\"kept\""));
        const char *action = NULL;
        assert_int_equal(count(json, "read", &action), 1);
        assert_string_equal(action, "SCMP_ACT_ALLOW");
        count(json, "ptrace", &action);
        assert_string_equal(action, "SCMP_ACT_LOG");
        count(json, "mount", &action);
        assert_string_equal(action, "SCMP_ACT_LOG");
        assert_null(strstr(json, "\"errnoRet\":13"));
        count(json, "clone3", &action);
        assert_string_equal(action, "SCMP_ACT_ERRNO");
        count(json, "kill", &action);
        assert_string_equal(action, "SCMP_ACT_LOG");
        free(json);

        const char *broken = "{\"defaultAction\": \"SCMP_ACT_NOPE\"}";
        assert_true(crisp_twin_of_profile("broken.json", broken, strlen(broken), &json, &err) < 0);
        assert_non_null(strstr(err->msg, "broken.json"));
        assert_null(json);
}

static void writing(void **state)
{
        (void)state;
        char dir[128], sub[160], path[256], again[256];
        assert_int_equal(crisp_test_dir_make(dir, sizeof(dir), "twin"), 0);
        snprintf(sub, sizeof(sub), "%s/complain", dir); /* made on first use */
        char *json = NULL;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(
            crisp_twin_runtime_default(crisp_caps_containerd_default(), 6, 1, &json, &err), 0);
        assert_int_equal(crisp_twin_write(sub, json, path, sizeof(path), &err), 0);
        assert_int_equal(strncmp(path, sub, strlen(sub)), 0);
        assert_non_null(strstr(path, "/twin-"));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((size_t)st.st_size, strlen(json));
        assert_int_equal(st.st_mode & 0777, 0644);
        assert_int_equal(crisp_twin_write(sub, json, again, sizeof(again), &err), 0);
        assert_string_equal(path, again); /* content-addressed */
        free(json);

        /* not a twin: refused before anything is written */
        const char *strict = "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}";
        assert_true(crisp_twin_write(sub, strict, path, sizeof(path), &err) < 0);
        assert_non_null(strstr(err->msg, "not a twin"));
        crisp_error_free(&err);
        /* a deny-list profile's twin keeps its ALLOW default */
        const char *denylist = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                               "[{\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_LOG\"}]}";
        assert_int_equal(crisp_twin_write(sub, denylist, path, sizeof(path), &err), 0);
        const char *kills = "{\"defaultAction\": \"SCMP_ACT_LOG\", \"syscalls\": "
                            "[{\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_KILL\"}]}";
        assert_true(crisp_twin_write(sub, kills, path, sizeof(path), &err) < 0);
        crisp_error_free(&err);
        /* a folder that cannot be made */
        const char *twin = "{\"defaultAction\": \"SCMP_ACT_LOG\"}";
        assert_true(crisp_twin_write("/proc/crisp-no", twin, path, sizeof(path), &err) < 0);
        assert_non_null(err);
        assert_int_equal(crisp_test_dir_remove(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(capabilities),
            cmocka_unit_test(runtime_default_twin),
            cmocka_unit_test(twin_of_a_custom_profile),
            cmocka_unit_test(writing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
