/* The ambiguous case, settled from the pod spec, as a table.
 *
 * Only requests of the rule's ambiguous row reach it (CreateContainer, the
 * container context, P "" and F Unconfined), so the request itself always
 * says "Unconfined". The first row whose two columns match decides:
 *
 *   C = the container's own securityContext.seccompProfile.type
 *   S = the pod's spec.securityContext.seccompProfile.type
 *
 * The kubelet resolves a container's profile as C when set, else S, else
 * (with SeccompDefault) RuntimeDefault; that is what the rows encode. */
#include "podspec/spec_rule.h"

#include <stddef.h>
#include <string.h>

enum spec_class {
        ANY,
        UNSET,      /* no seccompProfile */
        UNCONFINED, /* "Unconfined" */
        PROFILE,    /* "RuntimeDefault" or "Localhost": the request would not say Unconfined */
        UNKNOWN,    /* a type crisp does not know */
};

static const struct spec_row {
        enum spec_class container, pod;
        enum crisp_spec_verdict then;
        const char *why;
} spec_rows[] = {
    /* clang-format off */
        /* C            S             crisp forwards          because */
        {UNKNOWN,      ANY,          CRISP_SPEC_UNDECIDED,   "the container's seccomp type is unknown to crisp"},
        {UNCONFINED,   ANY,          CRISP_SPEC_KEEP,        "explicit Unconfined on the container"},
        {PROFILE,      ANY,          CRISP_SPEC_DISAGREE,    "the container's spec names a profile, the request says Unconfined"},
        {UNSET,        UNKNOWN,      CRISP_SPEC_UNDECIDED,   "the pod's seccomp type is unknown to crisp"},
        {UNSET,        UNCONFINED,   CRISP_SPEC_KEEP,        "explicit Unconfined on the pod"},
        {UNSET,        PROFILE,      CRISP_SPEC_DISAGREE,    "the pod's spec names a profile, the request says Unconfined"},
        {UNSET,        UNSET,        CRISP_SPEC_DEFAULT,     "nothing set in the pod spec"},
    /* clang-format on */
};

static enum spec_class classify(enum crisp_spec_seccomp type)
{
        switch (type) {
        case CRISP_SPEC_UNSET:
                return UNSET;
        case CRISP_SPEC_UNCONFINED:
                return UNCONFINED;
        case CRISP_SPEC_RUNTIME_DEFAULT:
        case CRISP_SPEC_LOCALHOST:
                return PROFILE;
        case CRISP_SPEC_OTHER:
                return UNKNOWN;
        }
        return UNKNOWN;
}

enum crisp_spec_verdict crisp_spec_decide(const struct crisp_spec_facts *facts, const char **why)
{
        const char *unused;
        if (why == NULL)
                why = &unused;
        if (!facts->container_found) {
                *why = "the container is not in the pod spec";
                return CRISP_SPEC_UNDECIDED;
        }
        enum spec_class c = classify(facts->container), s = classify(facts->pod);
        for (size_t i = 0; i < sizeof(spec_rows) / sizeof(spec_rows[0]); i++) {
                const struct spec_row *r = &spec_rows[i];
                if ((r->container == ANY || r->container == c) && (r->pod == ANY || r->pod == s)) {
                        *why = r->why;
                        return r->then;
                }
        }
        *why = "no row matches"; /* unreachable: the rows cover every pair */
        return CRISP_SPEC_UNDECIDED;
}

void crisp_spec_facts_of(const struct crisp_pod_spec *pod, const char *container,
                         struct crisp_spec_facts *out)
{
        *out = (struct crisp_spec_facts){.pod = pod->seccomp};
        for (size_t i = 0; i < pod->n_containers; i++) {
                const struct crisp_container_spec *cs = &pod->containers[i];
                if (strcmp(cs->name, container) == 0) {
                        out->container_found = true;
                        out->kind = cs->kind;
                        out->container = cs->seccomp;
                        return;
                }
        }
}

const char *crisp_spec_verdict_name(enum crisp_spec_verdict verdict)
{
        switch (verdict) {
        case CRISP_SPEC_KEEP:
                return "keep";
        case CRISP_SPEC_DEFAULT:
                return "runtime-default";
        case CRISP_SPEC_DISAGREE:
                return "keep-disagree";
        case CRISP_SPEC_UNDECIDED:
                return "undecided";
        }
        return "undecided";
}

const char *crisp_container_kind_name(enum crisp_container_kind kind)
{
        switch (kind) {
        case CRISP_CONTAINER_REGULAR:
                return "container";
        case CRISP_CONTAINER_INIT:
                return "initContainer";
        case CRISP_CONTAINER_EPHEMERAL:
                return "ephemeralContainer";
        }
        return "container";
}
