/* The call observer that counts calls, durations and policy decisions into
 * metrics/metrics.h (metrics_tap.h). */
#include "metrics_tap.h"

#include <stdlib.h>
#include <time.h>

#include "metrics/metrics.h"

struct tap_call {
        int method;
        struct timespec start;
};

static void *tap_begin(void *self, const char *method, unsigned *wants)
{
        (void)self;
        *wants = 0;
        struct tap_call *c = malloc(sizeof(*c));
        if (c == NULL)
                return NULL; /* this call goes uncounted */
        c->method = crisp_metrics_method_index(method);
        clock_gettime(CLOCK_MONOTONIC, &c->start);
        crisp_metrics_call_started();
        return c;
}

static void tap_rewrite(void *call, const struct crisp_rewrite_result *result)
{
        (void)call;
        crisp_metrics_decision(result);
}

static void tap_rejected(void *call, const char *reason)
{
        (void)call;
        crisp_metrics_decode_failure(reason); /* the reason starts with the method */
}

static void tap_end(void *call, int code, const char *details, size_t details_len)
{
        (void)details, (void)details_len;
        struct tap_call *c = call;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t us = (int64_t)(now.tv_sec - c->start.tv_sec) * 1000000 +
                     (now.tv_nsec - c->start.tv_nsec) / 1000;
        crisp_metrics_call_ended(c->method, code, us > 0 ? (uint64_t)us : 0);
        free(c);
}

static const struct crisp_call_observer tap = {
    .begin = tap_begin,
    .request = NULL, /* the bytes are not needed: the relay reads none for it */
    .rewrite = tap_rewrite,
    .rejected = tap_rejected,
    .response = NULL,
    .end = tap_end,
    .self = NULL,
};

const struct crisp_call_observer *crisp_metrics_tap(void)
{
        return &tap;
}
