/* Reads, from a RunPodSandbox or CreateContainer request, what the policy's
 * exemptions match on (api/cri_policy.proto): namespace, labels and runtime
 * handler. CreateContainer does not carry the handler; the relay looks it up
 * by pod_sandbox_id (sandbox_handlers.h). */
#ifndef CRISP_POD_FACTS_H
#define CRISP_POD_FACTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rule/policy.h"
#include "rule/rewrite.h"

struct crisp_pod_view {
        struct crisp_pod_facts facts; /* points into the fields below */
        void *msg;                    /* the decoded request */
        enum crisp_method method;
        const char **keys, **values;
        size_t *key_lens, *value_lens;
        char sandbox_id[128]; /* CreateContainer: pod_sandbox_id ("" when absent) */
};

/* Decodes `data`; returns 0, or -EINVAL when it does not decode. Release
 * with crisp_pod_view_release even on failure. */
int crisp_pod_view_decode(enum crisp_method method, const uint8_t *data, size_t len,
                          struct crisp_pod_view *view, crisp_error **err);

void crisp_pod_view_release(struct crisp_pod_view *view);

/* RunPodSandbox's response: the new sandbox's id into `id` ("" if absent). */
void crisp_pod_sandbox_id_of_response(const uint8_t *data, size_t len, char *id, size_t size);

#endif
