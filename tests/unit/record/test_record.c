/* Writing a record as a JSON line: what the recorder writes, the replay reads
 * back exactly; wire strings that are not UTF-8 still give valid JSON; and
 * --record-redact leaves no environment value or exec output behind while
 * the message still decodes with everything else kept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cri_redact.pb-c.h"
#include "record/record.h"
#include "record/recording.h"
#include "record/redact.h"

#define CREATE "/runtime.v1.RuntimeService/CreateContainer"
#define EXEC   "/runtime.v1alpha2.RuntimeService/ExecSync"

static struct crisp_call_record *new_record(const char *method)
{
        struct crisp_call_record *r = calloc(1, sizeof(*r));
        r->method = strdup(method);
        r->duration_us = -1;
        return r;
}

static void add(struct crisp_msg_list *l, const void *data, size_t len)
{
        assert_int_equal(crisp_msg_list_append(l, data, len), 0);
}

/* Writes r as a line and reads it back. */
static struct crisp_call_record *round_trip(const struct crisp_call_record *r, bool redact,
                                            char **line_out)
{
        char *line = NULL;
        size_t len = 0;
        assert_int_equal(crisp_record_to_json(r, redact, &line, &len, NULL), 0);
        assert_true(len > 2);
        assert_int_equal(line[len - 1], '\n');
        assert_null(memchr(line, '\n', len - 1)); /* one line */
        struct crisp_call_record *back = NULL;
        crisp_error *err = NULL;
        if (crisp_recording_parse_line("mem", 1, line, len - 1, true, &back, &err) < 0)
                fail_msg("%s\nline: %s", err->msg, line);
        if (line_out)
                *line_out = line;
        else
                free(line);
        return back;
}

static void every_key_round_trips(void **state)
{
        (void)state;
        struct crisp_call_record *r = new_record(CREATE);
        struct timespec ts = {.tv_sec = 1795900458, .tv_nsec = 913456789};
        crisp_format_rfc3339(&ts, r->time, sizeof(r->time));
        assert_string_equal(r->time, "2026-11-28T21:14:18.913456Z");
        r->duration_us = 42;
        r->pod_namespace = strdup("ns");
        r->pod_name = strdup("web \"1\"");
        r->pod_uid = strdup("u");
        r->container = strdup("app");
        add(&r->requests, "\x00\x01\xff", 3);
        r->has_forwarded = true;
        add(&r->forwarded, "\x0a", 1);
        r->has_responses = true;
        add(&r->responses, "", 0);
        add(&r->responses, "abcd", 4);
        r->has_code = true;
        r->code = 14;
        r->details = strdup("down\n\ttab \\ \x01");
        r->details_len = strlen(r->details);
        r->dropped_requests = 2;
        r->dropped_responses = 5;

        struct crisp_call_record *b = round_trip(r, false, NULL);
        assert_string_equal(b->method, CREATE);
        assert_string_equal(b->time, r->time);
        assert_int_equal(b->duration_us, 42);
        assert_string_equal(b->pod_namespace, "ns");
        assert_string_equal(b->pod_name, "web \"1\"");
        assert_string_equal(b->pod_uid, "u");
        assert_string_equal(b->container, "app");
        assert_int_equal(b->requests.n, 1);
        assert_memory_equal(b->requests.items[0].data, "\x00\x01\xff", 3);
        assert_true(b->has_forwarded);
        assert_memory_equal(b->forwarded.items[0].data, "\x0a", 1);
        assert_int_equal(b->responses.n, 2);
        assert_int_equal(b->responses.items[0].len, 0);
        assert_memory_equal(b->responses.items[1].data, "abcd", 4);
        assert_int_equal(b->code, 14);
        assert_string_equal(b->details, r->details);
        assert_int_equal(b->dropped_requests, 2);
        assert_int_equal(b->dropped_responses, 5);
        crisp_call_record_free(b);
        crisp_call_record_free(r);
}

static void absent_keys_stay_absent(void **state)
{
        (void)state;
        struct crisp_call_record *r = new_record("/a.B/C");
        char *line = NULL;
        struct crisp_call_record *b = round_trip(r, false, &line);
        assert_string_equal(line, "{\"method\":\"/a.B/C\",\"requests\":[]}\n");
        assert_false(b->has_forwarded || b->has_responses || b->has_code);
        free(line);
        crisp_call_record_free(b);
        crisp_call_record_free(r);
}

/* A status message from the wire may be any bytes; the line stays JSON. */
static void bytes_that_are_not_utf8_become_replacement_characters(void **state)
{
        (void)state;
        struct crisp_call_record *r = new_record("/a.B/C");
        const char details[] = "ok \xc3\xa9 bad \xff\xc3 overlong \xc0\xaf surrogate \xed\xa0\x80 "
                               "emoji \xf0\x9f\x98\x80";
        r->details = malloc(sizeof(details));
        memcpy(r->details, details, sizeof(details));
        r->details_len = sizeof(details) - 1;
        struct crisp_call_record *b = round_trip(r, false, NULL);
        assert_string_equal(b->details,
                            "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd overlong \xef\xbf\xbd\xef\xbf"
                            "\xbd surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd emoji "
                            "\xf0\x9f\x98\x80");
        crisp_call_record_free(b);
        crisp_call_record_free(r);
}

/* ---- redaction ---------------------------------------------------------------- */

/* A CreateContainerRequest with two env vars, an image, and an unknown
 * field, built by hand on the wire. */
static size_t create_request(uint8_t *buf)
{
        static const uint8_t req[] = {
            0x0a, 0x03, 'p',  'o',  'd',                              /* pod_sandbox_id */
            0x12, 0x26,                                               /* config (38 bytes) */
            0x0a, 0x03, 0x0a, 0x01, 'c',                              /*   metadata{name} */
            0x12, 0x05, 0x0a, 0x03, 'i', 'm',  'g',                   /*   image{image} */
            0x32, 0x0c, 0x0a, 0x03, 'K', 'E',  'Y',  0x12, 0x05, 's', /*   envs{KEY=s3cr1} */
            '3',  'c',  'r',  '1',                                    /*   */
            0x32, 0x0a, 0x0a, 0x01, 'B', 0x12, 0x05, 'h',  'u',  's', /*   envs{B=hush!} */
            'h',  '!',                                                /*   */
            0xa2, 0x06, 0x01, 'x',                                    /* unknown field 100 */
        };
        memcpy(buf, req, sizeof(req));
        return sizeof(req);
}

static void create_container_env_values_are_redacted(void **state)
{
        (void)state;
        uint8_t in[128];
        size_t len = create_request(in);
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(
            crisp_redact(crisp_redact_kind_of(CREATE, true), in, len, &out, &out_len, NULL), 0);
        assert_null(memmem(out, out_len, "s3cr1", 5));
        assert_null(memmem(out, out_len, "hush!", 5));
        /* Keys, other fields and unknown fields are all still there. */
        assert_non_null(memmem(out, out_len, "KEY", 3));
        assert_non_null(memmem(out, out_len, "img", 3));
        assert_non_null(memmem(out, out_len, "pod", 3));
        assert_non_null(memmem(out, out_len, "\xa2\x06\x01x", 4));
        Crisp__Redact__CreateContainerRequest *req =
            crisp__redact__create_container_request__unpack(NULL, out_len, out);
        assert_non_null(req);
        assert_int_equal(req->config->n_envs, 2);
        const size_t n = strlen(CRISP_REDACTED);
        assert_int_equal(req->config->envs[0]->key.len, 3);
        assert_memory_equal(req->config->envs[0]->key.data, "KEY", 3);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(req->config->envs[i]->value.len, n);
                assert_memory_equal(req->config->envs[i]->value.data, CRISP_REDACTED, n);
        }
        crisp__redact__create_container_request__free_unpacked(req, NULL);
        free(out);
}

static void exec_sync_output_is_redacted(void **state)
{
        (void)state;
        /* stdout "hello", stderr "oops", exit_code 3 */
        const uint8_t in[] = {0x0a, 0x05, 'h', 'e', 'l', 'l',  'o', 0x12,
                              0x04, 'o',  'o', 'p', 's', 0x18, 0x03};
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(crisp_redact_kind_of(EXEC, false), CRISP_REDACT_EXEC_SYNC_RESPONSE);
        assert_int_equal(crisp_redact_kind_of(EXEC, true), CRISP_REDACT_NOTHING);
        assert_int_equal(
            crisp_redact(CRISP_REDACT_EXEC_SYNC_RESPONSE, in, sizeof(in), &out, &out_len, NULL), 0);
        const uint8_t want[] = {0x0a, 0x08, 'R', 'E', 'D', 'A', 'C', 'T', 'E', 'D',  0x12,
                                0x08, 'R',  'E', 'D', 'A', 'C', 'T', 'E', 'D', 0x18, 0x03};
        assert_int_equal(out_len, sizeof(want));
        assert_memory_equal(out, want, sizeof(want));
        free(out);
}

static void redaction_applies_to_requests_forwarded_and_responses(void **state)
{
        (void)state;
        struct crisp_call_record *r = new_record(CREATE);
        uint8_t req[128];
        size_t len = create_request(req);
        add(&r->requests, req, len);
        r->has_forwarded = true;
        add(&r->forwarded, req, len);
        r->has_responses = true;
        add(&r->responses, "\x0a\x02id", 4);
        char *line = NULL;
        struct crisp_call_record *b = round_trip(r, true, &line);
        assert_null(strstr(line, "s3cr1"));
        for (size_t i = 0; i < 2; i++) {
                const struct crisp_msg *m = i ? &b->forwarded.items[0] : &b->requests.items[0];
                assert_null(memmem(m->data, m->len, "s3cr1", 5));
                assert_null(memmem(m->data, m->len, "hush!", 5));
                assert_non_null(memmem(m->data, m->len, "REDACTED", 8));
        }
        assert_memory_equal(b->responses.items[0].data, "\x0a\x02id", 4);
        free(line);
        crisp_call_record_free(b);

        /* Without --record-redact the bytes are kept as they came. */
        b = round_trip(r, false, NULL);
        assert_memory_equal(b->requests.items[0].data, req, len);
        crisp_call_record_free(b);
        crisp_call_record_free(r);
}

static void an_undecodable_message_is_not_kept_when_redacting(void **state)
{
        (void)state;
        struct crisp_call_record *r = new_record(EXEC);
        r->has_responses = true;
        add(&r->responses, "\x0a\x7fsecret", 8); /* length past the end */
        struct crisp_call_record *b = round_trip(r, true, NULL);
        assert_int_equal(b->responses.n, 1);
        assert_int_equal(b->responses.items[0].len, 0);
        crisp_call_record_free(b);
        crisp_call_record_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(every_key_round_trips),
            cmocka_unit_test(absent_keys_stay_absent),
            cmocka_unit_test(bytes_that_are_not_utf8_become_replacement_characters),
            cmocka_unit_test(create_container_env_values_are_redacted),
            cmocka_unit_test(exec_sync_output_is_redacted),
            cmocka_unit_test(redaction_applies_to_requests_forwarded_and_responses),
            cmocka_unit_test(an_undecodable_message_is_not_kept_when_redacting),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
