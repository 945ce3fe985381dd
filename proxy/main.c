/* crisp's main: parse flags (and --config), start the relay, and run the
 * one libuv loop that carries it and everything else: the CRI connections
 * (proxy/server.h), signals, reload, the HTTP listener:
 * SIGTERM/SIGINT drain and stop; SIGHUP reopens the recording and reloads the
 * config, as does a change of the config file; /metrics, /healthz and
 * /readyz are served on metrics.listen. `crisp replay ...` and
 * `crisp check-profile FILE` are subcommands of their own. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "check_profile/check_profile.h"
#include "complain.h"
#include "base/error.h"
#include "http.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "podspec/metrics_podspec.h"
#include "metrics_tap.h"
#include "notify.h"
#include "observers.h"
#include "config/options.h"
#include "config/paths.h"
#include "podspec/pod_watch.h"
#include "rule/policy_snapshot.h"
#include "readiness.h"
#include "record_tap.h"
#include "record/recorder.h"
#include "reload.h"
#include "report/report_main.h"
#include "server.h"

#ifndef CRISP_VERSION
#define CRISP_VERSION "0.0.0-dev"
#endif

/* How often the readiness probe asks the runtime for its Version. */
#define READINESS_INTERVAL_MS 1000
/* A burst of file events (an editor's write, rename, chmod) is one reload. */
#define CONFIG_SETTLE_MS 200

struct control {
        uv_loop_t loop;
        uv_signal_t sigterm, sigint, sighup;
        uv_timer_t grace;
        uv_fs_event_t config_watch; /* the config file's folder */
        uv_timer_t config_settle;
        char config_name[4096]; /* the file's name within its folder */
        struct crisp_server *server;
        struct crisp_spec_resolver *resolver; /* issue 8; NULL: no pod-spec source */
        struct crisp_pod_watch *watch;
        const struct crisp_options *opts;
        struct crisp_recorder *recorder; /* NULL: not recording */
        struct crisp_http *http;         /* NULL: no metrics.listen */
        struct crisp_readiness *readiness;
        struct crisp_complain *complain; /* issue 14 */
        int argc;
        char **argv; /* re-parsed on reload */
        int signals_seen;
};

static void close_handle(uv_handle_t *h, void *arg)
{
        (void)arg;
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

/* The relay has answered every call and closed every connection. */
static void on_server_stopped(void *arg)
{
        struct control *ctl = arg;
        log_info("all calls answered; stopping");
        crisp_http_stop(ctl->http); /* closes its own handles first */
        ctl->http = NULL;
        uv_walk(&ctl->loop, close_handle, NULL);
}

static void reload_config(struct control *ctl, const char *why)
{
        _cleanup_error_ crisp_error *err = NULL;
        log_info("%s: reloading the config", why);
        if (crisp_reload(ctl->argc, ctl->argv, ctl->opts, ctl->server, &err) < 0)
                log_error("reload failed; the running config stays in force: %s", err->msg);
}

static void on_config_settled(uv_timer_t *timer)
{
        reload_config(timer->data, "the config file changed");
}

/* The folder is watched, not the file: editors and ConfigMap updates
 * replace the file (a rename), which a watch on the file itself misses. */
static void on_config_event(uv_fs_event_t *handle, const char *filename, int events, int status)
{
        (void)events;
        struct control *ctl = handle->data;
        if (status < 0 || filename == NULL ||
            (strcmp(filename, ctl->config_name) != 0 && strcmp(filename, "..data") != 0))
                return;
        uv_timer_start(&ctl->config_settle, on_config_settled, CONFIG_SETTLE_MS, 0);
}

static void watch_config(struct control *ctl)
{
        const char *path = ctl->opts->config_path;
        if (path[0] == '\0')
                return;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        const char *name = slash ? slash + 1 : dir;
        snprintf(ctl->config_name, sizeof(ctl->config_name), "%s", name);
        if (slash == dir)
                dir[1] = '\0';
        else if (slash)
                *slash = '\0';
        else
                snprintf(dir, sizeof(dir), ".");
        int r = uv_fs_event_start(&ctl->config_watch, on_config_event, dir, 0);
        if (r < 0)
                log_warn("cannot watch %s for changes (%s); SIGHUP still reloads it", dir,
                         uv_strerror(r));
}

/* issue 14: complain mode's series after the others. */
static long append_complain_metrics(struct control *ctl, char **body, long n)
{
        char *extra = NULL;
        size_t extra_len = 0;
        FILE *f = open_memstream(&extra, &extra_len);
        if (f == NULL)
                return n;
        crisp_report_metrics(crisp_complain_report(ctl->complain), f);
        fclose(f);
        char *joined = realloc(*body, (size_t)n + extra_len + 1);
        if (joined != NULL) {
                memcpy(joined + n, extra, extra_len + 1);
                *body = joined;
                n += (long)extra_len;
        }
        free(extra);
        return n;
}

/* /metrics, /healthz, /readyz, /complain (issue 14: what crisp report reads). */
static void on_http(void *arg, const char *path, struct crisp_http_response *resp)
{
        struct control *ctl = arg;
        if (strcmp(path, "/complain") == 0) {
                resp->body = crisp_report_json(crisp_complain_report(ctl->complain));
                resp->status = resp->body ? 200 : 500;
                resp->content_type = "application/json";
                resp->body_len = resp->body ? strlen(resp->body) : 0;
                return;
        }
        if (strcmp(path, "/metrics") == 0) {
                long n = crisp_metrics_render(&resp->body, CRISP_VERSION,
                                              nghttp2_version(0)->version_str);
                if (n < 0) {
                        resp->status = 500;
                        return;
                }
                n = append_complain_metrics(ctl, &resp->body, n);
                resp->status = 200;
                resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
                resp->body_len = (size_t)n;
                return;
        }
        const char *text = NULL;
        if (strcmp(path, "/healthz") == 0) {
                resp->status = 200; /* the control loop answers: crisp is alive */
                text = "ok\n";
        } else if (strcmp(path, "/readyz") == 0) {
                bool ready = crisp_metrics_ready();
                resp->status = ready ? 200 : 503;
                text = ready ? "ok: the runtime answered Version\n"
                             : "not ready: the runtime did not answer Version\n";
        } else {
                text = "not found: /metrics, /healthz, /readyz or /complain\n";
        }
        resp->body = strdup(text);
        resp->body_len = resp->body ? strlen(text) : 0;
}

static void on_grace_over(uv_timer_t *timer)
{
        struct control *ctl = timer->data;
        log_warn("shutdown grace period over: cancelling calls_in_flight=%ld",
                 crisp_server_calls_in_flight(ctl->server));
        crisp_server_cancel_all(ctl->server);
}

/* SIGHUP: logrotate moved the recording (the writer reopens its path), or
 * the operator changed the config. */
static void on_sighup(uv_signal_t *handle, int signum)
{
        (void)signum;
        struct control *ctl = handle->data;
        if (ctl->recorder) {
                log_info("SIGHUP: reopening the recording path=%s", ctl->opts->record_path);
                crisp_recorder_reopen(ctl->recorder);
        }
        if (ctl->opts->config_path[0] != '\0')
                reload_config(ctl, "SIGHUP");
}

static int open_recorder(const struct crisp_options *opts, struct crisp_recorder **out)
{
        _cleanup_error_ crisp_error *err = NULL;
        struct crisp_recorder_options ro = {
            .path = opts->record_path,
            .max_size = opts->record_max_size,
            .queue_bytes = opts->record_queue_size,
            .redact = opts->record_redact,
        };
        if (crisp_recorder_open(&ro, out, &err) < 0) {
                log_error("cannot start: %s", err->msg);
                return -1;
        }
        return 0;
}

static void on_signal(uv_signal_t *handle, int signum)
{
        struct control *ctl = handle->data;
        if (ctl->signals_seen++ > 0) {
                /* A second signal: the operator does not want to wait. */
                log_warn("%s again: cancelling calls_in_flight=%ld", strsignal(signum),
                         crisp_server_calls_in_flight(ctl->server));
                crisp_server_cancel_all(ctl->server);
                return;
        }
        log_info("%s: no new calls; draining calls_in_flight=%ld grace_period=%lds",
                 strsignal(signum), crisp_server_calls_in_flight(ctl->server),
                 ctl->opts->shutdown_grace_ms / 1000);
        crisp_notify_stopping();
        /* crisp's own calls to the runtime end first: they are not waited for. */
        crisp_readiness_stop(ctl->readiness);
        ctl->readiness = NULL;
        crisp_server_begin_shutdown(ctl->server);
        uv_timer_start(&ctl->grace, on_grace_over, (uint64_t)ctl->opts->shutdown_grace_ms, 0);
}

/* Raises the soft limit on open files to the hard one, as containerd does:
 * crisp survives running out of fds (proxy/acceptor.c), but refuses new
 * clients while it lasts, so running out should stay unlikely. */
static void raise_fd_limit(void)
{
        struct rlimit lim;
        if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
                lim.rlim_cur = lim.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
                        log_warn("cannot raise the open files limit: %s", strerror(errno));
        }
}

/* issue 8: the pod cache, its watch and the static pods, when crisp has a
 * kubeconfig; the static pods alone when it has only --pod-manifest-path (a
 * standalone kubelet, or a node whose kubelet has no kubeconfig yet).
 * Nothing here waits for the API server. */
static int start_pod_spec_source(struct crisp_options *opts, struct control *ctl, crisp_error **err)
{
        if (opts->node_name[0] == '\0') {
                /* The kubelet's default node name: the host name, in lower case. */
                char host[256] = "";
                if (gethostname(host, sizeof(host) - 1) < 0)
                        return crisp_error_set_errno(err, errno,
                                                     "podSpec: no --node-name and "
                                                     "no host name");
                for (char *p = host; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                int r = crisp_node_name_check("the host name (give --node-name)", host, err);
                if (r < 0)
                        return r;
                snprintf(opts->node_name, sizeof(opts->node_name), "%s", host);
        }
        crisp_pod_watch_global_init();
        struct crisp_spec_resolver_options ro = {.manifests_dir = opts->static_pod_path,
                                                 .node_name = opts->node_name,
                                                 .wait_ms = opts->pod_spec_wait_ms};
        int r = crisp_spec_resolver_new(&ro, &ctl->resolver, err);
        if (r < 0)
                return r;
        struct crisp_pod_watch_options wo = {.kubeconfig = opts->kubeconfig,
                                             .node_name = opts->node_name};
        if (opts->kubeconfig[0] != '\0')
                r = crisp_pod_watch_start(&wo, crisp_spec_resolver_cache(ctl->resolver),
                                          &ctl->watch, err);
        if (r < 0) {
                crisp_spec_resolver_free(ctl->resolver);
                ctl->resolver = NULL;
                return r;
        }
        crisp_metrics_podspec_static_pods(crisp_spec_resolver_static_count(ctl->resolver));
        log_info("pod-spec: on kubeconfig=%s node=%s static-pods=%s (%zu) wait=%ldms",
                 opts->kubeconfig[0] ? opts->kubeconfig : "-", opts->node_name,
                 opts->static_pod_path[0] ? opts->static_pod_path : "-",
                 crisp_spec_resolver_static_count(ctl->resolver), opts->pod_spec_wait_ms);
        return 0;
}

static void stop_pod_spec_source(struct control *ctl)
{
        crisp_pod_watch_stop(ctl->watch);
        ctl->watch = NULL;
        if (ctl->resolver) {
                crisp_spec_resolver_free(ctl->resolver);
                ctl->resolver = NULL;
                crisp_pod_watch_global_cleanup();
        }
}

/* `crisp replay ...` is the binary crisp-replay beside this one (or on the
 * PATH): the same process goes on as it, with the same arguments. */
static int exec_replay(char **args)
{
        char self[4096], path[4096 + 16];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash != NULL) {
                        *slash = '\0';
                        snprintf(path, sizeof(path), "%s/crisp-replay", self);
                        execv(path, args);
                }
        }
        execvp("crisp-replay", args);
        fprintf(stderr,
                "crisp: replay needs the binary crisp-replay, beside crisp or on the PATH "
                "(cmake --install puts it there): %s\n",
                strerror(errno));
        return 2;
}

int main(int argc, char **argv)
{
        if (argc >= 2 && strcmp(argv[1], "replay") == 0)
                return exec_replay(argv + 1);
        if (argc >= 2 && strcmp(argv[1], "check-profile") == 0)
                return crisp_check_profile_main(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "report") == 0)
                return crisp_report_main(argc - 1, argv + 1);

        struct crisp_options opts;
        _cleanup_error_ crisp_error *err = NULL;

        int r = crisp_options_parse(&opts, argc, argv, &err);
        if (r < 0) {
                fprintf(stderr, "crisp: %s\n\n", err->msg);
                crisp_options_usage(stderr);
                crisp_options_release(&opts);
                return 2;
        }
        if (opts.show_help) {
                crisp_options_usage(stdout);
                crisp_options_release(&opts);
                return 0;
        }
        if (opts.show_version) {
                printf("crisp %s (nghttp2 %s, libuv %s)\n", CRISP_VERSION,
                       nghttp2_version(0)->version_str, uv_version_string());
                crisp_options_release(&opts);
                return 0;
        }
        crisp_log_set_level(opts.log_level);
        crisp_log_set_format(opts.log_format);
        if (opts.threads != 1)
                log_warn("threads=%d is ignored: crisp's relay runs on one thread", opts.threads);
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();
        /* issue 22: the folders crisp writes to, before anything uses them. */
        if (crisp_check_default_profile(&opts.policy, &err) < 0 ||
            crisp_paths_prepare(&opts, &err) < 0) {
                log_error("cannot start: %s", err->msg);
                crisp_options_release(&opts);
                return 1;
        }
        crisp_metrics_set_config_hash(crisp_config_file_hash(opts.config_path));

        struct control ctl = {.opts = &opts, .argc = argc, .argv = argv};
        /* issue 14: complain mode's twins and report; always there, so a
         * reload can turn complain on (its kernel reader starts then). */
        ctl.complain = crisp_complain_new(opts.complain_dir, (int)opts.complain_source);
        if (ctl.complain == NULL) {
                log_error("cannot start: out of memory");
                crisp_options_release(&opts);
                return 1;
        }
        crisp_policy_set_twin_hook(crisp_complain_twin, ctl.complain);
        struct crisp_record_tap tap;
        struct crisp_observers observers;
        crisp_observers_init(&observers);
        if (opts.record_path[0] != '\0') {
                if (open_recorder(&opts, &ctl.recorder) < 0) {
                        crisp_complain_free(ctl.complain);
                        crisp_options_release(&opts);
                        return 1;
                }
                crisp_record_tap_init(&tap, ctl.recorder, opts.record_max_messages);
                crisp_observers_add(&observers, &tap.observer);
        }
        if (opts.metrics_listen[0] != '\0')
                crisp_observers_add(&observers, crisp_metrics_tap());
        crisp_observers_add(&observers, crisp_complain_observer(ctl.complain));
        uv_loop_init(&ctl.loop);
        uv_signal_init(&ctl.loop, &ctl.sigterm);
        uv_signal_init(&ctl.loop, &ctl.sigint);
        uv_signal_init(&ctl.loop, &ctl.sighup);
        uv_timer_init(&ctl.loop, &ctl.grace);
        uv_timer_init(&ctl.loop, &ctl.config_settle);
        uv_fs_event_init(&ctl.loop, &ctl.config_watch);
        ctl.sigterm.data = ctl.sigint.data = ctl.sighup.data = ctl.grace.data =
            ctl.config_settle.data = ctl.config_watch.data = &ctl;
        /* Signals are watched before serving, so none is missed. */
        uv_signal_start(&ctl.sigterm, on_signal, SIGTERM);
        uv_signal_start(&ctl.sigint, on_signal, SIGINT);
        if (ctl.recorder || opts.config_path[0] != '\0')
                uv_signal_start(&ctl.sighup, on_sighup, SIGHUP);

        if ((opts.kubeconfig[0] != '\0' || opts.static_pod_path_given) &&
            start_pod_spec_source(&opts, &ctl, &err) < 0) {
                log_error("cannot start: %s", err->msg);
                uv_walk(&ctl.loop, close_handle, NULL);
                uv_run(&ctl.loop, UV_RUN_DEFAULT);
                uv_loop_close(&ctl.loop);
                crisp_recorder_close(ctl.recorder);
                crisp_complain_free(ctl.complain);
                crisp_options_release(&opts);
                return 1;
        }
        r = crisp_server_start(&ctl.loop, &opts, crisp_observers_get(&observers), ctl.resolver,
                               on_server_stopped, &ctl, &ctl.server, &err);
        if (r == 0 && opts.metrics_listen[0] != '\0') {
                r = crisp_http_start(&ctl.loop, opts.metrics_listen, on_http, &ctl, &ctl.http,
                                     &err);
                if (r == 0)
                        r = crisp_readiness_start(&ctl.loop, ctl.server, READINESS_INTERVAL_MS,
                                                  &ctl.readiness, &err);
                if (r < 0) {
                        /* Stop the server that did start, the normal way. */
                        crisp_server_cancel_all(ctl.server);
                }
        }
        if (r < 0) {
                log_error("cannot start: %s", err->msg);
                if (ctl.server) {
                        uv_run(&ctl.loop, UV_RUN_DEFAULT); /* until on_stopped */
                        crisp_server_destroy(ctl.server);
                } else {
                        uv_walk(&ctl.loop, close_handle, NULL);
                        uv_run(&ctl.loop, UV_RUN_DEFAULT);
                }
                crisp_http_stop(ctl.http);
                uv_loop_close(&ctl.loop);
                stop_pod_spec_source(&ctl);
                crisp_recorder_close(ctl.recorder);
                crisp_complain_free(ctl.complain);
                crisp_options_release(&opts);
                return 1;
        }
        watch_config(&ctl);
        log_info("serving listen=%s runtime-endpoint=%s mode=%s default-profile=%s "
                 "ambiguous-unconfined=%s record=%s metrics=%s config=%s version=%s",
                 opts.listen, opts.runtime_endpoint, crisp_mode_name(opts.policy.mode),
                 opts.policy.default_profile_path ? opts.policy.default_profile_path
                                                  : "RuntimeDefault",
                 opts.ambiguous == CRISP_AMBIGUOUS_KEEP ? "keep" : "runtime-default",
                 ctl.recorder ? opts.record_path : "off",
                 opts.metrics_listen[0] ? opts.metrics_listen : "off",
                 opts.config_path[0] ? opts.config_path : "-", CRISP_VERSION);
        /* Under systemd (Type=notify): ready only now that the socket
         * listens, so a kubelet ordered after crisp finds it. */
        crisp_notify_ready();

        uv_run(&ctl.loop, UV_RUN_DEFAULT);
        uv_loop_close(&ctl.loop);

        crisp_server_destroy(ctl.server);
        /* No call is left to look a pod up. */
        stop_pod_spec_source(&ctl);
        /* Every call has ended, so every record is submitted: write them all. */
        crisp_recorder_close(ctl.recorder);
        crisp_complain_free(ctl.complain);
        crisp_options_release(&opts);
        log_info("stopped");
        return 0;
}
