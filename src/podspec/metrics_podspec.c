/* The pod-spec source's own counters, rendered with crisp's metrics
 * (metrics_podspec.h). */
#include "podspec/metrics_podspec.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

static const char *const restart_names[CRISP_RESTART_N] = {"timeout", "gone", "dropped", "error",
                                                           "kubeconfig"};
static const char *const lookup_results[] = {"spec",       "static-manifest", "undecided",
                                             "not-synced", "timeout",         "shutdown"};
#define N_RESULTS (sizeof(lookup_results) / sizeof(lookup_results[0]))

static struct {
        atomic_bool enabled;
        atomic_bool synced;
        atomic_ulong pods;
        atomic_ulong static_pods;
        atomic_llong last_event_ms; /* CLOCK_MONOTONIC; 0: never */
        atomic_ulong restarts[CRISP_RESTART_N];
        atomic_ulong lookups[N_RESULTS];
} p;

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void crisp_metrics_podspec_enable(void)
{
        atomic_store(&p.enabled, true);
}

void crisp_metrics_podspec_synced(bool synced)
{
        atomic_store(&p.synced, synced);
}

void crisp_metrics_podspec_pods(size_t pods)
{
        atomic_store(&p.pods, pods);
}

void crisp_metrics_podspec_static_pods(size_t pods)
{
        atomic_store(&p.static_pods, pods);
}

void crisp_metrics_podspec_event(void)
{
        atomic_store(&p.last_event_ms, now_ms());
}

void crisp_metrics_podspec_restart(enum crisp_watch_restart why)
{
        if (why < CRISP_RESTART_N)
                atomic_fetch_add(&p.restarts[why], 1);
}

void crisp_metrics_podspec_lookup(const char *result)
{
        for (size_t i = 0; i < N_RESULTS; i++)
                if (strcmp(result, lookup_results[i]) == 0)
                        atomic_fetch_add(&p.lookups[i], 1);
}

void crisp_metrics_podspec_render(FILE *f)
{
        if (!atomic_load(&p.enabled))
                return;
        fprintf(f,
                "# HELP crisp_podspec_cache_synced 1 when the pod cache is listed and its watch "
                "is connected.\n# TYPE crisp_podspec_cache_synced gauge\n"
                "crisp_podspec_cache_synced %d\n",
                atomic_load(&p.synced) ? 1 : 0);
        fprintf(f,
                "# HELP crisp_podspec_cache_pods Pods of this node in the cache.\n"
                "# TYPE crisp_podspec_cache_pods gauge\ncrisp_podspec_cache_pods %lu\n",
                atomic_load(&p.pods));
        fprintf(f,
                "# HELP crisp_podspec_static_pods Static pod manifests read.\n"
                "# TYPE crisp_podspec_static_pods gauge\ncrisp_podspec_static_pods %lu\n",
                atomic_load(&p.static_pods));
        long long last = atomic_load(&p.last_event_ms);
        fprintf(f,
                "# HELP crisp_podspec_last_event_age_seconds Seconds since the last list, "
                "watch event or bookmark (-1: none yet).\n"
                "# TYPE crisp_podspec_last_event_age_seconds gauge\n"
                "crisp_podspec_last_event_age_seconds %.3f\n",
                last ? (double)(now_ms() - last) / 1000.0 : -1.0);
        fputs("# HELP crisp_podspec_watch_restarts_total Watches started again, by reason.\n"
              "# TYPE crisp_podspec_watch_restarts_total counter\n",
              f);
        for (int i = 0; i < CRISP_RESTART_N; i++)
                fprintf(f, "crisp_podspec_watch_restarts_total{reason=\"%s\"} %lu\n",
                        restart_names[i], atomic_load(&p.restarts[i]));
        fputs("# HELP crisp_podspec_lookups_total Ambiguous CreateContainer requests looked up, "
              "by result.\n# TYPE crisp_podspec_lookups_total counter\n",
              f);
        for (size_t i = 0; i < N_RESULTS; i++)
                fprintf(f, "crisp_podspec_lookups_total{result=\"%s\"} %lu\n", lookup_results[i],
                        atomic_load(&p.lookups[i]));
}
