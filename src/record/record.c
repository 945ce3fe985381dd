/* One recorded call in memory, and the JSON line it becomes in a recording
 * file (record.h). */
#include "record/record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "record/redact.h"

/* ---- message lists --------------------------------------------------------- */

int crisp_msg_list_append_owned(struct crisp_msg_list *l, uint8_t *data, size_t len)
{
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 2;
                struct crisp_msg *items = realloc(l->items, cap * sizeof(*items));
                if (items == NULL)
                        return -ENOMEM;
                l->items = items;
                l->cap = cap;
        }
        l->items[l->n].data = data;
        l->items[l->n].len = len;
        l->n++;
        return 0;
}

int crisp_msg_list_append(struct crisp_msg_list *l, const uint8_t *data, size_t len)
{
        uint8_t *copy = malloc(len ? len : 1);
        if (copy == NULL)
                return -ENOMEM;
        if (len)
                memcpy(copy, data, len);
        int r = crisp_msg_list_append_owned(l, copy, len);
        if (r < 0)
                free(copy);
        return r;
}

void crisp_msg_list_clear(struct crisp_msg_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i].data);
        free(l->items);
        l->items = NULL;
        l->n = l->cap = 0;
}

const char *crisp_context_name(enum crisp_context c)
{
        switch (c) {
        case CRISP_CONTEXT_CONTAINER:
                return "container";
        case CRISP_CONTEXT_SANDBOX_CONFIG:
                return "sandbox_config";
        case CRISP_CONTEXT_SANDBOX:
                return "sandbox";
        case CRISP_CONTEXT_COUNT:
                break;
        }
        return "?";
}

void crisp_call_record_free(struct crisp_call_record *r)
{
        if (r == NULL)
                return;
        free(r->method);
        free(r->pod_namespace);
        free(r->pod_name);
        free(r->pod_uid);
        free(r->container);
        crisp_msg_list_clear(&r->requests);
        crisp_msg_list_clear(&r->forwarded);
        crisp_msg_list_clear(&r->responses);
        free(r->details);
        free(r->name);
        for (int i = 0; i < CRISP_CONTEXT_COUNT; i++) {
                free(r->expect.contexts[i].localhost_ref);
                free(r->expect.contexts[i].path);
        }
        free(r);
}

void crisp_format_rfc3339(const struct timespec *ts, char *buf, size_t size)
{
        struct tm tm;
        gmtime_r(&ts->tv_sec, &tm);
        char date[32];
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, size, "%s.%06ldZ", date, ts->tv_nsec / 1000);
}

/* ---- a growable output buffer ------------------------------------------------ */

struct out {
        char *p;
        size_t len, cap;
        bool oom; /* sticky: checked once at the end */
};

static char *out_reserve(struct out *o, size_t n)
{
        if (o->oom)
                return NULL;
        if (o->len + n > o->cap) {
                size_t cap = o->cap ? o->cap : 256;
                while (cap < o->len + n)
                        cap *= 2;
                char *p = realloc(o->p, cap);
                if (p == NULL) {
                        o->oom = true;
                        return NULL;
                }
                o->p = p;
                o->cap = cap;
        }
        return o->p + o->len;
}

static void out_mem(struct out *o, const void *data, size_t n)
{
        char *dst = out_reserve(o, n);
        if (dst == NULL)
                return;
        memcpy(dst, data, n);
        o->len += n;
}

static void out_str(struct out *o, const char *s)
{
        out_mem(o, s, strlen(s));
}

static void out_int(struct out *o, int64_t v)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
        out_mem(o, buf, (size_t)n);
}

size_t crisp_utf8_sequence(const unsigned char *s, size_t n)
{
        size_t need;
        uint32_t cp;
        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0) {
                need = 2;
                cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                need = 3;
                cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                need = 4;
                cp = s[0] & 0x07;
        } else {
                return 0;
        }
        if (n < need)
                return 0;
        for (size_t i = 1; i < need; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values past Unicode are not UTF-8. */
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return need;
}

/* A JSON string. Strings from the wire (status details, pod names) are bytes:
 * invalid UTF-8 becomes U+FFFD, so the line is always valid JSON. */
static void out_json_string(struct out *o, const char *s, size_t n)
{
        const unsigned char *u = (const unsigned char *)s;
        out_mem(o, "\"", 1);
        size_t i = 0;
        while (i < n) {
                unsigned char c = u[i];
                if (c == '"' || c == '\\') {
                        char esc[2] = {'\\', (char)c};
                        out_mem(o, esc, 2);
                        i++;
                } else if (c < 0x20 || c == 0x7f) {
                        char esc[8];
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        out_mem(o, esc, 6);
                        i++;
                } else {
                        size_t k = crisp_utf8_sequence(u + i, n - i);
                        if (k == 0) {
                                out_str(o, "\\ufffd");
                                i++;
                        } else {
                                out_mem(o, s + i, k);
                                i += k;
                        }
                }
        }
        out_mem(o, "\"", 1);
}

/* A top-level key: every one but the first follows a comma. */
static void out_key(struct out *o, const char *key)
{
        if (o->len > 0 && o->p[o->len - 1] != '{')
                out_mem(o, ",", 1);
        out_json_string(o, key, strlen(key));
        out_mem(o, ":", 1);
}

static void out_base64(struct out *o, const uint8_t *data, size_t len)
{
        size_t n = crisp_base64_encoded_len(len);
        char *dst = out_reserve(o, n + 2);
        if (dst == NULL)
                return;
        dst[0] = '"';
        crisp_base64_encode(data, len, dst + 1);
        dst[n + 1] = '"';
        o->len += n + 2;
}

static void out_messages(struct out *o, const char *key, const struct crisp_msg_list *l,
                         const char *method, bool request, bool redact)
{
        enum crisp_redact_kind kind =
            redact ? crisp_redact_kind_of(method, request) : CRISP_REDACT_NOTHING;
        out_key(o, key);
        out_mem(o, "[", 1);
        for (size_t i = 0; i < l->n; i++) {
                if (i > 0)
                        out_mem(o, ",", 1);
                if (kind == CRISP_REDACT_NOTHING) {
                        out_base64(o, l->items[i].data, l->items[i].len);
                        continue;
                }
                uint8_t *clean = NULL;
                size_t clean_len = 0;
                int r =
                    crisp_redact(kind, l->items[i].data, l->items[i].len, &clean, &clean_len, NULL);
                if (r == -ENOMEM)
                        o->oom = true;
                /* Not decodable: what it holds is unknown, so none of it is kept. */
                out_base64(o, r == 0 ? clean : NULL, r == 0 ? clean_len : 0);
                free(clean);
        }
        out_mem(o, "]", 1);
}

int crisp_record_to_json(const struct crisp_call_record *r, bool redact, char **line, size_t *len,
                         crisp_error **err)
{
        struct out o = {0};
        /* "time" first: a reader scanning the file sees when before what. */
        out_mem(&o, "{", 1);
        if (r->time[0]) {
                out_key(&o, "time");
                out_json_string(&o, r->time, strlen(r->time));
        }
        out_key(&o, "method");
        out_json_string(&o, r->method, strlen(r->method));
        if (r->duration_us >= 0) {
                out_key(&o, "duration_us");
                out_int(&o, r->duration_us);
        }
        if (r->name) {
                out_key(&o, "name");
                out_json_string(&o, r->name, strlen(r->name));
        }
        if (r->pod_namespace || r->pod_name || r->pod_uid) {
                out_key(&o, "pod");
                out_mem(&o, "{", 1);
                const char *sep = "";
                const char *keys[] = {"namespace", "name", "uid"};
                const char *vals[] = {r->pod_namespace, r->pod_name, r->pod_uid};
                for (int i = 0; i < 3; i++) {
                        if (vals[i] == NULL)
                                continue;
                        out_str(&o, sep);
                        out_json_string(&o, keys[i], strlen(keys[i]));
                        out_mem(&o, ":", 1);
                        out_json_string(&o, vals[i], strlen(vals[i]));
                        sep = ",";
                }
                out_mem(&o, "}", 1);
        }
        if (r->container) {
                out_key(&o, "container");
                out_json_string(&o, r->container, strlen(r->container));
        }
        out_messages(&o, "requests", &r->requests, r->method, true, redact);
        if (r->has_forwarded)
                out_messages(&o, "forwarded", &r->forwarded, r->method, true, redact);
        if (r->has_responses)
                out_messages(&o, "responses", &r->responses, r->method, false, redact);
        if (r->has_code) {
                out_key(&o, "code");
                out_int(&o, r->code);
        }
        if (r->details) {
                out_key(&o, "details");
                out_json_string(&o, r->details, r->details_len);
        }
        if (r->dropped_requests || r->dropped_responses) {
                out_key(&o, "truncated");
                out_str(&o, "{\"requests\":");
                out_int(&o, (int64_t)r->dropped_requests);
                out_str(&o, ",\"responses\":");
                out_int(&o, (int64_t)r->dropped_responses);
                out_mem(&o, "}", 1);
        }
        out_mem(&o, "}\n", 3); /* the NUL too, so that the line is also a C string */
        if (o.oom) {
                free(o.p);
                return crisp_error_set(err, ENOMEM, "out of memory writing a %s record", r->method);
        }
        *line = o.p;
        *len = o.len - 1;
        return 0;
}
