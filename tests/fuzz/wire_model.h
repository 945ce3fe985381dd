/* An independent reading of protobuf bytes, as the container runtime (Go
 * protobuf) reads them, for the fuzz targets' oracles.
 *
 * crisp decodes with protobuf-c. A check that decodes crisp's input and
 * output with protobuf-c as well cannot see where protobuf-c itself reads or
 * re-encodes a request differently from the runtime. This model is a second
 * decoder, written from the wire format alone, with Go's semantics:
 *
 *   - a known scalar or string field that occurs twice: the last one wins;
 *   - a repeated string or bytes field: each occurrence appends an element;
 *   - a known message field that occurs twice: the occurrences merge, field
 *     by field, and the unknown fields of all occurrences are kept, in order;
 *   - a known field with an unexpected wire type is an unknown field (the
 *     gogo-generated code of older runtimes rejects the request instead);
 *   - fields of any other number are unknown fields, kept as they came;
 *   - strings are byte strings (a NUL is an ordinary byte).
 *
 * Only the schema (which field numbers are known, and their types) comes from
 * the protobuf-c descriptors of api/cri.proto, so the model follows the
 * schema crisp is built with. Everything parsed lives in a wm_arena and
 * points into the bytes parsed, which must outlive the model. */
#ifndef CRISP_FUZZ_WIRE_MODEL_H
#define CRISP_FUZZ_WIRE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct wm_arena;
struct wm_msg;

/* How to read: Go's semantics by default. Each flag replaces one of them by
 * protobuf-c's own, to tolerate a known difference (see fuzz_rewrite.c). */
struct wm_options {
        /* A known string ends at its first NUL, as a C string does. */
        bool c_strings;
        /* A known message field that occurs again: the later occurrence keeps
         * its own unknown fields only, those of earlier occurrences are lost
         * (protobuf-c's merge_messages). */
        bool drop_merged_unknowns;
        /* A known bool field accepts any wire type and is true when any of
         * its bytes after the key (a length prefix included) has one of its
         * low 7 bits set (protobuf-c's parse_boolean, which does not check
         * the wire type). Go reads such a field as an unknown field. */
        bool bool_any_wire_type;
};

struct wm_arena *wm_arena_new(void);
void wm_arena_free(struct wm_arena *a);

/* Parses `data` as message `desc`. NULL when Go's protobuf would reject the
 * bytes (bad varint, truncated field, field number 0 or above 2^29-1, group
 * or invalid wire types). */
struct wm_msg *wm_parse(struct wm_arena *a, const ProtobufCMessageDescriptor *desc,
                        const uint8_t *data, size_t len, const struct wm_options *opts);

/* Same fields with the same values (scalars compared as their type reads
 * them), same presence, same unknown fields in the same order. When not,
 * and `why` is not NULL, says where the first difference is. */
bool wm_equal(const struct wm_msg *x, const struct wm_msg *y, char *why, size_t why_size);

/* True when nothing is set and there are no unknown fields. */
bool wm_is_empty(const struct wm_msg *m);

/* The sub-message in known field `number`, or NULL when absent. */
struct wm_msg *wm_msg_field(const struct wm_msg *m, uint32_t number);

/* The sub-message in known field `number`, created empty when absent. */
struct wm_msg *wm_msg_field_ensure(struct wm_arena *a, struct wm_msg *m, uint32_t number);

/* Known string field `number`: true when present, with its bytes. */
bool wm_string_field(const struct wm_msg *m, uint32_t number, const uint8_t **s, size_t *len);

/* Known varint field `number`: true when present, with its raw 64-bit value. */
bool wm_varint_field(const struct wm_msg *m, uint32_t number, uint64_t *v);

/* Makes known field `number` absent. */
void wm_clear_field(struct wm_msg *m, uint32_t number);

#endif
