/* The rewriter on real protobuf bytes: each security context, both API
 * versions, absent vs present-empty seccomp, duplicated seccomp fields,
 * stale localhost_ref, unknown fields, malformed input.
 *
 * Inputs are built with a tiny protobuf writer (below) rather than with the
 * generated code, so a test can put on the wire exactly what a peer might:
 * duplicates, unknown fields, wrong wire types. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cri.pb-c.h"
#include "rule/rewrite.h"

/* ---- a tiny protobuf writer ------------------------------------------------ */

struct pb {
        uint8_t b[4096];
        size_t n;
};

static void put_varint(struct pb *p, uint64_t v)
{
        do {
                uint8_t byte = v & 0x7f;
                v >>= 7;
                p->b[p->n++] = byte | (v ? 0x80 : 0);
        } while (v);
}

static void put_uint(struct pb *p, unsigned field, uint64_t v)
{
        put_varint(p, (uint64_t)field << 3 | 0);
        put_varint(p, v);
}

static void put_bytes(struct pb *p, unsigned field, const void *data, size_t len)
{
        put_varint(p, (uint64_t)field << 3 | 2);
        put_varint(p, len);
        memcpy(p->b + p->n, data, len);
        p->n += len;
}

static void put_str(struct pb *p, unsigned field, const char *s)
{
        put_bytes(p, field, s, strlen(s));
}

static void put_msg(struct pb *p, unsigned field, const struct pb *m)
{
        put_bytes(p, field, m->b, m->n);
}

/* ---- CRI building blocks (field numbers from the CRI API) ------------------ */

enum { ABSENT = -1 };

/* SecurityProfile{profile_type, localhost_ref}; type 0 is written as an
 * empty message, as protobuf encoders do. */
static struct pb profile(int type, const char *ref)
{
        struct pb p = {0};
        if (type > 0)
                put_uint(&p, 1, (uint64_t)type);
        if (ref && *ref)
                put_str(&p, 2, ref);
        return p;
}

/* LinuxContainerSecurityContext: privileged 2, seccomp_profile_path 10, seccomp 15 */
static struct pb container_sc(int privileged, const char *path, int type, const char *ref)
{
        struct pb p = {0};
        if (privileged)
                put_uint(&p, 2, 1);
        if (path && *path)
                put_str(&p, 10, path);
        if (type != ABSENT) {
                struct pb sp = profile(type, ref);
                put_msg(&p, 15, &sp);
        }
        return p;
}

/* LinuxSandboxSecurityContext: privileged 6, seccomp_profile_path 7, seccomp 9 */
static struct pb sandbox_sc(const char *path, int type)
{
        struct pb p = {0};
        if (path && *path)
                put_str(&p, 7, path);
        if (type != ABSENT) {
                struct pb sp = profile(type, NULL);
                put_msg(&p, 9, &sp);
        }
        return p;
}

/* PodSandboxConfig{metadata 1 {name 1, uid 2, namespace 3}, linux 8 {security_context 2}} */
static struct pb sandbox_config(const struct pb *sc)
{
        struct pb md = {0}, lx = {0}, cfg = {0};
        put_str(&md, 1, "web");
        put_str(&md, 2, "uid-123");
        put_str(&md, 3, "team-a");
        put_msg(&cfg, 1, &md);
        if (sc) {
                put_msg(&lx, 2, sc);
                put_msg(&cfg, 8, &lx);
        }
        return cfg;
}

/* CreateContainerRequest{pod_sandbox_id 1, config 2 {metadata 1 {name 1},
 * linux 15 {security_context 2}}, sandbox_config 3} */
static struct pb create_container(const struct pb *csc, const struct pb *ssc)
{
        struct pb md = {0}, lx = {0}, cfg = {0}, req = {0};
        put_str(&md, 1, "app");
        put_msg(&cfg, 1, &md);
        if (csc) {
                put_msg(&lx, 2, csc);
                put_msg(&cfg, 15, &lx);
        }
        put_msg(&req, 2, &cfg);
        struct pb sb = sandbox_config(ssc);
        put_msg(&req, 3, &sb);
        return req;
}

/* RunPodSandboxRequest{config 1, runtime_handler 2} */
static struct pb run_pod_sandbox(const struct pb *ssc)
{
        struct pb req = {0};
        struct pb cfg = sandbox_config(ssc);
        put_msg(&req, 1, &cfg);
        return req;
}

static const struct crisp_rewrite_options default_policy = {.ambiguous =
                                                                CRISP_AMBIGUOUS_RUNTIME_DEFAULT};
static const struct crisp_rewrite_options keep_policy = {.ambiguous = CRISP_AMBIGUOUS_KEEP};

static int rewrite(enum crisp_method m, const struct pb *in, const struct crisp_rewrite_options *o,
                   struct crisp_rewrite_result *res)
{
        return crisp_rewrite_request(m, in->b, in->n, o, res, NULL);
}

static void assert_runtime_default(const Crisp__Cri__SecurityProfile *sp)
{
        assert_non_null(sp);
        /* Exactly {RuntimeDefault}: nothing set, as the kubelet encodes it. */
        assert_false(sp->has_profile_type);
        assert_false(sp->has_localhost_ref);
        assert_int_equal(sp->base.n_unknown_fields, 0);
}

static void assert_bytes(protobuf_c_boolean has, ProtobufCBinaryData b, const char *want)
{
        assert_true(has);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
}

/* A field crisp's schema leaves unknown, carried through: exactly one
 * unknown field with this number. */
static void assert_one_unknown(const ProtobufCMessage *m, uint32_t number)
{
        assert_int_equal(m->n_unknown_fields, 1);
        assert_int_equal(m->unknown_fields[0].tag, number);
}

/* ---- CreateContainer ---------------------------------------------------------- */

static void create_container_nothing_set_defaults_both_contexts(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "", ABSENT, NULL);
        struct pb ssc = sandbox_sc("", ABSENT);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        assert_int_equal(res.n_changes, 2);
        assert_string_equal(res.changes[0].context, "container");
        assert_string_equal(res.changes[1].context, "sandbox_config");

        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_non_null(out);
        const Crisp__Cri__LinuxContainerSecurityContext *c = out->config->linux->security_context;
        assert_runtime_default(c->seccomp);
        assert_bytes(c->has_seccomp_profile_path, c->seccomp_profile_path, "runtime/default");
        const Crisp__Cri__LinuxSandboxSecurityContext *s =
            out->sandbox_config->linux->security_context;
        assert_runtime_default(s->seccomp);
        assert_bytes(s->has_seccomp_profile_path, s->seccomp_profile_path, "runtime/default");
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

/* Present-empty seccomp is RuntimeDefault, not "nothing set". */
static void present_empty_seccomp_is_explicit_runtime_default(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "", 0 /* RuntimeDefault */, NULL);
        struct pb ssc = sandbox_sc("", 0);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_false(res.changed);
        assert_null(res.bytes);
        crisp_rewrite_result_release(&res);
}

/* Kubelet >= 1.28, nothing set: "" / Unconfined, sandbox already RD. */
static void kubelet_128_unconfined_follows_policy(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "", 1 /* Unconfined */, NULL);
        struct pb ssc = sandbox_sc("", 0);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;

        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        assert_int_equal(res.n_changes, 1);
        assert_string_equal(res.changes[0].context, "container");
        assert_non_null(strstr(res.changes[0].before, "Unconfined"));
        assert_non_null(strstr(res.changes[0].after, "RuntimeDefault"));
        crisp_rewrite_result_release(&res);

        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &keep_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

static void explicit_unconfined_is_forwarded_unchanged(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "unconfined", 1, NULL);
        struct pb ssc = sandbox_sc("runtime/default", 0);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

/* Static-pod annotation era: P set, F Unconfined -> F := RD, P kept. */
static void annotation_path_keeps_path_and_sets_field(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "docker/default", 1, NULL);
        struct pb ssc = sandbox_sc("runtime/default", 0);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_non_null(out);
        assert_runtime_default(out->config->linux->security_context->seccomp);
        assert_bytes(out->config->linux->security_context->has_seccomp_profile_path,
                     out->config->linux->security_context->seccomp_profile_path, "docker/default");
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

/* A rewrite must not leave a Localhost ref behind a RuntimeDefault type. */
static void stale_localhost_ref_is_dropped(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "", 1, "/var/lib/kubelet/seccomp/old.json");
        struct pb ssc = sandbox_sc("", 0);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        assert_null(memmem(res.bytes, res.len, "old.json", 8));
        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_runtime_default(out->config->linux->security_context->seccomp);
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

static void localhost_profile_is_kept(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "localhost/p.json", 2, "/var/lib/kubelet/seccomp/p.json");
        struct pb ssc = sandbox_sc("runtime/default", 0);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

/* Merged as any protobuf parser would: `7A 02 08 01` then `7A 00` is still
 * Unconfined, so it is rewritten; the output holds exactly one seccomp. */
static void duplicated_seccomp_is_merged_then_replaced(void **state)
{
        (void)state;
        struct pb unconfined = profile(1, NULL), empty = profile(0, NULL);
        for (int order = 0; order < 2; order++) {
                struct pb csc = {0};
                put_msg(&csc, 15, order == 0 ? &unconfined : &empty);
                put_msg(&csc, 15, order == 0 ? &empty : &unconfined);
                struct pb ssc = sandbox_sc("runtime/default", 0);
                struct pb req = create_container(&csc, &ssc);
                struct crisp_rewrite_result res;
                assert_int_equal(
                    rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
                assert_true(res.changed);

                /* Byte-exact: the expected request has one seccomp, RD. */
                struct pb want_csc = container_sc(0, "runtime/default", 0, NULL);
                struct pb want = create_container(&want_csc, &ssc);
                assert_int_equal(res.len, want.n);
                assert_memory_equal(res.bytes, want.b, want.n);
                crisp_rewrite_result_release(&res);
        }
}

/* A duplicated `linux` block merges too: the Unconfined in the first one
 * still holds after an empty second one, as the runtime will read it. */
static void duplicated_parent_blocks_merge_like_the_runtime(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "", 1, NULL), lx = {0}, empty = {0}, md = {0};
        struct pb cfg = {0}, req = {0};
        put_msg(&lx, 2, &csc);
        put_str(&md, 1, "app");
        put_msg(&cfg, 15, &lx);
        put_msg(&cfg, 15, &empty);
        put_msg(&cfg, 1, &md);
        put_msg(&req, 2, &cfg);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        assert_string_equal(res.container, "app");
        crisp_rewrite_result_release(&res);

        /* ...while an explicit profile_type 0 in the later occurrence wins, as
         * in Go: RuntimeDefault, nothing to change. */
        struct pb later_rd = {0}, sc2 = {0}, unconfined = profile(1, NULL);
        put_uint(&later_rd, 1, 0);
        put_msg(&sc2, 15, &unconfined);
        put_msg(&sc2, 15, &later_rd);
        struct pb ssc = sandbox_sc("runtime/default", 0);
        struct pb req2 = create_container(&sc2, &ssc);
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req2, &default_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

/* Fields crisp's schema does not know survive a rewrite, at every level. */
static void unknown_fields_survive_a_rewrite(void **state)
{
        (void)state;
        struct pb csc = container_sc(1, "", 1, NULL);
        put_uint(&csc, 99, 12345);               /* unknown in the security context */
        put_str(&csc, 3, "CAP_NET_RAW-ish");     /* capabilities, not in crisp's schema */
        struct pb sp_unknown = profile(1, NULL); /* Unconfined with a future field */
        put_str(&sp_unknown, 7, "future");
        put_msg(&csc, 15, &sp_unknown);
        struct pb ssc = sandbox_sc("", 0);
        struct pb req = create_container(&csc, &ssc);
        put_str(&req, 42, "a field from a newer CRI");

        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        assert_non_null(memmem(res.bytes, res.len, "CAP_NET_RAW-ish", 15));
        assert_non_null(memmem(res.bytes, res.len, "a field from a newer CRI", 24));
        const uint8_t unknown99[] = {0x98, 0x06, 0xb9, 0x60}; /* field 99 varint 12345 */
        assert_non_null(memmem(res.bytes, res.len, unknown99, sizeof(unknown99)));
        /* F := exactly {RuntimeDefault}: the old value's fields go with it. */
        assert_null(memmem(res.bytes, res.len, "future", 6));

        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        /* privileged (2) and capabilities (3) are unknown to crisp's schema. */
        assert_int_equal(out->config->linux->security_context->base.n_unknown_fields, 3);
        assert_bytes(out->config->metadata->has_name, out->config->metadata->name, "app");
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

/* A Linux container with no security context at all has nothing set. */
static void missing_security_context_gets_one(void **state)
{
        (void)state;
        struct pb md = {0}, lx = {0}, cfg = {0}, req = {0};
        put_str(&md, 1, "app");
        put_msg(&cfg, 1, &md);
        put_msg(&cfg, 15, &lx); /* linux present, empty */
        put_msg(&req, 2, &cfg);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_runtime_default(out->config->linux->security_context->seccomp);
        assert_null(out->sandbox_config);
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

/* No `linux` block: a Windows container or sandbox, left alone. */
static void windows_requests_are_left_alone(void **state)
{
        (void)state;
        struct pb req = create_container(NULL, NULL);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);

        struct pb rps = run_pod_sandbox(NULL);
        assert_int_equal(rewrite(CRISP_METHOD_RUN_POD_SANDBOX, &rps, &default_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

static void privileged_gets_the_same_rule(void **state)
{
        (void)state;
        struct pb csc = container_sc(1, "", ABSENT, NULL);
        struct pb ssc = sandbox_sc("runtime/default", 0);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_one_unknown(&out->config->linux->security_context->base, 2); /* privileged */
        assert_runtime_default(out->config->linux->security_context->seccomp);
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

/* crisp's own output needs no further change. */
static void rewriting_is_idempotent(void **state)
{
        (void)state;
        struct pb csc = container_sc(0, "", 1, "/x");
        struct pb ssc = sandbox_sc("", ABSENT);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_result first, second;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &first), 0);
        assert_true(first.changed);
        assert_int_equal(crisp_rewrite_request(CRISP_METHOD_CREATE_CONTAINER, first.bytes,
                                               first.len, &default_policy, &second, NULL),
                         0);
        assert_false(second.changed);
        crisp_rewrite_result_release(&first);
        crisp_rewrite_result_release(&second);
}

/* ---- RunPodSandbox ------------------------------------------------------------- */

static void run_pod_sandbox_nothing_set_is_defaulted(void **state)
{
        (void)state;
        struct pb ssc = sandbox_sc("", ABSENT);
        struct pb req = run_pod_sandbox(&ssc);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_RUN_POD_SANDBOX, &req, &default_policy, &res), 0);
        assert_true(res.changed);
        assert_int_equal(res.n_changes, 1);
        assert_string_equal(res.changes[0].context, "sandbox");
        assert_string_equal(res.pod_namespace, "team-a");
        assert_string_equal(res.pod_name, "web");
        assert_string_equal(res.pod_uid, "uid-123");
        Crisp__Cri__RunPodSandboxRequest *out =
            crisp__cri__run_pod_sandbox_request__unpack(NULL, res.len, res.bytes);
        assert_runtime_default(out->config->linux->security_context->seccomp);
        assert_bytes(out->config->linux->security_context->has_seccomp_profile_path,
                     out->config->linux->security_context->seccomp_profile_path, "runtime/default");
        crisp__cri__run_pod_sandbox_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

static void run_pod_sandbox_from_kubelet_is_unchanged(void **state)
{
        (void)state;
        /* kubelet 1.20-1.26: runtime/default and RD; 1.19: runtime/default only. */
        struct pb a = sandbox_sc("runtime/default", 0), b = sandbox_sc("runtime/default", ABSENT);
        struct pb ra = run_pod_sandbox(&a), rb = run_pod_sandbox(&b);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_RUN_POD_SANDBOX, &ra, &default_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
        assert_int_equal(rewrite(CRISP_METHOD_RUN_POD_SANDBOX, &rb, &default_policy, &res), 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

/* ---- what the fuzzer found (tests/fuzz/regressions) ---------------------------- */

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static int rewrite_raw(enum crisp_method m, const uint8_t *data, size_t len,
                       struct crisp_rewrite_result *res, crisp_error **err)
{
        return crisp_rewrite_request(m, data, len, &default_policy, res, err);
}

/* `config` twice, the first with a field crisp does not know: protobuf-c's
 * merge would drop it, so crisp refuses rather than forward less. */
static void merged_occurrences_with_unknown_fields_are_refused(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        crisp_error *err = NULL;
        assert_int_equal(rewrite_raw(CRISP_METHOD_CREATE_CONTAINER,
                                     BYTES(0x12, 0x02, 0x18, 0x01, 0x12, 0x02, 0x7a, 0x00), &res,
                                     &err),
                         -EINVAL);
        assert_non_null(strstr(err->msg, "CreateContainerRequest.config occurs 2 times"));
        crisp_error_free(&err);

        /* The realistic form: a security context sent twice, the first with
         * capabilities, readonly_rootfs and no_new_privs. */
        assert_int_equal(
            rewrite_raw(CRISP_METHOD_CREATE_CONTAINER,
                        BYTES(0x12, 0x1c, 0x0a, 0x05, 0x0a, 0x03, 0x61, 0x70, 0x70, 0x7a, 0x13,
                              0x12, 0x0b, 0x0a, 0x05, 0x12, 0x03, 0x41, 0x4c, 0x4c, 0x38, 0x01,
                              0x58, 0x01, 0x12, 0x04, 0x7a, 0x02, 0x08, 0x01),
                        &res, NULL),
            -EINVAL);
}

/* tests/fuzz found it: a message sent twice whose later copy sets a string
 * to empty. Go reads the empty string; protobuf-c keeps an empty string with
 * no data, and its merge then takes the earlier copy's value: crisp would
 * forward a uid the runtime never saw. Refused, like the case above. */
static void merged_occurrences_emptying_a_string_are_refused(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        crisp_error *err = NULL;
        /* sandbox_config {metadata {name "web" uid "u1"}}, sandbox_config {metadata {uid ""}} */
        assert_int_equal(
            rewrite_raw(CRISP_METHOD_CREATE_CONTAINER,
                        BYTES(0x1a, 0x0b, 0x0a, 0x09, 0x0a, 0x03, 0x77, 0x65, 0x62, 0x12, 0x02,
                              0x75, 0x31, 0x1a, 0x04, 0x0a, 0x02, 0x12, 0x00),
                        &res, &err),
            -EINVAL);
        assert_non_null(strstr(err->msg, "CreateContainerRequest.sandbox_config occurs 2 times"));
        crisp_error_free(&err);
        /* The same with the string set in the later copy merges as Go does. */
        assert_int_equal(
            rewrite_raw(CRISP_METHOD_CREATE_CONTAINER,
                        BYTES(0x1a, 0x0b, 0x0a, 0x09, 0x0a, 0x03, 0x77, 0x65, 0x62, 0x12, 0x02,
                              0x75, 0x31, 0x1a, 0x06, 0x0a, 0x04, 0x12, 0x02, 0x75, 0x32),
                        &res, NULL),
            0);
        assert_string_equal(res.pod_uid, "u2");
        crisp_rewrite_result_release(&res);
}

/* A string crisp does not read passes as bytes, a NUL and all. */
static void strings_with_nul_bytes_survive(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite_raw(CRISP_METHOD_RUN_POD_SANDBOX,
                                     BYTES(0x0a, 0x02, 0x42, 0x00, 0x12, 0x03, 0x61, 0x00, 0x62),
                                     &res, NULL),
                         0);
        assert_true(res.changed);
        const uint8_t handler[] = {0x12, 0x03, 0x61, 0x00, 0x62};
        assert_non_null(memmem(res.bytes, res.len, handler, sizeof(handler)));
        crisp_rewrite_result_release(&res);
}

/* privileged as a fixed32 is an unknown field to the runtime: crisp must not
 * turn it into `privileged: true`. It is not in crisp's schema at all. */
static void a_field_crisp_does_not_read_is_never_reinterpreted(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        assert_int_equal(
            rewrite_raw(CRISP_METHOD_RUN_POD_SANDBOX,
                        BYTES(0x0a, 0x09, 0x42, 0x07, 0x12, 0x05, 0x35, 0x01, 0x00, 0x00, 0x00),
                        &res, NULL),
            0);
        assert_true(res.changed);
        const uint8_t fixed32[] = {0x35, 0x01, 0x00, 0x00, 0x00}, privileged[] = {0x30, 0x01};
        assert_non_null(memmem(res.bytes, res.len, fixed32, sizeof(fixed32)));
        assert_null(memmem(res.bytes, res.len, privileged, sizeof(privileged)));
        crisp_rewrite_result_release(&res);
}

static void field_number_zero_is_refused(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        crisp_error *err = NULL;
        assert_int_equal(rewrite_raw(CRISP_METHOD_CREATE_CONTAINER,
                                     BYTES(0x12, 0x02, 0x7a, 0x00, 0x80, 0x00, 0x00), &res, &err),
                         -EINVAL);
        assert_non_null(strstr(err->msg, "numbered 0"));
        crisp_error_free(&err);
}

/* A varint Unconfined followed by a fixed32 0: Go keeps Unconfined (the
 * fixed32 is an unknown field to it); a lax reading would see
 * RuntimeDefault and leave the container unconfined. Refused. */
static void known_field_with_wrong_wire_type_is_refused(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        crisp_error *err = NULL;
        /* config { linux { security_context { seccomp { 08 01  0d 00000000 } } } } */
        assert_int_equal(rewrite_raw(CRISP_METHOD_CREATE_CONTAINER,
                                     BYTES(0x12, 0x0d, 0x7a, 0x0b, 0x12, 0x09, 0x7a, 0x07, 0x08,
                                           0x01, 0x0d, 0x00, 0x00, 0x00, 0x00),
                                     &res, &err),
                         -EINVAL);
        assert_non_null(strstr(err->msg, "profile_type"));
        crisp_error_free(&err);
}

/* ---- methods and bad input -------------------------------------------------- */

static void both_api_versions_are_recognised(void **state)
{
        (void)state;
        const char *paths[] = {
            "/runtime.v1.RuntimeService/RunPodSandbox",
            "/runtime.v1.RuntimeService/CreateContainer",
            "/runtime.v1alpha2.RuntimeService/RunPodSandbox",
            "/runtime.v1alpha2.RuntimeService/CreateContainer",
        };
        const enum crisp_method want[] = {
            CRISP_METHOD_RUN_POD_SANDBOX, CRISP_METHOD_CREATE_CONTAINER,
            CRISP_METHOD_RUN_POD_SANDBOX, CRISP_METHOD_CREATE_CONTAINER};
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(crisp_method_classify(paths[i], strlen(paths[i])), want[i]);

        const char *others[] = {
            "/runtime.v1.RuntimeService/StartContainer",
            "/runtime.v1.ImageService/PullImage",
            "/runtime.v1.RuntimeService/CreateContainerX",
            "/runtime.v1.RuntimeService/CreateContaine",
            "/runtime.v2.RuntimeService/CreateContainer",
            "",
        };
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
                assert_int_equal(crisp_method_classify(others[i], strlen(others[i])),
                                 CRISP_METHOD_OTHER);
}

static void malformed_requests_are_errors_naming_the_method(void **state)
{
        (void)state;
        const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff};
        struct crisp_rewrite_result res;
        crisp_error *err = NULL;
        assert_int_equal(crisp_rewrite_request(CRISP_METHOD_CREATE_CONTAINER, garbage,
                                               sizeof(garbage), &default_policy, &res, &err),
                         -EINVAL);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "CreateContainer"));
        crisp_error_free(&err);

        assert_int_equal(crisp_rewrite_request(CRISP_METHOD_RUN_POD_SANDBOX, garbage,
                                               sizeof(garbage), &default_policy, &res, &err),
                         -EINVAL);
        assert_non_null(strstr(err->msg, "RunPodSandbox"));
        crisp_error_free(&err);

        /* A known field with the wrong wire type: config (2) as a varint. */
        struct pb wrong = {0};
        put_uint(&wrong, 2, 7);
        assert_true(rewrite(CRISP_METHOD_CREATE_CONTAINER, &wrong, &default_policy, &res) < 0);

        /* A truncated message: length says 100, 3 bytes follow. */
        const uint8_t truncated[] = {0x12, 100, 1, 2, 3};
        assert_true(crisp_rewrite_request(CRISP_METHOD_CREATE_CONTAINER, truncated,
                                          sizeof(truncated), &default_policy, &res, NULL) < 0);
}

static void empty_request_is_unchanged(void **state)
{
        (void)state;
        struct crisp_rewrite_result res;
        assert_int_equal(crisp_rewrite_request(CRISP_METHOD_CREATE_CONTAINER, NULL, 0,
                                               &default_policy, &res, NULL),
                         0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

/* Names come from pod authors: they must not be able to forge log lines. */
static void identity_is_made_safe_for_logs(void **state)
{
        (void)state;
        struct pb md = {0}, cmd = {0}, cfg = {0}, lx = {0}, req = {0};
        put_str(&md, 1, "evil\"\nname");
        put_str(&md, 3, "ns");
        struct pb sb = {0};
        put_msg(&sb, 1, &md);
        put_str(&cmd, 1, "c\\x");
        put_msg(&cfg, 1, &cmd);
        put_msg(&cfg, 15, &lx);
        put_msg(&req, 2, &cfg);
        put_msg(&req, 3, &sb);
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &default_policy, &res), 0);
        assert_string_equal(res.pod_name, "evil??name");
        assert_string_equal(res.container, "c?x");
        crisp_rewrite_result_release(&res);
}

/* ---- issue 14: complain mode asks for a twin ------------------------------------ */

static struct {
        int calls;
        char context[32];
        size_t n_add, n_drop;
        char add0[32];
        bool fail;
} twin_seen;

static int fake_twin(void *arg, const struct crisp_twin_request *req, char *path, size_t size)
{
        (void)arg;
        twin_seen.calls++;
        snprintf(twin_seen.context, sizeof(twin_seen.context), "%s", req->context);
        if (strcmp(req->context, "container") == 0) {
                twin_seen.n_add = req->n_add;
                twin_seen.n_drop = req->n_drop;
                if (req->n_add)
                        snprintf(twin_seen.add0, sizeof(twin_seen.add0), "%.*s",
                                 (int)req->add[0].len, req->add[0].name);
        }
        if (twin_seen.fail)
                return -1;
        snprintf(path, size, "/twins/%s.json", req->context);
        return 0;
}

static void complain_gives_each_defaulted_context_its_twin(void **state)
{
        (void)state;
        memset(&twin_seen, 0, sizeof(twin_seen));
        /* capabilities (field 1) {add_capabilities 1: "SYS_ADMIN", drop 2: "ALL"} */
        struct pb caps = {0}, csc = {0};
        put_str(&caps, 1, "SYS_ADMIN");
        put_str(&caps, 2, "ALL");
        put_msg(&csc, 1, &caps);
        struct pb ssc = sandbox_sc("", ABSENT);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_options o = default_policy;
        o.complain = true;
        o.twin = fake_twin;
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &o, &res), 0);
        assert_int_equal(twin_seen.calls, 2);
        assert_int_equal(twin_seen.n_add, 1);
        assert_int_equal(twin_seen.n_drop, 1);
        assert_string_equal(twin_seen.add0, "SYS_ADMIN");
        assert_true(res.complain);
        assert_true(res.container_twin);
        assert_string_equal(res.twin, "/twins/container.json");
        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_non_null(out);
        const Crisp__Cri__LinuxContainerSecurityContext *c = out->config->linux->security_context;
        assert_int_equal(c->seccomp->profile_type, 2); /* Localhost */
        assert_bytes(c->seccomp->has_localhost_ref, c->seccomp->localhost_ref,
                     "/twins/container.json");
        assert_bytes(c->has_seccomp_profile_path, c->seccomp_profile_path,
                     "localhost//twins/container.json");
        /* the capabilities go on as they came */
        assert_int_equal(c->capabilities->n_add_capabilities, 1);
        const Crisp__Cri__LinuxSandboxSecurityContext *s =
            out->sandbox_config->linux->security_context;
        assert_bytes(s->seccomp->has_localhost_ref, s->seccomp->localhost_ref,
                     "/twins/sandbox_config.json");
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);
}

static void complain_without_a_twin_keeps_enforce_s_decision(void **state)
{
        (void)state;
        memset(&twin_seen, 0, sizeof(twin_seen));
        twin_seen.fail = true;
        struct pb csc = container_sc(0, "", ABSENT, NULL);
        struct pb ssc = sandbox_sc("", ABSENT);
        struct pb req = create_container(&csc, &ssc);
        struct crisp_rewrite_options o = default_policy;
        o.complain = true;
        o.twin = fake_twin;
        struct crisp_rewrite_result res;
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req, &o, &res), 0);
        assert_false(res.complain);
        assert_false(res.container_twin);
        Crisp__Cri__CreateContainerRequest *out =
            crisp__cri__create_container_request__unpack(NULL, res.len, res.bytes);
        assert_runtime_default(out->config->linux->security_context->seccomp);
        crisp__cri__create_container_request__free_unpacked(out, NULL);
        crisp_rewrite_result_release(&res);

        /* an explicit profile is never twinned: the rule keeps it */
        memset(&twin_seen, 0, sizeof(twin_seen));
        struct pb explicit_rd = container_sc(0, "", 0, NULL);
        struct pb sandbox_rd = sandbox_sc("runtime/default", 0);
        struct pb req2 = create_container(&explicit_rd, &sandbox_rd);
        assert_int_equal(rewrite(CRISP_METHOD_CREATE_CONTAINER, &req2, &o, &res), 0);
        assert_int_equal(twin_seen.calls, 0);
        assert_false(res.changed);
        crisp_rewrite_result_release(&res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(create_container_nothing_set_defaults_both_contexts),
            cmocka_unit_test(complain_gives_each_defaulted_context_its_twin),
            cmocka_unit_test(complain_without_a_twin_keeps_enforce_s_decision),
            cmocka_unit_test(present_empty_seccomp_is_explicit_runtime_default),
            cmocka_unit_test(kubelet_128_unconfined_follows_policy),
            cmocka_unit_test(explicit_unconfined_is_forwarded_unchanged),
            cmocka_unit_test(annotation_path_keeps_path_and_sets_field),
            cmocka_unit_test(stale_localhost_ref_is_dropped),
            cmocka_unit_test(localhost_profile_is_kept),
            cmocka_unit_test(duplicated_seccomp_is_merged_then_replaced),
            cmocka_unit_test(duplicated_parent_blocks_merge_like_the_runtime),
            cmocka_unit_test(unknown_fields_survive_a_rewrite),
            cmocka_unit_test(missing_security_context_gets_one),
            cmocka_unit_test(windows_requests_are_left_alone),
            cmocka_unit_test(privileged_gets_the_same_rule),
            cmocka_unit_test(rewriting_is_idempotent),
            cmocka_unit_test(run_pod_sandbox_nothing_set_is_defaulted),
            cmocka_unit_test(run_pod_sandbox_from_kubelet_is_unchanged),
            cmocka_unit_test(merged_occurrences_with_unknown_fields_are_refused),
            cmocka_unit_test(merged_occurrences_emptying_a_string_are_refused),
            cmocka_unit_test(strings_with_nul_bytes_survive),
            cmocka_unit_test(a_field_crisp_does_not_read_is_never_reinterpreted),
            cmocka_unit_test(field_number_zero_is_refused),
            cmocka_unit_test(known_field_with_wrong_wire_type_is_refused),
            cmocka_unit_test(both_api_versions_are_recognised),
            cmocka_unit_test(malformed_requests_are_errors_naming_the_method),
            cmocka_unit_test(empty_request_is_unchanged),
            cmocka_unit_test(identity_is_made_safe_for_logs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
