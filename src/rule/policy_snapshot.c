/* The policy in force as an immutable, refcounted snapshot that a reload
 * swaps (policy_snapshot.h). */
#include "rule/policy_snapshot.h"

#include <errno.h>
#include <stdlib.h>

/* issue 14: set once at start, before the first snapshot. */
static crisp_twin_fn twin_hook;
static void *twin_hook_arg;

void crisp_policy_set_twin_hook(crisp_twin_fn fn, void *arg)
{
        twin_hook = fn;
        twin_hook_arg = arg;
}

int crisp_policy_snapshot_new(const struct crisp_policy *policy, struct crisp_policy_snapshot **out,
                              crisp_error **err)
{
        struct crisp_policy_snapshot *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory for the policy");
        int r = crisp_policy_copy(&s->policy, policy, err);
        if (r < 0) {
                free(s);
                return r;
        }
        atomic_init(&s->refs, 1);
        s->rewrite.ambiguous = s->policy.ambiguous;
        s->rewrite.localhost_profile = s->policy.default_profile_path;
        s->rewrite.complain = s->policy.mode == CRISP_MODE_COMPLAIN;
        s->rewrite.twin = twin_hook;
        s->rewrite.twin_arg = twin_hook_arg;
        s->generation = 1;
        *out = s;
        return 0;
}

void crisp_policy_release_snapshot(struct crisp_policy_snapshot *s)
{
        if (s == NULL)
                return;
        if (atomic_fetch_sub(&s->refs, 1) == 1) {
                crisp_policy_release(&s->policy);
                free(s);
        }
}

void crisp_policy_holder_init(struct crisp_policy_holder *h, struct crisp_policy_snapshot *first)
{
        pthread_mutex_init(&h->mu, NULL);
        h->current = first;
}

void crisp_policy_holder_destroy(struct crisp_policy_holder *h)
{
        crisp_policy_release_snapshot(h->current);
        h->current = NULL;
        pthread_mutex_destroy(&h->mu);
}

struct crisp_policy_snapshot *crisp_policy_acquire(struct crisp_policy_holder *h)
{
        pthread_mutex_lock(&h->mu);
        struct crisp_policy_snapshot *s = h->current;
        atomic_fetch_add(&s->refs, 1);
        pthread_mutex_unlock(&h->mu);
        return s;
}

void crisp_policy_swap(struct crisp_policy_holder *h, struct crisp_policy_snapshot *next)
{
        pthread_mutex_lock(&h->mu);
        struct crisp_policy_snapshot *old = h->current;
        next->generation = old ? old->generation + 1 : 1;
        h->current = next;
        pthread_mutex_unlock(&h->mu);
        crisp_policy_release_snapshot(old);
}
