/* crisp's counters (C11 atomics) and their Prometheus text for /metrics
 * (metrics.h). */
#include "metrics/metrics.h"
#include "podspec/metrics_podspec.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule/seccomp_default.h"
#include "base/status_code.h"

/* The CRI's methods (runtime.v1 and v1alpha2); anything else is "other". */
static const char *const methods[] = {
    "Version",
    "RunPodSandbox",
    "StopPodSandbox",
    "RemovePodSandbox",
    "PodSandboxStatus",
    "ListPodSandbox",
    "CreateContainer",
    "StartContainer",
    "StopContainer",
    "RemoveContainer",
    "ListContainers",
    "ContainerStatus",
    "UpdateContainerResources",
    "ReopenContainerLog",
    "ExecSync",
    "Exec",
    "Attach",
    "PortForward",
    "ContainerStats",
    "ListContainerStats",
    "PodSandboxStats",
    "ListPodSandboxStats",
    "UpdateRuntimeConfig",
    "Status",
    "CheckpointContainer",
    "GetContainerEvents",
    "ListMetricDescriptors",
    "ListPodSandboxMetrics",
    "RuntimeConfig",
    "ListImages",
    "ImageStatus",
    "PullImage",
    "RemoveImage",
    "ImageFsInfo",
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]) + 1) /* + "other" */
#define OTHER     (N_METHODS - 1)
#define N_CODES   (CRISP_STATUS_CODE_COUNT + 1) /* gRPC codes, then anything else */

/* The label of code index c: gRPC's name, or OTHER for the last slot. */
static const char *code_label(int c)
{
        const char *name = crisp_status_code_name(c);
        return name ? name : "OTHER";
}

/* Call duration buckets, in microseconds (rendered in seconds). */
static const uint64_t buckets_us[] = {1000,   5000,    10000,   50000,    100000,
                                      500000, 1000000, 5000000, 10000000, 30000000};
#define N_BUCKETS (sizeof(buckets_us) / sizeof(buckets_us[0]))

static const char *const contexts[] = {"container", "sandbox_config", "sandbox"};
#define N_CONTEXTS 3
#define N_FROM     5 /* enum crisp_profile_field */
static const char *const exemption_kinds[] = {"namespace", "podLabel", "runtimeHandler"};
#define N_KINDS 3

static struct {
        atomic_ulong calls[N_METHODS][N_CODES];
        atomic_ulong duration_bucket[N_METHODS][N_BUCKETS];
        atomic_ulong duration_count[N_METHODS];
        atomic_ulong duration_sum_us[N_METHODS];
        atomic_long in_flight;
        /* [mode: 0 enforce, 1 audit, 2 complain][context][from][to: 0 RuntimeDefault,
         * 1 Localhost (a complain twin is one)] */
        atomic_ulong rewrites[3][N_CONTEXTS][N_FROM][2];
        atomic_ulong exemptions[N_KINDS];
        atomic_ulong decode_failures[2]; /* RunPodSandbox, CreateContainer */
        atomic_ulong reloads[2];         /* failure, success */
        atomic_ulong accept_errors;
        atomic_ullong config_hash;
        atomic_int upstream_state;
        atomic_bool ready;
} m;

int crisp_metrics_method_index(const char *path)
{
        const char *slash = strrchr(path, '/');
        if (slash == NULL)
                return (int)OTHER;
        bool cri =
            strncmp(path, "/runtime.v1.", 12) == 0 || strncmp(path, "/runtime.v1alpha2.", 18) == 0;
        if (!cri)
                return (int)OTHER;
        for (size_t i = 0; i < N_METHODS - 1; i++)
                if (strcmp(slash + 1, methods[i]) == 0)
                        return (int)i;
        return (int)OTHER;
}

void crisp_metrics_call_started(void)
{
        atomic_fetch_add(&m.in_flight, 1);
}

void crisp_metrics_call_ended(int method, int code, uint64_t duration_us)
{
        if (method < 0 || (size_t)method >= N_METHODS)
                method = (int)OTHER;
        if (code < 0 || code >= N_CODES)
                code = N_CODES - 1;
        atomic_fetch_sub(&m.in_flight, 1);
        atomic_fetch_add(&m.calls[method][code], 1);
        for (size_t b = 0; b < N_BUCKETS; b++)
                if (duration_us <= buckets_us[b])
                        atomic_fetch_add(&m.duration_bucket[method][b], 1);
        atomic_fetch_add(&m.duration_count[method], 1);
        atomic_fetch_add(&m.duration_sum_us[method], duration_us);
}

static int context_index(const char *context)
{
        for (int i = 0; i < N_CONTEXTS; i++)
                if (strcmp(context, contexts[i]) == 0)
                        return i;
        return 0;
}

void crisp_metrics_decision(const struct crisp_rewrite_result *r)
{
        if (r->exemption[0] != '\0') {
                for (int k = 0; k < N_KINDS; k++) {
                        size_t n = strlen(exemption_kinds[k]);
                        if (strncmp(r->exemption, exemption_kinds[k], n) == 0 &&
                            r->exemption[n] == ':')
                                atomic_fetch_add(&m.exemptions[k], 1);
                }
                return;
        }
        for (size_t i = 0; i < r->n_changes; i++) {
                int from = (int)r->changes[i].from;
                if (from < 0 || from >= N_FROM)
                        from = 0;
                bool localhost = strncmp(r->changes[i].after, "Localhost", 9) == 0;
                int mode = r->audit ? 1 : r->complain ? 2 : 0;
                atomic_fetch_add(&m.rewrites[mode][context_index(r->changes[i].context)][from]
                                            [localhost ? 1 : 0],
                                 1);
        }
}

void crisp_metrics_decode_failure(const char *method_path)
{
        atomic_fetch_add(&m.decode_failures[strstr(method_path, "CreateContainer") ? 1 : 0], 1);
}

void crisp_metrics_reload(bool ok)
{
        atomic_fetch_add(&m.reloads[ok ? 1 : 0], 1);
}

void crisp_metrics_set_config_hash(uint64_t hash)
{
        atomic_store(&m.config_hash, hash);
}

void crisp_metrics_set_upstream_state(int state)
{
        atomic_store(&m.upstream_state, state);
}

void crisp_metrics_set_ready(bool ready)
{
        atomic_store(&m.ready, ready);
}

bool crisp_metrics_ready(void)
{
        return atomic_load(&m.ready);
}

void crisp_metrics_accept_error(void)
{
        atomic_fetch_add(&m.accept_errors, 1);
}

void crisp_metrics_reset(void)
{
        memset(&m, 0, sizeof(m)); /* tests only: nothing runs concurrently */
}

uint64_t crisp_metrics_hash(const void *data, size_t len)
{
        uint64_t h = 1469598103934665603ull;
        const unsigned char *p = data;
        for (size_t i = 0; i < len; i++) {
                h ^= p[i];
                h *= 1099511628211ull;
        }
        return h;
}

static const char *method_name(size_t i)
{
        return i == OTHER ? "other" : methods[i];
}

static void render_calls(FILE *f)
{
        fputs("# HELP crisp_calls_total CRI calls served, by method and the gRPC status the "
              "client got.\n# TYPE crisp_calls_total counter\n",
              f);
        for (size_t i = 0; i < N_METHODS; i++)
                for (int c = 0; c < N_CODES; c++) {
                        unsigned long v = atomic_load(&m.calls[i][c]);
                        if (v)
                                fprintf(f, "crisp_calls_total{method=\"%s\",code=\"%s\"} %lu\n",
                                        method_name(i), code_label(c), v);
                }
        fputs("# HELP crisp_call_duration_seconds Time from a call's start to its end.\n"
              "# TYPE crisp_call_duration_seconds histogram\n",
              f);
        for (size_t i = 0; i < N_METHODS; i++) {
                unsigned long count = atomic_load(&m.duration_count[i]);
                if (count == 0)
                        continue;
                for (size_t b = 0; b < N_BUCKETS; b++)
                        fprintf(f,
                                "crisp_call_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %lu\n",
                                method_name(i), (double)buckets_us[b] / 1e6,
                                atomic_load(&m.duration_bucket[i][b]));
                fprintf(f, "crisp_call_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %lu\n",
                        method_name(i), count);
                fprintf(f, "crisp_call_duration_seconds_sum{method=\"%s\"} %.6f\n", method_name(i),
                        (double)atomic_load(&m.duration_sum_us[i]) / 1e6);
                fprintf(f, "crisp_call_duration_seconds_count{method=\"%s\"} %lu\n", method_name(i),
                        count);
        }
        fprintf(f,
                "# HELP crisp_calls_in_flight Calls being served now.\n"
                "# TYPE crisp_calls_in_flight gauge\ncrisp_calls_in_flight %ld\n",
                atomic_load(&m.in_flight));
}

static void render_policy(FILE *f)
{
        fputs("# HELP crisp_seccomp_rewrites_total Security contexts defaulted (mode=enforce) "
              "or that enforce would have defaulted (mode=audit), or defaulted to a logging twin "
              "(mode=complain).\n"
              "# TYPE crisp_seccomp_rewrites_total counter\n",
              f);
        static const char *const modes[] = {"enforce", "audit", "complain"};
        for (int mode = 0; mode < 3; mode++)
                for (int c = 0; c < N_CONTEXTS; c++)
                        for (int from = 0; from < N_FROM; from++)
                                for (int to = 0; to < 2; to++) {
                                        unsigned long v =
                                            atomic_load(&m.rewrites[mode][c][from][to]);
                                        if (v)
                                                fprintf(f,
                                                        "crisp_seccomp_rewrites_total{mode=\"%s\","
                                                        "context=\"%s\",from=\"%s\",to=\"%s\"} "
                                                        "%lu\n",
                                                        modes[mode], contexts[c],
                                                        crisp_profile_field_name(
                                                            (enum crisp_profile_field)from),
                                                        to ? "Localhost" : "RuntimeDefault", v);
                                }
        fputs("# HELP crisp_audit_decisions_total Requests audit mode left unchanged that "
              "enforce would have rewritten.\n# TYPE crisp_audit_decisions_total counter\n",
              f);
        unsigned long audit = 0;
        for (int c = 0; c < N_CONTEXTS; c++)
                for (int from = 0; from < N_FROM; from++)
                        for (int to = 0; to < 2; to++)
                                audit += atomic_load(&m.rewrites[1][c][from][to]);
        fprintf(f, "crisp_audit_decisions_total %lu\n", audit);
        fputs("# HELP crisp_exemptions_total Requests forwarded unchanged because the pod "
              "matched an exemption.\n# TYPE crisp_exemptions_total counter\n",
              f);
        for (int k = 0; k < N_KINDS; k++)
                fprintf(f, "crisp_exemptions_total{kind=\"%s\"} %lu\n", exemption_kinds[k],
                        atomic_load(&m.exemptions[k]));
        fputs("# HELP crisp_decode_failures_total Requests crisp answered INVALID_ARGUMENT "
              "(in audit: would have).\n# TYPE crisp_decode_failures_total counter\n",
              f);
        fprintf(f, "crisp_decode_failures_total{method=\"RunPodSandbox\"} %lu\n",
                atomic_load(&m.decode_failures[0]));
        fprintf(f, "crisp_decode_failures_total{method=\"CreateContainer\"} %lu\n",
                atomic_load(&m.decode_failures[1]));
}

static void render_control(FILE *f, const char *version, const char *grpc_version)
{
        static const char *const states[] = {"IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE",
                                             "SHUTDOWN"};
        int state = atomic_load(&m.upstream_state);
        fputs("# HELP crisp_upstream_connection_state The channel to the runtime (1 for the "
              "current state).\n# TYPE crisp_upstream_connection_state gauge\n",
              f);
        for (int i = 0; i < 5; i++)
                fprintf(f, "crisp_upstream_connection_state{state=\"%s\"} %d\n", states[i],
                        state == i ? 1 : 0);
        fprintf(f,
                "# HELP crisp_runtime_ready 1 when the runtime answered a Version call "
                "recently.\n# TYPE crisp_runtime_ready gauge\ncrisp_runtime_ready %d\n",
                atomic_load(&m.ready) ? 1 : 0);
        fprintf(f,
                "# HELP crisp_config_reloads_total Config reloads, by result.\n"
                "# TYPE crisp_config_reloads_total counter\n"
                "crisp_config_reloads_total{result=\"success\"} %lu\n"
                "crisp_config_reloads_total{result=\"failure\"} %lu\n",
                atomic_load(&m.reloads[1]), atomic_load(&m.reloads[0]));
        fprintf(f,
                "# HELP crisp_accept_errors_total Failed accepts on the listening socket (out "
                "of file descriptors or memory); each refused a client or paused accepting "
                "briefly.\n# TYPE crisp_accept_errors_total counter\ncrisp_accept_errors_total "
                "%lu\n",
                atomic_load(&m.accept_errors));
        fprintf(f,
                "# HELP crisp_config_info The config in force (hash: FNV-1a of the file).\n"
                "# TYPE crisp_config_info gauge\ncrisp_config_info{hash=\"%016llx\"} 1\n",
                (unsigned long long)atomic_load(&m.config_hash));
        fprintf(f,
                "# HELP crisp_build_info crisp's version.\n# TYPE crisp_build_info gauge\n"
                "crisp_build_info{version=\"%s\",grpc=\"%s\"} 1\n",
                version, grpc_version);
}

long crisp_metrics_render(char **out, const char *version, const char *grpc_version)
{
        size_t len = 0;
        *out = NULL;
        FILE *f = open_memstream(out, &len);
        if (f == NULL)
                return -1;
        render_calls(f);
        render_policy(f);
        render_control(f, version, grpc_version);
        crisp_metrics_podspec_render(f);
        if (fclose(f) != 0) {
                free(*out);
                *out = NULL;
                return -1;
        }
        return (long)len;
}
