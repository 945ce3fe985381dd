/* The pod-spec source's metrics (issue 8), rendered with the others by
 * crisp_metrics_render once the source is enabled. */
#ifndef CRISP_METRICS_PODSPEC_H
#define CRISP_METRICS_PODSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Why the watch started again: the label of crisp_podspec_watch_restarts_total. */
enum crisp_watch_restart {
        CRISP_RESTART_TIMEOUT = 0, /* the watch ended normally (timeoutSeconds) */
        CRISP_RESTART_GONE,        /* 410 Gone: relisted */
        CRISP_RESTART_DROPPED,     /* the connection broke */
        CRISP_RESTART_ERROR,       /* could not list or watch (network, TLS, HTTP status) */
        CRISP_RESTART_KUBECONFIG,  /* the kubeconfig could not be read */
        CRISP_RESTART_N,
};

void crisp_metrics_podspec_enable(void);
void crisp_metrics_podspec_synced(bool synced);
void crisp_metrics_podspec_pods(size_t pods);
void crisp_metrics_podspec_static_pods(size_t pods);
void crisp_metrics_podspec_event(void); /* an event (or a list) arrived now */
void crisp_metrics_podspec_restart(enum crisp_watch_restart why);
/* One lookup, by crisp_spec_answer.result ("spec", "static-manifest",
 * "undecided", "not-synced", "timeout", "shutdown"). */
void crisp_metrics_podspec_lookup(const char *result);

/* Writes the metrics when enabled; nothing otherwise. */
void crisp_metrics_podspec_render(FILE *f);

#endif
