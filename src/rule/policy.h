/* The node's seccomp policy: what crisp does with a request (mode), what
 * "default" means (defaultProfile) and which pods it leaves alone
 * (exemptions). Filled from the config file and flags (options.h); read by
 * the relay for every RunPodSandbox / CreateContainer. No gRPC here. */
#ifndef CRISP_POLICY_H
#define CRISP_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "rule/seccomp_default.h"

enum crisp_mode {
        CRISP_MODE_ENFORCE = 0, /* rewrite as the rule says (the default) */
        CRISP_MODE_AUDIT,       /* decide and log as enforce would; forward unchanged */
        CRISP_MODE_OFF,         /* pure pass-through: nothing decoded */
        CRISP_MODE_COMPLAIN,    /* issue 14: decide as enforce, but default to a logging twin */
};

/* Parses "enforce", "audit", "off" or "complain"; returns 0 or -EINVAL. */
int crisp_mode_parse(const char *name, enum crisp_mode *out);
const char *crisp_mode_name(enum crisp_mode mode);

struct crisp_label {
        char *key;
        char *value;
};

struct crisp_policy {
        enum crisp_mode mode;
        enum crisp_ambiguous_policy ambiguous;
        /* defaultProfile: NULL means RuntimeDefault; else the absolute path of
         * the Localhost profile every defaulted context gets. */
        char *default_profile_path;

        /* exemptions: a pod matching ANY one entry of any list is exempt. */
        char **namespaces;
        size_t n_namespaces;
        struct crisp_label *pod_labels; /* each key=value pair is one exemption */
        size_t n_pod_labels;
        char **runtime_handlers;
        size_t n_runtime_handlers;
};

/* What the relay knows about the pod a request is for. Strings are exact
 * bytes from the wire (not NUL-terminated); NULL/0 when absent. */
struct crisp_pod_facts {
        const char *namespace_;
        size_t namespace_len;
        const char *runtime_handler;
        size_t runtime_handler_len;
        bool runtime_handler_known; /* false: CreateContainer of an unknown sandbox */
        /* labels, as decoded: for a key that repeats, the last one wins
         * (crisp_policy_exemption looks from the end). */
        size_t n_labels;
        const char *const *label_keys;
        const size_t *label_key_lens;
        const char *const *label_values;
        const size_t *label_value_lens;
};

/* When the pod is exempt, writes which exemption applied into `why`
 * ("namespace:kube-system", "podLabel:k=v", "runtimeHandler:kata") and
 * returns true. */
bool crisp_policy_exemption(const struct crisp_policy *policy, const struct crisp_pod_facts *pod,
                            char *why, size_t why_size);

/* Deep copy (dst is overwritten); returns 0 or -ENOMEM. */
int crisp_policy_copy(struct crisp_policy *dst, const struct crisp_policy *src, crisp_error **err);

/* Frees what the policy owns and zeroes it (safe on a zeroed policy). */
void crisp_policy_release(struct crisp_policy *policy);

#endif
