/* Seccomp profile validation (defaultProfile Localhost, crisp check-profile):
 * what the runtime would load is accepted, what it would refuse is refused
 * with the key that is wrong; unknown syscall names are reported, not fatal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/seccomp_profile.h"

static char path[64];

static void write_profile(const char *text)
{
        snprintf(path, sizeof(path), "/tmp/crisp-profile-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static int check(const char *text, struct crisp_profile_summary *sum, crisp_error **err)
{
        write_profile(text);
        int r = crisp_seccomp_profile_check(path, sum, err);
        unlink(path);
        return r;
}

static void assert_refused(const char *text, const char *want)
{
        struct crisp_profile_summary sum;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(check(text, &sum, &err), -EINVAL);
        if (strstr(err->msg, want) == NULL || strstr(err->msg, "/tmp/crisp-profile-") == NULL)
                fail_msg("error '%s' lacks '%s' or the file name", err->msg, want);
}

static void valid_profile_is_summarised(void **state)
{
        (void)state;
        struct crisp_profile_summary sum;
        _cleanup_error_ crisp_error *err = NULL;
        int r =
            check("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
                  " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],"
                  " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],"
                  " \"syscalls\": ["
                  "  {\"names\": [\"read\", \"write\", \"exit_group\"], \"action\": "
                  "\"SCMP_ACT_ALLOW\"},"
                  "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\","
                  "   \"args\": [{\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"},"
                  "              {\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]},"
                  "  {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\","
                  "   \"args\": [{\"index\": 0, \"value\": 2114060288, \"valueTwo\": 0,"
                  "               \"op\": \"SCMP_CMP_MASKED_EQ\"}]},"
                  "  {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
                  "  {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}",
                  &sum, &err);
        if (r < 0)
                fail_msg("refused: %s", err->msg);
        assert_string_equal(sum.default_action, "SCMP_ACT_ERRNO");
        assert_non_null(strstr(sum.architectures, "x86_64"));
        assert_non_null(strstr(sum.architectures, "x86"));
        assert_int_equal(sum.names_per_action[6], 5); /* SCMP_ACT_ALLOW */
        assert_int_equal(sum.names_per_action[4], 1); /* SCMP_ACT_ERRNO */
        assert_int_equal(sum.names_per_action[1], 1); /* SCMP_ACT_KILL_PROCESS */
        assert_int_equal(sum.n_unresolved, 0);
}

static void unknown_action_is_refused(void **state)
{
        (void)state;
        assert_refused("{\"defaultAction\": \"SCMP_ACT_DENY\"}",
                       "defaultAction: unknown action 'SCMP_ACT_DENY'");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                       "[{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"},"
                       " {\"names\": [\"mkdir\"], \"action\": \"ERRNO\"}]}",
                       "syscalls[1]: unknown action 'ERRNO'");
        assert_refused("{\"syscalls\": []}", "defaultAction: missing");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                       "[{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
                       "syscalls[0]: SCMP_ACT_NOTIFY needs listenerPath");
}

static void unknown_operator_is_refused(void **state)
{
        (void)state;
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                       "[{\"names\": [\"chmod\"], \"action\": \"SCMP_ACT_ERRNO\","
                       "  \"args\": [{\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"},"
                       "             {\"index\": 2, \"value\": 1, \"op\": \"SCMP_CMP_EQUAL\"}]}]}",
                       "syscalls[0].args[1].op: unknown operator 'SCMP_CMP_EQUAL'");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                       "[{\"names\": [\"chmod\"], \"action\": \"SCMP_ACT_ERRNO\","
                       "  \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                       "syscalls[0].args[0].index");
}

static void other_refusals_name_the_key(void **state)
{
        (void)state;
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                       "[\"SCMP_ARCH_VAX\"]}",
                       "architectures: unknown architecture 'SCMP_ARCH_VAX'");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"FAST\"]}",
                       "flags: unknown flag 'FAST'");
        assert_refused("[1, 2]", "the top level must be a JSON object");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                       "[{\"action\": \"SCMP_ACT_ERRNO\"}]}",
                       "syscalls[0]: no syscall names");
}

/* A name with a NUL character ("\u0000" in JSON) is not the name the runtime
 * knows (runc compares Go strings); as a C string it would have matched.
 * Found by tests/fuzz/fuzz_seccomp_profile.c. */
static void names_holding_nul_are_refused(void **state)
{
        (void)state;
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\\u0000x\"}",
                       "defaultAction: unknown action");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                       "[{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\\u0000\"}]}",
                       "syscalls[0]: unknown action");
        assert_refused(
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
            "[{\"names\": [\"chmod\"], \"action\": \"SCMP_ACT_ERRNO\","
            "  \"args\": [{\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_EQ\\u0000\"}]}]}",
            "syscalls[0].args[0].op: unknown operator");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                       "[\"SCMP_ARCH_X86_64\\u0000\"]}",
                       "architectures: unknown architecture");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
                       "[\"SECCOMP_FILTER_FLAG_LOG\\u0000\"]}",
                       "flags: unknown flag");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": "
                       "[{\"architecture\": \"SCMP_ARCH_ARM\\u0000\"}]}",
                       "archMap[0]: needs an architecture");
}

static void malformed_json_is_refused(void **state)
{
        (void)state;
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [", "not valid JSON");
        /* Go's json.Unmarshal (containerd, CRI-O) refuses anything after the value. */
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\"} x", "something follows");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}{}", "something follows");
}

static void empty_file_is_refused(void **state)
{
        (void)state;
        assert_refused("", "the file is empty");
}

static void missing_file_is_refused(void **state)
{
        (void)state;
        struct crisp_profile_summary sum;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_seccomp_profile_check("/nonexistent/p.json", &sum, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "/nonexistent/p.json"));
}

/* The runtimes skip names their libseccomp does not know (newer syscalls,
 * or typos): reported by name, but the profile is accepted. */
static void unresolvable_name_is_reported_but_accepted(void **state)
{
        (void)state;
        struct crisp_profile_summary sum;
        _cleanup_error_ crisp_error *err = NULL;
        int r = check("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                      "[{\"names\": [\"mkdir\", \"mkdri\", \"future_syscall_2099\"],"
                      "  \"action\": \"SCMP_ACT_ERRNO\"}]}",
                      &sum, &err);
        if (r < 0)
                fail_msg("refused: %s", err->msg);
        assert_int_equal(sum.n_unresolved, 2);
        assert_string_equal(sum.unresolved, "mkdri future_syscall_2099");
        assert_int_equal(sum.n_rules, 1);
}

/* Docker's format (containerd reads it too): archMap picks this machine's
 * entry, and a rule for other architectures only is not used here. */
static void docker_arch_map_and_filters(void **state)
{
        (void)state;
        struct crisp_profile_summary sum;
        _cleanup_error_ crisp_error *err = NULL;
        int r = check("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
                      " \"archMap\": ["
                      "  {\"architecture\": \"SCMP_ARCH_X86_64\","
                      "   \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]},"
                      "  {\"architecture\": \"SCMP_ARCH_AARCH64\","
                      "   \"subArchitectures\": [\"SCMP_ARCH_ARM\"]}],"
                      " \"syscalls\": ["
                      "  {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"},"
                      "  {\"names\": [\"arm_fadvise64_64\"], \"action\": \"SCMP_ACT_ALLOW\","
                      "   \"includes\": {\"arches\": [\"arm\", \"arm64\"]}},"
                      "  {\"names\": [\"write\"], \"action\": \"SCMP_ACT_ALLOW\","
                      "   \"excludes\": {\"arches\": [\"amd64\", \"arm64\"]}}]}",
                      &sum, &err);
        if (r < 0)
                fail_msg("refused: %s", err->msg);
#if defined(__x86_64__)
        assert_string_equal(sum.architectures, "native x86_64 x86 x32");
        assert_int_equal(sum.n_unresolved, 0);
        assert_int_equal(sum.names_per_action[6], 1); /* read only */
#endif
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(valid_profile_is_summarised),
            cmocka_unit_test(unknown_action_is_refused),
            cmocka_unit_test(unknown_operator_is_refused),
            cmocka_unit_test(other_refusals_name_the_key),
            cmocka_unit_test(names_holding_nul_are_refused),
            cmocka_unit_test(malformed_json_is_refused),
            cmocka_unit_test(empty_file_is_refused),
            cmocka_unit_test(missing_file_is_refused),
            cmocka_unit_test(unresolvable_name_is_reported_but_accepted),
            cmocka_unit_test(docker_arch_map_and_filters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
