/* The seccomp defaulting rule of crisp, as a pure function.
 *
 * One security context (a container's, or a pod sandbox's) carries two
 * seccomp settings: the deprecated string `seccomp_profile_path` (P) and the
 * `SecurityProfile seccomp` field (F). Given both, decide what crisp forwards.
 * The rule and its reasons: docs/seccomp-rule.md and
 * seccomp_default.c (the table). No protobuf, no gRPC here. */
#ifndef CRISP_SECCOMP_DEFAULT_H
#define CRISP_SECCOMP_DEFAULT_H

#include <stdbool.h>
#include <stddef.h>

/* What the `seccomp` field holds. */
enum crisp_profile_field {
        CRISP_FIELD_ABSENT = 0,      /* the field is not on the wire */
        CRISP_FIELD_RUNTIME_DEFAULT, /* present, profile_type RuntimeDefault (0) */
        CRISP_FIELD_UNCONFINED,      /* present, profile_type Unconfined (1) */
        CRISP_FIELD_LOCALHOST,       /* present, profile_type Localhost (2) */
        CRISP_FIELD_UNKNOWN_TYPE,    /* present, a profile_type this CRI does not define */
};

/* What to do with "nothing set" that may be an explicit Unconfined
 * (kubelet >= 1.28 sends both as P "" and F Unconfined). */
enum crisp_ambiguous_policy {
        CRISP_AMBIGUOUS_RUNTIME_DEFAULT = 0, /* err on the side of security (default) */
        CRISP_AMBIGUOUS_KEEP,                /* forward unchanged */
};

enum crisp_seccomp_action {
        CRISP_KEEP = 0,      /* forward the context unchanged */
        CRISP_DEFAULT_BOTH,  /* F := {RuntimeDefault}, P := "runtime/default" */
        CRISP_DEFAULT_FIELD, /* F := {RuntimeDefault}, P unchanged */
};

/* The deprecated string value crisp writes with CRISP_DEFAULT_BOTH. */
#define CRISP_RUNTIME_DEFAULT_PATH "runtime/default"

/* Decides what crisp forwards for one security context. `path` is P as it
 * came on the wire, `path_len` bytes (0 when unset; it may hold any byte,
 * a NUL included). When `why` is not NULL it receives the reason of the
 * table row that decided, for logs. Pure: same input, same answer. */
enum crisp_seccomp_action crisp_seccomp_decide(const char *path, size_t path_len,
                                               enum crisp_profile_field field,
                                               enum crisp_ambiguous_policy policy,
                                               const char **why);

/* True when the row that decides this context is the ambiguous one (the
 * policy's, or with the pod-spec source, the spec's to settle). */
bool crisp_seccomp_is_ambiguous(const char *path, size_t path_len, enum crisp_profile_field field);

/* A short human name for a field value, for logs: "absent", "RuntimeDefault"... */
const char *crisp_profile_field_name(enum crisp_profile_field field);

/* Parses "runtime-default" or "keep"; returns 0 or -EINVAL. */
int crisp_ambiguous_policy_parse(const char *name, enum crisp_ambiguous_policy *out);

#endif
