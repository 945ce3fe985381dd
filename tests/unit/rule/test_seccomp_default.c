/* The seccomp rule, row by row, as docs/seccomp-rule.md states it.
 * Each test is one row of the table (and both ambiguous-unconfined policies
 * where the row depends on it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rule/seccomp_default.h"

#define RD CRISP_AMBIGUOUS_RUNTIME_DEFAULT
#define KP CRISP_AMBIGUOUS_KEEP

static enum crisp_seccomp_action decide(const char *path, enum crisp_profile_field f,
                                        enum crisp_ambiguous_policy p)
{
        return crisp_seccomp_decide(path, path ? strlen(path) : 0, f, p, NULL);
}

/* Row 1: "" / absent -- nothing set (old kubelet, crictl). */
static void nothing_set_is_defaulted_fully(void **state)
{
        (void)state;
        assert_int_equal(decide("", CRISP_FIELD_ABSENT, RD), CRISP_DEFAULT_BOTH);
        assert_int_equal(decide("", CRISP_FIELD_ABSENT, KP), CRISP_DEFAULT_BOTH);
        assert_int_equal(decide(NULL, CRISP_FIELD_ABSENT, RD), CRISP_DEFAULT_BOTH);
}

/* Row 2: "" / Unconfined -- ambiguous from kubelet 1.28 on: policy decides. */
static void empty_path_unconfined_field_follows_policy(void **state)
{
        (void)state;
        assert_int_equal(decide("", CRISP_FIELD_UNCONFINED, RD), CRISP_DEFAULT_BOTH);
        assert_int_equal(decide("", CRISP_FIELD_UNCONFINED, KP), CRISP_KEEP);
}

/* Rows 3-4: "unconfined" / Unconfined or absent -- explicit Unconfined. */
static void explicit_unconfined_is_kept(void **state)
{
        (void)state;
        assert_int_equal(decide("unconfined", CRISP_FIELD_UNCONFINED, RD), CRISP_KEEP);
        assert_int_equal(decide("unconfined", CRISP_FIELD_ABSENT, RD), CRISP_KEEP);
        assert_int_equal(decide("unconfined", CRISP_FIELD_UNCONFINED, KP), CRISP_KEEP);
}

/* Row 5: other non-empty / Unconfined -- the static-pod annotation case. */
static void annotation_path_with_unconfined_field_gets_field_only(void **state)
{
        (void)state;
        assert_int_equal(decide("runtime/default", CRISP_FIELD_UNCONFINED, RD),
                         CRISP_DEFAULT_FIELD);
        assert_int_equal(decide("docker/default", CRISP_FIELD_UNCONFINED, RD), CRISP_DEFAULT_FIELD);
        assert_int_equal(decide("localhost/profiles/a.json", CRISP_FIELD_UNCONFINED, KP),
                         CRISP_DEFAULT_FIELD);
}

/* Row 6: any / RuntimeDefault or Localhost -- explicit profile. */
static void explicit_profile_is_kept_whatever_the_path(void **state)
{
        (void)state;
        const char *paths[] = {"", "unconfined", "runtime/default", "localhost/x"};
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                assert_int_equal(decide(paths[i], CRISP_FIELD_RUNTIME_DEFAULT, RD), CRISP_KEEP);
                assert_int_equal(decide(paths[i], CRISP_FIELD_LOCALHOST, RD), CRISP_KEEP);
                assert_int_equal(decide(paths[i], CRISP_FIELD_LOCALHOST, KP), CRISP_KEEP);
        }
}

/* Row 7: non-empty / absent -- explicit via the deprecated string. */
static void deprecated_string_alone_is_kept(void **state)
{
        (void)state;
        assert_int_equal(decide("runtime/default", CRISP_FIELD_ABSENT, RD), CRISP_KEEP);
        assert_int_equal(decide("docker/default", CRISP_FIELD_ABSENT, RD), CRISP_KEEP);
        assert_int_equal(decide("localhost/var/lib/kubelet/seccomp/x", CRISP_FIELD_ABSENT, RD),
                         CRISP_KEEP);
}

/* A profile type newer than this CRI: crisp does not touch what it does not
 * understand. */
static void unknown_profile_type_is_kept(void **state)
{
        (void)state;
        assert_int_equal(decide("", CRISP_FIELD_UNKNOWN_TYPE, RD), CRISP_KEEP);
}

/* "unconfined" is matched exactly, as the runtimes do: case, length and
 * every byte count, a NUL included (Go strings are not NUL-terminated). */
static void path_matching_is_exact(void **state)
{
        (void)state;
        assert_int_equal(crisp_seccomp_decide("unconfined\0x", 12, CRISP_FIELD_ABSENT, RD, NULL),
                         CRISP_KEEP);
        assert_int_equal(crisp_seccomp_decide("\0", 1, CRISP_FIELD_UNCONFINED, RD, NULL),
                         CRISP_DEFAULT_FIELD); /* non-empty to the runtime */
        assert_int_equal(crisp_seccomp_decide("unconfined", 9, CRISP_FIELD_UNCONFINED, RD, NULL),
                         CRISP_DEFAULT_FIELD);
        assert_int_equal(decide("Unconfined", CRISP_FIELD_ABSENT, RD), CRISP_KEEP);
        assert_int_equal(decide("Unconfined", CRISP_FIELD_UNCONFINED, RD), CRISP_DEFAULT_FIELD);
}

static void every_decision_has_a_reason(void **state)
{
        (void)state;
        const char *why = NULL;
        crisp_seccomp_decide("", 0, CRISP_FIELD_UNCONFINED, RD, &why);
        assert_non_null(why);
        assert_non_null(strstr(why, "1.28"));
        why = NULL;
        crisp_seccomp_decide("", 0, CRISP_FIELD_UNKNOWN_TYPE, RD, &why);
        assert_non_null(why);
}

static void policy_names_parse(void **state)
{
        (void)state;
        enum crisp_ambiguous_policy p;
        assert_int_equal(crisp_ambiguous_policy_parse("runtime-default", &p), 0);
        assert_int_equal(p, CRISP_AMBIGUOUS_RUNTIME_DEFAULT);
        assert_int_equal(crisp_ambiguous_policy_parse("keep", &p), 0);
        assert_int_equal(p, CRISP_AMBIGUOUS_KEEP);
        assert_true(crisp_ambiguous_policy_parse("Keep", &p) < 0);
        assert_true(crisp_ambiguous_policy_parse("", &p) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(nothing_set_is_defaulted_fully),
            cmocka_unit_test(empty_path_unconfined_field_follows_policy),
            cmocka_unit_test(explicit_unconfined_is_kept),
            cmocka_unit_test(annotation_path_with_unconfined_field_gets_field_only),
            cmocka_unit_test(explicit_profile_is_kept_whatever_the_path),
            cmocka_unit_test(deprecated_string_alone_is_kept),
            cmocka_unit_test(unknown_profile_type_is_kept),
            cmocka_unit_test(path_matching_is_exact),
            cmocka_unit_test(every_decision_has_a_reason),
            cmocka_unit_test(policy_names_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
