/* Who a recorded call is about (pod, uid, container), read from its first
 * request (record_identity.h). */
#include "record/record_identity.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri_view.pb-c.h"
#include "rule/rewrite.h"

/* Sets *dst to a copy of a present, non-empty value unless it is set
 * already. A NUL byte ends the copy: identity is text. */
static int fill(char **dst, protobuf_c_boolean has, const ProtobufCBinaryData *src)
{
        if (*dst != NULL || !has || src->len == 0)
                return 0;
        *dst = strndup((const char *)src->data, src->len);
        return *dst ? 0 : -ENOMEM;
}

static int fill_pod(struct crisp_call_record *r, const Crisp__View__PodSandboxConfig *cfg)
{
        if (cfg == NULL || cfg->metadata == NULL)
                return 0;
        const Crisp__View__PodSandboxMetadata *m = cfg->metadata;
        int e = fill(&r->pod_namespace, m->has_namespace_, &m->namespace_);
        if (e == 0)
                e = fill(&r->pod_name, m->has_name, &m->name);
        if (e == 0)
                e = fill(&r->pod_uid, m->has_uid, &m->uid);
        return e;
}

int crisp_record_fill_identity(struct crisp_call_record *r)
{
        if (r->method == NULL || r->requests.n == 0)
                return 0;
        const struct crisp_msg *m = &r->requests.items[0];
        int e = 0;
        switch (crisp_method_classify(r->method, strlen(r->method))) {
        case CRISP_METHOD_RUN_POD_SANDBOX: {
                Crisp__View__RunPodSandboxRequest *req =
                    crisp__view__run_pod_sandbox_request__unpack(NULL, m->len, m->data);
                if (req == NULL)
                        return 0;
                e = fill_pod(r, req->config);
                crisp__view__run_pod_sandbox_request__free_unpacked(req, NULL);
                break;
        }
        case CRISP_METHOD_CREATE_CONTAINER: {
                Crisp__View__CreateContainerRequest *req =
                    crisp__view__create_container_request__unpack(NULL, m->len, m->data);
                if (req == NULL)
                        return 0;
                e = fill_pod(r, req->sandbox_config);
                const Crisp__View__ContainerConfig *cfg = req->config;
                if (e == 0 && cfg && cfg->metadata)
                        e = fill(&r->container, cfg->metadata->has_name, &cfg->metadata->name);
                crisp__view__create_container_request__free_unpacked(req, NULL);
                break;
        }
        case CRISP_METHOD_OTHER:
                break;
        }
        return e;
}
