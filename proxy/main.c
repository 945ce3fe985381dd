/* crisp's main: parse flags, start the gRPC side, and run the control loop
 * (libuv) that owns signals: SIGTERM/SIGINT drain and stop, SIGHUP reopens
 * the recording. `crisp replay ...` is a subcommand of its own (replay.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <uv.h>

#include "error.h"
#include "log.h"
#include "notify.h"
#include "options.h"
#include "record_tap.h"
#include "recorder.h"
#include "replay.h"
#include "server.h"

#ifndef CRISP_VERSION
#define CRISP_VERSION "0.0.0-dev"
#endif

struct control {
        uv_loop_t loop;
        uv_signal_t sigterm, sigint, sighup;
        uv_timer_t grace;
        uv_async_t stopped;
        struct crisp_server *server;
        const struct crisp_options *opts;
        struct crisp_recorder *recorder; /* NULL: not recording */
        int signals_seen;
};

/* Runs on a queue thread: wake the control loop. */
static void on_server_stopped(void *arg)
{
        struct control *ctl = arg;
        uv_async_send(&ctl->stopped);
}

static void close_handle(uv_handle_t *h, void *arg)
{
        (void)arg;
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

static void on_stopped(uv_async_t *async)
{
        struct control *ctl = async->data;
        log_info("all calls answered; stopping");
        uv_walk(&ctl->loop, close_handle, NULL);
}

static void on_grace_over(uv_timer_t *timer)
{
        struct control *ctl = timer->data;
        log_warn("shutdown grace period over: cancelling calls_in_flight=%ld",
                 crisp_server_calls_in_flight(ctl->server));
        crisp_server_cancel_all(ctl->server);
}

/* SIGHUP: logrotate moved the recording; the writer reopens its path. */
static void on_sighup(uv_signal_t *handle, int signum)
{
        (void)signum;
        struct control *ctl = handle->data;
        log_info("SIGHUP: reopening the recording path=%s", ctl->opts->record_path);
        crisp_recorder_reopen(ctl->recorder);
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
        crisp_server_begin_shutdown(ctl->server);
        uv_timer_start(&ctl->grace, on_grace_over, (uint64_t)ctl->opts->shutdown_grace_ms, 0);
}

int main(int argc, char **argv)
{
        if (argc >= 2 && strcmp(argv[1], "replay") == 0)
                return crisp_replay_main(argc - 1, argv + 1);

        struct crisp_options opts;
        _cleanup_error_ crisp_error *err = NULL;

        int r = crisp_options_parse(&opts, argc, argv, &err);
        if (r < 0) {
                fprintf(stderr, "crisp: %s\n\n", err->msg);
                crisp_options_usage(stderr);
                return 2;
        }
        if (opts.show_help) {
                crisp_options_usage(stdout);
                return 0;
        }
        if (opts.show_version) {
                printf("crisp %s (gRPC core %s)\n", CRISP_VERSION, grpc_version_string());
                return 0;
        }
        crisp_log_set_level(opts.log_level);
        signal(SIGPIPE, SIG_IGN);

        struct control ctl = {.opts = &opts};
        struct crisp_record_tap tap;
        if (opts.record_path[0] != '\0') {
                if (open_recorder(&opts, &ctl.recorder) < 0)
                        return 1;
                crisp_record_tap_init(&tap, ctl.recorder, opts.record_max_messages);
        }
        uv_loop_init(&ctl.loop);
        uv_signal_init(&ctl.loop, &ctl.sigterm);
        uv_signal_init(&ctl.loop, &ctl.sigint);
        uv_signal_init(&ctl.loop, &ctl.sighup);
        uv_timer_init(&ctl.loop, &ctl.grace);
        uv_async_init(&ctl.loop, &ctl.stopped, on_stopped);
        ctl.sigterm.data = ctl.sigint.data = ctl.sighup.data = ctl.grace.data = ctl.stopped.data =
            &ctl;
        /* Signals are watched before serving, so none is missed. */
        uv_signal_start(&ctl.sigterm, on_signal, SIGTERM);
        uv_signal_start(&ctl.sigint, on_signal, SIGINT);
        if (ctl.recorder)
                uv_signal_start(&ctl.sighup, on_sighup, SIGHUP);

        grpc_init();
        r = crisp_server_start(&opts, ctl.recorder ? &tap.observer : NULL, on_server_stopped, &ctl,
                               &ctl.server, &err);
        if (r < 0) {
                log_error("cannot start: %s", err->msg);
                uv_walk(&ctl.loop, close_handle, NULL);
                uv_run(&ctl.loop, UV_RUN_DEFAULT);
                uv_loop_close(&ctl.loop);
                grpc_shutdown_blocking();
                crisp_recorder_close(ctl.recorder);
                return 1;
        }
        log_info("serving listen=%s runtime-endpoint=%s seccomp-default=%s "
                 "ambiguous-unconfined=%s record=%s version=%s",
                 opts.listen, opts.runtime_endpoint, opts.no_default ? "off" : "on",
                 opts.ambiguous == CRISP_AMBIGUOUS_KEEP ? "keep" : "runtime-default",
                 ctl.recorder ? opts.record_path : "off", CRISP_VERSION);
        /* Under systemd (Type=notify): ready only now that the socket
         * listens, so a kubelet ordered after crisp finds it. */
        crisp_notify_ready();

        uv_run(&ctl.loop, UV_RUN_DEFAULT);
        uv_loop_close(&ctl.loop);

        crisp_server_destroy(ctl.server);
        /* Every call has ended, so every record is submitted: write them all. */
        crisp_recorder_close(ctl.recorder);
        grpc_shutdown_blocking();
        log_info("stopped");
        return 0;
}
