/* The call observer that copies each call into a record and hands it to
 * the recorder when the call ends (record_tap.h). */
#include "record_tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One call being recorded. The record comes first so that the recorder,
 * which frees the record, frees this whole allocation. */
struct tap_call {
        struct crisp_call_record rec;
        struct crisp_record_tap *tap;
        struct timespec start_real, start_mono;
        size_t base_bytes; /* held for the call itself, until it ends */
        bool given_up;     /* over the budget: the record will be dropped */
        /* The rewriter's output for the first request, as the rewrite
         * callback saw it; used as `forwarded` when the request callback
         * does not say (see tap_request). */
        uint8_t *rewritten;
        size_t rewritten_len;
};

/* What one stored message costs, counting its slot in the list. */
static size_t message_cost(size_t len)
{
        return len + 2 * sizeof(struct crisp_msg);
}

/* The budget is spent: free what the call holds now, keep counting until it
 * ends, then count it as one dropped record. */
static void give_up(struct tap_call *c)
{
        struct crisp_call_record *rec = &c->rec;
        crisp_msg_list_clear(&rec->requests);
        crisp_msg_list_clear(&rec->forwarded);
        crisp_msg_list_clear(&rec->responses);
        free(rec->pod_namespace);
        free(rec->pod_name);
        free(rec->pod_uid);
        free(rec->container);
        rec->pod_namespace = rec->pod_name = rec->pod_uid = rec->container = NULL;
        free(c->rewritten);
        c->rewritten = NULL;
        crisp_recorder_release(c->tap->recorder, rec->held_bytes - c->base_bytes);
        rec->held_bytes = c->base_bytes;
        c->given_up = true;
}

static bool reserve(struct tap_call *c, size_t bytes)
{
        if (!crisp_recorder_reserve(c->tap->recorder, bytes)) {
                give_up(c);
                return false;
        }
        c->rec.held_bytes += bytes;
        return true;
}

static void *tap_begin(void *self, const char *method, unsigned *wants)
{
        struct crisp_record_tap *tap = self;
        *wants = CRISP_OBSERVE_REQUESTS | CRISP_OBSERVE_RESPONSES;
        if (!crisp_recorder_accepting(tap->recorder))
                return NULL;
        size_t method_len = strlen(method);
        size_t base = sizeof(struct tap_call) + method_len + 1;
        if (!crisp_recorder_reserve(tap->recorder, base)) {
                crisp_recorder_count_drop(tap->recorder);
                return NULL;
        }
        struct tap_call *c = calloc(1, sizeof(*c));
        char *m = malloc(method_len + 1);
        if (c == NULL || m == NULL) {
                free(c);
                free(m);
                crisp_recorder_release(tap->recorder, base);
                crisp_recorder_count_drop(tap->recorder);
                return NULL;
        }
        memcpy(m, method, method_len + 1);
        c->rec.method = m;
        c->rec.duration_us = -1;
        c->rec.held_bytes = c->base_bytes = base;
        c->tap = tap;
        clock_gettime(CLOCK_REALTIME, &c->start_real);
        clock_gettime(CLOCK_MONOTONIC, &c->start_mono);
        return c;
}

static void tap_request(void *call, const uint8_t *data, size_t len, const uint8_t *forwarded,
                        size_t forwarded_len)
{
        struct tap_call *c = call;
        struct crisp_call_record *rec = &c->rec;
        if (c->given_up)
                return;
        /* The rewriter's bytes are what crisp forwarded for the first request,
         * whether or not the relay passes them on here as well. */
        if (forwarded == NULL && c->rewritten != NULL && rec->requests.n == 0 &&
            rec->dropped_requests == 0) {
                forwarded = c->rewritten;
                forwarded_len = c->rewritten_len;
        }
        if (rec->requests.n >= c->tap->max_messages) {
                rec->dropped_requests++;
                return;
        }
        /* `forwarded` lists every request as sent once any was changed: the
         * ones before (and after) the change went as they came. */
        bool need_forwarded = rec->has_forwarded || forwarded != NULL;
        size_t cost = message_cost(len);
        if (need_forwarded)
                cost += message_cost(forwarded ? forwarded_len : len);
        if (forwarded != NULL && !rec->has_forwarded)
                for (size_t i = 0; i < rec->requests.n; i++)
                        cost += message_cost(rec->requests.items[i].len);
        if (!reserve(c, cost))
                return;

        bool ok = crisp_msg_list_append(&rec->requests, data, len) == 0;
        if (ok && forwarded != NULL && !rec->has_forwarded) {
                rec->has_forwarded = true;
                for (size_t i = 0; ok && i + 1 < rec->requests.n; i++)
                        ok = crisp_msg_list_append(&rec->forwarded, rec->requests.items[i].data,
                                                   rec->requests.items[i].len) == 0;
        }
        if (ok && rec->has_forwarded)
                ok = crisp_msg_list_append(&rec->forwarded, forwarded ? forwarded : data,
                                           forwarded ? forwarded_len : len) == 0;
        if (!ok)
                give_up(c);
        /* Its copy now lives in `forwarded` (or is no longer needed). */
        if (c->rewritten) {
                free(c->rewritten);
                c->rewritten = NULL;
                if (!c->given_up) {
                        crisp_recorder_release(c->tap->recorder, c->rewritten_len);
                        rec->held_bytes -= c->rewritten_len;
                }
        }
}

static char *copy_identity(struct tap_call *c, const char *s)
{
        if (c->given_up || s[0] == '\0')
                return NULL;
        size_t n = strlen(s) + 1;
        if (!reserve(c, n))
                return NULL;
        char *copy = malloc(n);
        if (copy == NULL) {
                give_up(c);
                return NULL;
        }
        memcpy(copy, s, n);
        return copy;
}

static void tap_rewrite(void *call, const struct crisp_rewrite_result *result)
{
        struct tap_call *c = call;
        struct crisp_call_record *rec = &c->rec;
        /* The first request only: later calls of the callback change nothing. */
        if (rec->pod_namespace || rec->pod_name || rec->pod_uid || rec->container)
                return;
        if (result->changed && result->bytes && c->rewritten == NULL && !c->given_up &&
            reserve(c, result->len)) {
                c->rewritten = malloc(result->len ? result->len : 1);
                if (c->rewritten == NULL) {
                        give_up(c);
                        return;
                }
                memcpy(c->rewritten, result->bytes, result->len);
                c->rewritten_len = result->len;
        }
        rec->pod_namespace = copy_identity(c, result->pod_namespace);
        rec->pod_name = copy_identity(c, result->pod_name);
        rec->pod_uid = copy_identity(c, result->pod_uid);
        rec->container = copy_identity(c, result->container);
}

static void tap_response(void *call, const uint8_t *data, size_t len)
{
        struct tap_call *c = call;
        struct crisp_call_record *rec = &c->rec;
        if (c->given_up)
                return;
        if (rec->responses.n >= c->tap->max_messages) {
                rec->dropped_responses++;
                return;
        }
        if (!reserve(c, message_cost(len)))
                return;
        if (crisp_msg_list_append(&rec->responses, data, len) < 0)
                give_up(c);
}

static void tap_end(void *call, int code, const char *details, size_t details_len)
{
        struct tap_call *c = call;
        struct crisp_call_record *rec = &c->rec;
        struct crisp_recorder *recorder = c->tap->recorder;
        if (!c->given_up && reserve(c, details_len + 1)) {
                rec->details = malloc(details_len + 1);
                if (rec->details == NULL)
                        give_up(c);
        }
        free(c->rewritten); /* a rewritten request that never came to be recorded */
        c->rewritten = NULL;
        if (c->given_up) {
                size_t held = rec->held_bytes;
                crisp_call_record_free(rec);
                crisp_recorder_release(recorder, held);
                crisp_recorder_count_drop(recorder);
                return;
        }
        if (details_len)
                memcpy(rec->details, details, details_len);
        rec->details[details_len] = '\0';
        rec->details_len = details_len;
        rec->has_code = true;
        rec->code = code;
        rec->has_responses = true;

        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        rec->duration_us = (int64_t)(now.tv_sec - c->start_mono.tv_sec) * 1000000 +
                           (now.tv_nsec - c->start_mono.tv_nsec) / 1000;
        crisp_format_rfc3339(&c->start_real, rec->time, sizeof(rec->time));
        crisp_recorder_submit(recorder, rec);
}

void crisp_record_tap_init(struct crisp_record_tap *tap, struct crisp_recorder *recorder,
                           unsigned max_messages)
{
        memset(tap, 0, sizeof(*tap));
        tap->recorder = recorder;
        tap->max_messages = max_messages;
        tap->observer.begin = tap_begin;
        tap->observer.request = tap_request;
        tap->observer.rewrite = tap_rewrite;
        tap->observer.response = tap_response;
        tap->observer.end = tap_end;
        tap->observer.self = tap;
}
