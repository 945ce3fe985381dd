/* Issue 8, the pure parts: the spec rule's table (every row), reading a
 * Pod from the API's JSON (containers of all three kinds, mirror pods), and
 * the rewriter taking the spec's answer for the container context only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cri.pb-c.h"
#include "podspec/pod_spec_json.h"
#include "rule/rewrite.h"
#include "podspec/spec_rule.h"

enum {
        U = CRISP_SPEC_UNSET,
        UC = CRISP_SPEC_UNCONFINED,
        RD = CRISP_SPEC_RUNTIME_DEFAULT,
        LH = CRISP_SPEC_LOCALHOST,
        OT = CRISP_SPEC_OTHER
};

static enum crisp_spec_verdict decide(int container, int pod)
{
        struct crisp_spec_facts f = {.container_found = true,
                                     .container = (enum crisp_spec_seccomp)container,
                                     .pod = (enum crisp_spec_seccomp)pod};
        const char *why = NULL;
        enum crisp_spec_verdict v = crisp_spec_decide(&f, &why);
        assert_non_null(why);
        return v;
}

static void test_rule_rows(void **state)
{
        (void)state;
        /* the container's own setting wins */
        for (int pod = U; pod <= OT; pod++) {
                assert_int_equal(decide(UC, pod), CRISP_SPEC_KEEP);
                assert_int_equal(decide(RD, pod), CRISP_SPEC_DISAGREE);
                assert_int_equal(decide(LH, pod), CRISP_SPEC_DISAGREE);
                assert_int_equal(decide(OT, pod), CRISP_SPEC_UNDECIDED);
        }
        /* else the pod's */
        assert_int_equal(decide(U, UC), CRISP_SPEC_KEEP);
        assert_int_equal(decide(U, RD), CRISP_SPEC_DISAGREE);
        assert_int_equal(decide(U, LH), CRISP_SPEC_DISAGREE);
        assert_int_equal(decide(U, OT), CRISP_SPEC_UNDECIDED);
        /* else nothing set: what SeccompDefault does */
        assert_int_equal(decide(U, U), CRISP_SPEC_DEFAULT);

        struct crisp_spec_facts missing = {.container_found = false, .pod = CRISP_SPEC_UNCONFINED};
        assert_int_equal(crisp_spec_decide(&missing, NULL), CRISP_SPEC_UNDECIDED);
}

static void test_type_names(void **state)
{
        (void)state;
        assert_int_equal(crisp_spec_seccomp_parse(NULL), CRISP_SPEC_UNSET);
        assert_int_equal(crisp_spec_seccomp_parse("Unconfined"), CRISP_SPEC_UNCONFINED);
        assert_int_equal(crisp_spec_seccomp_parse("RuntimeDefault"), CRISP_SPEC_RUNTIME_DEFAULT);
        assert_int_equal(crisp_spec_seccomp_parse("Localhost"), CRISP_SPEC_LOCALHOST);
        assert_int_equal(crisp_spec_seccomp_parse("unconfined"), CRISP_SPEC_OTHER);
        assert_string_equal(crisp_spec_seccomp_name(CRISP_SPEC_UNSET), "unset");
}

static const char pod_json[] =
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web\",\"namespace\":"
    "\"shop\",\"uid\":\"u-1\",\"resourceVersion\":\"42\"},\"spec\":{\"nodeName\":\"node1\","
    "\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"}},"
    "\"initContainers\":[{\"name\":\"init\",\"securityContext\":{\"seccompProfile\":{\"type\":"
    "\"RuntimeDefault\"}}}],"
    "\"containers\":[{\"name\":\"app\"},{\"name\":\"side\",\"securityContext\":{"
    "\"seccompProfile\":{\"type\":\"Localhost\",\"localhostProfile\":\"p.json\"}}}],"
    "\"ephemeralContainers\":[{\"name\":\"debug\",\"securityContext\":{\"seccompProfile\":{"
    "\"type\":\"Unconfined\"}}}]}}";

static void test_pod_from_json(void **state)
{
        (void)state;
        struct json_object *o = json_tokener_parse(pod_json);
        assert_non_null(o);
        struct crisp_pod_spec pod;
        crisp_error *err = NULL;
        assert_int_equal(crisp_pod_spec_from_json(o, &pod, &err), 0);
        assert_string_equal(pod.uid, "u-1");
        assert_string_equal(pod.namespace_, "shop");
        assert_string_equal(pod.name, "web");
        assert_string_equal(pod.resource_version, "42");
        assert_int_equal(pod.seccomp, CRISP_SPEC_UNCONFINED);
        assert_int_equal(pod.n_containers, 4);

        struct crisp_spec_facts f;
        crisp_spec_facts_of(&pod, "app", &f);
        assert_true(f.container_found);
        assert_int_equal(f.kind, CRISP_CONTAINER_REGULAR);
        assert_int_equal(f.container, CRISP_SPEC_UNSET);
        assert_int_equal(f.pod, CRISP_SPEC_UNCONFINED);
        crisp_spec_facts_of(&pod, "side", &f);
        assert_int_equal(f.container, CRISP_SPEC_LOCALHOST);
        crisp_spec_facts_of(&pod, "init", &f);
        assert_int_equal(f.kind, CRISP_CONTAINER_INIT);
        assert_int_equal(f.container, CRISP_SPEC_RUNTIME_DEFAULT);
        crisp_spec_facts_of(&pod, "debug", &f);
        assert_int_equal(f.kind, CRISP_CONTAINER_EPHEMERAL);
        assert_int_equal(f.container, CRISP_SPEC_UNCONFINED);
        crisp_spec_facts_of(&pod, "nope", &f);
        assert_false(f.container_found);
        crisp_pod_spec_release(&pod);
        json_object_put(o);
}

static void test_mirror_pod_keyed_by_kubelet_uid(void **state)
{
        (void)state;
        struct json_object *o = json_tokener_parse(
            "{\"metadata\":{\"name\":\"etcd-node1\",\"namespace\":\"kube-system\",\"uid\":"
            "\"api-uid\",\"annotations\":{\"kubernetes.io/config.mirror\":\"hash-1\"}},"
            "\"spec\":{\"containers\":[{\"name\":\"etcd\"}]}}");
        struct crisp_pod_spec pod;
        assert_int_equal(crisp_pod_spec_from_json(o, &pod, NULL), 0);
        assert_string_equal(pod.uid, "hash-1");
        assert_int_equal(pod.seccomp, CRISP_SPEC_UNSET);
        crisp_pod_spec_release(&pod);
        json_object_put(o);
}

static void test_pod_without_uid_refused(void **state)
{
        (void)state;
        const char *bad[] = {"{}",
                             "[]",
                             "\"x\"",
                             "{\"metadata\":{\"uid\":\"\"}}",
                             "{\"metadata\":{\"uid\":7}}",
                             "{\"metadata\":[]}"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct json_object *o = json_tokener_parse(bad[i]);
                struct crisp_pod_spec pod;
                crisp_error *err = NULL;
                assert_int_equal(crisp_pod_spec_from_json(o, &pod, &err), -EINVAL);
                assert_non_null(err);
                crisp_error_free(&err);
                crisp_pod_spec_release(&pod);
                json_object_put(o);
        }
}

/* A CreateContainer with both contexts ambiguous (P "", F Unconfined). */
static uint8_t *ambiguous_create(size_t *len)
{
        Crisp__Cri__SecurityProfile c_sp = CRISP__CRI__SECURITY_PROFILE__INIT;
        c_sp.has_profile_type = 1;
        c_sp.profile_type = 1;
        Crisp__Cri__SecurityProfile s_sp = c_sp;
        Crisp__Cri__LinuxContainerSecurityContext csc =
            CRISP__CRI__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
        csc.seccomp = &c_sp;
        Crisp__Cri__LinuxContainerConfig lc = CRISP__CRI__LINUX_CONTAINER_CONFIG__INIT;
        lc.security_context = &csc;
        Crisp__Cri__ContainerConfig cc = CRISP__CRI__CONTAINER_CONFIG__INIT;
        cc.linux = &lc;
        Crisp__Cri__LinuxSandboxSecurityContext ssc =
            CRISP__CRI__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
        ssc.seccomp = &s_sp;
        Crisp__Cri__LinuxPodSandboxConfig lp = CRISP__CRI__LINUX_POD_SANDBOX_CONFIG__INIT;
        lp.security_context = &ssc;
        Crisp__Cri__PodSandboxConfig pc = CRISP__CRI__POD_SANDBOX_CONFIG__INIT;
        pc.linux = &lp;
        Crisp__Cri__CreateContainerRequest req = CRISP__CRI__CREATE_CONTAINER_REQUEST__INIT;
        req.config = &cc;
        req.sandbox_config = &pc;
        *len = crisp__cri__create_container_request__get_packed_size(&req);
        uint8_t *b = malloc(*len);
        crisp__cri__create_container_request__pack(&req, b);
        return b;
}

static size_t n_changes_with(bool settled, enum crisp_ambiguous_policy spec,
                             enum crisp_ambiguous_policy policy, struct crisp_rewrite_result *res)
{
        size_t len;
        uint8_t *b = ambiguous_create(&len);
        struct crisp_rewrite_options o = {.ambiguous = policy,
                                          .container_settled = settled,
                                          .container_ambiguous = spec,
                                          .container_why = "from the spec"};
        assert_int_equal(
            crisp_rewrite_request(CRISP_METHOD_CREATE_CONTAINER, b, len, &o, res, NULL), 0);
        free(b);
        return res->n_changes;
}

static void test_rewriter_takes_the_spec_for_the_container_only(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        /* no spec answer: the policy decides both contexts */
        assert_int_equal(n_changes_with(false, 0, CRISP_AMBIGUOUS_RUNTIME_DEFAULT, &res), 2);
        assert_true(res.container_ambiguous);
        crisp_rewrite_result_release(&res);
        /* the spec says explicit Unconfined: the container is left alone */
        assert_int_equal(
            n_changes_with(true, CRISP_AMBIGUOUS_KEEP, CRISP_AMBIGUOUS_RUNTIME_DEFAULT, &res), 1);
        assert_string_equal(res.changes[0].context, "sandbox_config");
        crisp_rewrite_result_release(&res);
        /* the spec says nothing set, the policy says keep: the container gets
         * RuntimeDefault, with the spec's reason */
        assert_int_equal(
            n_changes_with(true, CRISP_AMBIGUOUS_RUNTIME_DEFAULT, CRISP_AMBIGUOUS_KEEP, &res), 1);
        assert_string_equal(res.changes[0].context, "container");
        assert_string_equal(res.changes[0].why, "from the spec");
        crisp_rewrite_result_release(&res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rule_rows),
            cmocka_unit_test(test_type_names),
            cmocka_unit_test(test_pod_from_json),
            cmocka_unit_test(test_mirror_pod_keyed_by_kubelet_uid),
            cmocka_unit_test(test_pod_without_uid_refused),
            cmocka_unit_test(test_rewriter_takes_the_spec_for_the_container_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
