/* The request rewriter: decodes RunPodSandbox / CreateContainer, applies the
 * seccomp rule and re-encodes only what changed (rewrite.h). */
#include "rule/rewrite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"
#include "base/log.h"
#include "rule/wire_check.h"

typedef Crisp__Cri__SecurityProfile SecurityProfile;

/* ---- methods ------------------------------------------------------------ */

static const struct {
        const char *path;
        enum crisp_method method;
} rewritten_methods[] = {
    {"/runtime.v1.RuntimeService/RunPodSandbox", CRISP_METHOD_RUN_POD_SANDBOX},
    {"/runtime.v1.RuntimeService/CreateContainer", CRISP_METHOD_CREATE_CONTAINER},
    {"/runtime.v1alpha2.RuntimeService/RunPodSandbox", CRISP_METHOD_RUN_POD_SANDBOX},
    {"/runtime.v1alpha2.RuntimeService/CreateContainer", CRISP_METHOD_CREATE_CONTAINER},
};

enum crisp_method crisp_method_classify(const char *path, size_t len)
{
        for (size_t i = 0; i < sizeof(rewritten_methods) / sizeof(rewritten_methods[0]); i++) {
                const char *want = rewritten_methods[i].path;
                if (strlen(want) == len && memcmp(want, path, len) == 0)
                        return rewritten_methods[i].method;
        }
        return CRISP_METHOD_OTHER;
}

const char *crisp_method_name(enum crisp_method method)
{
        switch (method) {
        case CRISP_METHOD_RUN_POD_SANDBOX:
                return "RunPodSandbox";
        case CRISP_METHOD_CREATE_CONTAINER:
                return "CreateContainer";
        case CRISP_METHOD_OTHER:
                break;
        }
        return "other";
}

/* ---- helpers -------------------------------------------------------------- */

/* Copies bytes from the request into a log-safe, NUL-terminated buffer:
 * whatever a pod author put in a name must not forge or break a log line. */
static void copy_for_log(char *dst, size_t size, const ProtobufCBinaryData *src)
{
        size_t n = 0;
        for (size_t i = 0; src && i < src->len && n + 1 < size; i++) {
                unsigned char c = src->data[i];
                dst[n++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
        }
        dst[n] = '\0';
}

/* The CRI's ProfileType values (api/cri.proto keeps them as an int32). */
enum { PROFILE_RUNTIME_DEFAULT = 0, PROFILE_UNCONFINED = 1, PROFILE_LOCALHOST = 2 };

static int32_t profile_type_of(const SecurityProfile *sp)
{
        /* Not on the wire means the enum's zero value, RuntimeDefault. */
        return sp->has_profile_type ? sp->profile_type : PROFILE_RUNTIME_DEFAULT;
}

static enum crisp_profile_field field_of(const SecurityProfile *sp)
{
        if (sp == NULL)
                return CRISP_FIELD_ABSENT;
        switch (profile_type_of(sp)) {
        case PROFILE_RUNTIME_DEFAULT:
                return CRISP_FIELD_RUNTIME_DEFAULT;
        case PROFILE_UNCONFINED:
                return CRISP_FIELD_UNCONFINED;
        case PROFILE_LOCALHOST:
                return CRISP_FIELD_LOCALHOST;
        default:
                return CRISP_FIELD_UNKNOWN_TYPE;
        }
}

static void describe(char *dst, size_t size, const ProtobufCBinaryData *path,
                     const SecurityProfile *sp)
{
        char safe_path[128], safe_ref[128];
        copy_for_log(safe_path, sizeof(safe_path), path);
        copy_for_log(safe_ref, sizeof(safe_ref), sp ? &sp->localhost_ref : NULL);
        if (sp && profile_type_of(sp) == PROFILE_LOCALHOST)
                snprintf(dst, size, "Localhost:%s path='%s'", safe_ref, safe_path);
        else
                snprintf(dst, size, "%s path='%s'", crisp_profile_field_name(field_of(sp)),
                         safe_path);
}

/* Applies the rule to one security context, given pointers to its two
 * seccomp members. Messages created here use malloc, the allocator
 * protobuf-c's free_unpacked releases them with. */
/* issue 14: complain mode asks for the context's twin; on success `buf`
 * holds its path and the rule writes it in place of the default. */
static const char *twin_for(const char *context, const Crisp__Cri__Capability *caps,
                            const struct crisp_rewrite_options *opts,
                            struct crisp_rewrite_result *res, char *buf, size_t size)
{
        if (!opts->complain || opts->twin == NULL)
                return opts->localhost_profile;
        size_t n_add = caps ? caps->n_add_capabilities : 0;
        size_t n_drop = caps ? caps->n_drop_capabilities : 0;
        struct crisp_rewrite_cap *list = calloc(n_add + n_drop + 1, sizeof(*list));
        if (list == NULL)
                return opts->localhost_profile;
        for (size_t i = 0; i < n_add; i++)
                list[i] = (struct crisp_rewrite_cap){(const char *)caps->add_capabilities[i].data,
                                                     caps->add_capabilities[i].len};
        for (size_t i = 0; i < n_drop; i++)
                list[n_add + i] = (struct crisp_rewrite_cap){
                    (const char *)caps->drop_capabilities[i].data, caps->drop_capabilities[i].len};
        struct crisp_twin_request req = {.context = context,
                                         .base_profile = opts->localhost_profile,
                                         .add = list,
                                         .n_add = n_add,
                                         .drop = list + n_add,
                                         .n_drop = n_drop};
        int r = opts->twin(opts->twin_arg, &req, buf, size);
        free(list);
        if (r < 0)
                return opts->localhost_profile; /* enforce's decision, said loudly by the callee */
        res->complain = true;
        if (strcmp(context, "container") == 0) {
                res->container_twin = true;
                snprintf(res->twin, sizeof(res->twin), "%s", buf);
        }
        return buf;
}

static int apply_rule(const char *context, protobuf_c_boolean *has_path, ProtobufCBinaryData *path,
                      SecurityProfile **field, const Crisp__Cri__Capability *caps,
                      const struct crisp_rewrite_options *opts, struct crisp_rewrite_result *res,
                      crisp_error **err)
{
        const char *why = NULL;
        size_t path_len = *has_path ? path->len : 0;
        bool container = strcmp(context, "container") == 0;
        enum crisp_ambiguous_policy policy = opts->ambiguous;
        if (container &&
            crisp_seccomp_is_ambiguous((const char *)path->data, path_len, field_of(*field))) {
                res->container_ambiguous = true;
                if (opts->container_settled)
                        policy = opts->container_ambiguous;
        }
        enum crisp_seccomp_action action = crisp_seccomp_decide((const char *)path->data, path_len,
                                                                field_of(*field), policy, &why);
        if (container && res->container_ambiguous && opts->container_settled && opts->container_why)
                why = opts->container_why;
        if (action == CRISP_KEEP)
                return 0;

        struct crisp_seccomp_change *change = &res->changes[res->n_changes];
        change->context = context;
        change->why = why;
        change->from = field_of(*field);
        describe(change->before, sizeof(change->before), path, *field);

        /* F := exactly the default: a fresh message, so neither a stale
         * localhost_ref nor anything else of the old value survives.
         * RuntimeDefault is the zero value, so it goes on the wire as
         * `seccomp {}`, as the kubelet sends it. */
        SecurityProfile *fresh = malloc(sizeof(*fresh));
        if (fresh == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", context);
        crisp__cri__security_profile__init(fresh);
        char twin[256];
        const char *local = twin_for(context, caps, opts, res, twin, sizeof(twin));
        if (local != NULL) {
                size_t n = strlen(local);
                fresh->localhost_ref.data = malloc(n ? n : 1);
                if (fresh->localhost_ref.data == NULL) {
                        free(fresh);
                        return crisp_error_set(err, ENOMEM, "%s: out of memory", context);
                }
                memcpy(fresh->localhost_ref.data, local, n);
                fresh->localhost_ref.len = n;
                fresh->has_localhost_ref = 1;
                fresh->has_profile_type = 1;
                fresh->profile_type = PROFILE_LOCALHOST;
        }

        if (action == CRISP_DEFAULT_BOTH) {
                /* The deprecated string: "runtime/default" or "localhost/<path>". */
                size_t n = local ? strlen("localhost/") + strlen(local)
                                 : strlen(CRISP_RUNTIME_DEFAULT_PATH);
                uint8_t *p = malloc(n + 1);
                if (p == NULL) {
                        crisp__cri__security_profile__free_unpacked(fresh, NULL);
                        return crisp_error_set(err, ENOMEM, "%s: out of memory", context);
                }
                if (local)
                        snprintf((char *)p, n + 1, "localhost/%s", local);
                else
                        memcpy(p, CRISP_RUNTIME_DEFAULT_PATH, n);
                free(path->data); /* protobuf-c allocated it, or it is NULL */
                path->data = p;
                path->len = n;
                *has_path = 1;
        }
        if (*field != NULL)
                crisp__cri__security_profile__free_unpacked(*field, NULL);
        *field = fresh;

        describe(change->after, sizeof(change->after), path, *field);
        res->n_changes++;
        return 0;
}

static void note_pod(struct crisp_rewrite_result *res, const Crisp__Cri__PodSandboxConfig *cfg)
{
        if (cfg == NULL || cfg->metadata == NULL)
                return;
        copy_for_log(res->pod_namespace, sizeof(res->pod_namespace), &cfg->metadata->namespace_);
        copy_for_log(res->pod_name, sizeof(res->pod_name), &cfg->metadata->name);
        copy_for_log(res->pod_uid, sizeof(res->pod_uid), &cfg->metadata->uid);
}

/* The sandbox context, in RunPodSandbox.config or CreateContainer.sandbox_config.
 * No `linux` block means a Windows pod: left alone. A Linux pod without a
 * security context has nothing set, the same as an empty one. */
static int apply_to_sandbox(const char *context, Crisp__Cri__PodSandboxConfig *cfg,
                            const struct crisp_rewrite_options *opts,
                            struct crisp_rewrite_result *res, crisp_error **err)
{
        if (cfg == NULL || cfg->linux == NULL)
                return 0;
        Crisp__Cri__LinuxPodSandboxConfig *linux = cfg->linux;
        if (linux->security_context == NULL) {
                Crisp__Cri__LinuxSandboxSecurityContext *sc = malloc(sizeof(*sc));
                if (sc == NULL)
                        return crisp_error_set(err, ENOMEM, "%s: out of memory", context);
                crisp__cri__linux_sandbox_security_context__init(sc);
                linux->security_context = sc;
        }
        Crisp__Cri__LinuxSandboxSecurityContext *sc = linux->security_context;
        return apply_rule(context, &sc->has_seccomp_profile_path, &sc->seccomp_profile_path,
                          &sc->seccomp, NULL, opts, res, err);
}

static int apply_to_container(Crisp__Cri__ContainerConfig *cfg,
                              const struct crisp_rewrite_options *opts,
                              struct crisp_rewrite_result *res, crisp_error **err)
{
        if (cfg == NULL || cfg->linux == NULL)
                return 0;
        Crisp__Cri__LinuxContainerConfig *linux = cfg->linux;
        if (linux->security_context == NULL) {
                Crisp__Cri__LinuxContainerSecurityContext *sc = malloc(sizeof(*sc));
                if (sc == NULL)
                        return crisp_error_set(err, ENOMEM, "container: out of memory");
                crisp__cri__linux_container_security_context__init(sc);
                linux->security_context = sc;
        }
        Crisp__Cri__LinuxContainerSecurityContext *sc = linux->security_context;
        return apply_rule("container", &sc->has_seccomp_profile_path, &sc->seccomp_profile_path,
                          &sc->seccomp, sc->capabilities, opts, res, err);
}

/* Re-encodes `msg` into res->bytes when any context changed. */
static int encode_if_changed(const ProtobufCMessage *msg, struct crisp_rewrite_result *res,
                             const char *method, crisp_error **err)
{
        if (res->n_changes == 0)
                return 0;
        size_t len = protobuf_c_message_get_packed_size(msg);
        uint8_t *bytes = malloc(len ? len : 1);
        if (bytes == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory re-encoding %zu bytes",
                                       method, len);
        protobuf_c_message_pack(msg, bytes);
        res->bytes = bytes;
        res->len = len;
        res->changed = true;
        return 0;
}

/* ---- entry point ------------------------------------------------------------ */

int crisp_rewrite_request(enum crisp_method method, const uint8_t *data, size_t len,
                          const struct crisp_rewrite_options *opts,
                          struct crisp_rewrite_result *out, crisp_error **err)
{
        memset(out, 0, sizeof(*out));
        int r = 0;

        switch (method) {
        case CRISP_METHOD_RUN_POD_SANDBOX: {
                r = crisp_wire_check(&crisp__cri__run_pod_sandbox_request__descriptor, data, len,
                                     "RunPodSandbox", err);
                if (r < 0)
                        return r;
                Crisp__Cri__RunPodSandboxRequest *req =
                    crisp__cri__run_pod_sandbox_request__unpack(NULL, len, data);
                if (req == NULL)
                        return crisp_error_set(
                            err, EINVAL,
                            "RunPodSandbox: the request (%zu bytes) does not decode "
                            "as a RunPodSandboxRequest",
                            len);
                note_pod(out, req->config);
                r = apply_to_sandbox("sandbox", req->config, opts, out, err);
                if (r == 0)
                        r = encode_if_changed(&req->base, out, "RunPodSandbox", err);
                crisp__cri__run_pod_sandbox_request__free_unpacked(req, NULL);
                break;
        }
        case CRISP_METHOD_CREATE_CONTAINER: {
                r = crisp_wire_check(&crisp__cri__create_container_request__descriptor, data, len,
                                     "CreateContainer", err);
                if (r < 0)
                        return r;
                Crisp__Cri__CreateContainerRequest *req =
                    crisp__cri__create_container_request__unpack(NULL, len, data);
                if (req == NULL)
                        return crisp_error_set(err, EINVAL,
                                               "CreateContainer: the request (%zu bytes) does not "
                                               "decode as a CreateContainerRequest",
                                               len);
                note_pod(out, req->sandbox_config);
                if (req->config && req->config->metadata)
                        copy_for_log(out->container, sizeof(out->container),
                                     &req->config->metadata->name);
                r = apply_to_container(req->config, opts, out, err);
                if (r == 0)
                        r = apply_to_sandbox("sandbox_config", req->sandbox_config, opts, out, err);
                if (r == 0)
                        r = encode_if_changed(&req->base, out, "CreateContainer", err);
                crisp__cri__create_container_request__free_unpacked(req, NULL);
                break;
        }
        case CRISP_METHOD_OTHER:
                return crisp_error_set(err, EINVAL, "not a method crisp rewrites");
        }

        if (r < 0)
                crisp_rewrite_result_release(out);
        return r;
}

void crisp_rewrite_result_release(struct crisp_rewrite_result *r)
{
        free(r->bytes);
        r->bytes = NULL;
        r->len = 0;
        r->changed = false;
}

void crisp_rewrite_result_log(const struct crisp_rewrite_result *r, const char *method_path)
{
        const char *container = r->container[0] ? r->container : "-";
        if (r->exemption[0] != '\0') {
                log_info("seccomp exempt method=%s pod=%s/%s uid=%s container=%s mode=%s "
                         "exemption=%s",
                         method_path, r->pod_namespace, r->pod_name, r->pod_uid, container,
                         r->audit      ? "audit"
                         : r->complain ? "complain"
                                       : "enforce",
                         r->exemption);
                return;
        }
        for (size_t i = 0; i < r->n_changes; i++) {
                const struct crisp_seccomp_change *c = &r->changes[i];
                /* audit: what enforce would have done; the request went as it came. */
                bool settled = strcmp(c->context, "container") == 0 && r->source[0] != '\0';
                log_info("%s method=%s pod=%s/%s uid=%s container=%s context=%s "
                         "before=\"%s\" after=\"%s\" reason=\"%s\" mode=%s%s%s",
                         r->audit ? "audit: seccomp would be defaulted" : "seccomp defaulted",
                         method_path, r->pod_namespace, r->pod_name, r->pod_uid, container,
                         c->context, c->before, c->after, c->why,
                         r->audit      ? "audit"
                         : r->complain ? "complain"
                                       : "enforce",
                         settled ? " source=" : "", settled ? r->source : "");
        }
}
