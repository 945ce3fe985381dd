/* Small helpers shared by the benchmark tools: a monotonic clock, loud
 * failure, strict number parsing and completion-queue deadlines. Header-only
 * so each tool stays a single .c file. */
#ifndef CRISP_BENCH_COMMON_H
#define CRISP_BENCH_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/support/time.h>

static inline uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Setup failures end the tool at once with a reason: a benchmark that
 * silently measures something else is worse than none. */
__attribute__((format(printf, 2, 3), noreturn)) static inline void die(const char *tool,
                                                                       const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: ", tool);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(2);
}

/* Parses a whole non-negative decimal number; returns -1 on anything else. */
static inline int parse_u64(const char *s, uint64_t *out)
{
        if (s == NULL || *s < '0' || *s > '9')
                return -1;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -1;
        *out = v;
        return 0;
}

static inline int parse_double(const char *s, double *out)
{
        if (s == NULL || *s == '\0')
                return -1;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno != 0 || *end != '\0' || !(v >= 0))
                return -1;
        *out = v;
        return 0;
}

/* gRPC's own monotonic clock has its own epoch, so a deadline is always
 * expressed as "this many ns from gRPC's now". */
static inline gpr_timespec deadline_in_ns(uint64_t ns)
{
        if (ns == UINT64_MAX)
                return gpr_inf_future(GPR_CLOCK_MONOTONIC);
        return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                            gpr_time_from_nanos((int64_t)ns, GPR_TIMESPAN));
}

#endif
