/* Reads what the policy's exemptions match on (namespace, labels, runtime
 * handler) from a request (pod_facts.h). */
#include "rule/pod_facts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri_policy.pb-c.h"

typedef Crisp__Policy__PodSandboxConfig PodSandboxConfig;

static void copy_id(char *dst, size_t size, const ProtobufCBinaryData *b)
{
        size_t n = b->len < size - 1 ? b->len : size - 1;
        memcpy(dst, b->data ? (const char *)b->data : "", n);
        dst[n] = '\0';
}

static int fill_from_config(struct crisp_pod_view *v, const PodSandboxConfig *cfg,
                            crisp_error **err)
{
        if (cfg == NULL)
                return 0;
        if (cfg->metadata && cfg->metadata->has_namespace_) {
                v->facts.namespace_ = (const char *)cfg->metadata->namespace_.data;
                v->facts.namespace_len = cfg->metadata->namespace_.len;
        }
        size_t n = cfg->n_labels;
        if (n == 0)
                return 0;
        v->keys = calloc(n, sizeof(*v->keys));
        v->values = calloc(n, sizeof(*v->values));
        v->key_lens = calloc(n, sizeof(*v->key_lens));
        v->value_lens = calloc(n, sizeof(*v->value_lens));
        if (!v->keys || !v->values || !v->key_lens || !v->value_lens)
                return crisp_error_set(err, ENOMEM, "out of memory reading %zu labels", n);
        for (size_t i = 0; i < n; i++) {
                const Crisp__Policy__LabelEntry *e = cfg->labels[i];
                /* A missing key or value is the empty string, as in Go. */
                v->keys[i] = e->has_key ? (const char *)e->key.data : "";
                v->key_lens[i] = e->has_key ? e->key.len : 0;
                v->values[i] = e->has_value ? (const char *)e->value.data : "";
                v->value_lens[i] = e->has_value ? e->value.len : 0;
        }
        v->facts.n_labels = n;
        v->facts.label_keys = v->keys;
        v->facts.label_key_lens = v->key_lens;
        v->facts.label_values = v->values;
        v->facts.label_value_lens = v->value_lens;
        return 0;
}

int crisp_pod_view_decode(enum crisp_method method, const uint8_t *data, size_t len,
                          struct crisp_pod_view *v, crisp_error **err)
{
        memset(v, 0, sizeof(*v));
        v->method = method;
        if (method == CRISP_METHOD_RUN_POD_SANDBOX) {
                Crisp__Policy__RunPodSandboxRequest *req =
                    crisp__policy__run_pod_sandbox_request__unpack(NULL, len, data);
                if (req == NULL)
                        return crisp_error_set(err, EINVAL,
                                               "RunPodSandbox: the request (%zu bytes) does not "
                                               "decode",
                                               len);
                v->msg = req;
                v->facts.runtime_handler_known = true;
                if (req->has_runtime_handler) {
                        v->facts.runtime_handler = (const char *)req->runtime_handler.data;
                        v->facts.runtime_handler_len = req->runtime_handler.len;
                }
                return fill_from_config(v, req->config, err);
        }
        if (method == CRISP_METHOD_CREATE_CONTAINER) {
                Crisp__Policy__CreateContainerRequest *req =
                    crisp__policy__create_container_request__unpack(NULL, len, data);
                if (req == NULL)
                        return crisp_error_set(err, EINVAL,
                                               "CreateContainer: the request (%zu bytes) does "
                                               "not decode",
                                               len);
                v->msg = req;
                if (req->has_pod_sandbox_id)
                        copy_id(v->sandbox_id, sizeof(v->sandbox_id), &req->pod_sandbox_id);
                return fill_from_config(v, req->sandbox_config, err);
        }
        return crisp_error_set(err, EINVAL, "not a method crisp's policy reads");
}

void crisp_pod_view_release(struct crisp_pod_view *v)
{
        if (v->msg && v->method == CRISP_METHOD_RUN_POD_SANDBOX)
                crisp__policy__run_pod_sandbox_request__free_unpacked(v->msg, NULL);
        else if (v->msg)
                crisp__policy__create_container_request__free_unpacked(v->msg, NULL);
        free(v->keys);
        free(v->values);
        free(v->key_lens);
        free(v->value_lens);
        memset(v, 0, sizeof(*v));
}

void crisp_pod_sandbox_id_of_response(const uint8_t *data, size_t len, char *id, size_t size)
{
        id[0] = '\0';
        Crisp__Policy__RunPodSandboxResponse *resp =
            crisp__policy__run_pod_sandbox_response__unpack(NULL, len, data);
        if (resp == NULL)
                return;
        if (resp->has_pod_sandbox_id)
                copy_id(id, size, &resp->pod_sandbox_id);
        crisp__policy__run_pod_sandbox_response__free_unpacked(resp, NULL);
}
