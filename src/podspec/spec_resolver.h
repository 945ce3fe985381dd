/* Answers "what does the pod spec say about this container?" for the
 * relay's ambiguous CreateContainer requests (issue 8), from, in order:
 *
 *   1. the API cache (pod_cache.h), by the kubelet's pod uid;
 *   2. the static pod manifests, by sandbox name and namespace;
 *   3. when the cache is in sync but lacks the pod, the cache again once
 *      the watch delivers it, waiting at most `wait_ms`;
 *   4. else nothing: the caller applies its ambiguousUnconfined policy.
 *
 * It never blocks the caller: a lookup that must wait is answered later, on
 * the resolver's own thread, through a callback. Nothing here waits on the
 * API server. */
#ifndef CRISP_SPEC_RESOLVER_H
#define CRISP_SPEC_RESOLVER_H

#include <stdbool.h>

#include "base/error.h"
#include "podspec/pod_cache.h"
#include "podspec/spec_rule.h"

struct crisp_spec_query {
        char uid[128];
        char namespace_[128];
        char pod_name[256]; /* the sandbox's name */
        char container[256];
};

enum crisp_spec_source {
        CRISP_SOURCE_SPEC = 0, /* the API server's pod, from the cache */
        CRISP_SOURCE_STATIC,   /* a static pod manifest */
        CRISP_SOURCE_FALLBACK, /* neither: the policy decides */
};

struct crisp_spec_answer {
        enum crisp_spec_source source;
        enum crisp_spec_verdict verdict; /* CRISP_SPEC_UNDECIDED with FALLBACK */
        const char *why;                 /* the reason, for the log line */
        const char *result;              /* for the lookups metric: "spec", "static-manifest",
                                          * "undecided", "not-synced", "timeout", "shutdown" */
        struct crisp_spec_facts facts;   /* what the spec said (when found) */
};

const char *crisp_spec_source_name(enum crisp_spec_source source);

struct crisp_spec_resolver_options {
        const char *manifests_dir; /* "" or NULL: no static pods */
        const char *node_name;
        long wait_ms; /* how long a pod missing from an in-sync cache is waited for */
};

struct crisp_spec_resolver;

int crisp_spec_resolver_new(const struct crisp_spec_resolver_options *opts,
                            struct crisp_spec_resolver **out, crisp_error **err);

/* The cache the watch feeds. */
struct crisp_pod_cache *crisp_spec_resolver_cache(struct crisp_spec_resolver *r);

typedef void (*crisp_spec_done_fn)(void *arg);

/* Looks `q` up. Returns 0 with *answer filled, or 1 when the answer will
 * come: then `done(arg)` is called exactly once, from the resolver's
 * thread, after *answer was filled; *answer must stay valid until then. */
int crisp_spec_resolver_lookup(struct crisp_spec_resolver *r, const struct crisp_spec_query *q,
                               struct crisp_spec_answer *answer, crisp_spec_done_fn done,
                               void *arg);

/* Number of lookups waiting now (metrics, tests). */
size_t crisp_spec_resolver_waiting(struct crisp_spec_resolver *r);
size_t crisp_spec_resolver_static_count(struct crisp_spec_resolver *r);

/* Answers every waiting lookup ("shutdown": the policy decides), stops the
 * thread and frees everything. Call it once no new lookup can start. */
void crisp_spec_resolver_free(struct crisp_spec_resolver *r);

#endif
