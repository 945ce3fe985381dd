/* The policy in force, as an immutable, refcounted snapshot. The data path
 * takes one per call (crisp_policy_acquire) and keeps it to the call's end,
 * so a call sees one consistent policy even while a reload swaps in a new
 * one; the last holder frees a snapshot. Acquire and swap take a mutex for a
 * few instructions (load + refcount bump), which keeps it simple and
 * obviously race-free; release is a lone atomic decrement. */
#ifndef CRISP_POLICY_SNAPSHOT_H
#define CRISP_POLICY_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/error.h"
#include "rule/policy.h"
#include "rule/rewrite.h"

struct crisp_policy_snapshot {
        atomic_long refs;
        struct crisp_policy policy;           /* owned, never changed */
        struct crisp_rewrite_options rewrite; /* derived from policy */
        unsigned long generation;             /* 1 for the first, +1 per reload */
};

struct crisp_policy_holder {
        pthread_mutex_t mu;
        struct crisp_policy_snapshot *current;
};

/* Makes a snapshot of a deep copy of `policy` (refs = 1). */
int crisp_policy_snapshot_new(const struct crisp_policy *policy, struct crisp_policy_snapshot **out,
                              crisp_error **err);

/* issue 14: the twin maker complain-mode snapshots get (rewrite.h); set it
 * once, before the first snapshot is made. */
void crisp_policy_set_twin_hook(crisp_twin_fn fn, void *arg);

/* Takes ownership of `first`. */
void crisp_policy_holder_init(struct crisp_policy_holder *h, struct crisp_policy_snapshot *first);
/* Drops the holder's reference (snapshots still held by calls live on). */
void crisp_policy_holder_destroy(struct crisp_policy_holder *h);

/* The current snapshot, with a reference the caller must release. */
struct crisp_policy_snapshot *crisp_policy_acquire(struct crisp_policy_holder *h);
void crisp_policy_release_snapshot(struct crisp_policy_snapshot *s);

/* Puts `next` in force (taking ownership; sets its generation). */
void crisp_policy_swap(struct crisp_policy_holder *h, struct crisp_policy_snapshot *next);

#endif
