/* libFuzzer target: the config file parser (--config FILE, src/config/config.c),
 * through crisp_config_load_buffer, which reads the same bytes a file would
 * hold from memory.
 *
 * Input: the file's bytes, as they are.
 *
 * Besides "no crash, no leak, no undefined behaviour" (ASan, LSan, UBSan),
 * every run checks these invariants and traps when one does not hold:
 *
 *  1. The call fails (negative errno, EINVAL or ENOMEM, err set with that
 *     code) or succeeds (0, err untouched).
 *  2. An error names the file and a line of it (or the end of the stream
 *     after its last line): "fuzz.yaml:LINE: " and something after it
 *     (ENOMEM: "fuzz.yaml: out of memory").
 *  3. Success: every option is within the range deploy/crisp.yaml documents
 *     (numbers, enums, absolute socket paths, NUL-terminated buffers), the
 *     derived fields agree with the policy, exemption lists hold no empty
 *     or NULL entries, and a Localhost profile has an absolute path.
 *  4. Success: the file said what crisp applies. Every key is known on
 *     success, so every scalar of the document was read by crisp; none of
 *     them may hold a NUL byte, which C string functions would silently cut
 *     ("mode: \"off\\0...\"" read as off).
 *  5. The options, failed or not, are released without a leak. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config.h"
#include "config/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.yaml"

#define FUZZ_TARGET "fuzz_config"
#include "fuzz_check.h"

/* An upper bound of the line numbers libyaml can give for the input: it
 * breaks lines at \n, \r, NEL (C2 85) and LS/PS (E2 80 A8/A9) in UTF-8, and
 * puts the end of the stream on a line of its own when the last line has no
 * break (one more); with a UTF-16 byte order mark, any byte might belong to
 * a break. */
static unsigned long max_line(const uint8_t *d, size_t n)
{
        if (n >= 2 && ((d[0] == 0xff && d[1] == 0xfe) || (d[0] == 0xfe && d[1] == 0xff)))
                return (unsigned long)n + 2;
        unsigned long lines = 2;
        for (size_t i = 0; i < n; i++)
                if (d[i] == '\n' || d[i] == '\r' || d[i] == 0x85 || d[i] == 0xa8 || d[i] == 0xa9)
                        lines++;
        return lines;
}

static void check_error(int r, const crisp_error *err, const uint8_t *data, size_t size)
{
        CHECK(err != NULL, "failure %d without an error", r);
        CHECK(err->code == EINVAL || err->code == ENOMEM, "error code %d: %s", err->code, err->msg);
        CHECK(r == -err->code, "return %d, error code %d", r, err->code);
        CHECK(err->msg != NULL, "error without a message");
        if (err->code == ENOMEM)
                return;
        const char *m = err->msg;
        CHECK(strncmp(m, NAME ":", strlen(NAME ":")) == 0, "error does not name the file: %s", m);
        char *end = NULL;
        unsigned long line = strtoul(m + strlen(NAME ":"), &end, 10);
        CHECK(end != m + strlen(NAME ":") && line >= 1 && line <= max_line(data, size),
              "error names line %lu of at most %lu: %s", line, max_line(data, size), m);
        CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0', "error says nothing: %s", m);
}

static void check_c_string(const char *s, size_t size, const char *what)
{
        CHECK(strnlen(s, size) < size, "%s is not NUL-terminated", what);
}

static void check_socket_path(const char *s, size_t size, const char *what)
{
        check_c_string(s, size, what);
        CHECK(s[0] == '\0' || s[0] == '/', "%s '%s' is not absolute", what, s);
}

static void check_strings(char *const *v, size_t n, const char *what)
{
        CHECK(n == 0 || v != NULL, "%s: %zu entries, no array", what, n);
        for (size_t i = 0; i < n; i++)
                CHECK(v[i] != NULL && v[i][0] != '\0', "%s[%zu] is NULL or empty", what, i);
}

static void check_ranges(const struct crisp_options *o)
{
        check_socket_path(o->listen, sizeof(o->listen), "listen");
        check_socket_path(o->runtime_endpoint, sizeof(o->runtime_endpoint), "runtimeEndpoint");
        CHECK(o->policy.mode <= CRISP_MODE_OFF, "mode %d", (int)o->policy.mode);
        CHECK(o->policy.ambiguous <= CRISP_AMBIGUOUS_KEEP, "ambiguousUnconfined %d",
              (int)o->policy.ambiguous);
        CHECK(o->ambiguous == o->policy.ambiguous, "ambiguous %d, policy.ambiguous %d",
              (int)o->ambiguous, (int)o->policy.ambiguous);
        CHECK(o->no_default == (o->policy.mode == CRISP_MODE_OFF), "no_default %d, mode %d",
              o->no_default, (int)o->policy.mode);
        CHECK(o->max_message_size >= 1024 && o->max_message_size <= INT_MAX, "maxMessageSize %zu",
              o->max_message_size);
        CHECK(o->socket_mode <= 0777, "socketMode %o", (unsigned)o->socket_mode);
        CHECK(o->shutdown_grace_ms >= 0 && o->shutdown_grace_ms <= 3600 * 1000 &&
                  o->shutdown_grace_ms % 1000 == 0,
              "shutdownGracePeriod %ld ms", o->shutdown_grace_ms);
        CHECK(o->threads >= 1 && o->threads <= 64, "threads %d", o->threads);
        CHECK(o->log_level <= CRISP_LOG_DEBUG, "log.level %d", (int)o->log_level);
        CHECK(o->log_format <= CRISP_LOG_JSON, "log.format %d", (int)o->log_format);

        check_c_string(o->metrics_listen, sizeof(o->metrics_listen), "metrics.listen");
        crisp_error *merr = NULL;
        CHECK(o->metrics_listen[0] == '\0' ||
                  crisp_metrics_address_check(o->metrics_listen, &merr) == 0,
              "metrics.listen '%s' does not pass its own check", o->metrics_listen);
        check_c_string(o->record_path, sizeof(o->record_path), "record.path");
        CHECK(o->record_max_messages >= 1 && o->record_max_messages <= 1000000,
              "record.maxMessages %u", o->record_max_messages);
        CHECK(o->record_max_size >= 4096 && o->record_max_size <= LONG_MAX, "record.maxSize %llu",
              o->record_max_size);
        CHECK(o->record_queue_size >= 65536 && o->record_queue_size <= LONG_MAX,
              "record.queueSize %zu", o->record_queue_size);

        const struct crisp_policy *p = &o->policy;
        CHECK(p->default_profile_path == NULL || p->default_profile_path[0] == '/',
              "defaultProfile.path '%s' is not absolute", p->default_profile_path);
        check_strings(p->namespaces, p->n_namespaces, "exemptions.namespaces");
        check_strings(p->runtime_handlers, p->n_runtime_handlers, "exemptions.runtimeHandlers");
        CHECK(p->n_pod_labels == 0 || p->pod_labels != NULL, "podLabels: no array");
        for (size_t i = 0; i < p->n_pod_labels; i++) {
                CHECK(p->pod_labels[i].key != NULL && p->pod_labels[i].key[0] != '\0',
                      "podLabels[%zu]: no key", i);
                CHECK(p->pod_labels[i].value != NULL, "podLabels[%zu]: no value", i);
                for (size_t k = 0; k < i; k++)
                        CHECK(strcmp(p->pod_labels[k].key, p->pod_labels[i].key) != 0,
                              "podLabels: key '%s' twice", p->pod_labels[i].key);
        }
}

/* 4: reads the document again with libyaml and looks for a NUL byte in any
 * scalar. */
static void check_no_nul_in_scalars(const uint8_t *data, size_t size)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        CHECK(yaml_parser_initialize(&parser), "yaml_parser_initialize");
        yaml_parser_set_input_string(&parser, data, size);
        int ok = yaml_parser_load(&parser, &doc);
        yaml_parser_delete(&parser);
        CHECK(ok, "crisp accepted what libyaml does not load");
        for (yaml_node_t *n = doc.nodes.start; n < doc.nodes.top; n++) {
                if (n->type != YAML_SCALAR_NODE)
                        continue;
                size_t len = n->data.scalar.length;
                CHECK(strlen((const char *)n->data.scalar.value) == len,
                      "accepted a scalar holding a NUL byte, on line %lu: '%s'...",
                      (unsigned long)n->start_mark.line + 1, (const char *)n->data.scalar.value);
        }
        yaml_document_delete(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct crisp_options o;
        crisp_options_defaults(&o);
        crisp_error *err = NULL;
        int r = crisp_config_load_buffer(NAME, (const char *)data, size, &o, &err);
        if (r < 0) {
                check_error(r, err, data, size);
        } else {
                CHECK(r == 0, "returned %d", r);
                CHECK(err == NULL, "success with an error set: %s", err->msg);
                check_ranges(&o);
                check_no_nul_in_scalars(data, size);
        }
        crisp_error_free(&err);
        crisp_options_release(&o);
        return 0;
}
