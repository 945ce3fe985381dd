/* Checks what the runtime received against a fixture's `expect`
 * (replay_expect.h). */
#include "replay_expect.h"

#include <stdlib.h>
#include <string.h>

#include "cri_view.pb-c.h"
#include "replay_wire.h"
#include "rule/rewrite.h"

typedef Crisp__View__SecurityProfile SecurityProfile;

/* Where a context's seccomp settings sit inside a decoded request. */
struct context_ref {
        /* The security_context field (NULL: a parent is absent). */
        ProtobufCMessage **sc;
        /* Its two seccomp settings (NULL: the security context is absent). */
        protobuf_c_boolean *has_path;
        ProtobufCBinaryData *path;
        SecurityProfile **seccomp;
};

/* Field numbers from the request down to each context, then those of its
 * seccomp and seccomp_profile_path fields (api/cri_view.proto). */
static const struct {
        uint32_t path[3];
        uint32_t seccomp, profile_path;
} wire_paths[CRISP_CONTEXT_COUNT] = {
    [CRISP_CONTEXT_CONTAINER] = {{2, 15, 2}, 15, 10},
    [CRISP_CONTEXT_SANDBOX_CONFIG] = {{3, 8, 2}, 9, 7},
    [CRISP_CONTEXT_SANDBOX] = {{1, 8, 2}, 9, 7},
};

static struct context_ref sandbox_ref(Crisp__View__PodSandboxConfig *cfg)
{
        struct context_ref ref = {0};
        if (cfg == NULL || cfg->linux == NULL)
                return ref;
        Crisp__View__LinuxSandboxSecurityContext *sc = cfg->linux->security_context;
        ref.sc = (ProtobufCMessage **)&cfg->linux->security_context;
        if (sc) {
                ref.has_path = &sc->has_seccomp_profile_path;
                ref.path = &sc->seccomp_profile_path;
                ref.seccomp = &sc->seccomp;
        }
        return ref;
}

static struct context_ref find_context(ProtobufCMessage *msg, enum crisp_context which)
{
        struct context_ref ref = {0};
        if (which == CRISP_CONTEXT_SANDBOX)
                return sandbox_ref(((Crisp__View__RunPodSandboxRequest *)msg)->config);
        Crisp__View__CreateContainerRequest *req = (Crisp__View__CreateContainerRequest *)msg;
        if (which == CRISP_CONTEXT_SANDBOX_CONFIG)
                return sandbox_ref(req->sandbox_config);
        if (req->config == NULL || req->config->linux == NULL)
                return ref;
        Crisp__View__LinuxContainerSecurityContext *sc = req->config->linux->security_context;
        ref.sc = (ProtobufCMessage **)&req->config->linux->security_context;
        if (sc) {
                ref.has_path = &sc->has_seccomp_profile_path;
                ref.path = &sc->seccomp_profile_path;
                ref.seccomp = &sc->seccomp;
        }
        return ref;
}

static const ProtobufCMessageDescriptor *descriptor_of(const char *method)
{
        switch (crisp_method_classify(method, strlen(method))) {
        case CRISP_METHOD_RUN_POD_SANDBOX:
                return &crisp__view__run_pod_sandbox_request__descriptor;
        case CRISP_METHOD_CREATE_CONTAINER:
                return &crisp__view__create_container_request__descriptor;
        case CRISP_METHOD_OTHER:
                break;
        }
        return NULL;
}

/* The request re-encoded with the named contexts' seccomp settings removed
 * (and a context left empty by that removed too, since the rewrite may have
 * created it). Two requests give the same bytes exactly when everything but
 * those settings is the same; unknown fields are kept as they came. */
static uint8_t *without_seccomp(const ProtobufCMessageDescriptor *desc,
                                const struct crisp_expect *expect, const struct crisp_msg *m,
                                size_t *len)
{
        ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, m->len, m->data);
        if (msg == NULL)
                return NULL;
        for (int i = 0; i < CRISP_CONTEXT_COUNT; i++) {
                if (!expect->contexts[i].named)
                        continue;
                struct context_ref ref = find_context(msg, i);
                if (ref.path == NULL)
                        continue;
                /* Allocated by protobuf-c with malloc, as free_unpacked frees them. */
                free(ref.path->data);
                ref.path->data = NULL;
                ref.path->len = 0;
                *ref.has_path = 0;
                if (*ref.seccomp)
                        protobuf_c_message_free_unpacked(&(*ref.seccomp)->base, NULL);
                *ref.seccomp = NULL;
                if (protobuf_c_message_get_packed_size(*ref.sc) == 0) {
                        protobuf_c_message_free_unpacked(*ref.sc, NULL);
                        *ref.sc = NULL;
                }
        }
        *len = protobuf_c_message_get_packed_size(msg);
        uint8_t *out = malloc(*len ? *len : 1);
        if (out)
                protobuf_c_message_pack(msg, out);
        protobuf_c_message_free_unpacked(msg, NULL);
        return out;
}

/* Whether a bytes field holds exactly `want` (absent counts as ""). */
static bool equals(protobuf_c_boolean has, const ProtobufCBinaryData *b, const char *want)
{
        size_t n = has ? b->len : 0;
        return n == strlen(want) && (n == 0 || memcmp(b->data, want, n) == 0);
}

/* A bytes field as text for a message: at most 120 bytes, NUL and control
 * characters shown as '?'. */
static const char *shown(protobuf_c_boolean has, const ProtobufCBinaryData *b, char *buf,
                         size_t size)
{
        size_t n = has ? b->len : 0, i = 0;
        for (; i < n && i + 1 < size && i < 120; i++)
                buf[i] = (b->data[i] < 0x20 || b->data[i] == 0x7f) ? '?' : (char)b->data[i];
        buf[i] = '\0';
        return buf;
}

/* Counts the failures of one named context in the forwarded request. */
static int check_context(enum crisp_context which, const struct crisp_expect_context *want,
                         ProtobufCMessage *msg, const struct crisp_msg *forwarded,
                         const char *where, FILE *out)
{
        const char *name = crisp_context_name(which);
        struct context_ref ref = find_context(msg, which);
        if (ref.seccomp == NULL || *ref.seccomp == NULL) {
                fprintf(out,
                        "%s: %s: the runtime received no seccomp field, expected "
                        "profile_type %d\n",
                        where, name, (int)want->profile_type);
                return 1;
        }
        int failures = 0;
        const SecurityProfile *sp = *ref.seccomp;
        int32_t type = sp->has_profile_type ? sp->profile_type : 0;
        if (type != want->profile_type) {
                fprintf(out, "%s: %s: profile_type is %d, expected %d\n", where, name, (int)type,
                        (int)want->profile_type);
                failures++;
        }
        char buf[128];
        if (!equals(sp->has_localhost_ref, &sp->localhost_ref, want->localhost_ref)) {
                fprintf(out, "%s: %s: localhost_ref is '%s', expected '%s'\n", where, name,
                        shown(sp->has_localhost_ref, &sp->localhost_ref, buf, sizeof(buf)),
                        want->localhost_ref);
                failures++;
        }
        if (!equals(*ref.has_path, ref.path, want->path)) {
                fprintf(out, "%s: %s: seccomp_profile_path is '%s', expected '%s'\n", where, name,
                        shown(*ref.has_path, ref.path, buf, sizeof(buf)), want->path);
                failures++;
        }
        /* Replaced, not appended: a parser would merge a second copy. */
        uint32_t path[4];
        memcpy(path, wire_paths[which].path, sizeof(wire_paths[which].path));
        path[3] = wire_paths[which].seccomp;
        size_t n = pb_count_path(forwarded->data, forwarded->len, path, 4);
        if (n != 1) {
                fprintf(out, "%s: %s: the seccomp field is on the wire %zu times, expected once\n",
                        where, name, n);
                failures++;
        }
        path[3] = wire_paths[which].profile_path;
        n = pb_count_path(forwarded->data, forwarded->len, path, 4);
        if (n > 1) {
                fprintf(out, "%s: %s: seccomp_profile_path is on the wire %zu times\n", where, name,
                        n);
                failures++;
        }
        return failures;
}

static int check_contexts(const struct crisp_call_record *rec, const struct crisp_msg *original,
                          const struct crisp_msg *forwarded, const char *where, FILE *out)
{
        const ProtobufCMessageDescriptor *desc = descriptor_of(rec->method);
        ProtobufCMessage *msg =
            protobuf_c_message_unpack(desc, NULL, forwarded->len, forwarded->data);
        if (msg == NULL) {
                fprintf(out, "%s: the request the runtime received does not decode\n", where);
                return 1;
        }
        int failures = 0;
        for (int i = 0; i < CRISP_CONTEXT_COUNT; i++)
                if (rec->expect.contexts[i].named)
                        failures +=
                            check_context(i, &rec->expect.contexts[i], msg, forwarded, where, out);
        protobuf_c_message_free_unpacked(msg, NULL);

        size_t alen = 0, blen = 0;
        uint8_t *a = without_seccomp(desc, &rec->expect, original, &alen);
        uint8_t *b = without_seccomp(desc, &rec->expect, forwarded, &blen);
        size_t offset = 0;
        uint32_t field = 0;
        if (a == NULL) {
                fprintf(out, "%s: the recorded request does not decode\n", where);
                failures++;
        } else if (b != NULL && pb_first_difference(a, alen, b, blen, &offset, &field)) {
                fprintf(out,
                        "%s: fields other than the named contexts' seccomp changed (first "
                        "difference in top-level field %u)\n",
                        where, field);
                failures++;
        }
        free(a);
        free(b);
        return failures;
}

static int check_identical(const struct crisp_msg *want, const struct crisp_msg *got, size_t i,
                           const char *where, FILE *out)
{
        size_t offset = 0;
        uint32_t field = 0;
        if (!pb_first_difference(want->data, want->len, got->data, got->len, &offset, &field))
                return 0;
        fprintf(out,
                "%s: request %zu reached the runtime changed: first difference at byte %zu "
                "(field %u); %zu bytes recorded, %zu received\n",
                where, i + 1, offset, field, want->len, got->len);
        return 1;
}

int replay_expect_check(const struct crisp_call_record *rec, const struct crisp_msg_list *received,
                        const char *where, FILE *out)
{
        if (received->n != rec->requests.n) {
                fprintf(out, "%s: the runtime received %zu requests, the recording has %zu\n",
                        where, received->n, rec->requests.n);
                return 1;
        }
        bool contexts = rec->expect.present && !rec->expect.unchanged;
        int failures = 0;
        for (size_t i = 0; i < received->n; i++) {
                if (i == 0 && contexts)
                        failures += check_contexts(rec, &rec->requests.items[0],
                                                   &received->items[0], where, out);
                else
                        failures += check_identical(&rec->requests.items[i], &received->items[i], i,
                                                    where, out);
        }
        return failures;
}
