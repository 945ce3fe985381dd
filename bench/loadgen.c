/* loadgen: a unary-call load generator on the gRPC C core, for benchmarks.
 *
 * One channel (one HTTP/2 connection, as a kubelet has) to a unix socket,
 * one thread, one completion queue. The load is made of classes; each class
 * has a method path, a request payload, and either
 *   --concurrency N : closed loop, N calls kept in flight, or
 *   --rate R        : open loop, R calls/s started on a fixed schedule.
 * Flags after a --method apply to that class, so one process can hold 1000
 * slow calls and time small calls on the same connection.
 *
 * Latency is measured on CLOCK_MONOTONIC from the call's creation to the
 * dequeue of its completion. Calls started during --warmup-ms are not timed.
 * For the open loop, how late each call started against its schedule is
 * reported apart (lag_*), so a stalled generator is visible but the
 * completion queue's 1 ms timer resolution is not charged to the target.
 * Open-loop classes start at staggered phases, not all at once.
 * Every non-OK status is counted as an error, by code, warm-up included.
 *
 * Bounded: the run stops starting calls at --duration-ms after warm-up or
 * when every class reached its --count, and after --max-ms in all it
 * cancels what is still in flight (those count as errors).
 *
 * Output: one line per class (and a "total" line with several classes) of
 * key=value pairs, a "proc=loadgen" line with its calls and CPU time, and
 * with --latencies FILE every timed call as "class ns" lines.
 */
#include <stdbool.h>
#include <sys/resource.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include "common.h"

#define TOOL        "loadgen"
#define MAX_CLASSES 16
#define N_CODES     17 /* gRPC status codes 0..16 */

struct lat_vec {
        uint64_t *v;
        size_t n, cap;
};

struct klass {
        const char *label;
        grpc_slice method;
        grpc_slice payload;
        uint64_t concurrency; /* closed loop when > 0 */
        double rate;          /* open loop when > 0 */
        uint64_t count;       /* timed calls to start; 0: until the duration ends */
        uint64_t ramp_ms;     /* closed loop: reach `concurrency` linearly over this time */

        uint64_t period_ns, next_due_ns;
        uint64_t started_timed, inflight, max_inflight, dropped;
        uint64_t errors_by_code[N_CODES];
        uint64_t first_start_ns, last_end_ns;
        struct lat_vec lat, lag;
};

struct call {
        struct call *prev, *next; /* the in-flight list, for cancelling at --max-ms */
        struct klass *k;
        grpc_call *call;
        uint64_t t0;
        bool timed;
        grpc_byte_buffer *request, *response;
        grpc_metadata_array initial_md, trailing_md;
        grpc_status_code status;
        grpc_slice details;
};

static struct klass classes[MAX_CLASSES];
static int n_classes;
static grpc_channel *channel;
static grpc_completion_queue *cq;
static struct call inflight_list = {.prev = &inflight_list, .next = &inflight_list};
static uint64_t deadline_ms = 10000, total_inflight, max_inflight_total = 20000, completed;

static void lat_push(struct lat_vec *l, uint64_t ns)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 4096;
                l->v = realloc(l->v, l->cap * sizeof(*l->v));
                if (l->v == NULL)
                        die(TOOL, "out of memory for latencies");
        }
        l->v[l->n++] = ns;
}

/* ---- one call: the whole unary exchange in a single batch ------------------ */

/* Starts one call of class k that was due at `sched` (open loop) or now. */
static void start_call(struct klass *k, uint64_t sched, bool timed)
{
        uint64_t t0 = now_ns();
        struct call *c = calloc(1, sizeof(*c));
        if (c == NULL)
                die(TOOL, "out of memory");
        c->k = k;
        c->t0 = t0;
        c->timed = timed;
        grpc_metadata_array_init(&c->initial_md);
        grpc_metadata_array_init(&c->trailing_md);
        c->call = grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, k->method,
                                           NULL, deadline_in_ns(deadline_ms * 1000000), NULL);
        if (c->call == NULL)
                die(TOOL, "grpc_channel_create_call failed");
        c->request = grpc_raw_byte_buffer_create(&k->payload, 1);
        grpc_op ops[6] = {{0}};
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = c->request;
        ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->initial_md;
        ops[4].op = GRPC_OP_RECV_MESSAGE;
        ops[4].data.recv_message.recv_message = &c->response;
        ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        ops[5].data.recv_status_on_client.trailing_metadata = &c->trailing_md;
        ops[5].data.recv_status_on_client.status = &c->status;
        ops[5].data.recv_status_on_client.status_details = &c->details;
        grpc_call_error e = grpc_call_start_batch(c->call, ops, 6, c, NULL);
        if (e != GRPC_CALL_OK)
                die(TOOL, "grpc_call_start_batch failed (%d)", (int)e);
        if (timed) {
                if (k->rate > 0)
                        lat_push(&k->lag, t0 > sched ? t0 - sched : 0);
                k->started_timed++;
                if (k->first_start_ns == 0)
                        k->first_start_ns = t0;
        }
        c->next = &inflight_list;
        c->prev = inflight_list.prev;
        c->prev->next = c;
        inflight_list.prev = c;
        k->inflight++;
        total_inflight++;
        if (k->inflight > k->max_inflight)
                k->max_inflight = k->inflight;
}

static void finish_call(struct call *c, bool ok, uint64_t now)
{
        struct klass *k = c->k;
        /* A failed batch still fills the status (gRPC's contract), but be sure. */
        grpc_status_code code = ok ? c->status : GRPC_STATUS_UNKNOWN;
        if (code != GRPC_STATUS_OK) {
                k->errors_by_code[code < N_CODES ? code : GRPC_STATUS_UNKNOWN]++;
        } else if (c->timed) {
                lat_push(&k->lat, now - c->t0);
        }
        if (c->timed)
                k->last_end_ns = now;
        completed++;
        c->prev->next = c->next;
        c->next->prev = c->prev;
        k->inflight--;
        total_inflight--;
        if (c->response)
                grpc_byte_buffer_destroy(c->response);
        grpc_byte_buffer_destroy(c->request);
        grpc_metadata_array_destroy(&c->initial_md);
        grpc_metadata_array_destroy(&c->trailing_md);
        grpc_slice_unref(c->details);
        grpc_call_unref(c->call);
        free(c);
}

/* ---- setup ------------------------------------------------------------------- */

static grpc_slice read_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (f == NULL)
                die(TOOL, "cannot open %s: %s", path, strerror(errno));
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (len < 0)
                die(TOOL, "cannot size %s", path);
        grpc_slice s = grpc_slice_malloc((size_t)len);
        if (len > 0 && fread(GRPC_SLICE_START_PTR(s), 1, (size_t)len, f) != (size_t)len)
                die(TOOL, "cannot read %s", path);
        fclose(f);
        return s;
}

/* Waits until the channel is connected, driving the queue meanwhile. */
static void wait_ready(uint64_t timeout_ms)
{
        uint64_t end = now_ns() + timeout_ms * 1000000;
        for (;;) {
                grpc_connectivity_state st = grpc_channel_check_connectivity_state(channel, 1);
                if (st == GRPC_CHANNEL_READY)
                        return;
                uint64_t now = now_ns();
                if (now >= end)
                        die(TOOL, "target not ready after %llu ms (state %d)",
                            (unsigned long long)timeout_ms, (int)st);
                static int tag;
                grpc_channel_watch_connectivity_state(channel, st, deadline_in_ns(end - now), cq,
                                                      &tag);
                grpc_event ev;
                do
                        ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                                        NULL);
                while (ev.type != GRPC_OP_COMPLETE);
        }
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: " TOOL " --target PATH [run flags] CLASS...\n"
                "  CLASS := --method PATH [--label NAME] (--concurrency N | --rate PER_S)\n"
                "           [--req-size BYTES | --req-file FILE] [--count N] [--ramp-ms MS]\n"
                "  --ramp-ms spreads a closed loop's first calls over MS, so that N slow\n"
                "  calls do not start, end and restart in lockstep\n"
                "run flags:\n"
                "  --duration-ms MS   timed part of the run (default 5000)\n"
                "  --warmup-ms MS     untimed calls first (default 300)\n"
                "  --max-ms MS        hard bound on the whole run; then in-flight calls are\n"
                "                     cancelled and count as errors (default 120000)\n"
                "  --deadline-ms MS   per-call deadline (default 10000)\n"
                "  --max-inflight N   open loop: calls beyond this are dropped and counted\n"
                "  --latencies FILE   write every timed call's latency, \"class ns\" per line\n");
}

static struct klass *current(const char *flag)
{
        if (n_classes == 0)
                die(TOOL, "%s must follow a --method", flag);
        return &classes[n_classes - 1];
}

static void check_class(struct klass *k)
{
        if ((k->concurrency > 0) == (k->rate > 0))
                die(TOOL, "class %s: give exactly one of --concurrency and --rate", k->label);
        if (k->rate > 0)
                k->period_ns = (uint64_t)(1e9 / k->rate);
}

/* ---- report ---------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted vector, in microseconds. */
static double pct_us(const struct lat_vec *l, double p)
{
        if (l->n == 0)
                return 0;
        size_t idx = (size_t)(p / 100.0 * (double)l->n + 0.999999);
        if (idx < 1)
                idx = 1;
        if (idx > l->n)
                idx = l->n;
        return (double)l->v[idx - 1] / 1000.0;
}

static void report(const char *label, struct lat_vec *l, struct lat_vec *lag, uint64_t *codes,
                   uint64_t dropped, uint64_t max_inflight, uint64_t t_first, uint64_t t_last)
{
        qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
        qsort(lag->v, lag->n, sizeof(*lag->v), cmp_u64);
        uint64_t errors = dropped;
        char err_codes[256] = "";
        size_t off = 0;
        for (int i = 0; i < N_CODES; i++) {
                errors += codes[i];
                if (codes[i] && off < sizeof(err_codes))
                        off +=
                            (size_t)snprintf(err_codes + off, sizeof(err_codes) - off, "%s%d:%llu",
                                             off ? "," : "", i, (unsigned long long)codes[i]);
        }
        double sum = 0;
        for (size_t i = 0; i < l->n; i++)
                sum += (double)l->v[i];
        double secs = t_last > t_first ? (double)(t_last - t_first) / 1e9 : 0;
        printf("class=%s n=%zu errors=%llu err_codes=%s dropped=%llu max_inflight=%llu "
               "elapsed_s=%.3f rps=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
               "mean_us=%.1f lag_p99_us=%.1f lag_max_us=%.1f\n",
               label, l->n, (unsigned long long)errors, off ? err_codes : "-",
               (unsigned long long)dropped, (unsigned long long)max_inflight, secs,
               secs > 0 ? (double)l->n / secs : 0, pct_us(l, 50), pct_us(l, 90), pct_us(l, 99),
               l->n ? (double)l->v[l->n - 1] / 1000.0 : 0, l->n ? sum / (double)l->n / 1000.0 : 0,
               pct_us(lag, 99), lag->n ? (double)lag->v[lag->n - 1] / 1000.0 : 0);
}

static void write_latencies(const char *path)
{
        FILE *f = fopen(path, "w");
        if (f == NULL)
                die(TOOL, "cannot write %s: %s", path, strerror(errno));
        for (int i = 0; i < n_classes; i++)
                for (size_t j = 0; j < classes[i].lat.n; j++)
                        fprintf(f, "%s %llu\n", classes[i].label,
                                (unsigned long long)classes[i].lat.v[j]);
        if (fclose(f) != 0)
                die(TOOL, "cannot write %s", path);
}

/* ---- the run ------------------------------------------------------------------------ */

/* Calls a closed-loop class may have in flight `since` ns into the run. */
static uint64_t closed_target(const struct klass *k, uint64_t since)
{
        uint64_t ramp = k->ramp_ms * 1000000;
        if (ramp == 0 || since >= ramp)
                return k->concurrency;
        uint64_t n = (uint64_t)((double)k->concurrency * (double)since / (double)ramp);
        return n < 1 ? 1 : n;
}

static bool class_may_start(const struct klass *k, bool warm)
{
        return !warm || k->count == 0 || k->started_timed < k->count;
}

int main(int argc, char **argv)
{
        const char *target = NULL, *lat_file = NULL;
        uint64_t duration_ms = 5000, warmup_ms = 300, max_ms = 120000;
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
                int bad = 0;
                if (strcmp(a, "--target") == 0) {
                        target = val;
                } else if (strcmp(a, "--duration-ms") == 0) {
                        bad = parse_u64(val, &duration_ms);
                } else if (strcmp(a, "--warmup-ms") == 0) {
                        bad = parse_u64(val, &warmup_ms);
                } else if (strcmp(a, "--max-ms") == 0) {
                        bad = parse_u64(val, &max_ms);
                } else if (strcmp(a, "--deadline-ms") == 0) {
                        bad = parse_u64(val, &deadline_ms);
                } else if (strcmp(a, "--max-inflight") == 0) {
                        bad = parse_u64(val, &max_inflight_total);
                } else if (strcmp(a, "--latencies") == 0) {
                        lat_file = val;
                } else if (strcmp(a, "--method") == 0) {
                        if (n_classes == MAX_CLASSES)
                                die(TOOL, "too many classes (at most %d)", MAX_CLASSES);
                        struct klass *k = &classes[n_classes++];
                        k->method = grpc_slice_from_static_string(val);
                        const char *slash = strrchr(val, '/');
                        k->label = slash ? slash + 1 : val;
                } else if (strcmp(a, "--label") == 0) {
                        current(a)->label = val;
                } else if (strcmp(a, "--concurrency") == 0) {
                        bad = parse_u64(val, &current(a)->concurrency);
                } else if (strcmp(a, "--rate") == 0) {
                        bad = parse_double(val, &current(a)->rate);
                } else if (strcmp(a, "--ramp-ms") == 0) {
                        bad = parse_u64(val, &current(a)->ramp_ms);
                } else if (strcmp(a, "--count") == 0) {
                        bad = parse_u64(val, &current(a)->count);
                } else if (strcmp(a, "--req-size") == 0) {
                        uint64_t n;
                        bad = parse_u64(val, &n) || n > (64u << 20);
                        if (!bad) {
                                current(a)->payload = grpc_slice_malloc((size_t)n);
                                memset(GRPC_SLICE_START_PTR(current(a)->payload), 0x2a, n);
                        }
                } else if (strcmp(a, "--req-file") == 0) {
                        current(a)->payload = read_file(val);
                } else {
                        bad = 1;
                }
                if (bad) {
                        usage(stderr);
                        die(TOOL, "bad flag or value: %s %s", a, val);
                }
        }
        if (target == NULL || n_classes == 0) {
                usage(stderr);
                die(TOOL, "--target and at least one --method are required");
        }
        for (int i = 0; i < n_classes; i++)
                check_class(&classes[i]);

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
        char addr[200];
        snprintf(addr, sizeof(addr), "unix:%s", target);
        grpc_channel_credentials *creds = grpc_insecure_credentials_create();
        channel = grpc_channel_create(addr, creds, &chargs);
        grpc_channel_credentials_release(creds);
        cq = grpc_completion_queue_create_for_next(NULL);
        wait_ready(10000);

        uint64_t t_start = now_ns();
        uint64_t t_warm = t_start + warmup_ms * 1000000;
        uint64_t t_stop = t_warm + duration_ms * 1000000;
        uint64_t t_hard = t_start + max_ms * 1000000;
        bool stopping = false, cancelled = false;
        for (int i = 0; i < n_classes; i++)
                classes[i].next_due_ns =
                    t_start + classes[i].period_ns * (uint64_t)i / (uint64_t)n_classes;

        for (;;) {
                uint64_t now = now_ns();
                bool warm = now >= t_warm;
                if (now >= t_stop)
                        stopping = true;
                bool all_counted = true;
                for (int i = 0; i < n_classes; i++) {
                        struct klass *k = &classes[i];
                        if (!warm || k->count == 0 || k->started_timed < k->count)
                                all_counted = false;
                }
                if (all_counted)
                        stopping = true;
                if (!stopping) {
                        for (int i = 0; i < n_classes; i++) {
                                struct klass *k = &classes[i];
                                uint64_t want = closed_target(k, now - t_start);
                                while (k->concurrency && k->inflight < want &&
                                       class_may_start(k, warm))
                                        start_call(k, now_ns(), warm);
                                while (k->rate > 0 && k->next_due_ns <= now &&
                                       class_may_start(k, warm)) {
                                        /* Timed from the schedule, not from when we got to it. */
                                        bool timed = k->next_due_ns >= t_warm;
                                        if (total_inflight >= max_inflight_total)
                                                k->dropped += timed;
                                        else
                                                start_call(k, k->next_due_ns, timed);
                                        k->next_due_ns += k->period_ns;
                                }
                        }
                }
                if (stopping && total_inflight == 0)
                        break;
                if (now >= t_hard && !cancelled) {
                        /* Past the hard bound: end what is left; each counts as an error. */
                        fprintf(stderr, TOOL ": --max-ms reached with %llu calls in flight\n",
                                (unsigned long long)total_inflight);
                        for (struct call *c = inflight_list.next; c != &inflight_list; c = c->next)
                                grpc_call_cancel(c->call, NULL);
                        cancelled = true;
                }

                uint64_t wake = stopping ? t_hard : t_stop;
                if (!warm && t_warm < wake)
                        wake = t_warm;
                for (int i = 0; i < n_classes && !stopping; i++) {
                        struct klass *k = &classes[i];
                        if (k->rate > 0 && k->next_due_ns < wake)
                                wake = k->next_due_ns;
                        /* While ramping, come back for the next step. */
                        uint64_t ramp = k->ramp_ms * 1000000;
                        if (k->concurrency && now - t_start < ramp &&
                            now + ramp / k->concurrency < wake)
                                wake = now + ramp / k->concurrency;
                }
                now = now_ns();
                if (cancelled)
                        wake = now + 1000000000;
                grpc_event ev = grpc_completion_queue_next(
                    cq, deadline_in_ns(wake > now ? wake - now : 0), NULL);
                if (ev.type == GRPC_OP_COMPLETE)
                        finish_call(ev.tag, ev.success != 0, now_ns());
                else if (ev.type == GRPC_QUEUE_SHUTDOWN)
                        die(TOOL, "completion queue shut down unexpectedly");
        }

        struct lat_vec all = {0}, all_lag = {0};
        uint64_t all_codes[N_CODES] = {0}, all_dropped = 0, all_max = 0, first = UINT64_MAX,
                 last = 0;
        for (int i = 0; i < n_classes; i++) {
                struct klass *k = &classes[i];
                report(k->label, &k->lat, &k->lag, k->errors_by_code, k->dropped, k->max_inflight,
                       k->first_start_ns, k->last_end_ns);
                for (size_t j = 0; j < k->lat.n; j++)
                        lat_push(&all, k->lat.v[j]);
                for (size_t j = 0; j < k->lag.n; j++)
                        lat_push(&all_lag, k->lag.v[j]);
                for (int c = 0; c < N_CODES; c++)
                        all_codes[c] += k->errors_by_code[c];
                all_dropped += k->dropped;
                all_max += k->max_inflight;
                if (k->first_start_ns && k->first_start_ns < first)
                        first = k->first_start_ns;
                if (k->last_end_ns > last)
                        last = k->last_end_ns;
        }
        if (n_classes > 1)
                report("total", &all, &all_lag, all_codes, all_dropped, all_max, first, last);
        /* The generator's own CPU time and call count, so the benchmark can
         * tell what else used the machine during the run. */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("proc=loadgen calls=%llu cpu_ms=%.0f\n", (unsigned long long)completed,
               (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
        if (lat_file)
                write_latencies(lat_file);
        fflush(stdout);
        grpc_channel_destroy(channel);
        grpc_completion_queue_shutdown(cq);
        while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
                ;
        grpc_completion_queue_destroy(cq);
        grpc_shutdown();
        return 0;
}
