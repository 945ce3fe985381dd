/* The config file: every key parsed, flags override it, and each kind of
 * error names the file, the line and the key. */
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

#include "config/config.h"
#include "config/options.h"

static char path[64];

/* Writes `text` to a fresh temporary file; its name is in `path`. */
static void write_config(const char *text)
{
        snprintf(path, sizeof(path), "/tmp/crisp-config-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

/* Parses `crisp --config path [flags...]`; returns the result. */
static int parse_with(struct crisp_options *o, crisp_error **err, int n_flags, char **flags)
{
        char *argv[16] = {"crisp", "--config", path};
        int argc = 3;
        for (int i = 0; i < n_flags; i++)
                argv[argc++] = flags[i];
        argv[argc] = NULL;
        int r = crisp_options_parse(o, argc, argv, err);
        unlink(path);
        return r;
}

static const char every_key[] = "listen: unix:///run/crisp/crisp.sock\n"
                                "runtimeEndpoint: /run/containerd/containerd.sock\n"
                                "mode: audit\n"
                                "ambiguousUnconfined: keep\n"
                                "defaultProfile:\n"
                                "  type: Localhost\n"
                                "  path: /etc/crisp/profile.json\n"
                                "exemptions:\n"
                                "  namespaces: [kube-system, monitoring]\n"
                                "  podLabels:\n"
                                "    crisp.io/exempt: \"true\"\n"
                                "    team: infra\n"
                                "  runtimeHandlers: [kata]\n"
                                "log:\n"
                                "  format: json\n"
                                "  level: warn\n"
                                "metrics:\n"
                                "  listen: 127.0.0.1:9760\n"
                                "maxMessageSize: 4194304\n"
                                "socketMode: \"0600\"\n"
                                "shutdownGracePeriod: 3\n"
                                "threads: 4\n"
                                "record:\n"
                                "  path: /var/log/crisp.jsonl\n"
                                "  maxMessages: 8\n"
                                "  maxSize: 1048576\n"
                                "  queueSize: 1048576\n"
                                "  redact: true\n"
                                "podSpec:\n"
                                "  kubeconfig: /etc/kubernetes/kubelet.conf\n"
                                "  nodeName: worker-1.example\n"
                                "  staticPodPath: /etc/kubernetes/static\n"
                                "  waitMilliseconds: 500\n";

static void every_key_is_parsed(void **state)
{
        (void)state;
        struct crisp_options o;
        write_config(every_key);
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(parse_with(&o, &err, 0, NULL), CRISP_OPTIONS_RUN);
        assert_string_equal(o.listen, "/run/crisp/crisp.sock");
        assert_string_equal(o.runtime_endpoint, "/run/containerd/containerd.sock");
        assert_int_equal(o.policy.mode, CRISP_MODE_AUDIT);
        assert_false(o.no_default);
        assert_int_equal(o.policy.ambiguous, CRISP_AMBIGUOUS_KEEP);
        assert_int_equal(o.ambiguous, CRISP_AMBIGUOUS_KEEP);
        assert_string_equal(o.policy.default_profile_path, "/etc/crisp/profile.json");
        assert_int_equal(o.policy.n_namespaces, 2);
        assert_string_equal(o.policy.namespaces[0], "kube-system");
        assert_string_equal(o.policy.namespaces[1], "monitoring");
        assert_int_equal(o.policy.n_pod_labels, 2);
        assert_string_equal(o.policy.pod_labels[0].key, "crisp.io/exempt");
        assert_string_equal(o.policy.pod_labels[0].value, "true");
        assert_string_equal(o.policy.pod_labels[1].key, "team");
        assert_string_equal(o.policy.pod_labels[1].value, "infra");
        assert_int_equal(o.policy.n_runtime_handlers, 1);
        assert_string_equal(o.policy.runtime_handlers[0], "kata");
        assert_int_equal(o.log_format, CRISP_LOG_JSON);
        assert_int_equal(o.log_level, CRISP_LOG_WARN);
        assert_string_equal(o.metrics_listen, "127.0.0.1:9760");
        assert_int_equal(o.max_message_size, 4194304);
        assert_int_equal(o.socket_mode, 0600);
        assert_int_equal(o.shutdown_grace_ms, 3000);
        assert_int_equal(o.threads, 4);
        assert_string_equal(o.record_path, "/var/log/crisp.jsonl");
        assert_int_equal(o.record_max_messages, 8);
        assert_int_equal(o.record_max_size, 1048576);
        assert_int_equal(o.record_queue_size, 1048576);
        assert_true(o.record_redact);
        assert_string_equal(o.kubeconfig, "/etc/kubernetes/kubelet.conf");
        assert_string_equal(o.node_name, "worker-1.example");
        assert_string_equal(o.static_pod_path, "/etc/kubernetes/static");
        assert_int_equal(o.pod_spec_wait_ms, 500);
        crisp_options_release(&o);
}

static void flags_override_the_file(void **state)
{
        (void)state;
        struct crisp_options o;
        write_config(every_key);
        char *flags[] = {"--mode",       "enforce", "--listen",  "/run/other.sock",
                         "--log-format", "text",    "--threads", "2"};
        assert_int_equal(parse_with(&o, NULL, 8, flags), CRISP_OPTIONS_RUN);
        assert_int_equal(o.policy.mode, CRISP_MODE_ENFORCE);
        assert_string_equal(o.listen, "/run/other.sock");
        assert_int_equal(o.log_format, CRISP_LOG_TEXT);
        assert_int_equal(o.threads, 2);
        /* ...and what no flag touched comes from the file. */
        assert_int_equal(o.policy.n_namespaces, 2);
        assert_string_equal(o.runtime_endpoint, "/run/containerd/containerd.sock");
        crisp_options_release(&o);
}

static void no_default_flag_is_mode_off(void **state)
{
        (void)state;
        struct crisp_options o;
        write_config("listen: /a\nruntimeEndpoint: /b\nmode: enforce\n");
        char *flags[] = {"--no-default"};
        assert_int_equal(parse_with(&o, NULL, 1, flags), CRISP_OPTIONS_RUN);
        assert_int_equal(o.policy.mode, CRISP_MODE_OFF);
        assert_true(o.no_default);
        crisp_options_release(&o);
}

static void runtime_default_profile_is_no_path(void **state)
{
        (void)state;
        struct crisp_options o;
        write_config("listen: /a\nruntimeEndpoint: /b\ndefaultProfile: {type: RuntimeDefault}\n");
        assert_int_equal(parse_with(&o, NULL, 0, NULL), CRISP_OPTIONS_RUN);
        assert_null(o.policy.default_profile_path);
        crisp_options_release(&o);
}

/* The file must fail with a message holding every `want` fragment. */
static void assert_config_error(const char *text, const char *want1, const char *want2)
{
        struct crisp_options o;
        write_config(text);
        char file[64];
        snprintf(file, sizeof(file), "%s", path);
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(parse_with(&o, &err, 0, NULL), -EINVAL);
        assert_non_null(err);
        if (strstr(err->msg, file) == NULL || strstr(err->msg, want1) == NULL ||
            (want2 && strstr(err->msg, want2) == NULL))
                fail_msg("error '%s' lacks '%s' / '%s' / '%s'", err->msg, file, want1,
                         want2 ? want2 : "");
        crisp_options_release(&o);
}

static void unknown_key_names_line_and_key(void **state)
{
        (void)state;
        assert_config_error("listen: /a\nruntimeEndpoint: /b\nlisten_typo: /c\n",
                            ":3: listen_typo: unknown key", "allowed here: listen");
        assert_config_error("exemptions:\n  namespace: [a]\n",
                            ":2: exemptions.namespace: unknown key",
                            "namespaces, podLabels, runtimeHandlers");
        assert_config_error("log:\n  colour: red\n", ":2: log.colour", "format, level");
}

static void wrong_type_is_reported(void **state)
{
        (void)state;
        assert_config_error("exemptions:\n  namespaces: kube-system\n",
                            ":2: exemptions.namespaces: expected a list", "found a scalar");
        assert_config_error("mode: [audit]\n", ":1: mode: expected a value", "found a list");
        assert_config_error("log: json\n", ":1: log: expected a mapping", NULL);
        assert_config_error("threads: many\n", ":1: threads: 'many' is not a number", "1 to 64");
        assert_config_error("record:\n  redact: yes please\n", ":2: record.redact",
                            "not true or false");
}

static void bad_enum_value_says_what_is_allowed(void **state)
{
        (void)state;
        assert_config_error("mode: enforcing\n", ":1: mode: 'enforcing'",
                            "enforce, audit, complain or off");
        assert_config_error("ambiguousUnconfined: drop\n", ":1: ambiguousUnconfined",
                            "runtime-default or keep");
        assert_config_error("log:\n  format: xml\n", ":2: log.format: 'xml'", "text or json");
        assert_config_error("defaultProfile: {type: Unconfined}\n", "defaultProfile.type",
                            "RuntimeDefault or Localhost");
}

static void relative_and_missing_paths_are_refused(void **state)
{
        (void)state;
        assert_config_error("defaultProfile:\n  type: Localhost\n  path: profiles/x.json\n",
                            ":3: defaultProfile.path: 'profiles/x.json' is not an absolute path",
                            NULL);
        assert_config_error("defaultProfile:\n  type: Localhost\n", ":2: defaultProfile",
                            "needs a path");
        assert_config_error("defaultProfile:\n  type: RuntimeDefault\n  path: /x.json\n",
                            "defaultProfile", "takes no path");
        assert_config_error("listen: run/crisp.sock\n", ":1: listen", "must be absolute");
        assert_config_error("metrics:\n  listen: localhost\n", ":2: metrics.listen", "HOST:PORT");
}

static void duplicates_and_bad_yaml_are_refused(void **state)
{
        (void)state;
        assert_config_error("mode: audit\nmode: off\n", ":2: mode: given twice", "line 1");
        assert_config_error("mode: [audit\n", "not valid YAML", NULL);
        assert_config_error("", ":1: the file is empty", NULL);
        assert_config_error("exemptions:\n  namespaces: [\"\"]\n", ":2: exemptions.namespaces",
                            "empty");
        assert_config_error("podSpec:\n  kubeconfig: kubelet.conf\n", ":2: podSpec.kubeconfig",
                            "not an absolute path");
        assert_config_error("podSpec:\n  nodeName: Node_1\n", ":2: podSpec.nodeName",
                            "not a node name");
        assert_config_error("podSpec:\n  waitMilliseconds: 20000\n", ":2: podSpec.waitMilliseconds",
                            NULL);
        assert_config_error("podSpec:\n  server: x\n", ":2: podSpec.server", "unknown key");
}

/* A quoted scalar may hold "\0"; crisp reads values as C strings, which end
 * there: "off\0 enforce" would be read as off. Found by tests/fuzz/fuzz_config.c. */
static void nul_in_a_scalar_is_refused(void **state)
{
        (void)state;
        assert_config_error("mode: \"off\\0 enforce\"\n", ":1: mode:", "NUL character");
        assert_config_error("\"mode\\0x\": audit\n", ":1:", "NUL character");
        assert_config_error("defaultProfile:\n  type: Localhost\n  path: \"/p.json\\0.bak\"\n",
                            ":3: defaultProfile.path", "NUL character");
        assert_config_error("exemptions:\n  namespaces: [\"a\\x00b\"]\n",
                            ":2: exemptions.namespaces", "NUL character");
}

/* deploy/crisp.yaml lists every key with its default: loading it must give
 * exactly what no file gives. */
static void shipped_example_holds_the_defaults(void **state)
{
        (void)state;
        struct crisp_options from_file, built_in;
        char *argv[] = {"crisp", "--config", CRISP_SOURCE_DIR "/deploy/crisp.yaml", NULL};
        _cleanup_error_ crisp_error *err = NULL;
        int r = crisp_options_parse(&from_file, 3, argv, &err);
        if (r < 0)
                fail_msg("deploy/crisp.yaml: %s", err->msg);
        char *bare[] = {"crisp",
                        "--listen",
                        "/run/crisp/crisp.sock",
                        "--runtime-endpoint",
                        "/run/containerd/containerd.sock",
                        NULL};
        assert_int_equal(crisp_options_parse(&built_in, 5, bare, NULL), CRISP_OPTIONS_RUN);
        memset(from_file.config_path, 0, sizeof(from_file.config_path));
        assert_int_equal(from_file.policy.n_namespaces, 0);
        assert_int_equal(from_file.policy.n_pod_labels, 0);
        assert_int_equal(from_file.policy.n_runtime_handlers, 0);
        assert_null(from_file.policy.default_profile_path);
        assert_int_equal(from_file.policy.mode, built_in.policy.mode);
        assert_int_equal(from_file.policy.ambiguous, built_in.policy.ambiguous);
        /* Everything else is plain data: compare it whole. */
        struct crisp_policy none = {0};
        from_file.policy = none;
        built_in.policy = none;
        assert_memory_equal(&from_file, &built_in, sizeof(from_file));
}

static void missing_file_is_refused(void **state)
{
        (void)state;
        struct crisp_options o;
        char *argv[] = {"crisp", "--config", "/nonexistent/crisp.yaml", NULL};
        _cleanup_error_ crisp_error *err = NULL;
        assert_true(crisp_options_parse(&o, 3, argv, &err) < 0);
        assert_non_null(strstr(err->msg, "/nonexistent/crisp.yaml"));
        crisp_options_release(&o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(every_key_is_parsed),
            cmocka_unit_test(flags_override_the_file),
            cmocka_unit_test(no_default_flag_is_mode_off),
            cmocka_unit_test(runtime_default_profile_is_no_path),
            cmocka_unit_test(unknown_key_names_line_and_key),
            cmocka_unit_test(wrong_type_is_reported),
            cmocka_unit_test(bad_enum_value_says_what_is_allowed),
            cmocka_unit_test(relative_and_missing_paths_are_refused),
            cmocka_unit_test(duplicates_and_bad_yaml_are_refused),
            cmocka_unit_test(nul_in_a_scalar_is_refused),
            cmocka_unit_test(missing_file_is_refused),
            cmocka_unit_test(shipped_example_holds_the_defaults),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
