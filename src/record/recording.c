/* Reads and validates a recording file (one JSON object per line) into
 * memory (recording.h). */
#include "record/recording.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_object.h>
#include <json-c/json_object_iterator.h>
#include <json-c/json_tokener.h>

#include "base/base64.h"
#include "base/cleanup.h"
#include "rule/rewrite.h"

/* Where a line came from, for every error message: "FILE:LINE: ...". */
struct place {
        const char *file;
        unsigned line;
        crisp_error **err;
};

static int fail(const struct place *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const struct place *p, const char *fmt, ...)
{
        char what[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return crisp_error_set(p->err, EINVAL, "%s:%u: %s", p->file, p->line, what);
}

static int oom(const struct place *p)
{
        return crisp_error_set(p->err, ENOMEM, "%s:%u: out of memory", p->file, p->line);
}

static const char *type_name(json_object *v)
{
        switch (json_object_get_type(v)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a decimal number";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "?";
}

/* ---- methods --------------------------------------------------------------- */

static bool ident_char(char c, bool dot_ok)
{
        return isalnum((unsigned char)c) || c == '_' || (dot_ok && c == '.');
}

bool crisp_method_path_valid(const char *m)
{
        if (m[0] != '/')
                return false;
        const char *service = m + 1;
        const char *slash = strchr(service, '/');
        if (slash == NULL || slash == service)
                return false;
        const char *dot = memchr(service, '.', (size_t)(slash - service));
        /* A package is required, and neither part may start or end with a dot. */
        if (dot == NULL || service[0] == '.' || slash[-1] == '.')
                return false;
        for (const char *c = service; c < slash; c++)
                if (!ident_char(*c, true) || (c[0] == '.' && c[1] == '.'))
                        return false;
        const char *method = slash + 1;
        if (method[0] == '\0')
                return false;
        for (const char *c = method; *c; c++)
                if (!ident_char(*c, false))
                        return false;
        return true;
}

/* ---- typed fields ---------------------------------------------------------------- */

/* A string without NUL bytes, copied. */
static int take_string(const struct place *p, const char *key, json_object *v, char **out)
{
        if (!json_object_is_type(v, json_type_string))
                return fail(p, "'%s' must be a string, not %s", key, type_name(v));
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (strlen(s) != n)
                return fail(p, "'%s' contains a NUL character", key);
        char *copy = strdup(s);
        if (copy == NULL)
                return oom(p);
        free(*out); /* a key given twice: the last one counts, as in JSON parsers */
        *out = copy;
        return 0;
}

static int take_int(const struct place *p, const char *key, json_object *v, int64_t min,
                    int64_t max, int64_t *out)
{
        if (!json_object_is_type(v, json_type_int))
                return fail(p, "'%s' must be an integer, not %s", key, type_name(v));
        errno = 0;
        int64_t n = json_object_get_int64(v);
        /* json-c clamps out-of-range numbers and says so only through errno. */
        if (errno != 0 || n < min || n > max)
                return fail(p, "'%s' must be an integer from %lld to %lld", key, (long long)min,
                            (long long)max);
        *out = n;
        return 0;
}

static int take_messages(const struct place *p, const char *key, json_object *v,
                         struct crisp_msg_list *out)
{
        if (!json_object_is_type(v, json_type_array))
                return fail(p, "'%s' must be an array of base64 strings, not %s", key,
                            type_name(v));
        crisp_msg_list_clear(out);
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                json_object *item = json_object_array_get_idx(v, i);
                if (!json_object_is_type(item, json_type_string))
                        return fail(p, "%s[%zu] must be a base64 string, not %s", key, i,
                                    type_name(item));
                uint8_t *bytes = NULL;
                size_t len = 0;
                _cleanup_error_ crisp_error *e = NULL;
                int r =
                    crisp_base64_decode(json_object_get_string(item),
                                        (size_t)json_object_get_string_len(item), &bytes, &len, &e);
                if (r == -ENOMEM)
                        return oom(p);
                if (r < 0)
                        return fail(p, "%s[%zu]: %s", key, i, e->msg);
                if (crisp_msg_list_append_owned(out, bytes, len) < 0) {
                        free(bytes);
                        return oom(p);
                }
        }
        return 0;
}

/* RFC 3339: 2026-11-28T21:14:18[.fraction](Z|+hh:mm|-hh:mm). Only the shape is
 * checked: the time is shown, never computed with. */
static bool rfc3339_shaped(const char *s)
{
        const char *shape = "dddd-dd-ddTdd:dd:dd";
        for (size_t i = 0; shape[i]; i++) {
                if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
                        return false;
        }
        s += strlen(shape);
        if (*s == '.') {
                s++;
                if (!isdigit((unsigned char)*s))
                        return false;
                while (isdigit((unsigned char)*s))
                        s++;
        }
        if (strcmp(s, "Z") == 0)
                return true;
        return (s[0] == '+' || s[0] == '-') && isdigit((unsigned char)s[1]) &&
               isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
               isdigit((unsigned char)s[5]) && s[6] == '\0';
}

static int take_time(const struct place *p, json_object *v, struct crisp_call_record *rec)
{
        _cleanup_free_ char *t = NULL;
        int r = take_string(p, "time", v, &t);
        if (r < 0)
                return r;
        if (strlen(t) >= sizeof(rec->time) || !rfc3339_shaped(t))
                return fail(p,
                            "'time' is not an RFC 3339 time (like 2026-11-28T21:14:18.913Z): "
                            "'%.64s'",
                            t);
        snprintf(rec->time, sizeof(rec->time), "%s", t);
        return 0;
}

/* ---- objects ---------------------------------------------------------------------- */

/* Calls `each` for every key of object `v` (named `what` in errors). */
static int for_each_key(const struct place *p, const char *what, json_object *v,
                        int (*each)(const struct place *p, const char *key, json_object *val,
                                    void *arg),
                        void *arg)
{
        if (!json_object_is_type(v, json_type_object))
                return fail(p, "'%s' must be an object, not %s", what, type_name(v));
        struct json_object_iterator it = json_object_iter_begin(v);
        struct json_object_iterator end = json_object_iter_end(v);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                int r =
                    each(p, json_object_iter_peek_name(&it), json_object_iter_peek_value(&it), arg);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int pod_key(const struct place *p, const char *key, json_object *v, void *arg)
{
        struct crisp_call_record *rec = arg;
        if (strcmp(key, "namespace") == 0)
                return take_string(p, "pod.namespace", v, &rec->pod_namespace);
        if (strcmp(key, "name") == 0)
                return take_string(p, "pod.name", v, &rec->pod_name);
        if (strcmp(key, "uid") == 0)
                return take_string(p, "pod.uid", v, &rec->pod_uid);
        return fail(p, "unknown key 'pod.%s' (pod has namespace, name and uid)", key);
}

static int truncated_key(const struct place *p, const char *key, json_object *v, void *arg)
{
        struct crisp_call_record *rec = arg;
        int64_t n = 0;
        int r;
        if (strcmp(key, "requests") == 0) {
                r = take_int(p, "truncated.requests", v, 0, INT64_MAX, &n);
                rec->dropped_requests = (uint64_t)n;
                return r;
        }
        if (strcmp(key, "responses") == 0) {
                r = take_int(p, "truncated.responses", v, 0, INT64_MAX, &n);
                rec->dropped_responses = (uint64_t)n;
                return r;
        }
        return fail(p, "unknown key 'truncated.%s' (truncated has requests and responses)", key);
}

struct context_arg {
        const char *name;
        struct crisp_expect_context *ctx;
        bool seen_type, seen_ref, seen_path;
};

static int context_key(const struct place *p, const char *key, json_object *v, void *arg)
{
        struct context_arg *a = arg;
        char what[64];
        snprintf(what, sizeof(what), "expect.%s.%s", a->name, key);
        if (strcmp(key, "profile_type") == 0) {
                int64_t n = 0;
                int r = take_int(p, what, v, INT32_MIN, INT32_MAX, &n);
                a->ctx->profile_type = (int32_t)n;
                a->seen_type = true;
                return r;
        }
        if (strcmp(key, "localhost_ref") == 0) {
                a->seen_ref = true;
                return take_string(p, what, v, &a->ctx->localhost_ref);
        }
        if (strcmp(key, "path") == 0) {
                a->seen_path = true;
                return take_string(p, what, v, &a->ctx->path);
        }
        return fail(p, "unknown key '%s' (a context has profile_type, localhost_ref and path)",
                    what);
}

struct expect_arg {
        struct crisp_call_record *rec;
        enum crisp_method kind;
};

static int expect_key(const struct place *p, const char *key, json_object *v, void *arg)
{
        struct expect_arg *a = arg;
        struct crisp_expect *e = &a->rec->expect;
        if (strcmp(key, "unchanged") == 0) {
                if (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v))
                        return fail(p, "'expect.unchanged' must be true");
                e->unchanged = true;
                return 0;
        }
        for (int i = 0; i < CRISP_CONTEXT_COUNT; i++) {
                if (strcmp(key, crisp_context_name(i)) != 0)
                        continue;
                enum crisp_method needs = i == CRISP_CONTEXT_SANDBOX
                                              ? CRISP_METHOD_RUN_POD_SANDBOX
                                              : CRISP_METHOD_CREATE_CONTAINER;
                if (a->kind != needs)
                        return fail(p, "'expect.%s' applies to %s, not to %s", key,
                                    crisp_method_name(needs), a->rec->method);
                struct context_arg c = {.name = key, .ctx = &e->contexts[i]};
                char what[32];
                snprintf(what, sizeof(what), "expect.%s", key);
                int r = for_each_key(p, what, v, context_key, &c);
                if (r < 0)
                        return r;
                if (!c.seen_type || !c.seen_ref || !c.seen_path)
                        return fail(p, "'expect.%s' needs profile_type, localhost_ref and path",
                                    key);
                e->contexts[i].named = true;
                return 0;
        }
        return fail(p,
                    "unknown key 'expect.%s' (expect has unchanged, container, sandbox_config "
                    "or sandbox)",
                    key);
}

static int take_expect(const struct place *p, json_object *v, struct crisp_call_record *rec)
{
        struct expect_arg a = {.rec = rec, .kind = CRISP_METHOD_OTHER};
        if (rec->method)
                a.kind = crisp_method_classify(rec->method, strlen(rec->method));
        int r = for_each_key(p, "expect", v, expect_key, &a);
        if (r < 0)
                return r;
        bool named = false;
        for (int i = 0; i < CRISP_CONTEXT_COUNT; i++)
                named = named || rec->expect.contexts[i].named;
        if (rec->expect.unchanged && named)
                return fail(p, "'expect' is either {\"unchanged\": true} or names contexts, "
                               "not both");
        if (!rec->expect.unchanged && !named)
                return fail(p, "'expect' is empty: give {\"unchanged\": true} or name a context");
        rec->expect.present = true;
        return 0;
}

/* ---- one record --------------------------------------------------------------------- */

struct record_arg {
        struct crisp_call_record *rec;
        json_object *expect; /* checked last: it depends on the method */
};

static int record_key(const struct place *p, const char *key, json_object *v, void *arg)
{
        struct record_arg *a = arg;
        struct crisp_call_record *rec = a->rec;
        int64_t n = 0;
        int r;
        if (strcmp(key, "method") == 0)
                return take_string(p, "method", v, &rec->method);
        if (strcmp(key, "requests") == 0)
                return take_messages(p, "requests", v, &rec->requests);
        if (strcmp(key, "responses") == 0) {
                rec->has_responses = true;
                return take_messages(p, "responses", v, &rec->responses);
        }
        if (strcmp(key, "forwarded") == 0) {
                rec->has_forwarded = true;
                return take_messages(p, "forwarded", v, &rec->forwarded);
        }
        if (strcmp(key, "code") == 0) {
                r = take_int(p, "code", v, 0, 16, &n);
                rec->code = (int)n;
                rec->has_code = true;
                return r;
        }
        if (strcmp(key, "details") == 0) {
                if (!json_object_is_type(v, json_type_string))
                        return fail(p, "'details' must be a string, not %s", type_name(v));
                size_t len = (size_t)json_object_get_string_len(v);
                char *d = malloc(len + 1);
                if (d == NULL)
                        return oom(p);
                memcpy(d, json_object_get_string(v), len + 1);
                free(rec->details);
                rec->details = d;
                rec->details_len = len;
                return 0;
        }
        if (strcmp(key, "time") == 0)
                return take_time(p, v, rec);
        if (strcmp(key, "duration_us") == 0)
                return take_int(p, "duration_us", v, 0, INT64_MAX, &rec->duration_us);
        if (strcmp(key, "name") == 0)
                return take_string(p, "name", v, &rec->name);
        if (strcmp(key, "container") == 0)
                return take_string(p, "container", v, &rec->container);
        if (strcmp(key, "pod") == 0)
                return for_each_key(p, "pod", v, pod_key, rec);
        if (strcmp(key, "truncated") == 0)
                return for_each_key(p, "truncated", v, truncated_key, rec);
        if (strcmp(key, "expect") == 0) {
                a->expect = v;
                return 0;
        }
        return fail(p, "unknown key '%s'", key);
}

static int parse_record(const struct place *p, json_object *obj, struct crisp_call_record *rec)
{
        struct record_arg a = {.rec = rec};
        int r = for_each_key(p, "the line", obj, record_key, &a);
        if (r < 0)
                return r;
        if (rec->method == NULL)
                return fail(p, "the record has no 'method'");
        if (!crisp_method_path_valid(rec->method))
                return fail(p,
                            "unknown method '%.200s': not a gRPC method path "
                            "(/package.Service/Method)",
                            rec->method);
        if (json_object_object_get_ex(obj, "requests", NULL) == 0)
                return fail(p, "the record has no 'requests'");
        if (rec->has_forwarded && rec->forwarded.n != rec->requests.n)
                return fail(p,
                            "'forwarded' has %zu messages but 'requests' has %zu: they go one "
                            "for one",
                            rec->forwarded.n, rec->requests.n);
        if (a.expect) {
                if (rec->requests.n == 0)
                        return fail(p, "'expect' needs a request to check, and 'requests' is "
                                       "empty");
                return take_expect(p, a.expect, rec);
        }
        return 0;
}

int crisp_recording_parse_line(const char *file, unsigned line, const char *text, size_t len,
                               bool complete, struct crisp_call_record **out, crisp_error **err)
{
        struct place p = {.file = file, .line = line, .err = err};
        /* json-c's JSON_TOKENER_VALIDATE_UTF8 lets overlong forms (C0 90)
         * through; the recorder writes those as U+FFFD, so such a line would
         * not be what crisp writes back, nor valid JSON to other readers. */
        for (size_t i = 0; i < len;) {
                size_t k = crisp_utf8_sequence((const unsigned char *)text + i, len - i);
                if (k == 0)
                        return fail(&p, "invalid JSON at column %zu: not UTF-8", i + 1);
                i += k;
        }
        struct json_tokener *tok = json_tokener_new();
        if (tok == NULL)
                return oom(&p);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                        JSON_TOKENER_VALIDATE_UTF8);
        /* json-c takes an int length; a longer line cannot be a valid record. */
        if (len > INT32_MAX) {
                json_tokener_free(tok);
                return fail(&p, "the line is longer than 2 GiB");
        }
        json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        int r = 0;
        if (jerr == json_tokener_continue)
                r = fail(&p, complete ? "truncated line: it ends before its JSON object does"
                                      : "truncated line: the file ends in the middle of a JSON "
                                        "object (was it cut short?)");
        else if (obj == NULL)
                r = fail(&p, "invalid JSON at column %zu: %s", end + 1,
                         json_tokener_error_desc(jerr));
        else if (!json_object_is_type(obj, json_type_object))
                r = fail(&p, "the line must hold a JSON object, not %s", type_name(obj));
        for (size_t i = end; r == 0 && i < len; i++)
                if (!isspace((unsigned char)text[i]))
                        r = fail(&p, "unexpected text after the JSON object, at column %zu", i + 1);
        if (r < 0) {
                json_object_put(obj);
                return r;
        }

        struct crisp_call_record *rec = calloc(1, sizeof(*rec));
        if (rec == NULL) {
                json_object_put(obj);
                return oom(&p);
        }
        rec->duration_us = -1;
        rec->line = line;
        r = parse_record(&p, obj, rec);
        json_object_put(obj);
        if (r < 0) {
                crisp_call_record_free(rec);
                return r;
        }
        *out = rec;
        return 0;
}

/* ---- a whole file ---------------------------------------------------------------- */

static bool blank(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!isspace((unsigned char)s[i]))
                        return false;
        return true;
}

void crisp_recording_free(struct crisp_recording *rec)
{
        if (rec == NULL)
                return;
        for (size_t i = 0; i < rec->n; i++)
                crisp_call_record_free(rec->calls[i]);
        free(rec->calls);
        free(rec->path);
        free(rec);
}

static void recording_freep(struct crisp_recording **r)
{
        crisp_recording_free(*r);
}

int crisp_recording_load(const char *path, struct crisp_recording **out, crisp_error **err)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (f == NULL)
                return crisp_error_set_errno(err, errno, "cannot open %s", path);

        __attribute__((cleanup(recording_freep))) struct crisp_recording *rec =
            calloc(1, sizeof(*rec));
        if (rec == NULL || (rec->path = strdup(path)) == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", path);

        _cleanup_free_ char *buf = NULL;
        size_t cap = 0, calls_cap = 0;
        unsigned line = 0;
        ssize_t n;
        errno = 0;
        while ((n = getline(&buf, &cap, f)) >= 0) {
                line++;
                size_t len = (size_t)n;
                bool complete = len > 0 && buf[len - 1] == '\n';
                if (complete)
                        len--;
                if (memchr(buf, '\0', len) != NULL)
                        return crisp_error_set(err, EINVAL, "%s:%u: the line holds a NUL byte",
                                               path, line);
                if (blank(buf, len))
                        continue;
                if (rec->n == calls_cap) {
                        size_t c = calls_cap ? calls_cap * 2 : 64;
                        struct crisp_call_record **calls = realloc(rec->calls, c * sizeof(*calls));
                        if (calls == NULL)
                                return crisp_error_set(err, ENOMEM, "%s:%u: out of memory", path,
                                                       line);
                        rec->calls = calls;
                        calls_cap = c;
                }
                int r = crisp_recording_parse_line(path, line, buf, len, complete,
                                                   &rec->calls[rec->n], err);
                if (r < 0)
                        return r;
                rec->n++;
        }
        if (ferror(f))
                return crisp_error_set_errno(err, errno ? errno : EIO, "cannot read %s", path);
        if (rec->n == 0)
                return crisp_error_set(err, EINVAL,
                                       line == 0 ? "%s: the recording is empty (no records)"
                                                 : "%s: the recording holds no records, only "
                                                   "blank lines",
                                       path);
        *out = steal_pointer(&rec);
        return 0;
}
