/* crisp's command line: defaults, both endpoint spellings, and a one-line
 * reason for every kind of bad flag. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/options.h"

#define ARGV(...)             ((char *[]){"crisp", __VA_ARGS__, NULL})
#define ARGC(...)             ((int)(sizeof((char *[]){"crisp", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(opts, err, ...) crisp_options_parse(opts, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), err)

static void defaults(void **state)
{
        (void)state;
        struct crisp_options o;
        assert_int_equal(PARSE(&o, NULL, "--listen", "/run/crisp.sock", "--runtime-endpoint",
                               "/run/containerd/containerd.sock"),
                         CRISP_OPTIONS_RUN);
        assert_string_equal(o.listen, "/run/crisp.sock");
        assert_string_equal(o.runtime_endpoint, "/run/containerd/containerd.sock");
        assert_false(o.no_default);
        assert_int_equal(o.ambiguous, CRISP_AMBIGUOUS_RUNTIME_DEFAULT);
        assert_int_equal(o.max_message_size, 16 * 1024 * 1024);
        assert_int_equal(o.socket_mode, 0660);
        assert_int_equal(o.shutdown_grace_ms, 10000);
        assert_string_equal(o.record_path, "");
        assert_int_equal(o.record_max_messages, 64);
        assert_int_equal(o.record_max_size, 256 * 1024 * 1024);
        assert_int_equal(o.record_queue_size, 64 * 1024 * 1024);
        assert_false(o.record_redact);
}

/* The kubelet accepts both unix:///path and /path; so does crisp. */
static void endpoints_accept_both_spellings(void **state)
{
        (void)state;
        struct crisp_options o;
        assert_int_equal(PARSE(&o, NULL, "--listen=unix:///run/crisp.sock",
                               "--runtime-endpoint=unix:///run/crio/crio.sock"),
                         CRISP_OPTIONS_RUN);
        assert_string_equal(o.listen, "/run/crisp.sock");
        assert_string_equal(o.runtime_endpoint, "/run/crio/crio.sock");
}

static void every_flag_is_parsed(void **state)
{
        (void)state;
        struct crisp_options o;
        assert_int_equal(PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b",
                               "--no-default", "--ambiguous-unconfined", "keep",
                               "--max-message-size", "4194304", "--socket-mode", "0600",
                               "--shutdown-grace-period", "3", "--threads", "4", "--log-level",
                               "debug"),
                         CRISP_OPTIONS_RUN);
        assert_true(o.no_default);
        assert_int_equal(o.ambiguous, CRISP_AMBIGUOUS_KEEP);
        assert_int_equal(o.max_message_size, 4194304);
        assert_int_equal(o.socket_mode, 0600);
        assert_int_equal(o.shutdown_grace_ms, 3000);
        assert_int_equal(o.threads, 4);
        assert_int_equal(o.log_level, CRISP_LOG_DEBUG);
}

static void record_flags_are_parsed(void **state)
{
        (void)state;
        struct crisp_options o;
        assert_int_equal(PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b", "--record",
                               "/var/log/crisp.jsonl", "--record-max-messages", "8",
                               "--record-max-size", "1048576", "--record-queue-size", "131072",
                               "--record-redact"),
                         CRISP_OPTIONS_RUN);
        assert_string_equal(o.record_path, "/var/log/crisp.jsonl");
        assert_int_equal(o.record_max_messages, 8);
        assert_int_equal(o.record_max_size, 1048576);
        assert_int_equal(o.record_queue_size, 131072);
        assert_true(o.record_redact);
}

static void pod_spec_flags_are_parsed(void **state)
{
        (void)state;
        struct crisp_options o;
        assert_int_equal(PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b"),
                         CRISP_OPTIONS_RUN);
        assert_string_equal(o.kubeconfig, ""); /* off by default */
        assert_string_equal(o.static_pod_path, "/etc/kubernetes/manifests");
        assert_int_equal(o.pod_spec_wait_ms, 250);
        assert_int_equal(PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b",
                               "--kubeconfig", "/etc/kubernetes/kubelet.conf", "--node-name",
                               "node-1", "--pod-manifest-path", "", "--pod-spec-wait-ms", "0"),
                         CRISP_OPTIONS_RUN);
        assert_string_equal(o.kubeconfig, "/etc/kubernetes/kubelet.conf");
        assert_string_equal(o.node_name, "node-1");
        assert_string_equal(o.static_pod_path, "");
        assert_int_equal(o.pod_spec_wait_ms, 0);
}

static void help_and_version_exit_ok(void **state)
{
        (void)state;
        struct crisp_options o;
        assert_int_equal(PARSE(&o, NULL, "--help"), CRISP_OPTIONS_EXIT_OK);
        assert_true(o.show_help);
        assert_int_equal(PARSE(&o, NULL, "--version"), CRISP_OPTIONS_EXIT_OK);
        assert_true(o.show_version);
}

/* Each bad command line gives an error whose message names the problem. */
static void bad_flags_say_why(void **state)
{
        (void)state;
        struct {
                int argc;
                char **argv;
                const char *says;
        } cases[] = {
            {ARGC("--bogus"), ARGV("--bogus"), "unknown flag --bogus"},
            {ARGC("-x"), ARGV("-x"), "unknown flag -x"},
            {ARGC("--runtime-endpoint", "/b"), ARGV("--runtime-endpoint", "/b"),
             "--listen is required"},
            {ARGC("--listen", "/a"), ARGV("--listen", "/a"), "--runtime-endpoint is required"},
            {ARGC("--listen"), ARGV("--listen"), "needs a value"},
            {ARGC("--listen", "rel.sock"), ARGV("--listen", "rel.sock"), "absolute"},
            {ARGC("--listen", "tcp://1.2.3.4:5"), ARGV("--listen", "tcp://1.2.3.4:5"),
             "only unix sockets"},
            {ARGC("--listen", "/a", "--runtime-endpoint", "/a"),
             ARGV("--listen", "/a", "--runtime-endpoint", "/a"), "the same socket"},
            {ARGC("--ambiguous-unconfined", "maybe"), ARGV("--ambiguous-unconfined", "maybe"),
             "not runtime-default or keep"},
            {ARGC("--max-message-size", "12abc"), ARGV("--max-message-size", "12abc"),
             "not a number"},
            {ARGC("--socket-mode", "0999"), ARGV("--socket-mode", "0999"), "not a number"},
            {ARGC("--log-level", "loud"), ARGV("--log-level", "loud"), "--log-level"},
            {ARGC("--kubeconfig", "kubelet.conf"), ARGV("--kubeconfig", "kubelet.conf"),
             "not an absolute path"},
            {ARGC("--node-name", "Node_1"), ARGV("--node-name", "Node_1"), "not a node name"},
            {ARGC("--pod-spec-wait-ms", "-1"), ARGV("--pod-spec-wait-ms", "-1"),
             "--pod-spec-wait-ms"},
            {ARGC("--pod-manifest-path", "manifests"), ARGV("--pod-manifest-path", "manifests"),
             "not an absolute path"},
            {ARGC("--listen", "/a", "--runtime-endpoint", "/b", "extra"),
             ARGV("--listen", "/a", "--runtime-endpoint", "/b", "extra"), "unexpected argument"},
            {ARGC("--listen", "/a", "--runtime-endpoint", "/b", "--record-redact"),
             ARGV("--listen", "/a", "--runtime-endpoint", "/b", "--record-redact"),
             "--record-redact needs --record FILE"},
            {ARGC("--listen", "/a", "--runtime-endpoint", "/b", "--record-max-size", "10"),
             ARGV("--listen", "/a", "--runtime-endpoint", "/b", "--record-max-size", "10"),
             "--record-max-size: '10' is not a number"},
            {ARGC("--record-max-messages", "0"), ARGV("--record-max-messages", "0"),
             "--record-max-messages"},
            {ARGC("--record", ""), ARGV("--record", ""), "--record: the file name is empty"},
            {ARGC("--mode", "strict"), ARGV("--mode", "strict"),
             "--mode: 'strict' is not enforce, audit, complain or off"},
            {ARGC("--log-format", "xml"), ARGV("--log-format", "xml"), "not text or json"},
            {ARGC("--metrics-listen", "9760"), ARGV("--metrics-listen", "9760"), "HOST:PORT"},
            {ARGC("--config", "/nonexistent.yaml"), ARGV("--config", "/nonexistent.yaml"),
             "/nonexistent.yaml"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct crisp_options o;
                crisp_error *err = NULL;
                assert_true(crisp_options_parse(&o, cases[i].argc, cases[i].argv, &err) < 0);
                assert_non_null(err);
                if (strstr(err->msg, cases[i].says) == NULL)
                        fail_msg("case %zu: '%s' does not say '%s'", i, err->msg, cases[i].says);
                crisp_error_free(&err);
        }
}

/* Issue 6: --mode, with --no-default kept as an alias of --mode off. */
static void mode_flags(void **state)
{
        (void)state;
        struct crisp_options o;
        assert_int_equal(PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b"),
                         CRISP_OPTIONS_RUN);
        assert_int_equal(o.policy.mode, CRISP_MODE_ENFORCE);
        assert_int_equal(PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b", "--mode",
                               "audit", "--log-format", "json", "--metrics-listen",
                               "127.0.0.1:9760"),
                         CRISP_OPTIONS_RUN);
        assert_int_equal(o.policy.mode, CRISP_MODE_AUDIT);
        assert_false(o.no_default);
        assert_int_equal(o.log_format, CRISP_LOG_JSON);
        assert_string_equal(o.metrics_listen, "127.0.0.1:9760");
        assert_int_equal(
            PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b", "--no-default"),
            CRISP_OPTIONS_RUN);
        assert_int_equal(o.policy.mode, CRISP_MODE_OFF);
        assert_true(o.no_default);
        assert_int_equal(PARSE(&o, NULL, "--listen", "/a", "--runtime-endpoint", "/b",
                               "--metrics-listen", "/run/crisp/metrics.sock"),
                         CRISP_OPTIONS_RUN);
        assert_string_equal(o.metrics_listen, "/run/crisp/metrics.sock");
}

static void long_socket_paths_are_refused(void **state)
{
        (void)state;
        char path[200];
        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        char out[108];
        crisp_error *err = NULL;
        assert_int_equal(crisp_endpoint_to_path(path, out, sizeof(out), &err), -ENAMETOOLONG);
        crisp_error_free(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults),
            cmocka_unit_test(endpoints_accept_both_spellings),
            cmocka_unit_test(every_flag_is_parsed),
            cmocka_unit_test(record_flags_are_parsed),
            cmocka_unit_test(pod_spec_flags_are_parsed),
            cmocka_unit_test(help_and_version_exit_ok),
            cmocka_unit_test(bad_flags_say_why),
            cmocka_unit_test(long_socket_paths_are_refused),
            cmocka_unit_test(mode_flags),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
