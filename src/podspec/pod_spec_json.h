/* Reads what the seccomp rule needs (pod_spec.h) from a v1 Pod as the API
 * server sends it (a list item or a watch event's object), with json-c. */
#ifndef CRISP_POD_SPEC_JSON_H
#define CRISP_POD_SPEC_JSON_H

#include <json-c/json.h>

#include "base/error.h"
#include "podspec/pod_spec.h"

/* Fills *out from `pod`. The uid crisp keys on is the one the kubelet puts
 * in the sandbox's metadata: metadata.uid, except for a static pod's mirror
 * pod, whose annotation kubernetes.io/config.mirror holds the kubelet's own
 * uid for it. Returns 0, or -EINVAL when the object has no metadata.uid (or
 * is not an object); release *out with crisp_pod_spec_release either way. */
int crisp_pod_spec_from_json(struct json_object *pod, struct crisp_pod_spec *out,
                             crisp_error **err);

/* metadata.resourceVersion of any object, or NULL. The pointer lives as
 * long as `obj`. */
const char *crisp_json_resource_version(struct json_object *obj);

#endif
