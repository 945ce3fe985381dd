/* The seccomp defaulting rule, as a table.
 *
 * Read it top to bottom: the first row whose P and F columns both match the
 * incoming security context decides. The rows are those of
 * "The rule crisp applies" in docs/seccomp-rule.md, in the same order.
 *
 *   P = deprecated string seccomp_profile_path: "" (unset), "unconfined",
 *       or any other non-empty value ("runtime/default", "localhost/...")
 *   F = SecurityProfile seccomp field: absent, RuntimeDefault, Unconfined,
 *       Localhost
 */
#include "rule/seccomp_default.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

enum path_class {
        P_ANY,
        P_EMPTY,      /* "" */
        P_UNCONFINED, /* "unconfined" */
        P_OTHER,      /* any other non-empty value */
};

enum field_class {
        F_ANY,
        F_ABSENT,
        F_UNCONFINED,
        F_EXPLICIT, /* RuntimeDefault or Localhost: an explicit profile */
};

enum outcome {
        KEEP,          /* forward unchanged */
        DEFAULT_BOTH,  /* F := RuntimeDefault, P := "runtime/default" */
        DEFAULT_FIELD, /* F := RuntimeDefault, P unchanged */
        BY_POLICY,     /* ambiguous: --ambiguous-unconfined decides */
};

static const struct rule {
        enum path_class p;
        enum field_class f;
        enum outcome then;
        const char *why;
} rules[] = {
    /* The table is aligned by hand so it reads as the spec's table. */
    /* clang-format off */
        /* P           F             crisp forwards  because */
        {P_EMPTY,      F_ABSENT,     DEFAULT_BOTH,  "nothing set (old kubelet, crictl, other clients)"},
        {P_EMPTY,      F_UNCONFINED, BY_POLICY,     "nothing set, or explicit Unconfined from kubelet >= 1.28"},
        {P_UNCONFINED, F_UNCONFINED, KEEP,          "explicit Unconfined"},
        {P_UNCONFINED, F_ABSENT,     KEEP,          "explicit Unconfined"},
        {P_OTHER,      F_UNCONFINED, DEFAULT_FIELD, "static-pod annotation (kubelet 1.20-1.24)"},
        {P_ANY,        F_EXPLICIT,   KEEP,          "explicit RuntimeDefault or Localhost"},
        {P_OTHER,      F_ABSENT,     KEEP,          "explicit, via the deprecated string"},
    /* clang-format on */
};

static enum path_class classify_path(const char *path, size_t len)
{
        static const char unconfined[] = "unconfined";
        if (len == 0)
                return P_EMPTY;
        if (len == sizeof(unconfined) - 1 && memcmp(path, unconfined, len) == 0)
                return P_UNCONFINED;
        return P_OTHER;
}

static int field_matches(enum field_class want, enum crisp_profile_field field)
{
        switch (want) {
        case F_ANY:
                return 1;
        case F_ABSENT:
                return field == CRISP_FIELD_ABSENT;
        case F_UNCONFINED:
                return field == CRISP_FIELD_UNCONFINED;
        case F_EXPLICIT:
                return field == CRISP_FIELD_RUNTIME_DEFAULT || field == CRISP_FIELD_LOCALHOST;
        }
        return 0;
}

enum crisp_seccomp_action crisp_seccomp_decide(const char *path, size_t path_len,
                                               enum crisp_profile_field field,
                                               enum crisp_ambiguous_policy policy, const char **why)
{
        enum path_class p = classify_path(path, path_len);
        const char *unused_why;
        if (why == NULL)
                why = &unused_why;

        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
                const struct rule *r = &rules[i];
                if ((r->p != P_ANY && r->p != p) || !field_matches(r->f, field))
                        continue;
                *why = r->why;
                switch (r->then) {
                case KEEP:
                        return CRISP_KEEP;
                case DEFAULT_BOTH:
                        return CRISP_DEFAULT_BOTH;
                case DEFAULT_FIELD:
                        return CRISP_DEFAULT_FIELD;
                case BY_POLICY:
                        return policy == CRISP_AMBIGUOUS_KEEP ? CRISP_KEEP : CRISP_DEFAULT_BOTH;
                }
        }
        /* No row matches only a profile_type newer than this CRI: crisp does not
         * understand it, so it does not touch it. */
        *why = "profile type unknown to this CRI version";
        return CRISP_KEEP;
}

bool crisp_seccomp_is_ambiguous(const char *path, size_t path_len, enum crisp_profile_field field)
{
        enum path_class p = classify_path(path, path_len);
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
                const struct rule *r = &rules[i];
                if ((r->p == P_ANY || r->p == p) && field_matches(r->f, field))
                        return r->then == BY_POLICY;
        }
        return false;
}

const char *crisp_profile_field_name(enum crisp_profile_field field)
{
        switch (field) {
        case CRISP_FIELD_ABSENT:
                return "absent";
        case CRISP_FIELD_RUNTIME_DEFAULT:
                return "RuntimeDefault";
        case CRISP_FIELD_UNCONFINED:
                return "Unconfined";
        case CRISP_FIELD_LOCALHOST:
                return "Localhost";
        case CRISP_FIELD_UNKNOWN_TYPE:
                return "unknown";
        }
        return "unknown";
}

int crisp_ambiguous_policy_parse(const char *name, enum crisp_ambiguous_policy *out)
{
        if (strcmp(name, "runtime-default") == 0) {
                *out = CRISP_AMBIGUOUS_RUNTIME_DEFAULT;
                return 0;
        }
        if (strcmp(name, "keep") == 0) {
                *out = CRISP_AMBIGUOUS_KEEP;
                return 0;
        }
        return -EINVAL;
}
