/* Timed waits on CLOCK_MONOTONIC, so a wall-clock step (NTP, an operator's
 * `date -s`) neither cuts a wait short nor stretches it. Used by the
 * threads that wait with a deadline: the recorder's writer, the pod-spec
 * resolver and the pod watch's backoff. */
#ifndef CRISP_MONOTONIC_H
#define CRISP_MONOTONIC_H

#include <pthread.h>
#include <time.h>

/* A condition variable whose pthread_cond_timedwait takes CLOCK_MONOTONIC
 * deadlines. */
static inline void crisp_cond_init_monotonic(pthread_cond_t *cond)
{
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
}

/* CLOCK_MONOTONIC's now plus `ms` milliseconds: a deadline for the above. */
static inline struct timespec crisp_monotonic_after_ms(long ms)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += ms / 1000;
        t.tv_nsec += (ms % 1000) * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
        }
        return t;
}

#endif
