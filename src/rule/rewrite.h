/* The request rewriter: decodes RunPodSandbox / CreateContainer requests,
 * applies the seccomp rule (seccomp_default.h) to each security context and
 * re-encodes the request only when something changed. Fields crisp's schema
 * does not know are carried through as protobuf-c unknown fields.
 * No gRPC here: bytes in, bytes out. */
#ifndef CRISP_REWRITE_H
#define CRISP_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rule/seccomp_default.h"

enum crisp_method {
        CRISP_METHOD_OTHER = 0, /* relayed as opaque bytes */
        CRISP_METHOD_RUN_POD_SANDBOX,
        CRISP_METHOD_CREATE_CONTAINER,
};

/* Classifies a gRPC method path ("/runtime.v1.RuntimeService/CreateContainer",
 * also under runtime.v1alpha2). `path` need not be NUL-terminated. */
enum crisp_method crisp_method_classify(const char *path, size_t len);

/* "RunPodSandbox", "CreateContainer" or "other". */
const char *crisp_method_name(enum crisp_method method);

/* issue 14 (complain mode): one capability name as the request carries it. */
struct crisp_rewrite_cap {
        const char *name; /* not NUL-terminated */
        size_t len;
};

/* What complain mode is asked for each context the rule defaults. */
struct crisp_twin_request {
        const char *context;      /* "container", "sandbox_config" or "sandbox" */
        const char *base_profile; /* enforce's default: NULL RuntimeDefault, else its path */
        /* the context's capabilities.add/drop_capabilities (container only) */
        const struct crisp_rewrite_cap *add, *drop;
        size_t n_add, n_drop;
};

/* Writes the path of the logging twin to use instead of the default into
 * path[size] and returns 0; a negative value means no twin (the callee has
 * logged and counted why): enforce's default stands for that context. */
typedef int (*crisp_twin_fn)(void *arg, const struct crisp_twin_request *req, char *path,
                             size_t size);

struct crisp_rewrite_options {
        enum crisp_ambiguous_policy ambiguous;
        /* What "default" means (config defaultProfile). NULL: RuntimeDefault,
         * F := {RuntimeDefault}, P := "runtime/default". Else the absolute path
         * of a profile file: F := {Localhost, localhost_ref: path},
         * P := "localhost/<path>". Only the value changes, never the rule. */
        const char *localhost_profile;

        /* issue 8: the pod spec settled the container context's ambiguous
         * case; this answer replaces `ambiguous` there, with its reason. */
        bool container_settled;
        enum crisp_ambiguous_policy container_ambiguous;
        const char *container_why;

        /* issue 14: complain mode; `twin` gives each defaulted context its
         * twin (NULL: complain behaves as enforce). */
        bool complain;
        crisp_twin_fn twin;
        void *twin_arg;
};

/* One security context that crisp changed. */
struct crisp_seccomp_change {
        const char *context;           /* "container", "sandbox_config" or "sandbox" */
        const char *why;               /* the rule row's reason */
        enum crisp_profile_field from; /* what the field held (for metrics) */
        char before[192];
        char after[192];
};

#define CRISP_REWRITE_MAX_CHANGES 3

struct crisp_rewrite_result {
        bool changed;
        uint8_t *bytes; /* the re-encoded request when changed (owned), else NULL */
        size_t len;

        /* Identity for logs, made safe to print (control characters and quotes
         * replaced); empty when the request does not carry it. */
        char pod_namespace[128];
        char pod_name[256];
        char pod_uid[128];
        char container[256];

        size_t n_changes;
        struct crisp_seccomp_change changes[CRISP_REWRITE_MAX_CHANGES];

        /* Set by the relay's policy step, not by the rewriter: the changes
         * above were only logged (audit), or the pod was exempt (then
         * `exemption` says which, e.g. "namespace:kube-system"); in both
         * cases `changed` is false and the request went as it came. */
        bool audit;
        char exemption[160];

        /* issue 8: the container context was the ambiguous row (set by the
         * rewriter), and, set by the relay, which source settled it
         * ("spec", "static-manifest", "policy-fallback"), logged as source=. */
        bool container_ambiguous;
        char source[32];

        /* issue 14: complain mode gave the container context a twin
         * (`twin` holds its path); `complain` for any context. */
        bool complain;
        bool container_twin;
        char twin[256];
};

/* Applies the rule to one request of `method` (which must not be
 * CRISP_METHOD_OTHER). On success fills *out (release it with
 * crisp_rewrite_result_release) and returns 0. A request that does not decode
 * returns -EINVAL with a message naming the method and what failed. */
int crisp_rewrite_request(enum crisp_method method, const uint8_t *data, size_t len,
                          const struct crisp_rewrite_options *opts,
                          struct crisp_rewrite_result *out, crisp_error **err);

void crisp_rewrite_result_release(struct crisp_rewrite_result *r);

/* Logs one line per changed security context ("seccomp defaulted ..."). */
void crisp_rewrite_result_log(const struct crisp_rewrite_result *r, const char *method_path);

#endif
