/* rewrite_cost: the CPU cost of crisp's request rewrite alone, with no gRPC.
 *
 * Runs crisp_rewrite_request (decode, apply the seccomp rule, re-encode) on
 * one request file many times and prints per-call percentiles. Scenario (c)
 * measures the rewrite inside crisp end to end; this separates the rewriter's
 * own CPU time from what the relay does around it (see BENCHMARKS.md).
 *
 * usage: rewrite_cost FILE [create-container|run-pod-sandbox] [ITERATIONS]
 */
#include <stdbool.h>

#include "common.h"
#include "rule/rewrite.h"

#define TOOL "rewrite_cost"

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
        if (argc < 2)
                die(TOOL, "usage: " TOOL " FILE [create-container|run-pod-sandbox] [ITERATIONS]");
        enum crisp_method method = CRISP_METHOD_CREATE_CONTAINER;
        if (argc > 2 && strcmp(argv[2], "run-pod-sandbox") == 0)
                method = CRISP_METHOD_RUN_POD_SANDBOX;
        else if (argc > 2 && strcmp(argv[2], "create-container") != 0)
                die(TOOL, "unknown method %s", argv[2]);
        uint64_t iters = 20000;
        if (argc > 3 && (parse_u64(argv[3], &iters) < 0 || iters == 0 || iters > 10000000))
                die(TOOL, "bad iteration count %s", argv[3]);

        FILE *f = fopen(argv[1], "rb");
        if (f == NULL)
                die(TOOL, "cannot open %s: %s", argv[1], strerror(errno));
        /* the whole file, however large (scenario g's request is a few MiB) */
        size_t len = 0, cap = 1 << 16;
        uint8_t *buf = malloc(cap);
        for (size_t n; buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
                len += n;
                if (len == cap)
                        buf = realloc(buf, cap *= 2);
        }
        if (buf == NULL)
                die(TOOL, "out of memory for %s", argv[1]);
        if (ferror(f))
                die(TOOL, "cannot read %s", argv[1]);
        fclose(f);

        uint64_t *ns = malloc(iters * sizeof(*ns));
        if (ns == NULL)
                die(TOOL, "out of memory");
        struct crisp_rewrite_options opts = {.ambiguous = CRISP_AMBIGUOUS_RUNTIME_DEFAULT};
        bool changed = false;
        size_t out_len = 0;
        for (uint64_t i = 0; i < iters; i++) {
                struct crisp_rewrite_result res;
                crisp_error *err = NULL;
                uint64_t t0 = now_ns();
                int r = crisp_rewrite_request(method, buf, len, &opts, &res, &err);
                if (r < 0)
                        die(TOOL, "the request does not decode: %s", err->msg);
                changed = res.changed;
                out_len = res.len;
                crisp_rewrite_result_release(&res);
                ns[i] = now_ns() - t0;
        }
        qsort(ns, iters, sizeof(*ns), cmp_u64);
        double sum = 0;
        for (uint64_t i = 0; i < iters; i++)
                sum += (double)ns[i];
        printf("rewrite_cost in_bytes=%zu out_bytes=%zu changed=%d n=%llu p50_us=%.2f "
               "p99_us=%.2f mean_us=%.2f\n",
               len, out_len, changed, (unsigned long long)iters, (double)ns[iters / 2] / 1000.0,
               (double)ns[iters * 99 / 100] / 1000.0, sum / (double)iters / 1000.0);
        free(ns);
        free(buf);
        return 0;
}
