/* fake_runtime: a stand-in CRI runtime for benchmarks, on the gRPC C core.
 *
 * It serves a unix socket and answers ANY method (generic calls, nothing is
 * decoded) with an OK status and a response of a chosen size, after a chosen
 * delay. Rules pick size and delay by a substring of the method path, so one
 * process can answer "/...Version" at once and "/...SlowExecSync" after 1 s.
 *
 * Held calls cost no thread: gRPC 1.51's C API has no alarm, so calls that
 * wait sit in a min-heap ordered by due time, and every queue thread bounds
 * its grpc_completion_queue_next() wait by the earliest due time, then
 * answers whatever is due. A new entry never needs to wake another thread:
 * the thread that pushes it recomputes its own wait before blocking again.
 *
 * Per call: one batch receives the request, one batch sends headers, the
 * response, the status, and waits for the close. On SIGTERM/SIGINT it prints
 * its counters, removes the socket and exits.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include "common.h"

#define TOOL      "fake_runtime"
#define MAX_RULES 16

struct rule {
        const char *match; /* substring of the method path; NULL: the default */
        uint64_t size;
        uint64_t delay_ns;
        grpc_slice response;
};

enum stage { STAGE_NEW, STAGE_RECV, STAGE_DONE };

struct call {
        enum stage stage;
        grpc_call *call;
        grpc_call_details details;
        grpc_metadata_array request_md;
        grpc_byte_buffer *request;
        grpc_byte_buffer *response;
        int cancelled;
        const struct rule *rule;
        uint64_t due_ns;
};

static struct rule rules[MAX_RULES + 1];
static int n_rules;
static grpc_server *server;
static grpc_completion_queue *cq;

static atomic_long held, max_held, served, cancelled_calls;

/* ---- the heap of calls waiting for their due time ---------------------- */

static pthread_mutex_t heap_mu = PTHREAD_MUTEX_INITIALIZER;
static struct call **heap;
static size_t heap_len, heap_cap;

static void heap_push(struct call *c)
{
        pthread_mutex_lock(&heap_mu);
        if (heap_len == heap_cap) {
                heap_cap = heap_cap ? heap_cap * 2 : 1024;
                heap = realloc(heap, heap_cap * sizeof(*heap));
                if (heap == NULL)
                        die(TOOL, "out of memory for %zu held calls", heap_cap);
        }
        size_t i = heap_len++;
        while (i > 0 && heap[(i - 1) / 2]->due_ns > c->due_ns) {
                heap[i] = heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        heap[i] = c;
        pthread_mutex_unlock(&heap_mu);
}

/* Pops up to `max` calls due by `now` into out[]; sets *wait_ns to the time
 * until the next one (UINT64_MAX when none is left). Caller holds heap_mu. */
static size_t heap_pop_due(uint64_t now, struct call **out, size_t max, uint64_t *wait_ns)
{
        size_t n = 0;
        while (heap_len > 0 && heap[0]->due_ns <= now && n < max) {
                out[n++] = heap[0];
                struct call *last = heap[--heap_len];
                size_t i = 0;
                for (;;) {
                        size_t l = 2 * i + 1, r = l + 1, m = i;
                        uint64_t mv = last->due_ns;
                        if (l < heap_len && heap[l]->due_ns < mv) {
                                m = l;
                                mv = heap[l]->due_ns;
                        }
                        if (r < heap_len && heap[r]->due_ns < mv)
                                m = r;
                        if (m == i)
                                break;
                        heap[i] = heap[m];
                        i = m;
                }
                if (heap_len > 0)
                        heap[i] = last;
        }
        *wait_ns = heap_len == 0 ? UINT64_MAX : (heap[0]->due_ns > now ? heap[0]->due_ns - now : 0);
        return n;
}

/* ---- one call ------------------------------------------------------------ */

static void start(struct call *c, const grpc_op *ops, size_t n)
{
        grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);
        if (e != GRPC_CALL_OK)
                die(TOOL, "grpc_call_start_batch failed (%d) at stage %d", (int)e, (int)c->stage);
}

static void await_call(void)
{
        struct call *c = calloc(1, sizeof(*c));
        if (c == NULL)
                die(TOOL, "out of memory");
        c->stage = STAGE_NEW;
        grpc_call_details_init(&c->details);
        grpc_metadata_array_init(&c->request_md);
        grpc_call_error e =
            grpc_server_request_call(server, &c->call, &c->details, &c->request_md, cq, cq, c);
        if (e != GRPC_CALL_OK)
                die(TOOL, "grpc_server_request_call failed (%d)", (int)e);
}

static void free_call(struct call *c)
{
        if (c->request)
                grpc_byte_buffer_destroy(c->request);
        if (c->response)
                grpc_byte_buffer_destroy(c->response);
        grpc_call_details_destroy(&c->details);
        grpc_metadata_array_destroy(&c->request_md);
        if (c->call)
                grpc_call_unref(c->call);
        free(c);
}

static const struct rule *rule_for(grpc_slice method)
{
        const char *p = (const char *)GRPC_SLICE_START_PTR(method);
        size_t len = GRPC_SLICE_LENGTH(method);
        for (int i = 0; i < n_rules; i++) {
                if (memmem(p, len, rules[i].match, strlen(rules[i].match)) != NULL)
                        return &rules[i];
        }
        return &rules[MAX_RULES];
}

/* Headers, the response, OK, and the close, all in one batch: the fewest
 * operations a unary server can do, so the runtime side costs little. */
static void respond(struct call *c)
{
        static grpc_slice no_details; /* an empty slice: all zeros */
        c->stage = STAGE_DONE;
        grpc_slice resp = c->rule->response;
        c->response = grpc_raw_byte_buffer_create(&resp, 1); /* takes a ref */
        grpc_op ops[4] = {{0}};
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = c->response;
        ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
        ops[2].data.send_status_from_server.status_details = &no_details;
        ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[3].data.recv_close_on_server.cancelled = &c->cancelled;
        start(c, ops, 4);
}

static void on_event(struct call *c, bool ok)
{
        switch (c->stage) {
        case STAGE_NEW: {
                if (!ok) { /* the server is shutting down */
                        free_call(c);
                        return;
                }
                await_call(); /* be ready for the next call first */
                long h = atomic_fetch_add(&held, 1) + 1;
                long m = atomic_load(&max_held);
                while (h > m && !atomic_compare_exchange_weak(&max_held, &m, h))
                        ;
                c->rule = rule_for(c->details.method);
                c->stage = STAGE_RECV;
                grpc_op op = {0};
                op.op = GRPC_OP_RECV_MESSAGE;
                op.data.recv_message.recv_message = &c->request;
                start(c, &op, 1);
                return;
        }
        case STAGE_RECV:
                /* Answered whether or not the request arrived: a cancelled
                 * call just fails its last batch, which frees it. */
                if (c->rule->delay_ns == 0) {
                        respond(c);
                } else {
                        c->due_ns = now_ns() + c->rule->delay_ns;
                        heap_push(c);
                }
                return;
        case STAGE_DONE:
                if (c->cancelled)
                        atomic_fetch_add(&cancelled_calls, 1);
                else
                        atomic_fetch_add(&served, 1);
                atomic_fetch_sub(&held, 1);
                free_call(c);
                return;
        }
}

static void *worker(void *arg)
{
        (void)arg;
        struct call *due[64];
        for (;;) {
                uint64_t wait;
                pthread_mutex_lock(&heap_mu);
                size_t n = heap_pop_due(now_ns(), due, 64, &wait);
                pthread_mutex_unlock(&heap_mu);
                for (size_t i = 0; i < n; i++)
                        respond(due[i]);
                if (n == 64)
                        continue; /* more may be due already */
                grpc_event ev = grpc_completion_queue_next(cq, deadline_in_ns(wait), NULL);
                if (ev.type == GRPC_QUEUE_SHUTDOWN)
                        return NULL;
                if (ev.type == GRPC_OP_COMPLETE)
                        on_event(ev.tag, ev.success != 0);
        }
}

/* ---- setup ------------------------------------------------------------------- */

static void usage(FILE *f)
{
        fprintf(f,
                "usage: " TOOL " --listen PATH [--size BYTES] [--delay-us US]\n"
                "          [--rule SUBSTR=BYTES[:DELAY_US]]... [--slow-delay-ms MS] [--threads N]\n"
                "  --size, --delay-us   response size and delay for methods no rule matches\n"
                "                       (default 64 bytes, no delay)\n"
                "  --rule               methods whose path contains SUBSTR get BYTES after\n"
                "                       DELAY_US (first matching rule wins; up to %d)\n"
                "  --slow-delay-ms      shorthand for a rule: paths containing \"Slow\" wait MS\n"
                "  --threads            completion-queue threads (default 1)\n",
                MAX_RULES);
}

static void set_rule(struct rule *r, const char *match, uint64_t size, uint64_t delay_ns)
{
        r->match = match;
        r->size = size;
        r->delay_ns = delay_ns;
}

static void add_rule(const char *spec)
{
        if (n_rules == MAX_RULES)
                die(TOOL, "too many rules (at most %d)", MAX_RULES);
        char *copy = strdup(spec);
        char *eq = strchr(copy, '=');
        if (copy == NULL || eq == NULL || eq == copy)
                die(TOOL, "bad --rule '%s': want SUBSTR=BYTES[:DELAY_US]", spec);
        *eq = '\0';
        char *colon = strchr(eq + 1, ':');
        uint64_t size, delay_us = 0;
        if (colon)
                *colon = '\0';
        if (parse_u64(eq + 1, &size) < 0 || (colon && parse_u64(colon + 1, &delay_us) < 0))
                die(TOOL, "bad --rule '%s': want SUBSTR=BYTES[:DELAY_US]", spec);
        set_rule(&rules[n_rules++], copy, size, delay_us * 1000);
}

static grpc_slice make_response(uint64_t size)
{
        if (size > (1u << 30))
                die(TOOL, "response size %llu too large", (unsigned long long)size);
        grpc_slice s = grpc_slice_malloc((size_t)size);
        /* Not all zeros, so nothing along the way can shortcut it. */
        uint8_t *p = GRPC_SLICE_START_PTR(s);
        for (size_t i = 0; i < size; i++)
                p[i] = (uint8_t)(i * 31u + 7u);
        return s;
}

int main(int argc, char **argv)
{
        const char *listen = NULL;
        uint64_t size = 64, delay_us = 0, threads = 1, v;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--help") == 0) {
                        usage(stdout);
                        return 0;
                }
                if (val == NULL) {
                        usage(stderr);
                        die(TOOL, "unknown flag or missing value: %s", a);
                }
                i++;
                if (strcmp(a, "--listen") == 0)
                        listen = val;
                else if (strcmp(a, "--size") == 0 && parse_u64(val, &size) == 0)
                        ;
                else if (strcmp(a, "--delay-us") == 0 && parse_u64(val, &delay_us) == 0)
                        ;
                else if (strcmp(a, "--threads") == 0 && parse_u64(val, &threads) == 0 &&
                         threads >= 1 && threads <= 64)
                        ;
                else if (strcmp(a, "--rule") == 0)
                        add_rule(val);
                else if (strcmp(a, "--slow-delay-ms") == 0 && parse_u64(val, &v) == 0) {
                        if (n_rules == MAX_RULES)
                                die(TOOL, "too many rules (at most %d)", MAX_RULES);
                        set_rule(&rules[n_rules++], "Slow", 64, v * 1000000);
                } else {
                        usage(stderr);
                        die(TOOL, "bad flag or value: %s %s", a, val);
                }
        }
        if (listen == NULL) {
                usage(stderr);
                die(TOOL, "--listen is required");
        }
        set_rule(&rules[MAX_RULES], "", size, delay_us * 1000);
        for (int i = 0; i < n_rules; i++)
                rules[i].response = make_response(rules[i].size);
        rules[MAX_RULES].response = make_response(size);

        /* Signals are taken by sigwait() in main only: block them before gRPC
         * starts its own threads, which inherit the mask. */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);

        grpc_init();
        grpc_arg args[] = {
            {.type = GRPC_ARG_INTEGER,
             .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
             .value.integer = -1},
            {.type = GRPC_ARG_INTEGER,
             .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
             .value.integer = -1},
        };
        grpc_channel_args chargs = {.num_args = 2, .args = args};
        server = grpc_server_create(&chargs, NULL);
        cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(server, cq, NULL);
        unlink(listen); /* a socket left by an earlier run */
        char address[200];
        snprintf(address, sizeof(address), "unix:%s", listen);
        grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
        if (grpc_server_add_http2_port(server, address, creds) == 0)
                die(TOOL, "cannot listen on %s", listen);
        grpc_server_credentials_release(creds);
        grpc_server_start(server);

        /* Several requests outstanding so a burst of new calls is not
         * serialised behind one accept. */
        for (uint64_t i = 0; i < threads * 4; i++)
                await_call();
        pthread_t tids[64];
        for (uint64_t i = 0; i < threads; i++) {
                int e = pthread_create(&tids[i], NULL, worker, NULL);
                if (e != 0)
                        die(TOOL, "pthread_create: %s", strerror(e));
        }
        fprintf(stderr, TOOL ": serving %s threads=%llu\n", listen, (unsigned long long)threads);

        int sig;
        sigwait(&sigs, &sig);
        /* Counters for the benchmark's record; then leave without tearing
         * gRPC down: held calls would only be cancelled anyway. */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("fake_runtime served=%ld cancelled=%ld max_held=%ld held_at_exit=%ld cpu_ms=%.0f\n",
               atomic_load(&served), atomic_load(&cancelled_calls), atomic_load(&max_held),
               atomic_load(&held),
               (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
        fflush(stdout);
        unlink(listen);
        _exit(0);
}
