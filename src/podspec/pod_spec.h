/* What crisp keeps of a pod's spec to settle the one ambiguous case of the
 * seccomp rule (issue 8): the pod-level seccomp type and each container's
 * (containers, init containers and ephemeral containers together: the API
 * server keeps their names unique within a pod). Filled from the API
 * server's pod JSON (pod_spec_json.h) or a static pod manifest
 * (static_pods.h). No gRPC, no I/O here. */
#ifndef CRISP_POD_SPEC_H
#define CRISP_POD_SPEC_H

#include <stddef.h>

/* securityContext.seccompProfile.type as the pod spec says it. */
enum crisp_spec_seccomp {
        CRISP_SPEC_UNSET = 0,       /* no seccompProfile (or no type) */
        CRISP_SPEC_UNCONFINED,      /* "Unconfined" */
        CRISP_SPEC_RUNTIME_DEFAULT, /* "RuntimeDefault" */
        CRISP_SPEC_LOCALHOST,       /* "Localhost" */
        CRISP_SPEC_OTHER,           /* any other string: never guessed at */
};

/* Parses the API's type string; NULL means CRISP_SPEC_UNSET. */
enum crisp_spec_seccomp crisp_spec_seccomp_parse(const char *type);
const char *crisp_spec_seccomp_name(enum crisp_spec_seccomp type);

enum crisp_container_kind {
        CRISP_CONTAINER_REGULAR = 0, /* spec.containers */
        CRISP_CONTAINER_INIT,        /* spec.initContainers */
        CRISP_CONTAINER_EPHEMERAL,   /* spec.ephemeralContainers */
};

struct crisp_container_spec {
        char *name;
        enum crisp_container_kind kind;
        enum crisp_spec_seccomp seccomp; /* its securityContext.seccompProfile.type */
};

struct crisp_pod_spec {
        char *uid;        /* metadata.uid ("" for a static manifest: the kubelet makes its own) */
        char *namespace_; /* metadata.namespace ("default" when a manifest leaves it out) */
        char *name;       /* metadata.name as the kubelet names the sandbox */
        char *resource_version;          /* "" for a static manifest */
        enum crisp_spec_seccomp seccomp; /* spec.securityContext.seccompProfile.type */
        size_t n_containers;
        struct crisp_container_spec *containers;
};

/* The container called `name` (length `len`), or NULL. */
const struct crisp_container_spec *crisp_pod_spec_container(const struct crisp_pod_spec *pod,
                                                            const char *name, size_t len);

/* Frees what `pod` owns and zeroes it (safe on a zeroed struct). */
void crisp_pod_spec_release(struct crisp_pod_spec *pod);

#endif
