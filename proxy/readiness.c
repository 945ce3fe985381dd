/* /readyz: a thread that asks the runtime for its Version on a channel of
 * its own and keeps the answer for the HTTP side (readiness.h). */
#include "readiness.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "base/log.h"
#include "metrics/metrics.h"
#include "server.h"

struct crisp_readiness {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cond;
        bool stop;
        long interval_ms;
        grpc_channel *channel;
        grpc_completion_queue *cq;
        struct crisp_server *server;
};

/* One unary call with an empty request (a valid VersionRequest); true when
 * the runtime answered OK. */
static bool call_version(struct crisp_readiness *r, const char *method, grpc_status_code *code)
{
        gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                             gpr_time_from_millis(r->interval_ms, GPR_TIMESPAN));
        grpc_slice m = grpc_slice_from_static_string(method);
        grpc_call *call = grpc_channel_create_call(r->channel, NULL, GRPC_PROPAGATE_DEFAULTS, r->cq,
                                                   m, NULL, deadline, NULL);
        if (call == NULL)
                return false;
        grpc_slice empty = grpc_empty_slice();
        grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&empty, 1);
        grpc_byte_buffer *resp = NULL;
        grpc_metadata_array initial, trailing;
        grpc_metadata_array_init(&initial);
        grpc_metadata_array_init(&trailing);
        grpc_slice details = grpc_empty_slice();
        *code = GRPC_STATUS_UNKNOWN;

        grpc_op ops[6] = {{0}};
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = req;
        ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
        ops[4].op = GRPC_OP_RECV_MESSAGE;
        ops[4].data.recv_message.recv_message = &resp;
        ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
        ops[5].data.recv_status_on_client.status = code;
        ops[5].data.recv_status_on_client.status_details = &details;
        if (grpc_call_start_batch(call, ops, 6, r, NULL) == GRPC_CALL_OK) {
                /* The deadline bounds this wait; the data path is not involved. */
                grpc_completion_queue_next(r->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        }
        grpc_byte_buffer_destroy(req);
        if (resp)
                grpc_byte_buffer_destroy(resp);
        grpc_metadata_array_destroy(&initial);
        grpc_metadata_array_destroy(&trailing);
        grpc_slice_unref(details);
        grpc_call_unref(call);
        return *code == GRPC_STATUS_OK;
}

static bool probe(struct crisp_readiness *r)
{
        grpc_status_code code;
        if (call_version(r, "/runtime.v1.RuntimeService/Version", &code))
                return true;
        /* A runtime that only speaks v1alpha2 answers UNIMPLEMENTED. */
        return code == GRPC_STATUS_UNIMPLEMENTED &&
               call_version(r, "/runtime.v1alpha2.RuntimeService/Version", &code);
}

static void *run(void *arg)
{
        struct crisp_readiness *r = arg;
        bool was_ready = false, first = true;
        pthread_mutex_lock(&r->mu);
        while (!r->stop) {
                pthread_mutex_unlock(&r->mu);
                bool ready = probe(r);
                crisp_metrics_set_ready(ready);
                crisp_metrics_set_upstream_state((int)crisp_server_upstream_state(r->server));
                if (first || ready != was_ready)
                        crisp_log(ready ? CRISP_LOG_INFO : CRISP_LOG_WARN, "runtime %s",
                                  ready ? "ready: it answered Version"
                                        : "not ready: no answer to Version");
                was_ready = ready;
                first = false;

                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += r->interval_ms / 1000;
                until.tv_nsec += (r->interval_ms % 1000) * 1000000;
                if (until.tv_nsec >= 1000000000) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000;
                }
                pthread_mutex_lock(&r->mu);
                while (!r->stop && pthread_cond_timedwait(&r->cond, &r->mu, &until) == 0)
                        ;
        }
        pthread_mutex_unlock(&r->mu);
        return NULL;
}

int crisp_readiness_start(const char *runtime_endpoint, struct crisp_server *server,
                          long interval_ms, struct crisp_readiness **out, crisp_error **err)
{
        struct crisp_readiness *r = calloc(1, sizeof(*r));
        if (r == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        r->interval_ms = interval_ms;
        r->server = server;
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cond, NULL);
        char target[128];
        snprintf(target, sizeof(target), "unix:%s", runtime_endpoint);
        grpc_arg args[] = {
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
             .value.integer = 1000},
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
             .value.integer = 100},
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
             .value.integer = 100},
        };
        grpc_channel_args cargs = {.num_args = 3, .args = args};
        grpc_channel_credentials *creds = grpc_insecure_credentials_create();
        r->channel = grpc_channel_create(target, creds, &cargs);
        grpc_channel_credentials_release(creds);
        r->cq = grpc_completion_queue_create_for_next(NULL);
        int e = pthread_create(&r->thread, NULL, run, r);
        if (e != 0) {
                grpc_completion_queue_shutdown(r->cq);
                grpc_completion_queue_destroy(r->cq);
                grpc_channel_destroy(r->channel);
                free(r);
                return crisp_error_set_errno(err, e, "cannot start the readiness probe");
        }
        *out = r;
        return 0;
}

void crisp_readiness_stop(struct crisp_readiness *r)
{
        if (r == NULL)
                return;
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        grpc_completion_queue_shutdown(r->cq);
        while (grpc_completion_queue_next(r->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
                ;
        grpc_completion_queue_destroy(r->cq);
        grpc_channel_destroy(r->channel);
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->mu);
        free(r);
}
