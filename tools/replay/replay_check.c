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
        bool crisp_stopped;
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

static void on_crisp_stopped(void *arg)
{
        struct check *ck = arg;
        pthread_mutex_lock(&ck->mu);
        ck->crisp_stopped = true;
        pthread_cond_broadcast(&ck->cond);
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

/* Temp folder, sockets, servers: everything the check runs on. */
struct rig {
        char dir[64];
        char runtime_sock[128], crisp_sock[128];
        struct replay_serve *serve;
        struct crisp_server *crisp;
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
        struct crisp_options opts;
        r = crisp_options_parse(&opts, 5, argv, err);
        if (r < 0)
                return r;
        /* No loop here: gRPC's own listener is enough for these few calls. */
        return crisp_server_start(NULL, &opts, NULL, NULL, on_crisp_stopped, ck, &rig->crisp, err);
}

static void rig_stop(struct rig *rig, struct check *ck)
{
        if (rig->crisp) {
                crisp_server_begin_shutdown(rig->crisp);
                crisp_server_cancel_all(rig->crisp);
                pthread_mutex_lock(&ck->mu);
                while (!ck->crisp_stopped)
                        pthread_cond_wait(&ck->cond, &ck->mu);
                pthread_mutex_unlock(&ck->mu);
                crisp_server_destroy(rig->crisp);
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
