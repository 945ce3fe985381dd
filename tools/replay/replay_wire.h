/* Just enough of the protobuf wire format for the replay to compare and patch
 * messages it has no schema for: walk fields, find the first difference,
 * count occurrences of a field path, and substitute whole string values
 * (the ids a runtime hands out) anywhere in a message. */
#ifndef CRISP_REPLAY_WIRE_H
#define CRISP_REPLAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pb_field {
        uint32_t number;
        int wire_type;        /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
        const uint8_t *value; /* length-delimited: the payload */
        size_t value_len;
        size_t start, end; /* the whole field (tag included) within the message */
};

/* Reads the field at *pos and advances it. Returns 1, 0 at the end of the
 * message, or -1 when the bytes are not a well-formed message (groups, wire
 * types 3 and 4, count as not well-formed here). */
int pb_next_field(const uint8_t *buf, size_t len, size_t *pos, struct pb_field *f);

/* Whether buf[0..len) is a sequence of well-formed fields. */
bool pb_well_formed(const uint8_t *buf, size_t len);

/* Where a and b first differ: returns false when they are identical; else
 * the byte offset and the number of the top-level field of `b` (or of `a`,
 * past b's end) holding it (0 when that is not a well-formed message). */
bool pb_first_difference(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                         size_t *offset, uint32_t *field);

/* Occurrences of the field at `path` (field numbers from the top), counted
 * through every occurrence of each parent, as on the wire: a parser would
 * merge repeats, this counts them. */
size_t pb_count_path(const uint8_t *buf, size_t len, const uint32_t *path, size_t depth);

/* A value to replace, and what with. */
struct pb_substitution {
        uint8_t *from, *to;
        size_t from_len, to_len;
};

/* Writes to *out (malloc'd) a copy of buf in which every length-delimited
 * field whose whole value equals some `from` has `to` instead, also inside
 * nested messages (a value that is itself a well-formed message is searched).
 * Returns 1 when something was replaced, 0 when nothing was (*out untouched),
 * -ENOMEM. */
int pb_substitute(const uint8_t *buf, size_t len, const struct pb_substitution *subs, size_t n,
                  uint8_t **out, size_t *out_len);

#endif
