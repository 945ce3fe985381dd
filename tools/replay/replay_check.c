/* `crisp replay FILE --check`: the fixtures' expectations checked through an
 * in-process crisp and an in-process --serve (replay_check.h). */
#include "replay_check.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <uv.h>

#include "config/options.h"
#include "replay_call.h"
#include "replay_expect.h"
#include "replay_serve.h"
#include "server.h"

/* What the serve side received for each record, filled on its thread. */
struct check {
        pthread_mutex_t mu;
        pthread_cond_t cond;
        struct crisp_call_record **records;
        size_t n;
        bool *served;
        struct crisp_msg_list *received;
};

static void on_served(void *arg, const char *method, const struct crisp_call_record *rec,
                      const struct crisp_msg_list *received)
{
        (void)method;
        struct check *ck = arg;
        pthread_mutex_lock(&ck->mu);
        for (size_t i = 0; rec && i < ck->n; i++) {
                if (ck->records[i] != rec)
                        continue;
                ck->served[i] = true;
                for (size_t k = 0; k < received->n; k++)
                        crisp_msg_list_append(&ck->received[i], received->items[k].data,
                                              received->items[k].len);
        }
        pthread_mutex_unlock(&ck->mu);
}

static bool same_messages(const struct crisp_msg_list *a, const struct crisp_msg_list *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->items[i].len != b->items[i].len ||
                    memcmp(a->items[i].data, b->items[i].data, a->items[i].len) != 0)
                        return false;
        return true;
}

/* Checks one record; returns its number of failures. */
static int check_one(const char *file, struct check *ck, size_t i, const struct replay_answer *ans)
{
        const struct crisp_call_record *rec = ck->records[i];
        char where[512];
        snprintf(where, sizeof(where), "%s:%u %s", file, rec->line,
                 rec->name ? rec->name : rec->method);

        pthread_mutex_lock(&ck->mu);
        bool served = ck->served[i];
        pthread_mutex_unlock(&ck->mu);

        int failures = 0;
        if (!served) {
                printf("%s: the runtime never received the call; crisp answered %s: %.*s\n", where,
                       replay_code_name(ans->code), (int)ans->details_len, ans->details);
                return 1;
        }
        failures += replay_expect_check(rec, &ck->received[i], where, stdout);
        if (rec->has_code && ans->code != rec->code) {
                printf("%s: the client got %s (%.*s), the recording says %s\n", where,
                       replay_code_name(ans->code), (int)ans->details_len, ans->details,
                       replay_code_name(rec->code));
                failures++;
        }
        if (rec->has_responses && !same_messages(&rec->responses, &ans->responses)) {
                printf("%s: the client got %zu responses that are not the %zu recorded\n", where,
                       ans->responses.n, rec->responses.n);
                failures++;
        }
        return failures;
}

/* crisp's relay, on a loop of its own on a thread of its own, as the
 * daemon runs it. */
struct relay_thread {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cond;
        uv_loop_t loop;
        uv_async_t stop;
        struct crisp_options opts;
        struct crisp_server *crisp;
        int start_r; /* 1: not known yet */
        crisp_error *err;
};

static void on_stop(uv_async_t *a)
{
        struct relay_thread *rt = a->data;
        crisp_server_cancel_all(rt->crisp);
        uv_close((uv_handle_t *)a, NULL);
}

static void on_crisp_stopped(void *arg)
{
        (void)arg; /* the loop ends by itself: nothing is left on it */
}

static void *relay_main(void *arg)
{
        struct relay_thread *rt = arg;
        uv_loop_init(&rt->loop);
        int r = crisp_server_start(&rt->loop, &rt->opts, NULL, NULL, on_crisp_stopped, rt,
                                   &rt->crisp, &rt->err);
        if (r == 0) {
                uv_async_init(&rt->loop, &rt->stop, on_stop);
                rt->stop.data = rt;
        }
        pthread_mutex_lock(&rt->mu);
        rt->start_r = r;
        pthread_cond_broadcast(&rt->cond);
        pthread_mutex_unlock(&rt->mu);
        if (r == 0) {
                uv_run(&rt->loop, UV_RUN_DEFAULT);
                crisp_server_destroy(rt->crisp);
        }
        uv_loop_close(&rt->loop);
        return NULL;
}

/* Temp folder, sockets, servers: everything the check runs on. */
struct rig {
        char dir[64];
        char runtime_sock[128], crisp_sock[128];
        struct replay_serve *serve;
        struct relay_thread *relay;
};

static int rig_start(struct rig *rig, struct check *ck, crisp_error **err)
{
        snprintf(rig->dir, sizeof(rig->dir), "/tmp/crisp-check-XXXXXX");
        if (mkdtemp(rig->dir) == NULL)
                return crisp_error_set_errno(err, errno, "cannot create a temporary folder");
        snprintf(rig->runtime_sock, sizeof(rig->runtime_sock), "%s/runtime.sock", rig->dir);
        snprintf(rig->crisp_sock, sizeof(rig->crisp_sock), "%s/crisp.sock", rig->dir);

        int r = replay_serve_start(rig->runtime_sock, ck->records, ck->n, on_served, ck,
                                   &rig->serve, err);
        if (r < 0)
                return r;
        /* crisp exactly as the command line would configure it by default. */
        char *argv[] = {"crisp",           "--listen", rig->crisp_sock, "--runtime-endpoint",
                        rig->runtime_sock, NULL};
        struct relay_thread *rt = calloc(1, sizeof(*rt));
        if (rt == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        r = crisp_options_parse(&rt->opts, 5, argv, err);
        if (r < 0) {
                free(rt);
                return r;
        }
        pthread_mutex_init(&rt->mu, NULL);
        pthread_cond_init(&rt->cond, NULL);
        rt->start_r = 1;
        int e = pthread_create(&rt->thread, NULL, relay_main, rt);
        if (e != 0) {
                crisp_options_release(&rt->opts);
                free(rt);
                return crisp_error_set_errno(err, e, "cannot start crisp's relay");
        }
        pthread_mutex_lock(&rt->mu);
        while (rt->start_r == 1)
                pthread_cond_wait(&rt->cond, &rt->mu);
        pthread_mutex_unlock(&rt->mu);
        rig->relay = rt;
        if (rt->start_r < 0) {
                crisp_error_set(err, -rt->start_r, "%s", rt->err->msg);
                return rt->start_r;
        }
        return 0;
}

static void rig_stop(struct rig *rig, struct check *ck)
{
        (void)ck;
        struct relay_thread *rt = rig->relay;
        if (rt != NULL) {
                if (rt->start_r == 0)
                        uv_async_send(&rt->stop);
                pthread_join(rt->thread, NULL);
                crisp_error_free(&rt->err);
                crisp_options_release(&rt->opts);
                pthread_mutex_destroy(&rt->mu);
                pthread_cond_destroy(&rt->cond);
                free(rt);
        }
        if (rig->serve)
                replay_serve_stop(rig->serve);
        if (rig->dir[0]) {
                unlink(rig->crisp_sock);
                unlink(rig->runtime_sock);
                rmdir(rig->dir);
        }
}

int replay_check_main(const struct crisp_recording *recording, long timeout_ms)
{
        struct check ck = {0};
        ck.records = calloc(recording->n, sizeof(*ck.records));
        ck.served = calloc(recording->n, sizeof(*ck.served));
        ck.received = calloc(recording->n, sizeof(*ck.received));
        if (!ck.records || !ck.served || !ck.received) {
                fprintf(stderr, "crisp replay: out of memory\n");
                free(ck.records);
                free(ck.served);
                free(ck.received);
                return 1;
        }
        for (size_t i = 0; i < recording->n; i++)
                if (recording->calls[i]->expect.present)
                        ck.records[ck.n++] = recording->calls[i];
        pthread_mutex_init(&ck.mu, NULL);
        pthread_cond_init(&ck.cond, NULL);

        int status = 1;
        size_t failed = 0;
        struct rig rig = {0};
        _cleanup_error_ crisp_error *err = NULL;
        grpc_init();
        if (ck.n == 0) {
                fprintf(stderr,
                        "crisp replay: %s: no record carries an 'expect': nothing to "
                        "check\n",
                        recording->path);
        } else if (rig_start(&rig, &ck, &err) < 0) {
                fprintf(stderr, "crisp replay: cannot start the check: %s\n", err->msg);
        } else {
                grpc_channel *ch = replay_channel(rig.crisp_sock);
                grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
                for (size_t i = 0; i < ck.n; i++) {
                        struct replay_answer ans;
                        if (replay_call(ch, cq, ck.records[i]->method, &ck.records[i]->requests,
                                        timeout_ms, &ans) < 0) {
                                fprintf(stderr, "crisp replay: cannot make the call of %s:%u\n",
                                        recording->path, ck.records[i]->line);
                                failed = ck.n;
                                break;
                        }
                        if (check_one(recording->path, &ck, i, &ans) > 0)
                                failed++;
                        replay_answer_clear(&ans);
                }
                grpc_channel_destroy(ch);
                grpc_completion_queue_shutdown(cq);
                while (
                    grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                        .type != GRPC_QUEUE_SHUTDOWN)
                        ;
                grpc_completion_queue_destroy(cq);
                printf("check: %s: %zu records with expectations: %zu passed, %zu failed\n",
                       recording->path, ck.n, ck.n - failed, failed);
                status = failed == 0 ? 0 : 1;
        }
        rig_stop(&rig, &ck);
        grpc_shutdown_blocking();

        for (size_t i = 0; i < recording->n; i++)
                crisp_msg_list_clear(&ck.received[i]);
        free(ck.records);
        free(ck.served);
        free(ck.received);
        pthread_mutex_destroy(&ck.mu);
        pthread_cond_destroy(&ck.cond);
        return status;
}
