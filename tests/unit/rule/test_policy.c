/* The policy: exemptions (any-of, last label wins), reading pod facts from
 * the wire, defaultProfile Localhost in the rewriter, snapshots, JSON logs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cri.pb-c.h"
#include "cri_policy.pb-c.h"
#include "base/log_json.h"
#include "rule/pod_facts.h"
#include "rule/policy.h"
#include "rule/policy_snapshot.h"
#include "rule/rewrite.h"

static char *ns[] = {"kube-system"};
static struct crisp_label labels[] = {{"crisp.io/exempt", "true"}};
static char *handlers[] = {"kata"};

static const struct crisp_policy policy = {
    .namespaces = ns,
    .n_namespaces = 1,
    .pod_labels = labels,
    .n_pod_labels = 1,
    .runtime_handlers = handlers,
    .n_runtime_handlers = 1,
};

/* A RunPodSandbox request with the given namespace, handler and labels
 * (pairs of key, value; keys may repeat). Returns packed bytes (free them). */
static uint8_t *run_request(const char *namespace_, const char *handler, size_t n_labels,
                            const char *const *kv, size_t *len)
{
        Crisp__Policy__RunPodSandboxRequest req = CRISP__POLICY__RUN_POD_SANDBOX_REQUEST__INIT;
        Crisp__Policy__PodSandboxConfig cfg = CRISP__POLICY__POD_SANDBOX_CONFIG__INIT;
        Crisp__Policy__PodSandboxMetadata md = CRISP__POLICY__POD_SANDBOX_METADATA__INIT;
        Crisp__Policy__LabelEntry entries[4], *ptrs[4];
        req.config = &cfg;
        cfg.metadata = &md;
        md.has_namespace_ = 1;
        md.namespace_.data = (uint8_t *)namespace_;
        md.namespace_.len = strlen(namespace_);
        if (handler) {
                req.has_runtime_handler = 1;
                req.runtime_handler.data = (uint8_t *)handler;
                req.runtime_handler.len = strlen(handler);
        }
        for (size_t i = 0; i < n_labels; i++) {
                crisp__policy__label_entry__init(&entries[i]);
                entries[i].has_key = entries[i].has_value = 1;
                entries[i].key.data = (uint8_t *)kv[2 * i];
                entries[i].key.len = strlen(kv[2 * i]);
                entries[i].value.data = (uint8_t *)kv[2 * i + 1];
                entries[i].value.len = strlen(kv[2 * i + 1]);
                ptrs[i] = &entries[i];
        }
        cfg.n_labels = n_labels;
        cfg.labels = ptrs;
        *len = crisp__policy__run_pod_sandbox_request__get_packed_size(&req);
        uint8_t *out = malloc(*len ? *len : 1);
        crisp__policy__run_pod_sandbox_request__pack(&req, out);
        return out;
}

/* Decodes a request and returns the exemption that applies ("" if none). */
static void exemption_of(const uint8_t *data, size_t len, char *why, size_t size)
{
        struct crisp_pod_view view;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(
            crisp_pod_view_decode(CRISP_METHOD_RUN_POD_SANDBOX, data, len, &view, &err), 0);
        why[0] = '\0';
        crisp_policy_exemption(&policy, &view.facts, why, size);
        crisp_pod_view_release(&view);
}

static void exemptions_are_any_of(void **state)
{
        (void)state;
        char why[160];
        size_t len;
        uint8_t *b = run_request("kube-system", NULL, 0, NULL, &len);
        exemption_of(b, len, why, sizeof(why));
        assert_string_equal(why, "namespace:kube-system");
        free(b);

        const char *kv[] = {"app", "x", "crisp.io/exempt", "true"};
        b = run_request("default", NULL, 2, kv, &len);
        exemption_of(b, len, why, sizeof(why));
        assert_string_equal(why, "podLabel:crisp.io/exempt=true");
        free(b);

        b = run_request("default", "kata", 0, NULL, &len);
        exemption_of(b, len, why, sizeof(why));
        assert_string_equal(why, "runtimeHandler:kata");
        free(b);

        const char *other[] = {"crisp.io/exempt", "false"};
        b = run_request("kube-system-2", "runc", 1, other, &len);
        exemption_of(b, len, why, sizeof(why));
        assert_string_equal(why, "");
        free(b);
}

/* Go decodes a map with a repeated key as its last value; so does crisp. */
static void repeated_label_key_last_one_wins(void **state)
{
        (void)state;
        char why[160];
        size_t len;
        const char *first_true[] = {"crisp.io/exempt", "true", "crisp.io/exempt", "false"};
        uint8_t *b = run_request("default", NULL, 2, first_true, &len);
        exemption_of(b, len, why, sizeof(why));
        assert_string_equal(why, "");
        free(b);
        const char *last_true[] = {"crisp.io/exempt", "false", "crisp.io/exempt", "true"};
        b = run_request("default", NULL, 2, last_true, &len);
        exemption_of(b, len, why, sizeof(why));
        assert_string_equal(why, "podLabel:crisp.io/exempt=true");
        free(b);
}

static void undecodable_request_is_an_error(void **state)
{
        (void)state;
        const uint8_t junk[] = {0x0a, 0x05, 0x01}; /* length past the end */
        struct crisp_pod_view view;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(
            crisp_pod_view_decode(CRISP_METHOD_RUN_POD_SANDBOX, junk, sizeof(junk), &view, &err),
            -EINVAL);
        crisp_pod_view_release(&view);
}

/* defaultProfile Localhost: F := {Localhost, ref}, P := "localhost/<ref>". */
static void localhost_default_profile(void **state)
{
        (void)state;
        Crisp__Cri__CreateContainerRequest req = CRISP__CRI__CREATE_CONTAINER_REQUEST__INIT;
        Crisp__Cri__ContainerConfig cfg = CRISP__CRI__CONTAINER_CONFIG__INIT;
        Crisp__Cri__LinuxContainerConfig linux_cfg = CRISP__CRI__LINUX_CONTAINER_CONFIG__INIT;
        req.config = &cfg;
        cfg.linux = &linux_cfg;
        size_t len = crisp__cri__create_container_request__get_packed_size(&req);
        uint8_t buf[64];
        crisp__cri__create_container_request__pack(&req, buf);

        struct crisp_rewrite_options opts = {.localhost_profile = "/etc/crisp/p.json"};
        struct crisp_rewrite_result res;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(
            crisp_rewrite_request(CRISP_METHOD_CREATE_CONTAINER, buf, len, &opts, &res, &err), 0);
        assert_true(res.changed);
        assert_int_equal(res.n_changes, 1);
        assert_non_null(strstr(res.changes[0].after, "Localhost:/etc/crisp/p.json"));
        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_non_null(out);
        Crisp__Cri__LinuxContainerSecurityContext *sc = out->config->linux->security_context;
        assert_int_equal(sc->seccomp->profile_type, 2);
        assert_int_equal(sc->seccomp->localhost_ref.len, strlen("/etc/crisp/p.json"));
        assert_memory_equal(sc->seccomp->localhost_ref.data, "/etc/crisp/p.json",
                            sc->seccomp->localhost_ref.len);
        assert_int_equal(sc->seccomp_profile_path.len, strlen("localhost//etc/crisp/p.json"));
        assert_memory_equal(sc->seccomp_profile_path.data, "localhost//etc/crisp/p.json",
                            sc->seccomp_profile_path.len);
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

static void snapshot_outlives_a_swap(void **state)
{
        (void)state;
        struct crisp_policy p1 = {.mode = CRISP_MODE_AUDIT}, p2 = {.mode = CRISP_MODE_ENFORCE};
        struct crisp_policy_snapshot *s1, *s2;
        assert_int_equal(crisp_policy_snapshot_new(&policy, &s1, NULL), 0);
        crisp_policy_release_snapshot(s1);
        assert_int_equal(crisp_policy_snapshot_new(&p1, &s1, NULL), 0);
        assert_int_equal(crisp_policy_snapshot_new(&p2, &s2, NULL), 0);
        struct crisp_policy_holder h;
        crisp_policy_holder_init(&h, s1);
        struct crisp_policy_snapshot *call = crisp_policy_acquire(&h);
        crisp_policy_swap(&h, s2);
        /* The call still sees the policy it started with. */
        assert_int_equal(call->policy.mode, CRISP_MODE_AUDIT);
        assert_int_equal(crisp_policy_acquire(&h)->policy.mode, CRISP_MODE_ENFORCE);
        crisp_policy_release_snapshot(h.current); /* the acquire just above */
        assert_int_equal(h.current->generation, 2);
        crisp_policy_release_snapshot(call);
        crisp_policy_holder_destroy(&h);
}

static void json_log_line_has_fields(void **state)
{
        (void)state;
        char out[1024];
        crisp_log_json_line("2026-01-01T00:00:00.000Z", "info",
                            "seccomp exempt method=/x pod=kube-system/p uid=1 container=c "
                            "before=\"absent path=''\" exemption=namespace:kube-system",
                            out, sizeof(out));
        assert_non_null(strstr(out, "\"msg\":\"seccomp exempt\""));
        assert_non_null(strstr(out, "\"pod\":\"kube-system/p\""));
        assert_non_null(strstr(out, "\"before\":\"absent path=''\""));
        assert_non_null(strstr(out, "\"exemption\":\"namespace:kube-system\""));
        assert_non_null(strstr(out, "\"level\":\"info\""));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(exemptions_are_any_of),
            cmocka_unit_test(repeated_label_key_last_one_wins),
            cmocka_unit_test(undecodable_request_is_an_error),
            cmocka_unit_test(localhost_default_profile),
            cmocka_unit_test(snapshot_outlives_a_swap),
            cmocka_unit_test(json_log_line_has_fields),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
