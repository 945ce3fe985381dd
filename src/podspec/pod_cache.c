/* A chained hash table keyed by uid, grown by doubling. A node runs at most a
 * few hundred pods; the table is sized for thousands so a test can load
 * 5,000 and measure. */
#include "podspec/pod_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
        struct entry *next;
        uint64_t hash;
        unsigned relist_gen; /* the relist that last put it */
        struct crisp_pod_spec pod;
};

struct crisp_pod_cache {
        pthread_mutex_t mu;
        struct entry **buckets;
        size_t n_buckets; /* a power of two */
        size_t count;
        unsigned relist_gen;
        bool synced;
        void (*changed)(void *arg);
        void *changed_arg;
};

#define INITIAL_BUCKETS 256

static uint64_t hash_of(const char *s)
{
        uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ull;
        return h;
}

struct crisp_pod_cache *crisp_pod_cache_new(void (*changed)(void *arg), void *arg)
{
        struct crisp_pod_cache *c = calloc(1, sizeof(*c));
        if (c == NULL)
                return NULL;
        c->buckets = calloc(INITIAL_BUCKETS, sizeof(*c->buckets));
        if (c->buckets == NULL) {
                free(c);
                return NULL;
        }
        c->n_buckets = INITIAL_BUCKETS;
        c->changed = changed;
        c->changed_arg = arg;
        pthread_mutex_init(&c->mu, NULL);
        return c;
}

static void entry_free(struct entry *e)
{
        crisp_pod_spec_release(&e->pod);
        free(e);
}

void crisp_pod_cache_free(struct crisp_pod_cache *c)
{
        if (c == NULL)
                return;
        for (size_t i = 0; i < c->n_buckets; i++) {
                struct entry *e = c->buckets[i];
                while (e) {
                        struct entry *next = e->next;
                        entry_free(e);
                        e = next;
                }
        }
        free(c->buckets);
        pthread_mutex_destroy(&c->mu);
        free(c);
}

static struct entry **find_slot(struct crisp_pod_cache *c, const char *uid, uint64_t h)
{
        struct entry **slot = &c->buckets[h & (c->n_buckets - 1)];
        while (*slot && ((*slot)->hash != h || strcmp((*slot)->pod.uid, uid) != 0))
                slot = &(*slot)->next;
        return slot;
}

/* Doubles the table when it is fuller than one entry per bucket; a failed
 * allocation only leaves chains longer. */
static void maybe_grow(struct crisp_pod_cache *c)
{
        if (c->count <= c->n_buckets)
                return;
        size_t n = c->n_buckets * 2;
        struct entry **b = calloc(n, sizeof(*b));
        if (b == NULL)
                return;
        for (size_t i = 0; i < c->n_buckets; i++) {
                struct entry *e = c->buckets[i];
                while (e) {
                        struct entry *next = e->next;
                        e->next = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                        e = next;
                }
        }
        free(c->buckets);
        c->buckets = b;
        c->n_buckets = n;
}

int crisp_pod_cache_put(struct crisp_pod_cache *c, struct crisp_pod_spec *pod)
{
        struct entry *fresh = calloc(1, sizeof(*fresh));
        if (fresh == NULL) {
                crisp_pod_spec_release(pod);
                return -ENOMEM;
        }
        fresh->pod = *pod;
        memset(pod, 0, sizeof(*pod));
        fresh->hash = hash_of(fresh->pod.uid);

        pthread_mutex_lock(&c->mu);
        fresh->relist_gen = c->relist_gen;
        struct entry **slot = find_slot(c, fresh->pod.uid, fresh->hash);
        if (*slot) {
                struct entry *old = *slot;
                fresh->next = old->next;
                *slot = fresh;
                entry_free(old);
        } else {
                fresh->next = NULL;
                *slot = fresh;
                c->count++;
                maybe_grow(c);
        }
        pthread_mutex_unlock(&c->mu);
        if (c->changed)
                c->changed(c->changed_arg);
        return 0;
}

bool crisp_pod_cache_remove(struct crisp_pod_cache *c, const char *uid)
{
        pthread_mutex_lock(&c->mu);
        struct entry **slot = find_slot(c, uid, hash_of(uid));
        struct entry *gone = *slot;
        if (gone) {
                *slot = gone->next;
                c->count--;
        }
        pthread_mutex_unlock(&c->mu);
        if (gone)
                entry_free(gone);
        return gone != NULL;
}

void crisp_pod_cache_relist_begin(struct crisp_pod_cache *c)
{
        pthread_mutex_lock(&c->mu);
        c->relist_gen++;
        pthread_mutex_unlock(&c->mu);
}

size_t crisp_pod_cache_relist_end(struct crisp_pod_cache *c)
{
        size_t removed = 0;
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->n_buckets; i++) {
                struct entry **slot = &c->buckets[i];
                while (*slot) {
                        struct entry *e = *slot;
                        if (e->relist_gen != c->relist_gen) {
                                *slot = e->next;
                                entry_free(e);
                                c->count--;
                                removed++;
                        } else {
                                slot = &e->next;
                        }
                }
        }
        pthread_mutex_unlock(&c->mu);
        return removed;
}

bool crisp_pod_cache_lookup(struct crisp_pod_cache *c, const char *uid, const char *container,
                            struct crisp_spec_facts *out)
{
        pthread_mutex_lock(&c->mu);
        struct entry *e = *find_slot(c, uid, hash_of(uid));
        if (e)
                crisp_spec_facts_of(&e->pod, container, out);
        pthread_mutex_unlock(&c->mu);
        return e != NULL;
}

void crisp_pod_cache_set_synced(struct crisp_pod_cache *c, bool synced)
{
        pthread_mutex_lock(&c->mu);
        c->synced = synced;
        pthread_mutex_unlock(&c->mu);
        if (synced && c->changed)
                c->changed(c->changed_arg);
}

bool crisp_pod_cache_synced(struct crisp_pod_cache *c)
{
        pthread_mutex_lock(&c->mu);
        bool s = c->synced;
        pthread_mutex_unlock(&c->mu);
        return s;
}

size_t crisp_pod_cache_count(struct crisp_pod_cache *c)
{
        pthread_mutex_lock(&c->mu);
        size_t n = c->count;
        pthread_mutex_unlock(&c->mu);
        return n;
}
