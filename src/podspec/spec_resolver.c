/* Answers "what does the pod spec say about this container?" for the
 * ambiguous CreateContainer requests (spec_resolver.h). */
#include "podspec/spec_resolver.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "podspec/static_pods.h"
#include "base/monotonic.h"

struct waiter {
        struct waiter *next;
        struct crisp_spec_query query;
        struct crisp_spec_answer *answer;
        crisp_spec_done_fn done;
        void *arg;
        struct timespec deadline; /* CLOCK_MONOTONIC */
};

struct crisp_spec_resolver {
        struct crisp_pod_cache *cache;
        long wait_ms;
        char *node_name;
        char *manifests_dir; /* NULL: no static pods */

        pthread_mutex_t static_mu; /* guards statics */
        struct crisp_static_pods *statics;

        pthread_mutex_t mu; /* guards what follows */
        pthread_cond_t cond;
        struct waiter *waiters;
        size_t n_waiting;
        bool stopping;
        bool woken; /* the cache changed since the thread last looked */
        pthread_t thread;
        bool thread_started;
};

const char *crisp_spec_source_name(enum crisp_spec_source source)
{
        switch (source) {
        case CRISP_SOURCE_SPEC:
                return "spec";
        case CRISP_SOURCE_STATIC:
                return "static-manifest";
        case CRISP_SOURCE_FALLBACK:
                return "policy-fallback";
        }
        return "policy-fallback";
}

static void answer_found(struct crisp_spec_answer *a, enum crisp_spec_source source,
                         const struct crisp_spec_facts *facts)
{
        a->facts = *facts;
        a->verdict = crisp_spec_decide(facts, &a->why);
        if (a->verdict == CRISP_SPEC_UNDECIDED) {
                a->source = CRISP_SOURCE_FALLBACK;
                a->result = "undecided";
        } else {
                a->source = source;
                a->result = source == CRISP_SOURCE_STATIC ? "static-manifest" : "spec";
        }
}

static void answer_fallback(struct crisp_spec_answer *a, const char *result, const char *why)
{
        memset(&a->facts, 0, sizeof(a->facts));
        a->source = CRISP_SOURCE_FALLBACK;
        a->verdict = CRISP_SPEC_UNDECIDED;
        a->result = result;
        a->why = why;
}

/* Called by the cache after every change, on the watch's thread. */
static void cache_changed(void *arg)
{
        struct crisp_spec_resolver *r = arg;
        pthread_mutex_lock(&r->mu);
        if (r->n_waiting > 0) {
                r->woken = true;
                pthread_cond_signal(&r->cond);
        }
        pthread_mutex_unlock(&r->mu);
}

static bool before(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Takes every waiter that can be answered now off the list, into *done_list. */
static void settle_waiters(struct crisp_spec_resolver *r, struct waiter **done_list, bool all)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        bool synced = crisp_pod_cache_synced(r->cache);
        struct waiter **slot = &r->waiters;
        while (*slot) {
                struct waiter *w = *slot;
                struct crisp_spec_facts facts;
                if (crisp_pod_cache_lookup(r->cache, w->query.uid, w->query.container, &facts))
                        answer_found(w->answer, CRISP_SOURCE_SPEC, &facts);
                else if (all)
                        answer_fallback(w->answer, "shutdown", "crisp is stopping");
                else if (!synced)
                        answer_fallback(w->answer, "not-synced",
                                        "the pod cache lost its watch while waiting");
                else if (!before(&now, &w->deadline))
                        answer_fallback(w->answer, "timeout",
                                        "the pod did not reach the cache in time");
                else {
                        slot = &w->next;
                        continue;
                }
                *slot = w->next;
                r->n_waiting--;
                w->next = *done_list;
                *done_list = w;
        }
}

static void finish(struct waiter *list)
{
        while (list) {
                struct waiter *next = list->next;
                list->done(list->arg);
                free(list);
                list = next;
        }
}

static void *resolver_thread(void *arg)
{
        struct crisp_spec_resolver *r = arg;
        pthread_mutex_lock(&r->mu);
        for (;;) {
                struct waiter *done_list = NULL;
                settle_waiters(r, &done_list, r->stopping);
                if (done_list) {
                        pthread_mutex_unlock(&r->mu);
                        finish(done_list);
                        pthread_mutex_lock(&r->mu);
                        continue;
                }
                if (r->stopping)
                        break;
                if (r->woken) {
                        r->woken = false;
                        continue;
                }
                if (r->waiters == NULL) {
                        pthread_cond_wait(&r->cond, &r->mu);
                } else {
                        struct timespec first = r->waiters->deadline;
                        for (struct waiter *w = r->waiters->next; w; w = w->next)
                                if (before(&w->deadline, &first))
                                        first = w->deadline;
                        pthread_cond_timedwait(&r->cond, &r->mu, &first);
                }
        }
        pthread_mutex_unlock(&r->mu);
        return NULL;
}

int crisp_spec_resolver_new(const struct crisp_spec_resolver_options *opts,
                            struct crisp_spec_resolver **out, crisp_error **err)
{
        struct crisp_spec_resolver *r = calloc(1, sizeof(*r));
        if (r == NULL)
                return crisp_error_set(err, ENOMEM, "pod-spec resolver: out of memory");
        r->wait_ms = opts->wait_ms;
        r->node_name = strdup(opts->node_name ? opts->node_name : "");
        if (opts->manifests_dir && opts->manifests_dir[0])
                r->manifests_dir = strdup(opts->manifests_dir);
        r->cache = crisp_pod_cache_new(cache_changed, r);
        pthread_mutex_init(&r->mu, NULL);
        pthread_mutex_init(&r->static_mu, NULL);
        crisp_cond_init_monotonic(&r->cond);
        if (r->node_name == NULL || r->cache == NULL ||
            (opts->manifests_dir && opts->manifests_dir[0] && r->manifests_dir == NULL)) {
                crisp_spec_resolver_free(r);
                return crisp_error_set(err, ENOMEM, "pod-spec resolver: out of memory");
        }
        if (r->manifests_dir) {
                int rc = crisp_static_pods_load(r->manifests_dir, r->node_name, &r->statics, err);
                if (rc < 0) {
                        crisp_spec_resolver_free(r);
                        return rc;
                }
        }
        int rc = pthread_create(&r->thread, NULL, resolver_thread, r);
        if (rc != 0) {
                crisp_spec_resolver_free(r);
                return crisp_error_set_errno(err, rc, "pod-spec resolver: cannot start its thread");
        }
        r->thread_started = true;
        *out = r;
        return 0;
}

struct crisp_pod_cache *crisp_spec_resolver_cache(struct crisp_spec_resolver *r)
{
        return r->cache;
}

/* The static pod for `q`, reloading the folder first when it changed (a
 * few stat calls: lookups come only with ambiguous CreateContainer calls). */
static bool static_lookup(struct crisp_spec_resolver *r, const struct crisp_spec_query *q,
                          struct crisp_spec_facts *facts)
{
        if (r->manifests_dir == NULL)
                return false;
        pthread_mutex_lock(&r->static_mu);
        if (r->statics == NULL || crisp_static_pods_stale(r->statics)) {
                struct crisp_static_pods *fresh = NULL;
                _cleanup_error_ crisp_error *err = NULL;
                if (crisp_static_pods_load(r->manifests_dir, r->node_name, &fresh, &err) == 0) {
                        if (r->statics)
                                crisp_static_pods_free(r->statics);
                        r->statics = fresh;
                        log_info("pod-spec: static pod manifests reloaded dir=%s pods=%zu",
                                 r->manifests_dir, crisp_static_pods_count(fresh));
                } else {
                        log_warn("pod-spec: cannot reload the static pod manifests dir=%s "
                                 "reason=\"%s\"",
                                 r->manifests_dir, err->msg);
                }
        }
        const struct crisp_pod_spec *pod =
            r->statics ? crisp_static_pods_find(r->statics, q->namespace_, q->pod_name) : NULL;
        if (pod)
                crisp_spec_facts_of(pod, q->container, facts);
        pthread_mutex_unlock(&r->static_mu);
        return pod != NULL;
}

int crisp_spec_resolver_lookup(struct crisp_spec_resolver *r, const struct crisp_spec_query *q,
                               struct crisp_spec_answer *answer, crisp_spec_done_fn done, void *arg)
{
        struct crisp_spec_facts facts;
        if (q->uid[0] && crisp_pod_cache_lookup(r->cache, q->uid, q->container, &facts)) {
                answer_found(answer, CRISP_SOURCE_SPEC, &facts);
                return 0;
        }
        if (static_lookup(r, q, &facts)) {
                answer_found(answer, CRISP_SOURCE_STATIC, &facts);
                return 0;
        }
        if (q->uid[0] == '\0') {
                answer_fallback(answer, "undecided", "the request carries no pod uid");
                return 0;
        }
        if (!crisp_pod_cache_synced(r->cache)) {
                answer_fallback(answer, "not-synced", "the pod cache is not in sync");
                return 0;
        }
        if (r->wait_ms <= 0) {
                answer_fallback(answer, "timeout", "the pod is not in the cache");
                return 0;
        }

        struct waiter *w = calloc(1, sizeof(*w));
        if (w == NULL) {
                answer_fallback(answer, "undecided", "out of memory");
                return 0;
        }
        w->query = *q;
        w->answer = answer;
        w->done = done;
        w->arg = arg;
        w->deadline = crisp_monotonic_after_ms(r->wait_ms);
        pthread_mutex_lock(&r->mu);
        if (r->stopping) {
                pthread_mutex_unlock(&r->mu);
                free(w);
                answer_fallback(answer, "shutdown", "crisp is stopping");
                return 0;
        }
        w->next = r->waiters;
        r->waiters = w;
        r->n_waiting++;
        /* The pod may have arrived between the lookup above and now: the
         * thread looks again as soon as it runs. */
        r->woken = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->mu);
        return 1;
}

size_t crisp_spec_resolver_waiting(struct crisp_spec_resolver *r)
{
        pthread_mutex_lock(&r->mu);
        size_t n = r->n_waiting;
        pthread_mutex_unlock(&r->mu);
        return n;
}

size_t crisp_spec_resolver_static_count(struct crisp_spec_resolver *r)
{
        pthread_mutex_lock(&r->static_mu);
        size_t n = r->statics ? crisp_static_pods_count(r->statics) : 0;
        pthread_mutex_unlock(&r->static_mu);
        return n;
}

void crisp_spec_resolver_free(struct crisp_spec_resolver *r)
{
        if (r == NULL)
                return;
        if (r->thread_started) {
                pthread_mutex_lock(&r->mu);
                r->stopping = true;
                pthread_cond_signal(&r->cond);
                pthread_mutex_unlock(&r->mu);
                pthread_join(r->thread, NULL);
        }
        crisp_pod_cache_free(r->cache);
        if (r->statics)
                crisp_static_pods_free(r->statics);
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->mu);
        pthread_mutex_destroy(&r->static_mu);
        free(r->node_name);
        free(r->manifests_dir);
        free(r);
}
