/* `crisp replay FILE --runtime-endpoint SOCK`: sends each recorded call and
 * compares the answers (replay_send.h). */
#include "replay_send.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/support/time.h>

#include "replay_call.h"
#include "replay_wire.h"
#include "rule/rewrite.h"

struct id_map {
        struct pb_substitution *subs;
        size_t n, cap;
};

static const char *short_name(const char *method)
{
        const char *slash = strrchr(method, '/');
        return slash ? slash + 1 : method;
}

static bool ignored(const struct replay_send_options *o, const char *method)
{
        for (size_t i = 0; i < o->n_ignore; i++)
                if (strcmp(o->ignore[i], method) == 0 ||
                    strcmp(o->ignore[i], short_name(method)) == 0)
                        return true;
        return false;
}

/* The id a RunPodSandbox/CreateContainer response carries (field 1). */
static bool response_id(const struct crisp_msg *m, const uint8_t **id, size_t *len)
{
        size_t pos = 0;
        struct pb_field f;
        while (pb_next_field(m->data, m->len, &pos, &f) == 1) {
                if (f.number == 1 && f.wire_type == 2) {
                        *id = f.value;
                        *len = f.value_len;
                        return true;
                }
        }
        return false;
}

static int map_add(struct id_map *map, const uint8_t *from, size_t from_len, const uint8_t *to,
                   size_t to_len)
{
        for (size_t i = 0; i < map->n; i++)
                if (map->subs[i].from_len == from_len &&
                    memcmp(map->subs[i].from, from, from_len) == 0)
                        return 0; /* the first answer counts */
        if (map->n == map->cap) {
                size_t cap = map->cap ? map->cap * 2 : 8;
                struct pb_substitution *s = realloc(map->subs, cap * sizeof(*s));
                if (s == NULL)
                        return -ENOMEM;
                map->subs = s;
                map->cap = cap;
        }
        struct pb_substitution *s = &map->subs[map->n];
        s->from = malloc(from_len + 1);
        s->to = malloc(to_len + 1);
        if (s->from == NULL || s->to == NULL) {
                free(s->from);
                free(s->to);
                return -ENOMEM;
        }
        memcpy(s->from, from, from_len);
        memcpy(s->to, to, to_len);
        s->from_len = from_len;
        s->to_len = to_len;
        map->n++;
        return 0;
}

static void map_free(struct id_map *map)
{
        for (size_t i = 0; i < map->n; i++) {
                free(map->subs[i].from);
                free(map->subs[i].to);
        }
        free(map->subs);
}

/* A copy of `in` with the ids mapped (a plain copy when none applies).
 * Returns how many messages had an id replaced, or -ENOMEM. */
static int mapped_list(const struct crisp_msg_list *in, const struct id_map *map,
                       struct crisp_msg_list *out)
{
        int replaced = 0;
        for (size_t i = 0; i < in->n; i++) {
                uint8_t *m = NULL;
                size_t len = 0;
                int r =
                    pb_substitute(in->items[i].data, in->items[i].len, map->subs, map->n, &m, &len);
                if (r == 1) {
                        replaced++;
                        r = crisp_msg_list_append_owned(out, m, len);
                } else if (r == 0) {
                        r = crisp_msg_list_append(out, in->items[i].data, in->items[i].len);
                }
                if (r < 0) {
                        free(m);
                        return r;
                }
        }
        return replaced;
}

/* Recorded details with old ids replaced by new ones, for comparison. */
static char *mapped_text(const char *text, size_t len, const struct id_map *map, size_t *out_len)
{
        size_t cap = len + 1, n = 0;
        for (size_t i = 0; i < map->n; i++)
                cap += map->subs[i].to_len *
                       (len / (map->subs[i].from_len ? map->subs[i].from_len : 1) + 1);
        char *out = malloc(cap);
        if (out == NULL)
                return NULL;
        for (size_t i = 0; i < len;) {
                const struct pb_substitution *hit = NULL;
                for (size_t k = 0; k < map->n && !hit; k++)
                        if (map->subs[k].from_len > 0 && map->subs[k].from_len <= len - i &&
                            memcmp(text + i, map->subs[k].from, map->subs[k].from_len) == 0)
                                hit = &map->subs[k];
                if (hit) {
                        memcpy(out + n, hit->to, hit->to_len);
                        n += hit->to_len;
                        i += hit->from_len;
                } else {
                        out[n++] = text[i++];
                }
        }
        out[n] = '\0';
        *out_len = n;
        return out;
}

/* The name of a top-level response field, where the replay knows it. */
static const char *field_name(const char *method, uint32_t field)
{
        enum crisp_method m = crisp_method_classify(method, strlen(method));
        if (field == 1 && m == CRISP_METHOD_RUN_POD_SANDBOX)
                return "pod_sandbox_id";
        if (field == 1 && m == CRISP_METHOD_CREATE_CONTAINER)
                return "container_id";
        return NULL;
}

/* Describes how the answer's responses differ from the recorded ones (""
 * when they do not). */
static void describe_difference(const char *method, const struct crisp_msg_list *want,
                                const struct crisp_msg_list *got, bool truncated, char *buf,
                                size_t size)
{
        buf[0] = '\0';
        /* A recording cut at the message cap holds only the first responses. */
        if (truncated ? got->n < want->n : got->n != want->n) {
                snprintf(buf, size, "%zu responses, recorded %zu%s", got->n, want->n,
                         truncated ? " (and more, truncated)" : "");
                return;
        }
        for (size_t i = 0; i < want->n; i++) {
                size_t offset = 0;
                uint32_t field = 0;
                if (!pb_first_difference(want->items[i].data, want->items[i].len,
                                         got->items[i].data, got->items[i].len, &offset, &field))
                        continue;
                const char *name = field_name(method, field);
                char what[96];
                if (name)
                        snprintf(what, sizeof(what), "field %u %s", field, name);
                else if (field)
                        snprintf(what, sizeof(what), "field %u", field);
                else
                        snprintf(what, sizeof(what), "not a well-formed message");
                snprintf(buf, size, "response %zu differs at byte %zu (%s)", i + 1, offset, what);
                return;
        }
}

struct totals {
        size_t calls, status_matched, status_differed, status_unrecorded;
        size_t answer_identical, answer_differed, answer_ignored, answer_unrecorded;
};

static int replay_one(grpc_channel *ch, grpc_completion_queue *cq, const char *file,
                      const struct crisp_call_record *rec, const struct replay_send_options *o,
                      struct id_map *map, struct totals *t)
{
        struct crisp_msg_list requests = {0}, want = {0};
        struct replay_answer ans;
        int r = mapped_list(&rec->requests, map, &requests);
        bool ids_mapped = r > 0;
        if (r >= 0)
                r = replay_call(ch, cq, rec->method, &requests, o->timeout_ms, &ans);
        crisp_msg_list_clear(&requests);
        if (r < 0)
                return r;

        /* Learn the runtime's new id before comparing, so that this very
         * answer compares equal when only the id changed. */
        enum crisp_method kind = crisp_method_classify(rec->method, strlen(rec->method));
        const uint8_t *old_id = NULL, *new_id = NULL;
        size_t old_len = 0, new_len = 0;
        if (kind != CRISP_METHOD_OTHER && rec->responses.n > 0 && ans.responses.n > 0 &&
            response_id(&rec->responses.items[0], &old_id, &old_len) &&
            response_id(&ans.responses.items[0], &new_id, &new_len) &&
            (old_len != new_len || memcmp(old_id, new_id, old_len) != 0))
                r = map_add(map, old_id, old_len, new_id, new_len);
        if (r == 0) {
                r = mapped_list(&rec->responses, map, &want);
                ids_mapped = ids_mapped || r > 0;
        }
        if (r < 0) {
                replay_answer_clear(&ans);
                crisp_msg_list_clear(&want);
                return r;
        }

        t->calls++;
        char status[256], answer[256];
        bool status_ok = true, answer_ok = true;
        if (!rec->has_code) {
                t->status_unrecorded++;
                snprintf(status, sizeof(status), "%s (none recorded)", replay_code_name(ans.code));
        } else if (ans.code == rec->code) {
                t->status_matched++;
                snprintf(status, sizeof(status), "%s", replay_code_name(ans.code));
        } else {
                t->status_differed++;
                status_ok = false;
                snprintf(status, sizeof(status), "%s, recorded %s: \"%.120s\"",
                         replay_code_name(ans.code), replay_code_name(rec->code), ans.details);
        }

        if (!rec->has_responses) {
                t->answer_unrecorded++;
                snprintf(answer, sizeof(answer), "no responses recorded");
        } else {
                describe_difference(rec->method, &want, &ans.responses, rec->dropped_responses > 0,
                                    answer, sizeof(answer));
                if (answer[0] == '\0' && rec->details) {
                        size_t len = 0;
                        char *details = mapped_text(rec->details, rec->details_len, map, &len);
                        if (details &&
                            (len != ans.details_len || memcmp(details, ans.details, len) != 0))
                                snprintf(answer, sizeof(answer),
                                         "status details differ: \"%.100s\"", ans.details);
                        free(details);
                }
                if (answer[0] == '\0') {
                        t->answer_identical++;
                        snprintf(answer, sizeof(answer), "responses identical%s",
                                 ids_mapped ? " (with the runtime's new ids)" : "");
                } else if (ignored(o, rec->method)) {
                        t->answer_ignored++;
                        strncat(answer, " [ignored]", sizeof(answer) - strlen(answer) - 1);
                } else {
                        t->answer_differed++;
                        answer_ok = false;
                }
        }
        printf("%-7s %s:%u %s: %s; %s\n", status_ok && answer_ok ? "ok" : "DIFFERS", file,
               rec->line, short_name(rec->method), status, answer);
        replay_answer_clear(&ans);
        crisp_msg_list_clear(&want);
        return 0;
}

int replay_send_main(const struct crisp_recording *recording, const struct replay_send_options *o)
{
        grpc_init();
        grpc_channel *ch = replay_channel(o->endpoint);
        grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
        struct id_map map = {0};
        struct totals t = {0};
        int r = 0;
        for (size_t i = 0; r == 0 && i < recording->n; i++)
                r = replay_one(ch, cq, recording->path, recording->calls[i], o, &map, &t);
        grpc_channel_destroy(ch);
        grpc_completion_queue_shutdown(cq);
        while (
            grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
            GRPC_QUEUE_SHUTDOWN)
                ;
        grpc_completion_queue_destroy(cq);
        grpc_shutdown_blocking();
        map_free(&map);
        if (r < 0) {
                fprintf(stderr, "crisp replay: %s: cannot replay: %s\n", recording->path,
                        strerror(-r));
                return 1;
        }
        bool ok = t.status_differed == 0 && t.answer_differed == 0;
        printf("replay: %s: %zu calls; status: %zu matched, %zu differed, %zu not recorded; "
               "responses: %zu identical, %zu differed, %zu ignored, %zu not recorded: %s\n",
               recording->path, t.calls, t.status_matched, t.status_differed, t.status_unrecorded,
               t.answer_identical, t.answer_differed, t.answer_ignored, t.answer_unrecorded,
               ok ? "ok" : "FAILED");
        return ok ? 0 : 1;
}
