/* Reloading the config on SIGHUP or a file change: parse again, check, and
 * swap in the new policy snapshot or keep the old one (reload.h). */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "rule/policy_snapshot.h"
#include "config/paths.h"
#include "config/seccomp_profile.h"
#include "server.h"

int crisp_check_default_profile(const struct crisp_policy *policy, crisp_error **err)
{
        if (policy->default_profile_path == NULL)
                return 0;
        struct crisp_profile_summary sum;
        int r = crisp_seccomp_profile_check(policy->default_profile_path, &sum, err);
        if (r < 0)
                return r;
        if (sum.n_unresolved > 0)
                log_warn("defaultProfile %s: %u syscall name(s) unknown to this libseccomp are "
                         "skipped, as the runtime skips them; check for typos: %s",
                         policy->default_profile_path, sum.n_unresolved, sum.unresolved);
        return 0;
}

uint64_t crisp_config_file_hash(const char *path)
{
        if (path[0] == '\0')
                return 0;
        _cleanup_fclose_ FILE *f = fopen(path, "r");
        if (f == NULL)
                return 0;
        uint64_t h = crisp_metrics_hash("", 0);
        char buf[4096];
        size_t n;
        /* FNV-1a over the whole file, chunk by chunk (same as one pass). */
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
                for (size_t i = 0; i < n; i++) {
                        h ^= (unsigned char)buf[i];
                        h *= 1099511628211ull;
                }
        }
        return h;
}

/* Logs each setting that differs but only takes effect at a restart. */
static void warn_restart_only(const struct crisp_options *running, const struct crisp_options *next)
{
        struct {
                const char *key;
                bool changed;
        } fixed[] = {
            {"listen", strcmp(running->listen, next->listen) != 0},
            {"runtimeEndpoint", strcmp(running->runtime_endpoint, next->runtime_endpoint) != 0},
            {"maxMessageSize", running->max_message_size != next->max_message_size},
            {"metrics.listen", strcmp(running->metrics_listen, next->metrics_listen) != 0},
            {"socketMode", running->socket_mode != next->socket_mode},
            {"shutdownGracePeriod", running->shutdown_grace_ms != next->shutdown_grace_ms},
            {"record", strcmp(running->record_path, next->record_path) != 0 ||
                           running->record_max_messages != next->record_max_messages ||
                           running->record_max_size != next->record_max_size ||
                           running->record_queue_size != next->record_queue_size ||
                           running->record_redact != next->record_redact},
            {"complainDir", strcmp(running->complain_dir, next->complain_dir) != 0},
            {"podSpec",
             strcmp(running->kubeconfig, next->kubeconfig) != 0 ||
                 strcmp(running->static_pod_path, next->static_pod_path) != 0 ||
                 running->pod_spec_wait_ms != next->pod_spec_wait_ms ||
                 (next->node_name[0] != '\0' && strcmp(running->node_name, next->node_name) != 0)},
        };
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                if (fixed[i].changed)
                        log_warn("reload: %s changed; it takes effect only when crisp restarts "
                                 "(the running value is kept)",
                                 fixed[i].key);
}

int crisp_reload(int argc, char **argv, const struct crisp_options *running,
                 struct crisp_server *server, crisp_error **err)
{
        struct crisp_options next;
        int r = crisp_options_parse(&next, argc, argv, err);
        if (r == 0)
                r = crisp_check_default_profile(&next.policy, err);
        if (r == 0)
                r = crisp_paths_prepare_reload(running, &next, err);
        struct crisp_policy_snapshot *snap = NULL;
        if (r == 0)
                r = crisp_policy_snapshot_new(&next.policy, &snap, err);
        if (r < 0) {
                crisp_options_release(&next);
                crisp_metrics_reload(false);
                return r;
        }
        warn_restart_only(running, &next);
        crisp_server_set_policy(server, snap);
        crisp_log_set_level(next.log_level);
        crisp_log_set_format(next.log_format);
        uint64_t hash = crisp_config_file_hash(next.config_path);
        crisp_metrics_set_config_hash(hash);
        crisp_metrics_reload(true);
        log_info(
            "config reloaded config=%s hash=%016llx mode=%s default-profile=%s "
            "exempt-namespaces=%zu exempt-pod-labels=%zu exempt-runtime-handlers=%zu",
            next.config_path[0] ? next.config_path : "-", (unsigned long long)hash,
            crisp_mode_name(next.policy.mode),
            next.policy.default_profile_path ? next.policy.default_profile_path : "RuntimeDefault",
            next.policy.n_namespaces, next.policy.n_pod_labels, next.policy.n_runtime_handlers);
        crisp_options_release(&next);
        return 0;
}
