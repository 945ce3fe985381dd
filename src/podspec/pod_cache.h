/* The local cache of this node's pods (issue 8): per kubelet pod uid, only
 * what the seccomp rule needs (pod_spec.h). Fed by the watch
 * (pod_watch.h), read by the resolver (spec_resolver.h) on another thread:
 * every function takes the cache's lock. */
#ifndef CRISP_POD_CACHE_H
#define CRISP_POD_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "podspec/pod_spec.h"
#include "podspec/spec_rule.h"

struct crisp_pod_cache;

/* `changed` (may be NULL) is called, without the cache's lock held, after
 * every put: the resolver uses it to wake calls waiting for a pod. */
struct crisp_pod_cache *crisp_pod_cache_new(void (*changed)(void *arg), void *arg);
void crisp_pod_cache_free(struct crisp_pod_cache *cache);

/* Inserts or replaces the pod with pod->uid; takes what *pod owns (it is
 * zeroed). Returns 0 or -ENOMEM (then *pod is released). */
int crisp_pod_cache_put(struct crisp_pod_cache *cache, struct crisp_pod_spec *pod);
/* Removes the pod with `uid`; true when there was one. */
bool crisp_pod_cache_remove(struct crisp_pod_cache *cache, const char *uid);

/* A relist: pods put between begin and end are kept, the others removed
 * (deleted while crisp was not watching). Returns how many were removed. */
void crisp_pod_cache_relist_begin(struct crisp_pod_cache *cache);
size_t crisp_pod_cache_relist_end(struct crisp_pod_cache *cache);

/* What the spec says about `container` of the pod with `uid`: false when
 * the pod is not in the cache. */
bool crisp_pod_cache_lookup(struct crisp_pod_cache *cache, const char *uid, const char *container,
                            struct crisp_spec_facts *out);

/* "In sync": listed, and the watch is connected. */
void crisp_pod_cache_set_synced(struct crisp_pod_cache *cache, bool synced);
bool crisp_pod_cache_synced(struct crisp_pod_cache *cache);

size_t crisp_pod_cache_count(struct crisp_pod_cache *cache);

#endif
