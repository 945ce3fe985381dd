/* Issue 8: the pod cache (put, replace, remove, relist, growth to 5,000) and
 * the resolver (cache hit, not in sync, waiting for the watch, timing out,
 * answering every waiter at shutdown). Waits are on condition variables
 * with a generous bound, never sleeps. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "podspec/pod_cache.h"
#include "podspec/spec_resolver.h"

static struct crisp_pod_spec make_pod(const char *uid, enum crisp_spec_seccomp pod_type,
                                      const char *container, enum crisp_spec_seccomp c_type)
{
        struct crisp_pod_spec p = {0};
        p.uid = strdup(uid);
        p.namespace_ = strdup("default");
        p.name = strdup(uid);
        p.resource_version = strdup("1");
        p.seccomp = pod_type;
        p.n_containers = 1;
        p.containers = calloc(1, sizeof(*p.containers));
        p.containers[0].name = strdup(container);
        p.containers[0].seccomp = c_type;
        return p;
}

static void put(struct crisp_pod_cache *c, const char *uid, enum crisp_spec_seccomp pod_type)
{
        struct crisp_pod_spec p = make_pod(uid, pod_type, "app", CRISP_SPEC_UNSET);
        assert_int_equal(crisp_pod_cache_put(c, &p), 0);
        assert_null(p.uid); /* taken */
}

static void test_cache_put_replace_remove(void **state)
{
        (void)state;
        struct crisp_pod_cache *c = crisp_pod_cache_new(NULL, NULL);
        struct crisp_spec_facts f;
        assert_false(crisp_pod_cache_lookup(c, "a", "app", &f));
        put(c, "a", CRISP_SPEC_UNSET);
        assert_true(crisp_pod_cache_lookup(c, "a", "app", &f));
        assert_int_equal(f.pod, CRISP_SPEC_UNSET);
        put(c, "a", CRISP_SPEC_UNCONFINED); /* MODIFIED */
        assert_int_equal(crisp_pod_cache_count(c), 1);
        assert_true(crisp_pod_cache_lookup(c, "a", "app", &f));
        assert_int_equal(f.pod, CRISP_SPEC_UNCONFINED);
        assert_true(crisp_pod_cache_remove(c, "a"));
        assert_false(crisp_pod_cache_remove(c, "a"));
        assert_int_equal(crisp_pod_cache_count(c), 0);
        crisp_pod_cache_free(c);
}

static void test_cache_relist_drops_the_missing(void **state)
{
        (void)state;
        struct crisp_pod_cache *c = crisp_pod_cache_new(NULL, NULL);
        put(c, "old", CRISP_SPEC_UNSET);
        put(c, "kept", CRISP_SPEC_UNSET);
        crisp_pod_cache_relist_begin(c);
        put(c, "kept", CRISP_SPEC_UNSET);
        put(c, "new", CRISP_SPEC_UNSET);
        assert_int_equal(crisp_pod_cache_relist_end(c), 1);
        struct crisp_spec_facts f;
        assert_false(crisp_pod_cache_lookup(c, "old", "app", &f));
        assert_true(crisp_pod_cache_lookup(c, "kept", "app", &f));
        assert_true(crisp_pod_cache_lookup(c, "new", "app", &f));
        crisp_pod_cache_free(c);
}

static void test_cache_grows_to_thousands(void **state)
{
        (void)state;
        struct crisp_pod_cache *c = crisp_pod_cache_new(NULL, NULL);
        char uid[32];
        for (int i = 0; i < 5000; i++) {
                snprintf(uid, sizeof(uid), "uid-%d", i);
                put(c, uid, i % 2 ? CRISP_SPEC_UNCONFINED : CRISP_SPEC_UNSET);
        }
        assert_int_equal(crisp_pod_cache_count(c), 5000);
        for (int i = 0; i < 5000; i += 7) {
                struct crisp_spec_facts f;
                snprintf(uid, sizeof(uid), "uid-%d", i);
                assert_true(crisp_pod_cache_lookup(c, uid, "app", &f));
                assert_int_equal(f.pod, i % 2 ? CRISP_SPEC_UNCONFINED : CRISP_SPEC_UNSET);
        }
        crisp_pod_cache_free(c);
}

/* ---- the resolver ------------------------------------------------------------- */

struct wait {
        pthread_mutex_t mu;
        pthread_cond_t cond;
        int done;
};

static void on_done(void *arg)
{
        struct wait *w = arg;
        pthread_mutex_lock(&w->mu);
        w->done++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->mu);
}

/* Waits (bounded: 10 s, far beyond any answer) for on_done. */
static int wait_done(struct wait *w)
{
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_mutex_lock(&w->mu);
        while (w->done == 0 && pthread_cond_timedwait(&w->cond, &w->mu, &until) == 0)
                ;
        int d = w->done;
        pthread_mutex_unlock(&w->mu);
        return d;
}

static struct crisp_spec_query query(const char *uid)
{
        struct crisp_spec_query q = {0};
        snprintf(q.uid, sizeof(q.uid), "%s", uid);
        snprintf(q.namespace_, sizeof(q.namespace_), "default");
        snprintf(q.pod_name, sizeof(q.pod_name), "%s", uid);
        snprintf(q.container, sizeof(q.container), "app");
        return q;
}

static struct crisp_spec_resolver *resolver(long wait_ms)
{
        struct crisp_spec_resolver_options o = {.node_name = "node1", .wait_ms = wait_ms};
        struct crisp_spec_resolver *r = NULL;
        assert_int_equal(crisp_spec_resolver_new(&o, &r, NULL), 0);
        return r;
}

static void test_resolver_answers_from_the_cache(void **state)
{
        (void)state;
        struct crisp_spec_resolver *r = resolver(250);
        put(crisp_spec_resolver_cache(r), "p", CRISP_SPEC_UNCONFINED);
        struct crisp_spec_query q = query("p");
        struct crisp_spec_answer a;
        assert_int_equal(crisp_spec_resolver_lookup(r, &q, &a, on_done, NULL), 0);
        assert_int_equal(a.source, CRISP_SOURCE_SPEC);
        assert_int_equal(a.verdict, CRISP_SPEC_KEEP);
        assert_string_equal(a.result, "spec");
        crisp_spec_resolver_free(r);
}

static void test_resolver_does_not_wait_when_not_in_sync(void **state)
{
        (void)state;
        struct crisp_spec_resolver *r = resolver(10000);
        struct crisp_spec_query q = query("missing");
        struct crisp_spec_answer a;
        assert_int_equal(crisp_spec_resolver_lookup(r, &q, &a, on_done, NULL), 0);
        assert_int_equal(a.source, CRISP_SOURCE_FALLBACK);
        assert_string_equal(a.result, "not-synced");
        crisp_spec_resolver_free(r);
}

static void test_resolver_waits_for_the_watch(void **state)
{
        (void)state;
        struct crisp_spec_resolver *r = resolver(10000);
        crisp_pod_cache_set_synced(crisp_spec_resolver_cache(r), true);
        struct wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        struct crisp_spec_query q = query("late");
        struct crisp_spec_answer a;
        assert_int_equal(crisp_spec_resolver_lookup(r, &q, &a, on_done, &w), 1);
        assert_int_equal(crisp_spec_resolver_waiting(r), 1);
        put(crisp_spec_resolver_cache(r), "late", CRISP_SPEC_UNSET);
        assert_int_equal(wait_done(&w), 1);
        assert_int_equal(a.source, CRISP_SOURCE_SPEC);
        assert_int_equal(a.verdict, CRISP_SPEC_DEFAULT);
        assert_int_equal(crisp_spec_resolver_waiting(r), 0);
        crisp_spec_resolver_free(r);
}

static void test_resolver_gives_up_after_the_wait(void **state)
{
        (void)state;
        struct crisp_spec_resolver *r = resolver(1);
        crisp_pod_cache_set_synced(crisp_spec_resolver_cache(r), true);
        struct wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        struct crisp_spec_query q = query("never");
        struct crisp_spec_answer a;
        assert_int_equal(crisp_spec_resolver_lookup(r, &q, &a, on_done, &w), 1);
        assert_int_equal(wait_done(&w), 1);
        assert_int_equal(a.source, CRISP_SOURCE_FALLBACK);
        assert_string_equal(a.result, "timeout");
        crisp_spec_resolver_free(r);
}

static void test_resolver_stops_waiting_when_the_watch_breaks(void **state)
{
        (void)state;
        struct crisp_spec_resolver *r = resolver(10000);
        crisp_pod_cache_set_synced(crisp_spec_resolver_cache(r), true);
        struct wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        struct crisp_spec_query q = query("never");
        struct crisp_spec_answer a;
        assert_int_equal(crisp_spec_resolver_lookup(r, &q, &a, on_done, &w), 1);
        /* The watch drops: no event will come; the put of another pod wakes the resolver. */
        crisp_pod_cache_set_synced(crisp_spec_resolver_cache(r), false);
        put(crisp_spec_resolver_cache(r), "other", CRISP_SPEC_UNSET);
        assert_int_equal(wait_done(&w), 1);
        assert_string_equal(a.result, "not-synced");
        crisp_spec_resolver_free(r);
}

static void test_resolver_answers_waiters_at_shutdown(void **state)
{
        (void)state;
        struct crisp_spec_resolver *r = resolver(10000);
        crisp_pod_cache_set_synced(crisp_spec_resolver_cache(r), true);
        struct wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        struct crisp_spec_query q1 = query("x"), q2 = query("y");
        struct crisp_spec_answer a1, a2;
        assert_int_equal(crisp_spec_resolver_lookup(r, &q1, &a1, on_done, &w), 1);
        assert_int_equal(crisp_spec_resolver_lookup(r, &q2, &a2, on_done, &w), 1);
        crisp_spec_resolver_free(r); /* joins its thread: both answered by now */
        assert_int_equal(w.done, 2);
        assert_string_equal(a1.result, "shutdown");
        assert_string_equal(a2.result, "shutdown");
}

static void test_resolver_without_uid(void **state)
{
        (void)state;
        struct crisp_spec_resolver *r = resolver(10000);
        crisp_pod_cache_set_synced(crisp_spec_resolver_cache(r), true);
        struct crisp_spec_query q = query("");
        struct crisp_spec_answer a;
        assert_int_equal(crisp_spec_resolver_lookup(r, &q, &a, on_done, NULL), 0);
        assert_string_equal(a.result, "undecided");
        crisp_spec_resolver_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cache_put_replace_remove),
            cmocka_unit_test(test_cache_relist_drops_the_missing),
            cmocka_unit_test(test_cache_grows_to_thousands),
            cmocka_unit_test(test_resolver_answers_from_the_cache),
            cmocka_unit_test(test_resolver_does_not_wait_when_not_in_sync),
            cmocka_unit_test(test_resolver_waits_for_the_watch),
            cmocka_unit_test(test_resolver_gives_up_after_the_wait),
            cmocka_unit_test(test_resolver_stops_waiting_when_the_watch_breaks),
            cmocka_unit_test(test_resolver_answers_waiters_at_shutdown),
            cmocka_unit_test(test_resolver_without_uid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
