/* Reading recordings: a valid line gives every key back; each kind of bad
 * input is an error naming FILE:LINE and what is wrong, never a crash. */
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

#include "record/recording.h"

#define METHOD_CC "/runtime.v1.RuntimeService/CreateContainer"

static int parse(const char *line, struct crisp_call_record **out, crisp_error **err)
{
        return crisp_recording_parse_line("rec.jsonl", 7, line, strlen(line), true, out, err);
}

static void a_full_line_parses(void **state)
{
        (void)state;
        struct crisp_call_record *r = NULL;
        const char *line =
            "{\"time\":\"2026-11-28T21:14:18.913456Z\",\"method\":\"" METHOD_CC "\","
            "\"duration_us\":1234,\"pod\":{\"namespace\":\"ns\",\"name\":\"web\",\"uid\":\"u1\"},"
            "\"container\":\"app\",\"requests\":[\"Zm9v\"],\"forwarded\":[\"YmFy\"],"
            "\"responses\":[\"\",\"Zg==\"],\"code\":5,\"details\":\"not \\u00e9 found\","
            "\"truncated\":{\"requests\":0,\"responses\":3},\"name\":\"case\","
            "\"expect\":{\"container\":{\"profile_type\":0,\"localhost_ref\":\"\","
            "\"path\":\"runtime/default\"}}}";
        assert_int_equal(parse(line, &r, NULL), 0);
        assert_string_equal(r->method, METHOD_CC);
        assert_string_equal(r->time, "2026-11-28T21:14:18.913456Z");
        assert_int_equal(r->duration_us, 1234);
        assert_string_equal(r->pod_namespace, "ns");
        assert_string_equal(r->pod_name, "web");
        assert_string_equal(r->pod_uid, "u1");
        assert_string_equal(r->container, "app");
        assert_int_equal(r->requests.n, 1);
        assert_memory_equal(r->requests.items[0].data, "foo", 3);
        assert_true(r->has_forwarded);
        assert_memory_equal(r->forwarded.items[0].data, "bar", 3);
        assert_true(r->has_responses);
        assert_int_equal(r->responses.n, 2);
        assert_int_equal(r->responses.items[0].len, 0);
        assert_true(r->has_code);
        assert_int_equal(r->code, 5);
        assert_string_equal(r->details, "not \xc3\xa9 found");
        assert_int_equal(r->dropped_responses, 3);
        assert_string_equal(r->name, "case");
        assert_true(r->expect.present);
        assert_false(r->expect.unchanged);
        assert_true(r->expect.contexts[CRISP_CONTEXT_CONTAINER].named);
        assert_string_equal(r->expect.contexts[CRISP_CONTEXT_CONTAINER].path, "runtime/default");
        assert_false(r->expect.contexts[CRISP_CONTEXT_SANDBOX_CONFIG].named);
        assert_int_equal(r->line, 7);
        crisp_call_record_free(r);
}

static void the_fixture_shape_parses(void **state)
{
        (void)state;
        struct crisp_call_record *r = NULL;
        assert_int_equal(parse("{\"method\": \"/runtime.v1alpha2.RuntimeService/RunPodSandbox\", "
                               "\"requests\": [\"\"], \"expect\": {\"unchanged\": true}}",
                               &r, NULL),
                         0);
        assert_false(r->has_responses);
        assert_false(r->has_code);
        assert_null(r->details);
        assert_true(r->expect.unchanged);
        assert_int_equal(r->duration_us, -1);
        assert_string_equal(r->time, "");
        crisp_call_record_free(r);
}

/* Each bad line: its error names rec.jsonl:7 and says what is wrong. */
static void bad_lines_say_what_and_where(void **state)
{
        (void)state;
        struct {
                const char *line;
                const char *says;
        } cases[] = {
            {"{\"method\":\"/a.B/C\",\"requests\":[\"Zm9v\"", "truncated line"},
            {"{\"method\":\"/a.B/C\",", "truncated line"},
            {"{\"method\" \"/a.B/C\"}", "invalid JSON at column"},
            {"not json", "invalid JSON at column 2"},
            {"[1,2]", "must hold a JSON object, not an array"},
            {"{\"method\":\"/a.B/C\",\"requests\":[]} x", "unexpected text after the JSON object"},
            {"{\"method\":\"/a.B/C\",\"requests\":[\"Zm9v!\"]}",
             "requests[0]: invalid base64: length 5"},
            {"{\"method\":\"/a.B/C\",\"requests\":[\"\",\"Zm9v!A==\"]}",
             "requests[1]: invalid base64: character '!' at offset 4"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"responses\":[\"Zg=\"]}",
             "responses[0]: invalid base64"},
            {"{\"method\":\"/a.B/C\",\"requests\":[7]}", "requests[0] must be a base64 string"},
            {"{\"method\":\"/a.B/C\",\"requests\":\"Zm9v\"}", "'requests' must be an array"},
            {"{\"requests\":[]}", "no 'method'"},
            {"{\"method\":\"/a.B/C\"}", "no 'requests'"},
            {"{\"method\":7,\"requests\":[]}", "'method' must be a string, not an integer"},
            {"{\"method\":\"Version\",\"requests\":[]}", "unknown method 'Version'"},
            {"{\"method\":\"/Version\",\"requests\":[]}", "unknown method '/Version'"},
            {"{\"method\":\"/runtime/Version\",\"requests\":[]}", "unknown method"},
            {"{\"method\":\"/a.B/C/D\",\"requests\":[]}", "unknown method"},
            {"{\"method\":\"/a.B/\",\"requests\":[]}", "unknown method"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"code\":\"0\"}", "'code' must be an integer"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"code\":17}", "'code' must be an integer "
                                                                    "from 0 to 16"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"code\":1.5}", "not a decimal number"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"details\":null}", "'details' must be a "
                                                                         "string, not null"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"time\":\"yesterday\"}",
             "'time' is not an RFC 3339 time"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"duration_us\":-1}", "'duration_us'"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"pod\":{\"nmespace\":\"x\"}}",
             "unknown key 'pod.nmespace'"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"truncated\":{\"requests\":-2}}",
             "'truncated.requests'"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"respones\":[]}", "unknown key 'respones'"},
            {"{\"method\":\"/a.B/C\",\"requests\":[\"\"],\"forwarded\":[]}",
             "'forwarded' has 0 messages but 'requests' has 1"},
            {"{\"method\":\"/a.B/C\",\"requests\":[\"\"],\"expect\":{\"unchanged\":false}}",
             "'expect.unchanged' must be true"},
            {"{\"method\":\"/a.B/C\",\"requests\":[\"\"],\"expect\":{}}", "'expect' is empty"},
            {"{\"method\":\"/a.B/C\",\"requests\":[\"\"],\"expect\":{\"container\":{}}}",
             "'expect.container' applies to CreateContainer, not to /a.B/C"},
            {"{\"method\":\"" METHOD_CC "\",\"requests\":[\"\"],\"expect\":{\"sandbox\":{}}}",
             "'expect.sandbox' applies to RunPodSandbox"},
            {"{\"method\":\"" METHOD_CC "\",\"requests\":[\"\"],\"expect\":{\"container\":"
             "{\"profile_type\":0}}}",
             "needs profile_type, localhost_ref and path"},
            {"{\"method\":\"" METHOD_CC "\",\"requests\":[\"\"],\"expect\":{\"container\":"
             "{\"profile_type\":\"0\",\"localhost_ref\":\"\",\"path\":\"\"}}}",
             "'expect.container.profile_type' must be an integer"},
            {"{\"method\":\"" METHOD_CC "\",\"requests\":[\"\"],\"expect\":{\"containr\":{}}}",
             "unknown key 'expect.containr'"},
            {"{\"method\":\"" METHOD_CC "\",\"requests\":[],\"expect\":{\"unchanged\":true}}",
             "'requests' is empty"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"name\":\"\\u0000\"}", "NUL character"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"details\":\"\xff\"}", "invalid JSON"},
            /* What json-c lets through and the recorder would write as U+FFFD
             * (found by tests/fuzz/fuzz_recording.c): an overlong form, an
             * encoded surrogate, a value past U+10FFFF. */
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"name\":\"\xc0\x90\"}",
             "invalid JSON at column 42: not UTF-8"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"details\":\"\xed\xa0\x80\"}", "not UTF-8"},
            {"{\"method\":\"/a.B/C\",\"requests\":[],\"pod\":{\"uid\":\"\xf4\x90\x80\x80\"}}",
             "not UTF-8"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct crisp_call_record *r = NULL;
                crisp_error *err = NULL;
                assert_true(parse(cases[i].line, &r, &err) < 0);
                assert_null(r);
                assert_non_null(err);
                if (strncmp(err->msg, "rec.jsonl:7: ", 13) != 0 ||
                    strstr(err->msg, cases[i].says) == NULL)
                        fail_msg("case %zu %s: '%s' does not say 'rec.jsonl:7: ...%s'", i,
                                 cases[i].line, err->msg, cases[i].says);
                crisp_error_free(&err);
        }
}

static void method_paths(void **state)
{
        (void)state;
        assert_true(crisp_method_path_valid("/runtime.v1.RuntimeService/Version"));
        assert_true(crisp_method_path_valid("/a.B/C"));
        assert_false(crisp_method_path_valid(""));
        assert_false(crisp_method_path_valid("/"));
        assert_false(crisp_method_path_valid("//C"));
        assert_false(crisp_method_path_valid("/Service/Method"));
        assert_false(crisp_method_path_valid("/.a.B/C"));
        assert_false(crisp_method_path_valid("/a..B/C"));
        assert_false(crisp_method_path_valid("/a.B./C"));
        assert_false(crisp_method_path_valid("/a.B/C.D"));
        assert_false(crisp_method_path_valid("/a B.C/D"));
}

/* ---- whole files ------------------------------------------------------------ */

static char *write_file(const char *content, size_t len)
{
        char *path = strdup("/tmp/crisp-test-recording-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, len), (ssize_t)len);
        close(fd);
        return path;
}

/* Loads `content`; returns the error message (caller frees), or NULL. */
static char *load_error(const char *content, size_t len, char **path_out,
                        struct crisp_recording **out)
{
        char *path = write_file(content, len);
        crisp_error *err = NULL;
        struct crisp_recording *rec = NULL;
        int r = crisp_recording_load(path, &rec, &err);
        char *msg = NULL;
        if (r < 0) {
                assert_non_null(err);
                msg = strdup(err->msg);
                crisp_error_free(&err);
        }
        if (out)
                *out = rec;
        else
                crisp_recording_free(rec);
        unlink(path);
        *path_out = path;
        return msg;
}

static void assert_file_error(const char *content, size_t len, const char *where, const char *says)
{
        char *path = NULL;
        char *msg = load_error(content, len, &path, NULL);
        assert_non_null(msg);
        char prefix[128];
        snprintf(prefix, sizeof(prefix), "%s%s", path, where);
        if (strncmp(msg, prefix, strlen(prefix)) != 0 || strstr(msg, says) == NULL)
                fail_msg("'%s' does not say '%s...%s'", msg, prefix, says);
        free(msg);
        free(path);
}

#define GOOD "{\"method\":\"/a.B/C\",\"requests\":[\"Zm9v\"]}"

static void files_load_in_order_skipping_blank_lines(void **state)
{
        (void)state;
        const char *text = GOOD "\n\n   \n" GOOD "\n{\"method\":\"/a.B/D\",\"requests\":[]}";
        char *path = NULL;
        struct crisp_recording *rec = NULL;
        char *msg = load_error(text, strlen(text), &path, &rec);
        assert_null(msg);
        assert_non_null(rec);
        assert_int_equal(rec->n, 3);
        assert_int_equal(rec->calls[0]->line, 1);
        assert_int_equal(rec->calls[1]->line, 4);
        assert_int_equal(rec->calls[2]->line, 5); /* complete, if without a final newline */
        assert_string_equal(rec->calls[2]->method, "/a.B/D");
        crisp_recording_free(rec);
        free(path);
}

static void bad_files_say_what_and_where(void **state)
{
        (void)state;
        assert_file_error("", 0, ": ", "the recording is empty");
        assert_file_error("\n\n", 2, ": ", "no records, only blank lines");
        const char cut[] = GOOD "\n" GOOD "\n{\"method\":\"/a.B/C\",\"requ";
        assert_file_error(cut, strlen(cut), ":3: ", "truncated line: the file ends in the middle");
        const char bad_b64[] = GOOD "\n{\"method\":\"/a.B/C\",\"requests\":[\"Zm9v*\"]}\n";
        assert_file_error(bad_b64, strlen(bad_b64), ":2: ", "requests[0]: invalid base64");
        const char bad_method[] = GOOD "\n" GOOD "\n{\"method\":\"/nope\",\"requests\":[]}\n";
        assert_file_error(bad_method, strlen(bad_method), ":3: ", "unknown method '/nope'");
        const char nul[] = GOOD "\n{\"method\":\"/a.B/C\",\0\"requests\":[]}\n";
        assert_file_error(nul, sizeof(nul) - 1, ":2: ", "NUL byte");

        crisp_error *err = NULL;
        struct crisp_recording *rec = NULL;
        assert_int_equal(crisp_recording_load("/nonexistent/rec.jsonl", &rec, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "cannot open /nonexistent/rec.jsonl"));
        crisp_error_free(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_full_line_parses),
            cmocka_unit_test(the_fixture_shape_parses),
            cmocka_unit_test(bad_lines_say_what_and_where),
            cmocka_unit_test(method_paths),
            cmocka_unit_test(files_load_in_order_skipping_blank_lines),
            cmocka_unit_test(bad_files_say_what_and_where),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
