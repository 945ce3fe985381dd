/* Checks that protobuf-c reads a request as the runtime (Go protobuf) will
 * before crisp decodes it (wire_check.h). */
#include "rule/wire_check.h"

#include <errno.h>
#include <stdbool.h>

/* Limits: the schema's deepest path is 5 messages; the cap only guards the
 * recursion against hostile nesting of known fields. */
#define MAX_DEPTH  16
#define MAX_FIELDS 16 /* more than any message of api/cri.proto has */

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

struct field {
        uint32_t number;
        unsigned wire_type;
        const uint8_t *value; /* for WT_LEN: the payload */
        size_t value_len;
};

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
        uint64_t v = 0;
        for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
                uint8_t b = *(*p)++;
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *out = v;
                        return true;
                }
        }
        return false;
}

/* Reads the next field at *p; false on a malformed one. */
static bool next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
        uint64_t tag, n;
        if (!read_varint(p, end, &tag))
                return false;
        f->number = (uint32_t)(tag >> 3);
        f->wire_type = (unsigned)(tag & 7);
        f->value = NULL;
        f->value_len = 0;
        if ((tag >> 3) > 0x1fffffff)
                return false;
        switch (f->wire_type) {
        case WT_VARINT:
                return read_varint(p, end, &n);
        case WT_FIXED64:
                if (end - *p < 8)
                        return false;
                *p += 8;
                return true;
        case WT_FIXED32:
                if (end - *p < 4)
                        return false;
                *p += 4;
                return true;
        case WT_LEN:
                if (!read_varint(p, end, &n) || n > (uint64_t)(end - *p))
                        return false;
                f->value = *p;
                f->value_len = (size_t)n;
                *p += n;
                return true;
        default: /* groups (3, 4) and the unused 6, 7: not in the CRI */
                return false;
        }
}

static unsigned wire_type_of(ProtobufCType type)
{
        switch (type) {
        case PROTOBUF_C_TYPE_MESSAGE:
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_BYTES:
                return WT_LEN;
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                return WT_FIXED64;
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_FLOAT:
                return WT_FIXED32;
        default:
                return WT_VARINT;
        }
}

/* Does this message hold, at any depth of known messages, a field the
 * schema does not know? */
static bool has_unknown_fields(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                               const uint8_t *end, int depth)
{
        struct field f;
        while (p < end) {
                if (!next_field(&p, end, &f))
                        return true; /* unreadable: treat as unknown */
                const ProtobufCFieldDescriptor *fd =
                    protobuf_c_message_descriptor_get_field(desc, f.number);
                if (fd == NULL)
                        return true;
                if (fd->type == PROTOBUF_C_TYPE_MESSAGE && depth < MAX_DEPTH &&
                    has_unknown_fields(fd->descriptor, f.value, f.value + f.value_len, depth + 1))
                        return true;
        }
        return false;
}

/* Does this message hold, at any depth of known messages, a known string or
 * bytes field (not repeated) of length 0? protobuf-c keeps an empty one with
 * no data pointer, and its merge of a repeated message then takes the
 * earlier occurrence's value where Go takes the later, empty one. */
static bool has_empty_bytes_field(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                                  const uint8_t *end, int depth)
{
        struct field f;
        while (p < end) {
                if (!next_field(&p, end, &f))
                        return true; /* unreadable: checked elsewhere; refuse rather than guess */
                const ProtobufCFieldDescriptor *fd =
                    protobuf_c_message_descriptor_get_field(desc, f.number);
                if (fd == NULL || f.wire_type != WT_LEN)
                        continue;
                if ((fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_BYTES) &&
                    fd->label != PROTOBUF_C_LABEL_REPEATED && f.value_len == 0)
                        return true;
                if (fd->type == PROTOBUF_C_TYPE_MESSAGE && depth < MAX_DEPTH &&
                    has_empty_bytes_field(fd->descriptor, f.value, f.value + f.value_len,
                                          depth + 1))
                        return true;
        }
        return false;
}

static int check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                 const char *what, int depth, crisp_error **err)
{
        if (depth > MAX_DEPTH)
                return crisp_error_set(err, EINVAL, "%s: messages nested too deeply", what);
        if (desc->n_fields > MAX_FIELDS)
                return crisp_error_set(err, EINVAL, "internal: %s has too many fields", desc->name);

        /* The last occurrence of each known message field, so that earlier
         * ones can be told apart from it in a second pass. */
        const uint8_t *first[MAX_FIELDS] = {0};
        const uint8_t *last[MAX_FIELDS] = {0};
        unsigned count[MAX_FIELDS] = {0};

        const uint8_t *p = data, *end = data + len;
        struct field f;
        while (p < end) {
                if (!next_field(&p, end, &f))
                        return crisp_error_set(err, EINVAL, "%s: %s: a malformed field", what,
                                               desc->short_name);
                if (f.number == 0)
                        return crisp_error_set(err, EINVAL, "%s: %s: a field numbered 0", what,
                                               desc->short_name);
                const ProtobufCFieldDescriptor *fd =
                    protobuf_c_message_descriptor_get_field(desc, f.number);
                if (fd == NULL)
                        continue; /* unknown: carried through as bytes */
                if (f.wire_type != wire_type_of(fd->type))
                        return crisp_error_set(
                            err, EINVAL, "%s: %s.%s: wire type %u where the CRI has %u", what,
                            desc->short_name, fd->name, f.wire_type, wire_type_of(fd->type));
                if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;
                size_t i = (size_t)(fd - desc->fields);
                if (count[i]++ == 0)
                        first[i] = f.value;
                last[i] = f.value;
                int r = check(fd->descriptor, f.value, f.value_len, what, depth + 1, err);
                if (r < 0)
                        return r;
        }

        /* Second pass: earlier occurrences of a repeated known message must
         * not carry unknown fields, which protobuf-c's merge would drop. */
        p = data;
        while (p < end) {
                next_field(&p, end, &f); /* well-formed: checked above */
                const ProtobufCFieldDescriptor *fd =
                    protobuf_c_message_descriptor_get_field(desc, f.number);
                if (fd == NULL || fd->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;
                size_t i = (size_t)(fd - desc->fields);
                if (count[i] > 1 && f.value != last[i] &&
                    has_unknown_fields(fd->descriptor, f.value, f.value + f.value_len, depth))
                        return crisp_error_set(err, EINVAL,
                                               "%s: %s.%s occurs %u times and an earlier one "
                                               "holds fields crisp cannot merge",
                                               what, desc->short_name, fd->name, count[i]);
                /* ...and a later one must not set a string or bytes field to
                 * empty, which protobuf-c's merge would undo (tests/fuzz found
                 * it: a second sandbox_config with metadata.uid ""). */
                if (count[i] > 1 && f.value != first[i] &&
                    has_empty_bytes_field(fd->descriptor, f.value, f.value + f.value_len, depth))
                        return crisp_error_set(err, EINVAL,
                                               "%s: %s.%s occurs %u times and a later one "
                                               "empties a field crisp cannot merge",
                                               what, desc->short_name, fd->name, count[i]);
        }
        return 0;
}

int crisp_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                     const char *what, crisp_error **err)
{
        return check(desc, data, len, what, 0, err);
}
