/* log.format json: turns a text log line "message key=value..." into one
 * JSON object (log_json.h). */
#include "base/log_json.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* Is the token starting at p a key=value (a key of [A-Za-z0-9_.-] then '=')? */
static size_t key_length(const char *p)
{
        size_t n = 0;
        while (p[n] && (p[n] == '_' || p[n] == '-' || p[n] == '.' || (p[n] >= 'a' && p[n] <= 'z') ||
                        (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9')))
                n++;
        return (n > 0 && p[n] == '=') ? n : 0;
}

size_t crisp_log_json_line(const char *time, const char *level, const char *text, char *out,
                           size_t size)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "time", json_object_new_string(time));
        json_object_object_add(o, "level", json_object_new_string(level));

        /* The message: everything before the first key=value token. */
        const char *p = text;
        const char *msg_end = NULL;
        for (const char *q = text; *q; q++) {
                if ((q == text || q[-1] == ' ') && key_length(q) > 0) {
                        msg_end = q;
                        break;
                }
        }
        if (msg_end == NULL)
                msg_end = text + strlen(text);
        size_t msg_len = (size_t)(msg_end - text);
        while (msg_len > 0 && text[msg_len - 1] == ' ')
                msg_len--;
        json_object_object_add(o, "msg", json_object_new_string_len(text, (int)msg_len));

        p = msg_end;
        while (*p) {
                size_t kl = key_length(p);
                if (kl == 0) { /* stray text between fields: skip a word */
                        while (*p && *p != ' ')
                                p++;
                        while (*p == ' ')
                                p++;
                        continue;
                }
                char key[64];
                snprintf(key, sizeof(key), "%.*s", (int)kl, p);
                p += kl + 1;
                const char *v = p;
                size_t vl;
                if (*p == '"') {
                        v = ++p;
                        while (*p && *p != '"')
                                p++;
                        vl = (size_t)(p - v);
                        if (*p == '"')
                                p++;
                } else {
                        while (*p && *p != ' ')
                                p++;
                        vl = (size_t)(p - v);
                }
                json_object_object_add(o, key, json_object_new_string_len(v, (int)vl));
                while (*p == ' ')
                        p++;
        }
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n = strlen(s);
        if (n >= size)
                n = size - 1;
        memcpy(out, s, n);
        out[n] = '\0';
        json_object_put(o);
        return n;
}
