/* libFuzzer target: crisp_rewrite_request, the rewriter the proxy runs on
 * every RunPodSandbox and CreateContainer request.
 *
 * Input: one selector byte, then the request bytes.
 *   selector bit 0: 0 = RunPodSandbox, 1 = CreateContainer
 *   selector bit 1: 0 = --ambiguous-unconfined=runtime-default, 1 = keep
 *   (the other bits are ignored)
 *
 * Besides "no crash, no leak, no undefined behaviour" (ASan, LSan, UBSan),
 * every run checks these invariants and traps when one does not hold:
 *
 *  1. The call either fails (negative errno, err set, its message names the
 *     method, no bytes) or succeeds (0, err untouched); it fails exactly when
 *     protobuf-c cannot decode the request.
 *  2. Success, changed == false: no bytes (the proxy forwards the input as
 *     is) and no changes listed.
 *  3. Success, changed == true: the output decodes, and every context listed
 *     in result.changes holds exactly seccomp {RuntimeDefault}: no
 *     profile_type (or 0), no localhost_ref, nothing else.
 *  4. Idempotence: crisp's own output, rewritten again under the same policy
 *     (and, after runtime-default, under keep), is left unchanged.
 *  5. Nothing but seccomp changes, checked twice:
 *     a. with protobuf-c (check_fields_survive_protobuf_c), and
 *     b. with an independent decoder that reads bytes as the runtime does
 *        (wire_model.h; check_against_the_runtimes_reading).
 *  6. At most CRISP_REWRITE_MAX_CHANGES changes, each naming a context of
 *     the method ("sandbox" for RunPodSandbox; "container", "sandbox_config"
 *     for CreateContainer), none twice; everything that ends up in a log line
 *     (identity, before/after) is NUL-terminated and log-safe.
 *  7. The rule: a context is listed exactly when the table of
 *     docs/seccomp-rule.md, applied to the request as the runtime reads it,
 *     says to change it, and its path is set as the table says.
 *
 * Known differences between protobuf-c and the runtime's decoder can be
 * tolerated, one by one, to keep fuzzing past a finding until it is fixed:
 *   CRISP_FUZZ_TOLERATE=nul-in-strings,merged-unknowns,bool-wire-types,tag-zero
 * Without it (the default) every difference is a finding. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"
#include "rule/rewrite.h"
#include "wire_model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET "fuzz_rewrite"
#include "fuzz_check.h"

/* ---- where the security contexts are ------------------------------------------- */

/* Field numbers of the CRI (api/cri.proto), the same in runtime.v1 and
 * v1alpha2: the path from the request to the context's parent (`linux`), the
 * context's field in it, and the context's two seccomp fields. */
static const struct context_def {
        const char *name;
        enum crisp_method method;
        uint32_t to_linux[2];
        uint32_t security_context;
        uint32_t path; /* seccomp_profile_path */
        uint32_t seccomp;
} contexts[] = {
    {"sandbox", CRISP_METHOD_RUN_POD_SANDBOX, {1, 8}, 2, 7, 9},
    {"container", CRISP_METHOD_CREATE_CONTAINER, {2, 15}, 2, 10, 15},
    {"sandbox_config", CRISP_METHOD_CREATE_CONTAINER, {3, 8}, 2, 7, 9},
};
#define N_CONTEXTS (sizeof(contexts) / sizeof(contexts[0]))

enum { SECURITY_PROFILE_TYPE = 1 }; /* SecurityProfile.profile_type */

static const ProtobufCMessageDescriptor *descriptor_of(enum crisp_method method)
{
        return method == CRISP_METHOD_RUN_POD_SANDBOX
                   ? &crisp__cri__run_pod_sandbox_request__descriptor
                   : &crisp__cri__create_container_request__descriptor;
}

static const struct context_def *context_named(enum crisp_method method, const char *name)
{
        for (size_t i = 0; i < N_CONTEXTS; i++)
                if (contexts[i].method == method && strcmp(contexts[i].name, name) == 0)
                        return &contexts[i];
        return NULL;
}

static const struct crisp_seccomp_change *change_for(const struct crisp_rewrite_result *res,
                                                     const char *context)
{
        for (size_t i = 0; i < res->n_changes; i++)
                if (strcmp(res->changes[i].context, context) == 0)
                        return &res->changes[i];
        return NULL;
}

/* ---- the tolerated known differences -------------------------------------------- */

static struct wm_options tolerated;
static bool tolerate_tag_zero;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        const char *env = getenv("CRISP_FUZZ_TOLERATE");
        if (env == NULL || *env == '\0')
                return 0;
        char *list = strdup(env), *save = NULL;
        if (list == NULL)
                abort();
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcmp(t, "nul-in-strings") == 0)
                        tolerated.c_strings = true;
                else if (strcmp(t, "merged-unknowns") == 0)
                        tolerated.drop_merged_unknowns = true;
                else if (strcmp(t, "bool-wire-types") == 0)
                        tolerated.bool_any_wire_type = true;
                else if (strcmp(t, "tag-zero") == 0)
                        tolerate_tag_zero = true;
                else {
                        fprintf(stderr, "fuzz_rewrite: CRISP_FUZZ_TOLERATE: unknown '%s'\n", t);
                        exit(2);
                }
        }
        fprintf(stderr, "fuzz_rewrite: tolerating known differences: %s\n", env);
        free(list);
        return 0;
}

/* ---- 1, 2, 6: the shape of the result ----------------------------------------- */

static void check_log_safe(const char *s, size_t size, const char *what)
{
        size_t n = strnlen(s, size);
        CHECK(n < size, "%s is not NUL-terminated", what);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                CHECK(c >= 0x20 && c != 0x7f && c != '"' && c != '\\',
                      "%s has byte 0x%02x at %zu, unsafe in a log line", what, c, i);
        }
}

static void check_error(enum crisp_method method, int r, const crisp_error *err,
                        const struct crisp_rewrite_result *res)
{
        CHECK(err != NULL, "failure %d without an error", r);
        CHECK(err->code > 0 && r == -err->code, "return %d, error code %d", r, err->code);
        CHECK(err->msg != NULL, "error without a message");
        CHECK(strstr(err->msg, crisp_method_name(method)) != NULL,
              "error message does not name %s: %s", crisp_method_name(method), err->msg);
        CHECK(!res->changed && res->bytes == NULL, "failure left bytes in the result");
}

static void check_result_shape(enum crisp_method method, const struct crisp_rewrite_result *res)
{
        CHECK(res->n_changes <= CRISP_REWRITE_MAX_CHANGES, "%zu changes", res->n_changes);
        if (res->changed) {
                CHECK(res->bytes != NULL, "changed without bytes");
                CHECK(res->n_changes > 0, "changed, but no change listed");
        } else {
                CHECK(res->bytes == NULL && res->len == 0, "unchanged, but bytes (%zu) to forward",
                      res->len);
                CHECK(res->n_changes == 0, "unchanged, but %zu changes listed", res->n_changes);
        }
        for (size_t i = 0; i < res->n_changes; i++) {
                const struct crisp_seccomp_change *c = &res->changes[i];
                CHECK(c->context != NULL, "change %zu without a context", i);
                CHECK(context_named(method, c->context) != NULL,
                      "change %zu names context '%s', not one of %s", i, c->context,
                      crisp_method_name(method));
                CHECK(change_for(res, c->context) == c, "context %s listed twice", c->context);
                CHECK(c->why != NULL && *c->why, "change %zu without a reason", i);
                check_log_safe(c->before, sizeof(c->before), "change.before");
                check_log_safe(c->after, sizeof(c->after), "change.after");
        }
        check_log_safe(res->pod_namespace, sizeof(res->pod_namespace), "pod_namespace");
        check_log_safe(res->pod_name, sizeof(res->pod_name), "pod_name");
        check_log_safe(res->pod_uid, sizeof(res->pod_uid), "pod_uid");
        check_log_safe(res->container, sizeof(res->container), "container");
}

/* The messages of src/rule/wire_check.c's refusals. */
static bool refused_by_wire_check(const char *msg)
{
        static const char *const reasons[] = {
            "a field numbered 0",
            "where the CRI has",
            "holds fields crisp cannot merge",
            "empties a field crisp cannot merge",
            "a malformed field",
            "messages nested too deeply",
        };
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
                if (strstr(msg, reasons[i]) != NULL)
                        return true;
        return false;
}

/* ---- 3, 5a: with protobuf-c ------------------------------------------------------- */

static ProtobufCMessage **message_slot(ProtobufCMessage *m, uint32_t id)
{
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(m->descriptor, id);
        CHECK(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE, "%s: no message field %u",
              m->descriptor->name, id);
        return (ProtobufCMessage **)((char *)m + f->offset);
}

/* The strings crisp reads are proto2 `optional bytes` (api/cri.proto). */
struct bytes_slot {
        protobuf_c_boolean *has;
        ProtobufCBinaryData *value;
};

static struct bytes_slot bytes_slot(ProtobufCMessage *m, uint32_t id)
{
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(m->descriptor, id);
        CHECK(f != NULL && f->type == PROTOBUF_C_TYPE_BYTES, "%s: no bytes field %u",
              m->descriptor->name, id);
        struct bytes_slot s = {(protobuf_c_boolean *)((char *)m + f->quantifier_offset),
                               (ProtobufCBinaryData *)((char *)m + f->offset)};
        return s;
}

/* The context's parent (`linux`) in a decoded request, or NULL. */
static ProtobufCMessage *linux_of(ProtobufCMessage *req, const struct context_def *c)
{
        ProtobufCMessage *m = req;
        for (size_t i = 0; i < 2 && m != NULL; i++)
                m = *message_slot(m, c->to_linux[i]);
        return m;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
        *len = protobuf_c_message_get_packed_size(m);
        uint8_t *b = malloc(*len ? *len : 1);
        if (b == NULL)
                abort();
        CHECK(protobuf_c_message_pack(m, b) == *len, "pack size");
        return b;
}

/* Decodes input and output with protobuf-c, checks invariant 3, removes the
 * two seccomp members of each rewritten context from both, and compares the
 * re-encoded bytes.
 *
 * Why equal bytes are expected: protobuf-c encodes the known fields in field
 * number order and then the unknown fields in the order they were read, and
 * decoding keeps every value and presence (an empty sub-message decodes as
 * present). So encode(decode(x)) is a normal form of x, and decode(encode(m))
 * gives m back. crisp's output is encode(M) with M = decode(input) plus its
 * edits; re-decoding the output gives M again (one exception, a field
 * number 0: see output_decodes). Duplicated fields are merged
 * the same way on both sides, because both sides are decoded by protobuf-c.
 * What this check cannot see is a difference between protobuf-c's reading
 * of the input and the runtime's: that is 5b's job.
 *
 * The one legitimate difference besides seccomp: a Linux context with no
 * security_context at all has nothing set, and crisp creates the
 * security_context to put RuntimeDefault in. On the output side, such a
 * created context must then be empty once the two seccomp members are gone
 * (which the comparison of the bytes would otherwise hide), and is removed. */
static void check_fields_survive_protobuf_c(enum crisp_method method, const uint8_t *in,
                                            size_t in_len, const struct crisp_rewrite_result *res)
{
        const ProtobufCMessageDescriptor *desc = descriptor_of(method);
        ProtobufCMessage *a = protobuf_c_message_unpack(desc, NULL, in_len, in);
        ProtobufCMessage *b = protobuf_c_message_unpack(desc, NULL, res->len, res->bytes);
        CHECK(a != NULL, "the input decoded for crisp but not here");
        CHECK(b != NULL, "crisp's output (%zu bytes) does not decode", res->len);

        for (size_t i = 0; i < res->n_changes; i++) {
                const struct context_def *c = context_named(method, res->changes[i].context);
                ProtobufCMessage *la = linux_of(a, c), *lb = linux_of(b, c);
                CHECK(la != NULL, "%s rewritten, but the input has no linux block", c->name);
                CHECK(lb != NULL, "%s rewritten, but the output has no linux block", c->name);
                ProtobufCMessage **sca = message_slot(la, c->security_context);
                ProtobufCMessage **scb = message_slot(lb, c->security_context);
                CHECK(*scb != NULL, "%s rewritten, but the output has no security context",
                      c->name);

                ProtobufCMessage **fb = message_slot(*scb, c->seccomp);
                const Crisp__Cri__SecurityProfile *sp = (const Crisp__Cri__SecurityProfile *)*fb;
                CHECK(sp != NULL, "%s: no seccomp field in the output", c->name);
                CHECK(!sp->has_profile_type || sp->profile_type == 0, "%s: output profile_type %d",
                      c->name, sp->profile_type);
                CHECK(!sp->has_localhost_ref, "%s: output keeps a localhost_ref", c->name);
                CHECK(sp->base.n_unknown_fields == 0, "%s: output seccomp has unknown fields",
                      c->name);
                CHECK(*bytes_slot(*scb, c->path).has, "%s: output has no path", c->name);

                /* Remove both seccomp members on both sides. */
                ProtobufCMessage **sides[2] = {sca, scb};
                for (int s = 0; s < 2; s++) {
                        if (*sides[s] == NULL)
                                continue;
                        ProtobufCMessage **f = message_slot(*sides[s], c->seccomp);
                        protobuf_c_message_free_unpacked(*f, NULL);
                        *f = NULL;
                        struct bytes_slot p = bytes_slot(*sides[s], c->path);
                        free(p.value->data); /* protobuf-c's default allocator is malloc */
                        p.value->data = NULL;
                        p.value->len = 0;
                        *p.has = 0;
                }
                if (*sca == NULL) {
                        CHECK(protobuf_c_message_get_packed_size(*scb) == 0,
                              "%s: the security context crisp created holds more than seccomp",
                              c->name);
                        protobuf_c_message_free_unpacked(*scb, NULL);
                        *scb = NULL;
                }
        }

        size_t la_len, lb_len;
        uint8_t *pa = pack(a, &la_len), *pb = pack(b, &lb_len);
        CHECK(la_len == lb_len && memcmp(pa, pb, la_len) == 0,
              "fields other than seccomp changed (protobuf-c view: %zu vs %zu bytes)", la_len,
              lb_len);
        free(pa);
        free(pb);
        protobuf_c_message_free_unpacked(a, NULL);
        protobuf_c_message_free_unpacked(b, NULL);
}

/* Whether protobuf-c read a field number 0 anywhere in `m` (as an unknown
 * field). It refuses the one-byte key 00 but reads a longer encoding of the
 * same key (80 00), and writes it back as 00: output it cannot read itself. */
static bool has_field_number_zero(const ProtobufCMessage *m)
{
        for (unsigned i = 0; i < m->n_unknown_fields; i++)
                if (m->unknown_fields[i].tag == 0)
                        return true;
        for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
                if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;
                const ProtobufCMessage *sub =
                    *(const ProtobufCMessage *const *)((const char *)m + f->offset);
                if (sub != NULL && has_field_number_zero(sub))
                        return true;
        }
        return false;
}

/* Invariant 3's "the output decodes"; false only for the tolerated "tag-zero". */
static bool output_decodes(enum crisp_method method, const uint8_t *in, size_t in_len,
                           const struct crisp_rewrite_result *res)
{
        const ProtobufCMessageDescriptor *desc = descriptor_of(method);
        ProtobufCMessage *out = protobuf_c_message_unpack(desc, NULL, res->len, res->bytes);
        if (out != NULL) {
                protobuf_c_message_free_unpacked(out, NULL);
                return true;
        }
        ProtobufCMessage *a = protobuf_c_message_unpack(desc, NULL, in_len, in);
        bool zero = a != NULL && has_field_number_zero(a);
        protobuf_c_message_free_unpacked(a, NULL);
        CHECK(tolerate_tag_zero && zero, "crisp's output (%zu bytes) does not decode%s", res->len,
              zero ? " (the input has a field number 0)" : "");
        return false;
}

/* ---- 4: idempotence ------------------------------------------------------------- */

/* Rewriting crisp's output again under the same policy changes nothing. Under
 * runtime-default, `keep` (which changes a subset of what runtime-default
 * changes) must not change it either; the converse does not hold: what
 * `keep` left alone, runtime-default may still change. */
static void check_idempotent(enum crisp_method method, const struct crisp_rewrite_options *opts,
                             const struct crisp_rewrite_result *res)
{
        const enum crisp_ambiguous_policy policies[] = {opts->ambiguous, CRISP_AMBIGUOUS_KEEP};
        size_t n = opts->ambiguous == CRISP_AMBIGUOUS_KEEP ? 1 : 2;
        for (size_t i = 0; i < n; i++) {
                struct crisp_rewrite_options o = {.ambiguous = policies[i]};
                struct crisp_rewrite_result again;
                crisp_error *err = NULL;
                int r = crisp_rewrite_request(method, res->bytes, res->len, &o, &again, &err);
                CHECK(r == 0 && err == NULL, "crisp's own output fails: %s",
                      err ? err->msg : "(no error)");
                CHECK(!again.changed,
                      "crisp's own output changes again under policy %d (%zu changes, first %s)",
                      (int)o.ambiguous, again.n_changes,
                      again.n_changes ? again.changes[0].context : "-");
                crisp_rewrite_result_release(&again);
        }
}

/* ---- 5b, 7: as the runtime reads the request -------------------------------------- */

enum action { KEEP, DEFAULT_BOTH, DEFAULT_FIELD };

/* docs/seccomp-rule.md, "The rule", written again from the prose: P is the
 * path, F the seccomp field. */
static enum action rule(const uint8_t *p, size_t p_len, bool f_present, int32_t f_type,
                        enum crisp_ambiguous_policy policy)
{
        bool p_empty = p_len == 0;
        bool p_unconfined = p_len == 10 && memcmp(p, "unconfined", 10) == 0;
        if (!f_present) /* "" -> default both; "unconfined" or other -> unchanged */
                return p_empty ? DEFAULT_BOTH : KEEP;
        if (f_type != 1) /* RuntimeDefault, Localhost, or a type newer than the CRI */
                return KEEP;
        /* F Unconfined */
        if (p_empty)
                return policy == CRISP_AMBIGUOUS_KEEP ? KEEP : DEFAULT_BOTH;
        return p_unconfined ? KEEP : DEFAULT_FIELD;
}

static struct wm_msg *wm_linux_of(const struct wm_msg *req, const struct context_def *c)
{
        struct wm_msg *m = wm_msg_field(req, c->to_linux[0]);
        return m ? wm_msg_field(m, c->to_linux[1]) : NULL;
}

static void check_against_the_runtimes_reading(enum crisp_method method,
                                               const struct crisp_rewrite_options *opts,
                                               const uint8_t *in, size_t in_len,
                                               const struct crisp_rewrite_result *res)
{
        const ProtobufCMessageDescriptor *desc = descriptor_of(method);
        static const struct wm_options go = {0};
        struct wm_arena *arena = wm_arena_new();
        struct wm_msg *a = wm_parse(arena, desc, in, in_len, &tolerated);
        if (a == NULL) {
                /* The runtime would refuse these bytes (e.g. field number 0, an
                 * 11-byte varint) even though protobuf-c reads them: there is
                 * no reading of the request for crisp to be faithful to. */
                wm_arena_free(arena);
                return;
        }
        struct wm_msg *b = NULL;
        if (res->changed) {
                b = wm_parse(arena, desc, res->bytes, res->len, &go);
                CHECK(b != NULL, "the runtime could not read crisp's output");
        }

        for (size_t i = 0; i < N_CONTEXTS; i++) {
                const struct context_def *c = &contexts[i];
                if (c->method != method)
                        continue;
                const struct crisp_seccomp_change *change = change_for(res, c->name);
                struct wm_msg *linux = wm_linux_of(a, c);
                if (linux == NULL) { /* a Windows pod or container: left alone */
                        CHECK(change == NULL, "%s: rewritten without a linux block", c->name);
                        continue;
                }
                struct wm_msg *sc = wm_msg_field(linux, c->security_context);
                const uint8_t *p = NULL;
                size_t p_len = 0;
                struct wm_msg *f = NULL;
                uint64_t type = 0;
                if (sc) {
                        wm_string_field(sc, c->path, &p, &p_len);
                        f = wm_msg_field(sc, c->seccomp);
                        if (f)
                                wm_varint_field(f, SECURITY_PROFILE_TYPE, &type);
                }
                enum action want = rule(p, p_len, f != NULL, (int32_t)type, opts->ambiguous);
                CHECK((want != KEEP) == (change != NULL),
                      "%s: the rule says %s, crisp %s (path '%.*s' len %zu, seccomp %s type %d, "
                      "policy %d)",
                      c->name, want == KEEP ? "keep" : "change", change ? "changed it" : "kept it",
                      (int)p_len, p ? (const char *)p : "", p_len, f ? "present" : "absent",
                      (int)(int32_t)type, (int)opts->ambiguous);
                if (change == NULL)
                        continue;

                /* The context in the output, as the runtime reads it. */
                struct wm_msg *lb = wm_linux_of(b, c);
                struct wm_msg *scb = lb ? wm_msg_field(lb, c->security_context) : NULL;
                CHECK(scb != NULL, "%s: no security context in the output", c->name);
                struct wm_msg *fb = wm_msg_field(scb, c->seccomp);
                CHECK(fb != NULL && wm_is_empty(fb), "%s: output seccomp is not exactly {}",
                      c->name);
                const uint8_t *pb;
                size_t pb_len;
                bool pb_present = wm_string_field(scb, c->path, &pb, &pb_len);
                if (want == DEFAULT_BOTH)
                        CHECK(pb_present && pb_len == 15 && memcmp(pb, "runtime/default", 15) == 0,
                              "%s: output path is not runtime/default", c->name);
                else
                        CHECK(pb_present && pb_len == p_len && memcmp(pb, p, p_len) == 0,
                              "%s: output path '%.*s' is not the input's '%.*s'", c->name,
                              (int)pb_len, pb ? (const char *)pb : "", (int)p_len,
                              p ? (const char *)p : "");

                /* Remove both seccomp members on both sides; a context crisp
                 * had to create is compared as an empty one (see 5a). */
                sc = wm_msg_field_ensure(arena, linux, c->security_context);
                wm_clear_field(sc, c->path);
                wm_clear_field(sc, c->seccomp);
                wm_clear_field(scb, c->path);
                wm_clear_field(scb, c->seccomp);
        }
        char why[512];
        if (b != NULL)
                CHECK(wm_equal(a, b, why, sizeof(why)),
                      "fields other than seccomp changed, as the runtime reads them (%s)", why);
        wm_arena_free(arena);
}

/* ---- the target ------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        enum crisp_method method =
            (data[0] & 1) ? CRISP_METHOD_CREATE_CONTAINER : CRISP_METHOD_RUN_POD_SANDBOX;
        struct crisp_rewrite_options opts = {
            .ambiguous = (data[0] & 2) ? CRISP_AMBIGUOUS_KEEP : CRISP_AMBIGUOUS_RUNTIME_DEFAULT};
        const uint8_t *in = data + 1;
        size_t in_len = size - 1;

        ProtobufCMessage *decoded =
            protobuf_c_message_unpack(descriptor_of(method), NULL, in_len, in);
        bool decodes = decoded != NULL;
        protobuf_c_message_free_unpacked(decoded, NULL);

        struct crisp_rewrite_result res;
        crisp_error *err = NULL;
        int r = crisp_rewrite_request(method, in, in_len, &opts, &res, &err);
        if (r < 0) {
                check_error(method, r, err, &res);
                /* A request protobuf-c decodes may be refused only for one of
                 * the reasons src/rule/wire_check.h documents: where protobuf-c
                 * would read or re-encode it differently from the runtime. */
                CHECK(!decodes || refused_by_wire_check(err->msg),
                      "crisp refused a request protobuf-c decodes: %s", err->msg);
                crisp_error_free(&err);
                return 0;
        }
        CHECK(r == 0, "return %d", r);
        CHECK(err == NULL, "success with an error set: %s", err->msg);
        CHECK(decodes, "crisp accepted a request protobuf-c does not decode");

        check_result_shape(method, &res);
        if (res.changed && !output_decodes(method, in, in_len, &res)) {
                /* Tolerated "tag-zero": the runtime refuses the input and the
                 * output alike (field number 0); nothing more to compare. */
                crisp_rewrite_result_release(&res);
                return 0;
        }
        if (res.changed) {
                check_fields_survive_protobuf_c(method, in, in_len, &res);
                check_idempotent(method, &opts, &res);
        }
        check_against_the_runtimes_reading(method, &opts, in, in_len, &res);
        crisp_rewrite_result_release(&res);
        return 0;
}
