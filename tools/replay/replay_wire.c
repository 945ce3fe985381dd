/* Just enough of the protobuf wire format for the replay to compare and
 * patch messages it has no schema for (replay_wire.h). */
#include "replay_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than any CRI message; bounds the recursion on hostile input. */
#define MAX_DEPTH 32

static bool read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
                if (*pos >= len)
                        return false;
                uint8_t b = buf[(*pos)++];
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *out = v;
                        return true;
                }
        }
        return false;
}

int pb_next_field(const uint8_t *buf, size_t len, size_t *pos, struct pb_field *f)
{
        if (*pos >= len)
                return 0;
        size_t p = *pos;
        uint64_t key = 0, n = 0;
        f->start = p;
        if (!read_varint(buf, len, &p, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
                return -1;
        f->number = (uint32_t)(key >> 3);
        f->wire_type = (int)(key & 7);
        f->value = NULL;
        f->value_len = 0;
        switch (f->wire_type) {
        case 0:
                if (!read_varint(buf, len, &p, &n))
                        return -1;
                break;
        case 1:
        case 5: {
                size_t size = f->wire_type == 1 ? 8 : 4;
                if (len - p < size)
                        return -1;
                p += size;
                break;
        }
        case 2:
                if (!read_varint(buf, len, &p, &n) || n > len - p)
                        return -1;
                f->value = buf + p;
                f->value_len = (size_t)n;
                p += (size_t)n;
                break;
        default:
                return -1;
        }
        f->end = p;
        *pos = p;
        return 1;
}

bool pb_well_formed(const uint8_t *buf, size_t len)
{
        size_t pos = 0;
        struct pb_field f;
        int r;
        while ((r = pb_next_field(buf, len, &pos, &f)) == 1)
                ;
        return r == 0;
}

static uint32_t field_at(const uint8_t *buf, size_t len, size_t offset)
{
        size_t pos = 0;
        struct pb_field f;
        while (pb_next_field(buf, len, &pos, &f) == 1)
                if (offset >= f.start && offset < f.end)
                        return f.number;
        return 0;
}

bool pb_first_difference(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                         size_t *offset, uint32_t *field)
{
        size_t n = alen < blen ? alen : blen;
        size_t i = 0;
        while (i < n && a[i] == b[i])
                i++;
        if (i == n && alen == blen)
                return false;
        *offset = i;
        *field = i < blen ? field_at(b, blen, i) : field_at(a, alen, i);
        return true;
}

static size_t count_path(const uint8_t *buf, size_t len, const uint32_t *path, size_t depth)
{
        size_t pos = 0, count = 0;
        struct pb_field f;
        while (pb_next_field(buf, len, &pos, &f) == 1) {
                if (f.number != path[0])
                        continue;
                if (depth == 1)
                        count++;
                else if (f.wire_type == 2)
                        count += count_path(f.value, f.value_len, path + 1, depth - 1);
        }
        return count;
}

size_t pb_count_path(const uint8_t *buf, size_t len, const uint32_t *path, size_t depth)
{
        return depth == 0 ? 0 : count_path(buf, len, path, depth);
}

/* ---- substitution ----------------------------------------------------------- */

struct buf {
        uint8_t *p;
        size_t len, cap;
};

static int put(struct buf *b, const void *data, size_t n)
{
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                while (cap < b->len + n)
                        cap *= 2;
                uint8_t *p = realloc(b->p, cap);
                if (p == NULL)
                        return -ENOMEM;
                b->p = p;
                b->cap = cap;
        }
        if (n)
                memcpy(b->p + b->len, data, n);
        b->len += n;
        return 0;
}

static int put_varint(struct buf *b, uint64_t v)
{
        uint8_t tmp[10];
        size_t n = 0;
        do {
                tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v);
        return put(b, tmp, n);
}

static const struct pb_substitution *match(const uint8_t *v, size_t len,
                                           const struct pb_substitution *subs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (subs[i].from_len == len && memcmp(subs[i].from, v, len) == 0)
                        return &subs[i];
        return NULL;
}

/* Returns 1 (replaced; result in *out), 0 (nothing to replace), -ENOMEM. */
static int substitute(const uint8_t *buf, size_t len, const struct pb_substitution *subs, size_t n,
                      int depth, struct buf *out)
{
        if (depth > MAX_DEPTH || !pb_well_formed(buf, len))
                return 0;
        struct buf result = {0};
        bool changed = false;
        size_t pos = 0;
        struct pb_field f;
        int r = 0;
        while (r >= 0 && pb_next_field(buf, len, &pos, &f) == 1) {
                if (f.wire_type != 2) {
                        r = put(&result, buf + f.start, f.end - f.start);
                        continue;
                }
                const struct pb_substitution *s = match(f.value, f.value_len, subs, n);
                struct buf inner = {0};
                int sub = 0;
                if (s == NULL && f.value_len > 0)
                        sub = substitute(f.value, f.value_len, subs, n, depth + 1, &inner);
                if (sub < 0) {
                        r = sub;
                } else if (s != NULL || sub == 1) {
                        const uint8_t *v = s ? s->to : inner.p;
                        size_t vlen = s ? s->to_len : inner.len;
                        changed = true;
                        r = put_varint(&result, (uint64_t)f.number << 3 | 2);
                        if (r == 0)
                                r = put_varint(&result, vlen);
                        if (r == 0)
                                r = put(&result, v, vlen);
                } else {
                        r = put(&result, buf + f.start, f.end - f.start);
                }
                free(inner.p);
        }
        if (r < 0 || !changed) {
                free(result.p);
                return r < 0 ? r : 0;
        }
        *out = result;
        return 1;
}

int pb_substitute(const uint8_t *buf, size_t len, const struct pb_substitution *subs, size_t n,
                  uint8_t **out, size_t *out_len)
{
        if (n == 0)
                return 0;
        struct buf result = {0};
        int r = substitute(buf, len, subs, n, 0, &result);
        if (r == 1) {
                *out = result.p ? result.p : malloc(1);
                *out_len = result.len;
                if (*out == NULL)
                        return -ENOMEM;
        }
        return r;
}
