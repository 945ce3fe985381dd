/* Reads what the seccomp rule needs from a v1 Pod as the API server sends
 * it, with json-c (pod_spec_json.h). */
#include "podspec/pod_spec_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* obj.k1.k2...: the member at the end of the path, or NULL. */
static struct json_object *member(struct json_object *obj, const char *const *path)
{
        for (; *path != NULL && obj != NULL; path++) {
                struct json_object *next = NULL;
                if (!json_object_is_type(obj, json_type_object) ||
                    !json_object_object_get_ex(obj, *path, &next))
                        return NULL;
                obj = next;
        }
        return obj;
}

#define MEMBER(obj, ...) member((obj), (const char *const[]){__VA_ARGS__, NULL})

static const char *string_at(struct json_object *obj)
{
        return obj != NULL && json_object_is_type(obj, json_type_string)
                   ? json_object_get_string(obj)
                   : NULL;
}

const char *crisp_json_resource_version(struct json_object *obj)
{
        return string_at(MEMBER(obj, "metadata", "resourceVersion"));
}

/* securityContext.seccompProfile.type of a pod spec or a container. */
static enum crisp_spec_seccomp seccomp_of(struct json_object *holder)
{
        return crisp_spec_seccomp_parse(
            string_at(MEMBER(holder, "securityContext", "seccompProfile", "type")));
}

static int add_containers(struct json_object *spec, const char *key, enum crisp_container_kind kind,
                          struct crisp_pod_spec *out, crisp_error **err)
{
        struct json_object *list = MEMBER(spec, key);
        if (list == NULL || !json_object_is_type(list, json_type_array))
                return 0;
        size_t n = json_object_array_length(list);
        if (n == 0)
                return 0;
        struct crisp_container_spec *grown =
            realloc(out->containers, (out->n_containers + n) * sizeof(*grown));
        if (grown == NULL)
                return crisp_error_set(err, ENOMEM, "pod %s: out of memory", out->uid);
        out->containers = grown;
        for (size_t i = 0; i < n; i++) {
                struct json_object *c = json_object_array_get_idx(list, i);
                const char *name = string_at(MEMBER(c, "name"));
                if (name == NULL)
                        continue; /* the API server never sends one; nothing to match */
                char *copy = strdup(name);
                if (copy == NULL)
                        return crisp_error_set(err, ENOMEM, "pod %s: out of memory", out->uid);
                out->containers[out->n_containers++] = (struct crisp_container_spec){
                    .name = copy, .kind = kind, .seccomp = seccomp_of(c)};
        }
        return 0;
}

static char *dup_or_empty(const char *s)
{
        return strdup(s != NULL ? s : "");
}

int crisp_pod_spec_from_json(struct json_object *pod, struct crisp_pod_spec *out, crisp_error **err)
{
        memset(out, 0, sizeof(*out));
        const char *uid = string_at(MEMBER(pod, "metadata", "uid"));
        const char *mirror_of =
            string_at(MEMBER(pod, "metadata", "annotations", "kubernetes.io/config.mirror"));
        if (mirror_of != NULL && mirror_of[0] != '\0')
                uid = mirror_of;
        if (uid == NULL || uid[0] == '\0')
                return crisp_error_set(err, EINVAL, "a pod without metadata.uid");

        out->uid = strdup(uid);
        out->namespace_ = dup_or_empty(string_at(MEMBER(pod, "metadata", "namespace")));
        out->name = dup_or_empty(string_at(MEMBER(pod, "metadata", "name")));
        out->resource_version = dup_or_empty(crisp_json_resource_version(pod));
        if (!out->uid || !out->namespace_ || !out->name || !out->resource_version)
                return crisp_error_set(err, ENOMEM, "pod %s: out of memory", uid);

        struct json_object *spec = MEMBER(pod, "spec");
        out->seccomp = seccomp_of(spec);
        int r = add_containers(spec, "containers", CRISP_CONTAINER_REGULAR, out, err);
        if (r == 0)
                r = add_containers(spec, "initContainers", CRISP_CONTAINER_INIT, out, err);
        if (r == 0)
                r = add_containers(spec, "ephemeralContainers", CRISP_CONTAINER_EPHEMERAL, out,
                                   err);
        return r;
}
