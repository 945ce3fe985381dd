/* /readyz: the runtime's Version, asked through the relay (readiness.h). */
#include "readiness.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/log.h"
#include "metrics/metrics.h"
#include "server.h"

#define CODE_OK            0
#define CODE_UNIMPLEMENTED 12

struct crisp_readiness {
        uv_timer_t timer;
        struct crisp_server *server;
        struct relay_stream *probe; /* the call in flight, or NULL */
        bool v1alpha2;              /* the probe in flight asks v1alpha2 */
        bool was_ready, first;
};

static void report(struct crisp_readiness *r, bool ready)
{
        crisp_metrics_set_ready(ready);
        crisp_metrics_set_upstream_state(crisp_server_upstream_state(r->server));
        if (r->first || ready != r->was_ready)
                crisp_log(ready ? CRISP_LOG_INFO : CRISP_LOG_WARN, "runtime %s",
                          ready ? "ready: it answered Version" : "not ready: no answer to Version");
        r->was_ready = ready;
        r->first = false;
}

static void probe(struct crisp_readiness *r, bool v1alpha2);

static void on_answer(void *arg, int code)
{
        struct crisp_readiness *r = arg;
        r->probe = NULL;
        /* A runtime that only speaks v1alpha2 answers v1 with UNIMPLEMENTED. */
        if (code == CODE_UNIMPLEMENTED && !r->v1alpha2) {
                probe(r, true);
                return;
        }
        report(r, code == CODE_OK);
}

static void probe(struct crisp_readiness *r, bool v1alpha2)
{
        r->v1alpha2 = v1alpha2;
        r->probe = crisp_server_call_own(r->server,
                                         v1alpha2 ? "/runtime.v1alpha2.RuntimeService/Version"
                                                  : "/runtime.v1.RuntimeService/Version",
                                         on_answer, r);
}

static void on_tick(uv_timer_t *t)
{
        struct crisp_readiness *r = t->data;
        if (r->probe != NULL) {
                /* No answer within an interval: not ready, and ask again. */
                crisp_server_cancel_own(r->server, r->probe);
                r->probe = NULL;
                report(r, false);
        }
        probe(r, false);
}

int crisp_readiness_start(uv_loop_t *loop, struct crisp_server *server, long interval_ms,
                          struct crisp_readiness **out, crisp_error **err)
{
        struct crisp_readiness *r = calloc(1, sizeof(*r));
        if (r == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        r->server = server;
        r->first = true;
        uv_timer_init(loop, &r->timer);
        r->timer.data = r;
        uv_timer_start(&r->timer, on_tick, 0, (uint64_t)interval_ms);
        *out = r;
        return 0;
}

static void on_closed(uv_handle_t *h)
{
        free(h->data);
}

void crisp_readiness_stop(struct crisp_readiness *r)
{
        if (r == NULL)
                return;
        if (r->probe != NULL)
                crisp_server_cancel_own(r->server, r->probe);
        r->probe = NULL;
        uv_close((uv_handle_t *)&r->timer, on_closed);
}
