/* --record-redact: takes secrets (environment values and the like) out of
 * recorded messages while they stay decodable (redact.h). */
#include "record/redact.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri_redact.pb-c.h"
#include "rule/rewrite.h"

static bool is_exec_sync(const char *method)
{
        return strcmp(method, "/runtime.v1.RuntimeService/ExecSync") == 0 ||
               strcmp(method, "/runtime.v1alpha2.RuntimeService/ExecSync") == 0;
}

enum crisp_redact_kind crisp_redact_kind_of(const char *method, bool request)
{
        if (request &&
            crisp_method_classify(method, strlen(method)) == CRISP_METHOD_CREATE_CONTAINER)
                return CRISP_REDACT_CREATE_CONTAINER_REQUEST;
        if (!request && is_exec_sync(method))
                return CRISP_REDACT_EXEC_SYNC_RESPONSE;
        return CRISP_REDACT_NOTHING;
}

/* Replaces a present, non-empty value; an empty one hides nothing. Values
 * are malloc'd, the allocator free_unpacked releases them with. */
static int redact_bytes(protobuf_c_boolean has, ProtobufCBinaryData *b)
{
        if (!has || b->len == 0)
                return 0;
        uint8_t *marker = (uint8_t *)strdup(CRISP_REDACTED);
        if (marker == NULL)
                return -ENOMEM;
        free(b->data);
        b->data = marker;
        b->len = strlen(CRISP_REDACTED);
        return 0;
}

static int pack(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len, crisp_error **err)
{
        size_t n = protobuf_c_message_get_packed_size(msg);
        uint8_t *buf = malloc(n ? n : 1);
        if (buf == NULL)
                return crisp_error_set(err, ENOMEM, "redact: out of memory");
        protobuf_c_message_pack(msg, buf);
        *out = buf;
        *out_len = n;
        return 0;
}

static int redact_create_container(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                                   crisp_error **err)
{
        Crisp__Redact__CreateContainerRequest *req =
            crisp__redact__create_container_request__unpack(NULL, len, in);
        if (req == NULL)
                return crisp_error_set(err, EINVAL,
                                       "redact: a CreateContainer request (%zu bytes) does not "
                                       "decode",
                                       len);
        int r = 0;
        if (req->config != NULL)
                for (size_t i = 0; r == 0 && i < req->config->n_envs; i++)
                        r = redact_bytes(req->config->envs[i]->has_value,
                                         &req->config->envs[i]->value);
        if (r == 0)
                r = pack(&req->base, out, out_len, err);
        else
                r = crisp_error_set(err, ENOMEM, "redact: out of memory");
        crisp__redact__create_container_request__free_unpacked(req, NULL);
        return r;
}

static int redact_exec_sync(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                            crisp_error **err)
{
        Crisp__Redact__ExecSyncResponse *resp =
            crisp__redact__exec_sync_response__unpack(NULL, len, in);
        if (resp == NULL)
                return crisp_error_set(
                    err, EINVAL, "redact: an ExecSync response (%zu bytes) does not decode", len);
        int r = redact_bytes(resp->has_stdout, &resp->stdout);
        if (r == 0)
                r = redact_bytes(resp->has_stderr, &resp->stderr);
        if (r == 0)
                r = pack(&resp->base, out, out_len, err);
        else
                r = crisp_error_set(err, ENOMEM, "redact: out of memory");
        crisp__redact__exec_sync_response__free_unpacked(resp, NULL);
        return r;
}

int crisp_redact(enum crisp_redact_kind kind, const uint8_t *in, size_t len, uint8_t **out,
                 size_t *out_len, crisp_error **err)
{
        switch (kind) {
        case CRISP_REDACT_CREATE_CONTAINER_REQUEST:
                return redact_create_container(in, len, out, out_len, err);
        case CRISP_REDACT_EXEC_SYNC_RESPONSE:
                return redact_exec_sync(in, len, out, out_len, err);
        case CRISP_REDACT_NOTHING:
                break;
        }
        uint8_t *copy = malloc(len ? len : 1);
        if (copy == NULL)
                return crisp_error_set(err, ENOMEM, "redact: out of memory");
        if (len)
                memcpy(copy, in, len);
        *out = copy;
        *out_len = len;
        return 0;
}
