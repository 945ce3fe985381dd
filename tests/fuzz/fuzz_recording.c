/* libFuzzer target: one line of a recording (src/record/recording.c,
 * crisp_recording_parse_line), the JSON the replay reads and the recorder
 * writes (crisp_record_to_json, src/record/record.c).
 *
 * Input: the line's bytes. A final '\n' is taken off as the loader does,
 * and says whether the line is complete.
 *
 * Besides "no crash, no leak, no undefined behaviour" (ASan, LSan, UBSan),
 * every run checks these invariants and traps when one does not hold:
 *
 *  1. The call fails (negative errno, EINVAL or ENOMEM, err set with that
 *     code, no record) or succeeds (0, a record, err untouched).
 *  2. An error names the place and the problem: "fuzz.jsonl:7: " and
 *     something after it.
 *  3. Success: the record is consistent: its method is a gRPC method path;
 *     the line number is kept; each string is the line's value, whole (no
 *     NUL byte cuts it short, read again with json-c);
 *     forwarded goes one for one with requests; the code is 0..16;
 *     details keep their length; an expect names contexts of the method
 *     (or says unchanged) and has a request to check.
 *  4. Success: every message holds exactly what its base64 string says:
 *     the decoder is canonical, so re-encoding each message gives the
 *     string of the line back, byte for byte (read again with json-c).
 *  5. Round trip: the recorder's encoding of the record is one line of
 *     JSON that parses back to the same record (all but `expect`, which
 *     only fixtures carry), and encoding that record again gives the same
 *     line (a fixed point). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/base64.h"
#include "record/record.h"
#include "record/recording.h"
#include "rule/rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME   "fuzz.jsonl"
#define LINE   7u
#define PREFIX NAME ":7: "

#define FUZZ_TARGET "fuzz_recording"
#include "fuzz_check.h"

static void check_error(int r, const crisp_error *err, const struct crisp_call_record *rec)
{
        CHECK(err != NULL, "failure %d without an error", r);
        CHECK(err->code == EINVAL || err->code == ENOMEM, "error code %d: %s", err->code, err->msg);
        CHECK(r == -err->code, "return %d, error code %d", r, err->code);
        CHECK(err->msg != NULL, "error without a message");
        CHECK(strncmp(err->msg, PREFIX, strlen(PREFIX)) == 0 && err->msg[strlen(PREFIX)] != '\0',
              "error does not name the place and the problem: %s", err->msg);
        CHECK(rec == NULL, "failure, but a record");
}

static void check_list(const struct crisp_msg_list *l, const char *what)
{
        CHECK(l->n <= l->cap, "%s: %zu items, room for %zu", what, l->n, l->cap);
        CHECK(l->n == 0 || l->items != NULL, "%s: %zu items, no array", what, l->n);
        for (size_t i = 0; i < l->n; i++)
                CHECK(l->items[i].data != NULL, "%s[%zu]: no buffer", what, i);
}

static void check_consistent(const struct crisp_call_record *rec)
{
        CHECK(rec->method != NULL, "no method");
        CHECK(crisp_method_path_valid(rec->method), "method '%s' accepted", rec->method);
        CHECK(rec->line == LINE, "line %u", rec->line);
        CHECK(strnlen(rec->time, sizeof(rec->time)) < sizeof(rec->time), "time not terminated");
        CHECK(rec->duration_us >= -1, "duration_us %lld", (long long)rec->duration_us);
        check_list(&rec->requests, "requests");
        check_list(&rec->forwarded, "forwarded");
        check_list(&rec->responses, "responses");
        CHECK(rec->has_forwarded || rec->forwarded.n == 0, "forwarded without has_forwarded");
        CHECK(rec->has_responses || rec->responses.n == 0, "responses without has_responses");
        CHECK(!rec->has_forwarded || rec->forwarded.n == rec->requests.n,
              "%zu forwarded for %zu requests", rec->forwarded.n, rec->requests.n);
        CHECK(!rec->has_code || (rec->code >= 0 && rec->code <= 16), "code %d", rec->code);
        CHECK(rec->details != NULL || rec->details_len == 0, "details_len without details");
        CHECK(rec->details == NULL || rec->details[rec->details_len] == '\0',
              "details not terminated at details_len");

        const struct crisp_expect *e = &rec->expect;
        bool named = false;
        for (int i = 0; i < CRISP_CONTEXT_COUNT; i++) {
                const struct crisp_expect_context *c = &e->contexts[i];
                if (!c->named) {
                        CHECK(!e->present || (c->localhost_ref == NULL && c->path == NULL),
                              "expect.%s half read", crisp_context_name(i));
                        continue;
                }
                named = true;
                CHECK(e->present, "expect.%s named, but no expect", crisp_context_name(i));
                CHECK(c->localhost_ref != NULL && c->path != NULL, "expect.%s incomplete",
                      crisp_context_name(i));
                enum crisp_method kind = crisp_method_classify(rec->method, strlen(rec->method));
                enum crisp_method needs = i == CRISP_CONTEXT_SANDBOX
                                              ? CRISP_METHOD_RUN_POD_SANDBOX
                                              : CRISP_METHOD_CREATE_CONTAINER;
                CHECK(kind == needs, "expect.%s for %s", crisp_context_name(i), rec->method);
        }
        if (e->present) {
                CHECK(e->unchanged != named, "expect: unchanged %d, contexts named %d",
                      e->unchanged, named);
                CHECK(rec->requests.n > 0, "expect without a request");
        } else {
                CHECK(!e->unchanged && !named, "expect parts without expect");
        }
}

/* 4: each message against its string in the line. */
static void check_messages_match(json_object *root, const char *key, const struct crisp_msg_list *l)
{
        json_object *arr = NULL;
        if (!json_object_object_get_ex(root, key, &arr)) {
                CHECK(l->n == 0, "%s: %zu messages, no key", key, l->n);
                return;
        }
        CHECK(json_object_is_type(arr, json_type_array), "%s is not an array", key);
        CHECK(json_object_array_length(arr) == l->n, "%s: %zu strings, %zu messages", key,
              json_object_array_length(arr), l->n);
        for (size_t i = 0; i < l->n; i++) {
                json_object *s = json_object_array_get_idx(arr, i);
                size_t n = crisp_base64_encoded_len(l->items[i].len);
                CHECK((size_t)json_object_get_string_len(s) == n,
                      "%s[%zu]: %zu bytes decoded from %d base64 characters", key, i,
                      l->items[i].len, json_object_get_string_len(s));
                char *enc = malloc(n + 1);
                if (enc == NULL)
                        abort();
                crisp_base64_encode(l->items[i].data, l->items[i].len, enc);
                CHECK(memcmp(enc, json_object_get_string(s), n) == 0,
                      "%s[%zu]: the bytes are not what the string says", key, i);
                free(enc);
        }
}

/* A string of the record is the line's value, whole (no NUL cut it short),
 * or NULL when the line does not have it. */
static void check_string_matches(json_object *obj, const char *key, const char *s)
{
        json_object *v = NULL;
        if (obj == NULL || !json_object_object_get_ex(obj, key, &v)) {
                CHECK(s == NULL, "'%s' in the record, not in the line", key);
                return;
        }
        CHECK(s != NULL, "'%s' in the line, not in the record", key);
        CHECK(strlen(s) == (size_t)json_object_get_string_len(v) &&
                  memcmp(s, json_object_get_string(v), strlen(s)) == 0,
              "'%s' is not the line's value", key);
}

static void check_against_the_line(const char *text, size_t len,
                                   const struct crisp_call_record *rec)
{
        struct json_tokener *tok = json_tokener_new();
        CHECK(tok != NULL, "json_tokener_new");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                        JSON_TOKENER_VALIDATE_UTF8);
        json_object *root = json_tokener_parse_ex(tok, text, (int)len);
        json_tokener_free(tok);
        CHECK(root != NULL && json_object_is_type(root, json_type_object),
              "crisp accepted a line json-c does not read as an object");
        check_string_matches(root, "method", rec->method);
        check_string_matches(root, "name", rec->name);
        check_string_matches(root, "container", rec->container);
        json_object *pod = NULL;
        json_object_object_get_ex(root, "pod", &pod);
        check_string_matches(pod, "namespace", rec->pod_namespace);
        check_string_matches(pod, "name", rec->pod_name);
        check_string_matches(pod, "uid", rec->pod_uid);
        check_messages_match(root, "requests", &rec->requests);
        check_messages_match(root, "forwarded", &rec->forwarded);
        check_messages_match(root, "responses", &rec->responses);
        json_object *d = NULL;
        if (json_object_object_get_ex(root, "details", &d)) {
                CHECK(rec->details != NULL, "details in the line, not in the record");
                CHECK((size_t)json_object_get_string_len(d) == rec->details_len &&
                          memcmp(json_object_get_string(d), rec->details, rec->details_len) == 0,
                      "details differ from the line's");
        } else {
                CHECK(rec->details == NULL, "details in the record, not in the line");
        }
        json_object_put(root);
}

/* 5: a and b agree on everything crisp_record_to_json writes. */
static bool same_str(const char *a, const char *b)
{
        return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same_list(const struct crisp_msg_list *a, const struct crisp_msg_list *b,
                            const char *what)
{
        CHECK(a->n == b->n, "round trip: %s: %zu messages, then %zu", what, a->n, b->n);
        for (size_t i = 0; i < a->n; i++)
                CHECK(a->items[i].len == b->items[i].len &&
                          memcmp(a->items[i].data, b->items[i].data, a->items[i].len) == 0,
                      "round trip: %s[%zu] differs", what, i);
}

static void check_same_record(const struct crisp_call_record *a, const struct crisp_call_record *b)
{
        CHECK(strcmp(a->method, b->method) == 0, "round trip: method");
        CHECK(strcmp(a->time, b->time) == 0, "round trip: time '%s', then '%s'", a->time, b->time);
        CHECK(a->duration_us == b->duration_us, "round trip: duration_us");
        CHECK(same_str(a->pod_namespace, b->pod_namespace), "round trip: pod.namespace");
        CHECK(same_str(a->pod_name, b->pod_name), "round trip: pod.name");
        CHECK(same_str(a->pod_uid, b->pod_uid), "round trip: pod.uid");
        CHECK(same_str(a->container, b->container), "round trip: container");
        CHECK(same_str(a->name, b->name), "round trip: name");
        check_same_list(&a->requests, &b->requests, "requests");
        CHECK(a->has_forwarded == b->has_forwarded, "round trip: has_forwarded");
        check_same_list(&a->forwarded, &b->forwarded, "forwarded");
        CHECK(a->has_responses == b->has_responses, "round trip: has_responses");
        check_same_list(&a->responses, &b->responses, "responses");
        CHECK(a->has_code == b->has_code && a->code == b->code, "round trip: code");
        CHECK((a->details == NULL) == (b->details == NULL), "round trip: details present");
        CHECK(a->details_len == b->details_len &&
                  (a->details == NULL || memcmp(a->details, b->details, a->details_len) == 0),
              "round trip: details differ");
        CHECK(a->dropped_requests == b->dropped_requests &&
                  a->dropped_responses == b->dropped_responses,
              "round trip: truncated");
}

static char *encode(const struct crisp_call_record *rec, size_t *len)
{
        char *line = NULL;
        crisp_error *err = NULL;
        int r = crisp_record_to_json(rec, false, &line, len, &err);
        CHECK(r == 0, "crisp_record_to_json: %s", err ? err->msg : "?");
        CHECK(*len > 0 && line[*len - 1] == '\n' && line[*len] == '\0',
              "the encoding does not end in a newline");
        CHECK(memchr(line, '\n', *len - 1) == NULL, "the encoding is more than one line");
        return line;
}

static void check_round_trip(const struct crisp_call_record *rec)
{
        size_t len = 0;
        char *line = encode(rec, &len);
        struct crisp_call_record *back = NULL;
        crisp_error *err = NULL;
        int r = crisp_recording_parse_line(NAME, LINE, line, len - 1, true, &back, &err);
        CHECK(r == 0, "the recorder's line does not parse back: %s\n%s", err ? err->msg : "?",
              line);
        check_same_record(rec, back);

        size_t len2 = 0;
        char *line2 = encode(back, &len2);
        CHECK(len == len2 && memcmp(line, line2, len) == 0, "encoding is not a fixed point:\n%s%s",
              line, line2);
        free(line2);
        crisp_call_record_free(back);
        free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        bool complete = size > 0 && data[size - 1] == '\n';
        size_t len = complete ? size - 1 : size;

        struct crisp_call_record *rec = NULL;
        crisp_error *err = NULL;
        int r = crisp_recording_parse_line(NAME, LINE, text, len, complete, &rec, &err);
        if (r < 0) {
                check_error(r, err, rec);
                crisp_error_free(&err);
                return 0;
        }
        CHECK(r == 0, "returned %d", r);
        CHECK(err == NULL, "success with an error set: %s", err->msg);
        CHECK(rec != NULL, "success without a record");
        check_consistent(rec);
        check_against_the_line(text, len, rec);
        check_round_trip(rec);
        crisp_call_record_free(rec);
        return 0;
}
