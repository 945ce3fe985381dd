/* Several call observers as one, each with its own per-call state
 * (observers.h). */
#include "observers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fan_call {
        const struct crisp_observers *fan;
        void *state[CRISP_OBSERVERS_MAX]; /* NULL: that member ignores the call */
};

static void *fan_begin(void *self, const char *method, unsigned *wants)
{
        const struct crisp_observers *fan = self;
        struct fan_call *c = calloc(1, sizeof(*c));
        *wants = 0;
        if (c == NULL)
                return NULL;
        c->fan = fan;
        bool any = false;
        for (size_t i = 0; i < fan->n; i++) {
                unsigned w = 0;
                c->state[i] = fan->members[i]->begin(fan->members[i]->self, method, &w);
                if (c->state[i] != NULL) {
                        any = true;
                        *wants |= w; /* only what a member that follows this call asks */
                }
        }
        if (!any) {
                free(c);
                return NULL;
        }
        return c;
}

static void fan_request(void *call, const uint8_t *data, size_t len, const uint8_t *forwarded,
                        size_t forwarded_len)
{
        struct fan_call *c = call;
        for (size_t i = 0; i < c->fan->n; i++)
                if (c->state[i] && c->fan->members[i]->request)
                        c->fan->members[i]->request(c->state[i], data, len, forwarded,
                                                    forwarded_len);
}

static void fan_rewrite(void *call, const struct crisp_rewrite_result *result)
{
        struct fan_call *c = call;
        for (size_t i = 0; i < c->fan->n; i++)
                if (c->state[i])
                        c->fan->members[i]->rewrite(c->state[i], result);
}

static void fan_rejected(void *call, const char *reason)
{
        struct fan_call *c = call;
        for (size_t i = 0; i < c->fan->n; i++)
                if (c->state[i] && c->fan->members[i]->rejected)
                        c->fan->members[i]->rejected(c->state[i], reason);
}

static void fan_response(void *call, const uint8_t *data, size_t len)
{
        struct fan_call *c = call;
        for (size_t i = 0; i < c->fan->n; i++)
                if (c->state[i] && c->fan->members[i]->response)
                        c->fan->members[i]->response(c->state[i], data, len);
}

static void fan_end(void *call, int code, const char *details, size_t details_len)
{
        struct fan_call *c = call;
        for (size_t i = 0; i < c->fan->n; i++)
                if (c->state[i])
                        c->fan->members[i]->end(c->state[i], code, details, details_len);
        free(c);
}

void crisp_observers_init(struct crisp_observers *fan)
{
        memset(fan, 0, sizeof(*fan));
        fan->observer.begin = fan_begin;
        fan->observer.request = fan_request;
        fan->observer.rewrite = fan_rewrite;
        fan->observer.rejected = fan_rejected;
        fan->observer.response = fan_response;
        fan->observer.end = fan_end;
        fan->observer.self = fan;
}

int crisp_observers_add(struct crisp_observers *fan, const struct crisp_call_observer *member)
{
        if (member == NULL)
                return 0;
        if (fan->n == CRISP_OBSERVERS_MAX)
                return -ENOSPC;
        fan->members[fan->n++] = member;
        return 0;
}

const struct crisp_call_observer *crisp_observers_get(const struct crisp_observers *fan)
{
        if (fan->n == 0)
                return NULL;
        if (fan->n == 1)
                return fan->members[0];
        return &fan->observer;
}
