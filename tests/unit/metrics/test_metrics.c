/* Metrics: bounded method labels and the Prometheus text they render. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/metrics.h"

static void method_labels_are_bounded(void **state)
{
        (void)state;
        int create = crisp_metrics_method_index("/runtime.v1.RuntimeService/CreateContainer");
        assert_int_equal(
            create, crisp_metrics_method_index("/runtime.v1alpha2.RuntimeService/CreateContainer"));
        int other = crisp_metrics_method_index("/evil.Service/CreateContainer");
        assert_int_equal(other, crisp_metrics_method_index("/runtime.v1.RuntimeService/Nope"));
        assert_int_not_equal(create, other);
}

static void render_counts_calls_and_decisions(void **state)
{
        (void)state;
        crisp_metrics_reset();
        int m = crisp_metrics_method_index("/runtime.v1.RuntimeService/Version");
        crisp_metrics_call_started();
        crisp_metrics_call_ended(m, 0, 2000);
        crisp_metrics_call_started();
        struct crisp_rewrite_result r;
        memset(&r, 0, sizeof(r));
        r.n_changes = 1;
        r.changes[0].context = "container";
        r.changes[0].from = CRISP_FIELD_ABSENT;
        strcpy(r.changes[0].after, "RuntimeDefault path='runtime/default'");
        r.audit = true;
        crisp_metrics_decision(&r);
        memset(&r, 0, sizeof(r));
        strcpy(r.exemption, "namespace:kube-system");
        crisp_metrics_decision(&r);
        crisp_metrics_reload(false);

        char *text = NULL;
        assert_true(crisp_metrics_render(&text, "1.2.3", "28.0.0") > 0);
        const char *want[] = {
            "crisp_calls_total{method=\"Version\",code=\"OK\"} 1\n",
            "crisp_call_duration_seconds_bucket{method=\"Version\",le=\"0.001\"} 0\n",
            "crisp_call_duration_seconds_bucket{method=\"Version\",le=\"0.005\"} 1\n",
            "crisp_call_duration_seconds_count{method=\"Version\"} 1\n",
            "crisp_calls_in_flight 1\n",
            "crisp_seccomp_rewrites_total{mode=\"audit\",context=\"container\",from=\"absent\","
            "to=\"RuntimeDefault\"} 1\n",
            "crisp_audit_decisions_total 1\n",
            "crisp_exemptions_total{kind=\"namespace\"} 1\n",
            "crisp_config_reloads_total{result=\"failure\"} 1\n",
            "crisp_build_info{version=\"1.2.3\",grpc=\"28.0.0\"} 1\n",
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (strstr(text, want[i]) == NULL)
                        fail_msg("missing %s in:\n%s", want[i], text);
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(method_labels_are_bounded),
            cmocka_unit_test(render_counts_calls_and_decisions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
