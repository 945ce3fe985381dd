/* issue 14: the complain report's tables (src/complain/report.c):
 * containers, pid -> container, findings counted once per (workload,
 * syscall), bounds, and the JSON crisp report reads. */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "complain/report.h"

static void id_of(int n, char id[65])
{
        snprintf(id, 65, "%064x", n);
}

static struct crisp_workload wl(const char *ns, const char *pod, const char *c)
{
        struct crisp_workload w;
        snprintf(w.namespace_, sizeof(w.namespace_), "%s", ns);
        snprintf(w.pod, sizeof(w.pod), "%s", pod);
        snprintf(w.container, sizeof(w.container), "%s", c);
        return w;
}

static void findings_count_once_per_syscall(void **state)
{
        (void)state;
        struct crisp_report *r = crisp_report_new();
        char a[65], b[65];
        id_of(1, a);
        id_of(2, b);
        struct crisp_workload wa = wl("ns", "bad", "c"), wb = wl("ns", "good", "c"), got;
        crisp_report_add_container(r, a, &wa, 100);
        crisp_report_add_container(r, b, &wb, 100);
        assert_int_equal(crisp_report_hit(r, a, "keyctl", 10, &got), 1);
        assert_string_equal(got.pod, "bad");
        assert_int_equal(crisp_report_hit(r, a, "keyctl", 20, NULL), 2);
        assert_int_equal(crisp_report_hit(r, a, "unshare", 15, NULL), 1);
        char unknown[65];
        id_of(3, unknown);
        assert_int_equal(crisp_report_hit(r, unknown, "keyctl", 1, NULL), 0);
        assert_int_equal(crisp_report_hit(r, "", "keyctl", 1, NULL), 0);
        struct crisp_report_counters c;
        crisp_report_counters(r, &c);
        assert_int_equal(c.records, 3);
        assert_int_equal(c.unattributed, 2);

        char *text = crisp_report_json(r);
        json_object *doc = json_tokener_parse(text), *rows, *v;
        assert_non_null(doc);
        assert_true(json_object_object_get_ex(doc, "workloads", &rows));
        assert_int_equal(json_object_array_length(rows), 2);
        for (size_t i = 0; i < 2; i++) {
                json_object *row = json_object_array_get_idx(rows, i), *calls;
                json_object_object_get_ex(row, "pod", &v);
                bool bad = strcmp(json_object_get_string(v), "bad") == 0;
                json_object_object_get_ex(row, "would_break", &v);
                assert_int_equal(json_object_get_boolean(v), bad);
                json_object_object_get_ex(row, "syscalls", &calls);
                assert_int_equal(json_object_array_length(calls), bad ? 2 : 0);
                if (bad) {
                        json_object *k = json_object_array_get_idx(calls, 0);
                        json_object_object_get_ex(k, "name", &v);
                        assert_string_equal(json_object_get_string(v), "keyctl");
                        json_object_object_get_ex(k, "count", &v);
                        assert_int_equal(json_object_get_int(v), 2);
                        json_object_object_get_ex(k, "first_seen", &v);
                        assert_int_equal(json_object_get_int(v), 10);
                        json_object_object_get_ex(k, "last_seen", &v);
                        assert_int_equal(json_object_get_int(v), 20);
                }
        }
        json_object_put(doc);
        free(text);
        crisp_report_free(r);
}

static void restarts_merge_into_one_workload(void **state)
{
        (void)state;
        struct crisp_report *r = crisp_report_new();
        char a[65], b[65];
        id_of(1, a);
        id_of(2, b);
        struct crisp_workload w = wl("ns", "p", "c");
        crisp_report_add_container(r, a, &w, 1);
        crisp_report_add_container(r, b, &w, 2); /* the same container, restarted */
        assert_int_equal(crisp_report_hit(r, a, "mount", 1, NULL), 1);
        assert_int_equal(crisp_report_hit(r, b, "mount", 2, NULL), 2);
        char *text = crisp_report_json(r);
        json_object *doc = json_tokener_parse(text), *rows;
        json_object_object_get_ex(doc, "workloads", &rows);
        assert_int_equal(json_object_array_length(rows), 1);
        json_object_put(doc);
        free(text);
        crisp_report_free(r);
}

static void pids(void **state)
{
        (void)state;
        struct crisp_report *r = crisp_report_new();
        char a[65], got[65];
        id_of(7, a);
        struct crisp_workload w = wl("ns", "p", "c");
        assert_false(crisp_report_pid(r, 42, got));
        crisp_report_set_pid(r, 42, a); /* not a known container: nothing */
        assert_false(crisp_report_pid(r, 42, got));
        crisp_report_add_container(r, a, &w, 1);
        crisp_report_set_pid(r, 42, a);
        assert_true(crisp_report_pid(r, 42, got));
        assert_string_equal(got, a);
        /* the same slot, another pid: the older is forgotten */
        crisp_report_set_pid(r, 42 + CRISP_REPORT_PID_SLOTS, a);
        assert_false(crisp_report_pid(r, 42, got));
        /* a reused pid of a process outside: cleared */
        crisp_report_set_pid(r, 42 + CRISP_REPORT_PID_SLOTS, NULL);
        assert_false(crisp_report_pid(r, 42 + CRISP_REPORT_PID_SLOTS, got));
        assert_false(crisp_report_pid(r, 0, got));
        assert_false(crisp_report_pid(r, -5, got));
        crisp_report_free(r);
}

static void bounded(void **state)
{
        (void)state;
        struct crisp_report *r = crisp_report_new();
        char id[65];
        for (int i = 0; i < CRISP_REPORT_MAX_CONTAINERS + 10; i++) {
                char pod[32];
                snprintf(pod, sizeof(pod), "p%d", i);
                struct crisp_workload w = wl("ns", pod, "c");
                id_of(i, id);
                crisp_report_add_container(r, id, &w, i);
        }
        id_of(0, id);
        assert_false(crisp_report_knows(r, id)); /* the oldest went first */
        id_of(CRISP_REPORT_MAX_CONTAINERS + 9, id);
        assert_true(crisp_report_knows(r, id));
        for (int i = 0; i < CRISP_REPORT_MAX_FINDINGS + 5; i++) {
                char name[32];
                snprintf(name, sizeof(name), "s%d", i);
                crisp_report_hit(r, id, name, 1, NULL);
        }
        struct crisp_report_counters c;
        crisp_report_counters(r, &c);
        assert_int_equal(c.dropped, 5);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        crisp_report_metrics(r, f);
        fclose(f);
        size_t series = 0;
        for (char *p = buf; (p = strstr(p, "\ncrisp_complain_syscalls_total{")); p++)
                series++;
        assert_int_equal(series, CRISP_REPORT_MAX_FINDINGS);
        assert_non_null(strstr(buf, "crisp_complain_findings_dropped_total 5\n"));
        free(buf);
        crisp_report_free(r);
}

static void metric_labels_are_escaped(void **state)
{
        (void)state;
        struct crisp_report *r = crisp_report_new();
        char id[65];
        id_of(1, id);
        struct crisp_workload w = wl("n\"s", "p\\od", "c");
        crisp_report_add_container(r, id, &w, 1);
        crisp_report_hit(r, id, "keyctl", 1, NULL);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        crisp_report_metrics(r, f);
        fclose(f);
        assert_non_null(strstr(buf,
                               "crisp_complain_syscalls_total{namespace=\"n\\\"s\",pod=\"p\\\\od\","
                               "container=\"c\",syscall=\"keyctl\"} 1\n"));
        free(buf);
        crisp_report_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(findings_count_once_per_syscall),
            cmocka_unit_test(restarts_merge_into_one_workload),
            cmocka_unit_test(pids),
            cmocka_unit_test(bounded),
            cmocka_unit_test(metric_labels_are_escaped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
