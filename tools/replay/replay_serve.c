/* `crisp replay FILE --serve SOCK`: plays the runtime from a recording
 * (replay_serve.h). */
#include "replay_serve.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "listen_socket.h"
#include "base/log.h"
#include "tag.h"

#define SERVE_MAX_MESSAGE (64 * 1024 * 1024)

/* The records of one method, answered in file order. */
struct method_queue {
        const char *method;
        size_t *index; /* into the records */
        size_t n, next;
};

struct replay_serve {
        grpc_server *server;
        grpc_completion_queue *cq;
        pthread_t thread;
        char path[108];
        dev_t dev;
        ino_t ino;

        struct crisp_call_record *const *records;
        struct method_queue *queues;
        size_t n_queues;
        replay_served_fn on_served;
        void *arg;

        /* Only the serve thread touches these. */
        struct crisp_tag t_shutdown;
        bool shutdown_done;
        long live_calls; /* including the one waiting for the next call */
};

struct serve_call {
        struct replay_serve *s;
        int pending; /* batches in flight; freed at zero */
        grpc_call *call;
        grpc_call_details details;
        grpc_metadata_array request_md;
        char *method;
        int cancelled;
        grpc_byte_buffer *recv_buf, *send_buf;
        struct crisp_msg_list received;
        const struct crisp_call_record *rec;
        size_t next_response;
        grpc_slice status_details;
        struct crisp_tag t_new, t_closed, t_recv, t_send, t_status;
};

static void on_new(struct crisp_tag *tag, bool ok);
static void on_closed(struct crisp_tag *tag, bool ok);
static void on_recv(struct crisp_tag *tag, bool ok);
static void on_send(struct crisp_tag *tag, bool ok);
static void on_status(struct crisp_tag *tag, bool ok);

static void maybe_finish(struct replay_serve *s)
{
        if (s->shutdown_done && s->live_calls == 0)
                grpc_completion_queue_shutdown(s->cq);
}

static void call_free(struct serve_call *c)
{
        struct replay_serve *s = c->s;
        if (c->call)
                grpc_call_unref(c->call);
        if (c->recv_buf)
                grpc_byte_buffer_destroy(c->recv_buf);
        if (c->send_buf)
                grpc_byte_buffer_destroy(c->send_buf);
        grpc_call_details_destroy(&c->details);
        grpc_metadata_array_destroy(&c->request_md);
        grpc_slice_unref(c->status_details);
        crisp_msg_list_clear(&c->received);
        free(c->method);
        free(c);
        s->live_calls--;
        maybe_finish(s);
}

static void batch_done(struct serve_call *c)
{
        if (--c->pending == 0)
                call_free(c);
}

static void start(struct serve_call *c, const grpc_op *ops, size_t n, struct crisp_tag *tag)
{
        c->pending++;
        if (grpc_call_start_batch(c->call, ops, n, tag, NULL) != GRPC_CALL_OK) {
                log_error("replay serve: grpc_call_start_batch failed method=%s", c->method);
                c->pending--;
        }
}

static void await_call(struct replay_serve *s)
{
        struct serve_call *c = calloc(1, sizeof(*c));
        if (c == NULL) {
                log_error("replay serve: out of memory; no more calls taken");
                return;
        }
        c->s = s;
        grpc_call_details_init(&c->details);
        grpc_metadata_array_init(&c->request_md);
        c->status_details = grpc_empty_slice();
        c->t_new.fn = on_new;
        c->t_closed.fn = on_closed;
        c->t_recv.fn = on_recv;
        c->t_send.fn = on_send;
        c->t_status.fn = on_status;
        s->live_calls++;
        c->pending = 1;
        if (grpc_server_request_call(s->server, &c->call, &c->details, &c->request_md, s->cq, s->cq,
                                     &c->t_new) != GRPC_CALL_OK) {
                c->pending = 0;
                call_free(c);
        }
}

static void receive(struct serve_call *c)
{
        grpc_op op = {0};
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &c->recv_buf;
        start(c, &op, 1, &c->t_recv);
}

static struct method_queue *queue_of(struct replay_serve *s, const char *method)
{
        for (size_t i = 0; i < s->n_queues; i++)
                if (strcmp(s->queues[i].method, method) == 0)
                        return &s->queues[i];
        return NULL;
}

static grpc_byte_buffer *buffer_of(const struct crisp_msg *m)
{
        grpc_slice s = grpc_slice_from_copied_buffer((const char *)m->data, m->len);
        grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
        return bb;
}

static void send_status(struct serve_call *c, bool with_headers)
{
        grpc_op ops[2] = {{0}};
        size_t n = 0;
        if (with_headers)
                ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        grpc_status_code code = GRPC_STATUS_OK;
        if (c->rec == NULL) {
                struct method_queue *q = queue_of(c->s, c->method);
                char msg[256];
                code = q ? GRPC_STATUS_UNAVAILABLE : GRPC_STATUS_UNIMPLEMENTED;
                snprintf(msg, sizeof(msg),
                         q ? "crisp replay: every recorded call of %.180s has been answered"
                           : "crisp replay: %.180s is not in the recording",
                         c->method);
                grpc_slice_unref(c->status_details);
                c->status_details = grpc_slice_from_copied_string(msg);
        } else {
                code = c->rec->has_code ? (grpc_status_code)c->rec->code : GRPC_STATUS_OK;
                if (c->rec->details) {
                        grpc_slice_unref(c->status_details);
                        c->status_details =
                            grpc_slice_from_copied_buffer(c->rec->details, c->rec->details_len);
                }
        }
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = code;
        ops[n].data.send_status_from_server.status_details = &c->status_details;
        start(c, ops, n + 1, &c->t_status);
}

/* The client has sent everything: pick the record and start answering. */
static void answer(struct serve_call *c)
{
        struct method_queue *q = queue_of(c->s, c->method);
        if (q != NULL && q->next < q->n)
                c->rec = c->s->records[q->index[q->next++]];
        if (c->s->on_served)
                c->s->on_served(c->s->arg, c->method, c->rec, &c->received);

        if (c->rec == NULL || c->rec->responses.n == 0) {
                send_status(c, true);
                return;
        }
        c->send_buf = buffer_of(&c->rec->responses.items[0]);
        c->next_response = 1;
        grpc_op ops[2] = {{0}};
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = c->send_buf;
        start(c, ops, 2, &c->t_send);
}

static void on_new(struct crisp_tag *tag, bool ok)
{
        struct serve_call *c = container_of(tag, struct serve_call, t_new);
        if (!ok) { /* shutting down: no call came */
                batch_done(c);
                return;
        }
        await_call(c->s);
        size_t len = GRPC_SLICE_LENGTH(c->details.method);
        c->method = malloc(len + 1);
        if (c->method == NULL) {
                grpc_call_cancel(c->call, NULL);
                batch_done(c);
                return;
        }
        memcpy(c->method, GRPC_SLICE_START_PTR(c->details.method), len);
        c->method[len] = '\0';

        grpc_op op = {0};
        op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        op.data.recv_close_on_server.cancelled = &c->cancelled;
        start(c, &op, 1, &c->t_closed);
        receive(c);
        batch_done(c);
}

static void on_recv(struct crisp_tag *tag, bool ok)
{
        struct serve_call *c = container_of(tag, struct serve_call, t_recv);
        if (ok && c->recv_buf != NULL) {
                grpc_byte_buffer_reader reader;
                if (grpc_byte_buffer_reader_init(&reader, c->recv_buf)) {
                        grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
                        grpc_byte_buffer_reader_destroy(&reader);
                        if (crisp_msg_list_append(&c->received, GRPC_SLICE_START_PTR(all),
                                                  GRPC_SLICE_LENGTH(all)) < 0)
                                log_error("replay serve: out of memory keeping a request");
                        grpc_slice_unref(all);
                }
                grpc_byte_buffer_destroy(c->recv_buf);
                c->recv_buf = NULL;
                receive(c);
        } else if (ok) {
                answer(c); /* half-closed */
        }
        /* Not ok: the client went away; RECV_CLOSE_ON_SERVER ends the call. */
        batch_done(c);
}

static void on_send(struct crisp_tag *tag, bool ok)
{
        struct serve_call *c = container_of(tag, struct serve_call, t_send);
        grpc_byte_buffer_destroy(c->send_buf);
        c->send_buf = NULL;
        if (ok) {
                if (c->next_response < c->rec->responses.n) {
                        c->send_buf = buffer_of(&c->rec->responses.items[c->next_response++]);
                        grpc_op op = {0};
                        op.op = GRPC_OP_SEND_MESSAGE;
                        op.data.send_message.send_message = c->send_buf;
                        start(c, &op, 1, &c->t_send);
                } else {
                        send_status(c, false);
                }
        }
        batch_done(c);
}

static void on_status(struct crisp_tag *tag, bool ok)
{
        (void)ok;
        batch_done(container_of(tag, struct serve_call, t_status));
}

static void on_closed(struct crisp_tag *tag, bool ok)
{
        (void)ok;
        batch_done(container_of(tag, struct serve_call, t_closed));
}

static void on_shutdown(struct crisp_tag *tag, bool ok)
{
        (void)ok;
        struct replay_serve *s = container_of(tag, struct replay_serve, t_shutdown);
        s->shutdown_done = true;
        maybe_finish(s);
}

static void *serve_thread(void *arg)
{
        struct replay_serve *s = arg;
        for (;;) {
                grpc_event ev =
                    grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
                if (ev.type == GRPC_QUEUE_SHUTDOWN)
                        return NULL;
                if (ev.type == GRPC_OP_COMPLETE) {
                        struct crisp_tag *tag = ev.tag;
                        tag->fn(tag, ev.success != 0);
                }
        }
}

/* ---- the per-method queues ------------------------------------------------------ */

static void free_queues(struct replay_serve *s)
{
        for (size_t i = 0; i < s->n_queues; i++)
                free(s->queues[i].index);
        free(s->queues);
}

static int build_queues(struct replay_serve *s, struct crisp_call_record *const *records, size_t n,
                        crisp_error **err)
{
        s->queues = calloc(n ? n : 1, sizeof(*s->queues));
        if (s->queues == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                struct method_queue *q = queue_of(s, records[i]->method);
                if (q == NULL) {
                        q = &s->queues[s->n_queues++];
                        q->method = records[i]->method;
                        q->index = calloc(n, sizeof(*q->index));
                        if (q->index == NULL)
                                return crisp_error_set(err, ENOMEM, "out of memory");
                }
                q->index[q->n++] = i;
        }
        return 0;
}

/* ---- start and stop ------------------------------------------------------------- */

int replay_serve_start(const char *socket_path, struct crisp_call_record *const *records, size_t n,
                       replay_served_fn on_served, void *arg, struct replay_serve **out,
                       crisp_error **err)
{
        if (strlen(socket_path) >= sizeof(((struct replay_serve *)0)->path))
                return crisp_error_set(err, ENAMETOOLONG,
                                       "%s: a unix socket path is at most 107 "
                                       "bytes",
                                       socket_path);
        int r = crisp_listen_socket_prepare(socket_path, err);
        if (r < 0)
                return r;
        struct replay_serve *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        snprintf(s->path, sizeof(s->path), "%s", socket_path);
        s->records = records;
        s->on_served = on_served;
        s->arg = arg;
        s->t_shutdown.fn = on_shutdown;
        r = build_queues(s, records, n, err);
        if (r < 0) {
                free_queues(s);
                free(s);
                return r;
        }

        grpc_arg args[] = {
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
             .value.integer = SERVE_MAX_MESSAGE},
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
             .value.integer = SERVE_MAX_MESSAGE},
        };
        grpc_channel_args channel_args = {.num_args = 2, .args = args};
        s->cq = grpc_completion_queue_create_for_next(NULL);
        s->server = grpc_server_create(&channel_args, NULL);
        grpc_server_register_completion_queue(s->server, s->cq, NULL);
        char address[128];
        snprintf(address, sizeof(address), "unix:%s", socket_path);
        grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
        int port = grpc_server_add_http2_port(s->server, address, creds);
        grpc_server_credentials_release(creds);
        if (port == 0) {
                grpc_server_destroy(s->server);
                grpc_completion_queue_shutdown(s->cq);
                while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                           .type != GRPC_QUEUE_SHUTDOWN)
                        ;
                grpc_completion_queue_destroy(s->cq);
                free_queues(s);
                free(s);
                return crisp_error_set(err, EADDRNOTAVAIL, "cannot listen on %s", socket_path);
        }
        grpc_server_start(s->server);
        struct stat st;
        if (stat(socket_path, &st) == 0) {
                s->dev = st.st_dev;
                s->ino = st.st_ino;
        }
        /* Calls are awaited before the thread runs: it alone touches them after. */
        await_call(s);
        int e = pthread_create(&s->thread, NULL, serve_thread, s);
        if (e != 0) {
                /* Nothing runs the queue: drain it here. */
                grpc_server_shutdown_and_notify(s->server, s->cq, &s->t_shutdown);
                grpc_server_cancel_all_calls(s->server);
                serve_thread(s);
                grpc_server_destroy(s->server);
                grpc_completion_queue_destroy(s->cq);
                free_queues(s);
                free(s);
                return crisp_error_set_errno(err, e, "cannot start the serving thread");
        }
        *out = s;
        return 0;
}

void replay_serve_stop(struct replay_serve *s)
{
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->t_shutdown);
        grpc_server_cancel_all_calls(s->server);
        pthread_join(s->thread, NULL);
        grpc_server_destroy(s->server);
        grpc_completion_queue_destroy(s->cq);
        struct stat st;
        if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
                unlink(s->path);
        free_queues(s);
        free(s);
}

int replay_serve_main(const char *socket_path, struct crisp_call_record *const *records, size_t n)
{
        /* Blocked before gRPC starts its threads, so that they inherit the
         * mask and sigwait below is the only place these signals land. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);

        grpc_init();
        struct replay_serve *s = NULL;
        _cleanup_error_ crisp_error *err = NULL;
        if (replay_serve_start(socket_path, records, n, NULL, NULL, &s, &err) < 0) {
                fprintf(stderr, "crisp replay: %s\n", err->msg);
                grpc_shutdown_blocking();
                return 1;
        }
        log_info("replay: serving %zu recorded calls on %s", n, socket_path);
        int sig = 0;
        sigwait(&stop, &sig);
        log_info("replay: %s: stopping", strsignal(sig));
        replay_serve_stop(s);
        grpc_shutdown_blocking();
        return 0;
}
