/* Several call observers as one (the relay takes a single observer): the
 * recorder's and the metrics'. Each member's per-call state is kept in a
 * small array allocated per call. */
#ifndef CRISP_OBSERVERS_H
#define CRISP_OBSERVERS_H

#include <stddef.h>

#include "call_observer.h"

#define CRISP_OBSERVERS_MAX 4

struct crisp_observers {
        struct crisp_call_observer observer; /* give &fan->observer to the server */
        const struct crisp_call_observer *members[CRISP_OBSERVERS_MAX];
        size_t n;
};

void crisp_observers_init(struct crisp_observers *fan);

/* Adds a member (NULL is ignored); returns 0 or -ENOSPC. */
int crisp_observers_add(struct crisp_observers *fan, const struct crisp_call_observer *member);

/* The observer to give the server: NULL with no member, the member itself
 * with one, the fan-out with several. */
const struct crisp_call_observer *crisp_observers_get(const struct crisp_observers *fan);

#endif
