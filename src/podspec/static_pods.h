/* Static pods (issue 8): the kubelet's manifests folder, read the way the
 * kubelet reads it (every regular file whose name does not start with '.',
 * YAML or JSON, one Pod each), so crisp can settle a static pod's seccomp
 * with the API server down. The kubelet names a static pod's sandbox
 * "<manifest metadata.name>-<node name>" in the manifest's namespace
 * ("default" when unset), and that is the name this index keys on. */
#ifndef CRISP_STATIC_PODS_H
#define CRISP_STATIC_PODS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "podspec/pod_spec.h"

/* Parses one manifest's bytes (YAML or JSON) into *out, with out->name set to
 * "<metadata.name>-<node_name>", out->uid and out->resource_version "".
 * Returns 0, or -EINVAL (a message naming `origin`, e.g. the file, and what is
 * wrong) for a document that is not a Pod with a metadata.name. */
int crisp_static_pod_parse(const char *data, size_t len, const char *origin, const char *node_name,
                           struct crisp_pod_spec *out, crisp_error **err);

struct crisp_static_pods; /* opaque: the folder's pods */

/* Reads every manifest in `dir`. A file that does not parse is skipped with
 * a log_warn line naming it (the kubelet skips it too); a missing folder is
 * an empty index, not an error. Returns 0 or -ENOMEM. */
int crisp_static_pods_load(const char *dir, const char *node_name, struct crisp_static_pods **out,
                           crisp_error **err);

/* The static pod whose sandbox is `name` in `namespace_`, or NULL. The
 * pointer lives as long as the index. */
const struct crisp_pod_spec *crisp_static_pods_find(const struct crisp_static_pods *pods,
                                                    const char *namespace_, const char *name);

size_t crisp_static_pods_count(const struct crisp_static_pods *pods);

/* True when the folder changed (a file added, removed or modified: names,
 * sizes and mtimes) since `pods` was loaded; cheap: stat calls only. */
bool crisp_static_pods_stale(const struct crisp_static_pods *pods);

void crisp_static_pods_free(struct crisp_static_pods *pods);

#endif
