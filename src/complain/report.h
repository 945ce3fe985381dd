/* issue 14 (complain mode): what crisp learned, in bounded tables. Pure
 * code, thread-safe (one mutex; every operation is short).
 *
 * - containers: the containers crisp started under a twin (id -> pod
 *   identity), from the CreateContainer rewrite and response; at most
 *   CRISP_REPORT_MAX_CONTAINERS, the oldest forgotten first;
 * - pids: which container a process is in (pid -> container), learned from
 *   /proc/<pid>/cgroup and inherited at fork; a direct-mapped cache of
 *   CRISP_REPORT_PID_SLOTS entries (a collision forgets the older pid);
 * - findings: (container, syscall) -> count, first and last seen; at most
 *   CRISP_REPORT_MAX_FINDINGS (which also bounds the metric's series);
 *   beyond that new pairs are counted in `dropped`.
 * crisp report prints crisp_report_json's document. */
#ifndef CRISP_COMPLAIN_REPORT_H
#define CRISP_COMPLAIN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CRISP_REPORT_MAX_CONTAINERS 4096
#define CRISP_REPORT_MAX_FINDINGS   1024
#define CRISP_REPORT_PID_SLOTS      65536

struct crisp_report;

struct crisp_workload {
        char namespace_[128];
        char pod[256];
        char container[256];
};

struct crisp_report_counters {
        uint64_t records;       /* seccomp records of twin containers, attributed */
        uint64_t unattributed;  /* LOG records crisp could not map to a container */
        uint64_t unparsed;      /* type=1326 records that did not parse */
        uint64_t lost;          /* records the kernel's rate limiter dropped */
        uint64_t dropped;       /* findings beyond CRISP_REPORT_MAX_FINDINGS */
        uint64_t twin_failures; /* security contexts that fell back to enforce */
};

struct crisp_report *crisp_report_new(void);
void crisp_report_free(struct crisp_report *r);

/* A container now runs under a twin (id: 64 hex digits). */
void crisp_report_add_container(struct crisp_report *r, const char *id,
                                const struct crisp_workload *w, int64_t now);

/* Whether `id` is a container crisp started under a twin. */
bool crisp_report_knows(struct crisp_report *r, const char *id);

/* pid -> container id (NULL/empty: not one of ours, which also clears a
 * stale entry of a reused pid). */
void crisp_report_set_pid(struct crisp_report *r, int pid, const char *id);
/* Copies the pid's container id into id[65]; false when unknown. */
bool crisp_report_pid(struct crisp_report *r, int pid, char id[65]);

/* One record of `syscall` from container `id`. Returns the finding's
 * count after it (1: a new finding, log it), 0 when the container is not
 * known (counted unattributed) or the table is full (counted dropped).
 * *w receives the workload when not NULL. */
uint64_t crisp_report_hit(struct crisp_report *r, const char *id, const char *syscall, int64_t now,
                          struct crisp_workload *w);

/* No container is known (the reader then skips process events). */
bool crisp_report_empty(struct crisp_report *r);

/* Counters. */
void crisp_report_count(struct crisp_report *r, const struct crisp_report_counters *add);
void crisp_report_counters(struct crisp_report *r, struct crisp_report_counters *out);

/* The report as JSON (malloc'ed): {"workloads": [{"namespace", "pod",
 * "container", "would_break", "syscalls": [{"name", "count", "first_seen",
 * "last_seen"}]}], "counters": {...}}; times are Unix seconds. One
 * workload per (namespace, pod, container), its restarts merged, sorted
 * by namespace, pod and container. */
char *crisp_report_json(struct crisp_report *r);

/* Prometheus text for crisp_complain_* (appended to /metrics). */
void crisp_report_metrics(struct crisp_report *r, FILE *out);

#endif
