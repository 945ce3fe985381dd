/* What crisp keeps of a pod's spec to settle the ambiguous seccomp case
 * (pod_spec.h). */
#include "podspec/pod_spec.h"

#include <stdlib.h>
#include <string.h>

/* The API's names for securityContext.seccompProfile.type. */
static const struct {
        const char *name;
        enum crisp_spec_seccomp type;
} spec_seccomp_names[] = {
    {"Unconfined", CRISP_SPEC_UNCONFINED},
    {"RuntimeDefault", CRISP_SPEC_RUNTIME_DEFAULT},
    {"Localhost", CRISP_SPEC_LOCALHOST},
};

enum crisp_spec_seccomp crisp_spec_seccomp_parse(const char *type)
{
        if (type == NULL)
                return CRISP_SPEC_UNSET;
        for (size_t i = 0; i < sizeof(spec_seccomp_names) / sizeof(spec_seccomp_names[0]); i++)
                if (strcmp(type, spec_seccomp_names[i].name) == 0)
                        return spec_seccomp_names[i].type;
        return CRISP_SPEC_OTHER;
}

const char *crisp_spec_seccomp_name(enum crisp_spec_seccomp type)
{
        for (size_t i = 0; i < sizeof(spec_seccomp_names) / sizeof(spec_seccomp_names[0]); i++)
                if (spec_seccomp_names[i].type == type)
                        return spec_seccomp_names[i].name;
        return type == CRISP_SPEC_UNSET ? "unset" : "other";
}

const struct crisp_container_spec *crisp_pod_spec_container(const struct crisp_pod_spec *pod,
                                                            const char *name, size_t len)
{
        for (size_t i = 0; i < pod->n_containers; i++) {
                const char *n = pod->containers[i].name;
                if (strlen(n) == len && memcmp(n, name, len) == 0)
                        return &pod->containers[i];
        }
        return NULL;
}

void crisp_pod_spec_release(struct crisp_pod_spec *pod)
{
        free(pod->uid);
        free(pod->namespace_);
        free(pod->name);
        free(pod->resource_version);
        for (size_t i = 0; i < pod->n_containers; i++)
                free(pod->containers[i].name);
        free(pod->containers);
        memset(pod, 0, sizeof(*pod));
}
