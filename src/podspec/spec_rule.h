/* The ambiguous case of the seccomp rule, settled from the pod spec
 * (issue 8). From kubelet 1.28 on, a CreateContainer whose container context
 * holds an empty path and an Unconfined field means either "nothing set" or
 * "explicit Unconfined"; the pod spec tells which, the way the kubelet's
 * SeccompDefault resolves it: the container's own setting, else the pod's.
 * The table is in spec_rule.c. Pure: no I/O, no locks. */
#ifndef CRISP_SPEC_RULE_H
#define CRISP_SPEC_RULE_H

#include <stdbool.h>

#include "podspec/pod_spec.h"

/* What the spec says about one container. */
struct crisp_spec_facts {
        bool container_found; /* the container's name is in the spec */
        enum crisp_container_kind kind;
        enum crisp_spec_seccomp container; /* its own securityContext */
        enum crisp_spec_seccomp pod;       /* the pod's securityContext */
};

void crisp_spec_facts_of(const struct crisp_pod_spec *pod, const char *container,
                         struct crisp_spec_facts *out);

enum crisp_spec_verdict {
        CRISP_SPEC_KEEP = 0,  /* explicit Unconfined: forward unchanged */
        CRISP_SPEC_DEFAULT,   /* nothing set: RuntimeDefault (as SeccompDefault) */
        CRISP_SPEC_DISAGREE,  /* the spec names a profile the request does not
                               * carry: forward unchanged, and say so */
        CRISP_SPEC_UNDECIDED, /* the spec cannot tell: the policy decides */
};

/* Decides from `facts`; *why gets the table row's reason (for logs). */
enum crisp_spec_verdict crisp_spec_decide(const struct crisp_spec_facts *facts, const char **why);

const char *crisp_spec_verdict_name(enum crisp_spec_verdict verdict);
const char *crisp_container_kind_name(enum crisp_container_kind kind);

#endif
