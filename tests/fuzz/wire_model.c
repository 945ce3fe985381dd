/* An independent reading of protobuf bytes, as Go protobuf reads them, for
 * the fuzz targets' oracles (wire_model.h). */
#include "wire_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------------ */

struct chunk {
        struct chunk *next;
        size_t used, cap;
        unsigned char *mem; /* from malloc: suitably aligned for anything */
};

struct wm_arena {
        struct chunk *head;
};

struct wm_arena *wm_arena_new(void)
{
        struct wm_arena *a = calloc(1, sizeof(*a));
        if (a == NULL)
                abort();
        return a;
}

void wm_arena_free(struct wm_arena *a)
{
        if (a == NULL)
                return;
        for (struct chunk *c = a->head, *next; c != NULL; c = next) {
                next = c->next;
                free(c->mem);
                free(c);
        }
        free(a);
}

static void *arena_alloc(struct wm_arena *a, size_t size)
{
        size = (size + 15) & ~(size_t)15;
        struct chunk *c = a->head;
        if (c == NULL || c->cap - c->used < size) {
                size_t cap = size > 16384 ? size : 16384;
                c = malloc(sizeof(*c));
                if (c == NULL || (c->mem = malloc(cap)) == NULL)
                        abort();
                c->used = 0;
                c->cap = cap;
                c->next = a->head;
                a->head = c;
        }
        void *p = c->mem + c->used;
        c->used += size;
        memset(p, 0, size);
        return p;
}

/* ---- the model ------------------------------------------------------------- */

struct wm_unknown {
        uint32_t number;
        uint8_t wire_type;
        const uint8_t *data; /* varint: its bytes as sent; length-delimited: the payload */
        size_t len;
};

/* One element of a repeated string or bytes field. */
struct wm_item {
        const uint8_t *str;
        size_t len;
};

struct wm_value {
        bool present;
        uint64_t varint;
        const uint8_t *str;
        size_t str_len;
        struct wm_msg *msg;
        struct wm_item *items; /* a repeated string or bytes field: every occurrence */
        size_t n_items, cap_items;
};

struct wm_msg {
        const ProtobufCMessageDescriptor *desc;
        struct wm_value *values; /* one per desc->fields[i] */
        struct wm_unknown *unknown;
        size_t n_unknown, cap_unknown;
};

enum {
        WT_VARINT = 0,
        WT_I64 = 1,
        WT_LEN = 2,
        WT_I32 = 5,
};

/* The field kinds the model reads; wm_parse aborts on any other, so a schema
 * change that the model does not cover cannot pass silently. */
static int wire_type_of(const ProtobufCFieldDescriptor *f)
{
        /* Repeated: only strings and bytes (never packed; each occurrence
         * appends one element, in Go and in protobuf-c alike). */
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
                return f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES
                           ? WT_LEN
                           : -1;
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_BOOL:
        case PROTOBUF_C_TYPE_ENUM:
                return WT_VARINT;
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_BYTES:
        case PROTOBUF_C_TYPE_MESSAGE:
                return WT_LEN;
        default:
                return -1;
        }
}

static struct wm_msg *new_msg(struct wm_arena *a, const ProtobufCMessageDescriptor *desc)
{
        struct wm_msg *m = arena_alloc(a, sizeof(*m));
        m->desc = desc;
        m->values = arena_alloc(a, sizeof(*m->values) * (desc->n_fields ? desc->n_fields : 1));
        for (unsigned i = 0; i < desc->n_fields; i++) {
                if (wire_type_of(&desc->fields[i]) < 0) {
                        fprintf(stderr,
                                "wire_model: %s.%s: a field kind the model does not read; "
                                "extend tests/fuzz/wire_model.c\n",
                                desc->name, desc->fields[i].name);
                        abort();
                }
        }
        return m;
}

static int field_index(const ProtobufCMessageDescriptor *desc, uint64_t number)
{
        for (unsigned i = 0; i < desc->n_fields; i++)
                if (desc->fields[i].id == number)
                        return (int)i;
        return -1;
}

static void add_unknown(struct wm_arena *a, struct wm_msg *m, uint32_t number, uint8_t wire_type,
                        const uint8_t *data, size_t len)
{
        if (m->n_unknown == m->cap_unknown) {
                size_t cap = m->cap_unknown ? 2 * m->cap_unknown : 8;
                struct wm_unknown *u = arena_alloc(a, cap * sizeof(*u));
                if (m->n_unknown)
                        memcpy(u, m->unknown, m->n_unknown * sizeof(*u));
                m->unknown = u;
                m->cap_unknown = cap;
        }
        m->unknown[m->n_unknown++] = (struct wm_unknown){number, wire_type, data, len};
}

static void add_item(struct wm_arena *a, struct wm_value *v, const uint8_t *str, size_t len)
{
        if (v->n_items == v->cap_items) {
                size_t cap = v->cap_items ? 2 * v->cap_items : 4;
                struct wm_item *items = arena_alloc(a, cap * sizeof(*items));
                if (v->n_items)
                        memcpy(items, v->items, v->n_items * sizeof(*items));
                v->items = items;
                v->cap_items = cap;
        }
        v->items[v->n_items++] = (struct wm_item){str, len};
        v->present = true;
}

/* Go's protowire.ConsumeVarint: at most 10 bytes, the 10th at most 1. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
        uint64_t r = 0;
        for (unsigned i = 0; i < 10; i++) {
                if (*p == end)
                        return false;
                uint8_t b = *(*p)++;
                if (i == 9 && b > 1)
                        return false;
                r |= (uint64_t)(b & 0x7f) << (7 * i);
                if ((b & 0x80) == 0) {
                        *v = r;
                        return true;
                }
        }
        return false;
}

/* protobuf-c's merge of an earlier occurrence into a later one: what the
 * later one lacks comes from the earlier one, sub-messages present in both
 * merge the same way, and only the later one's unknown fields remain. */
static void merge_dropping_unknowns(struct wm_arena *a, const struct wm_msg *earlier,
                                    struct wm_msg *later)
{
        for (unsigned i = 0; i < later->desc->n_fields; i++) {
                const struct wm_value *e = &earlier->values[i];
                struct wm_value *l = &later->values[i];
                if (!e->present)
                        continue;
                if (later->desc->fields[i].label == PROTOBUF_C_LABEL_REPEATED) {
                        /* protobuf-c's merge: the earlier elements, then the later ones. */
                        struct wm_value merged = {0};
                        for (size_t k = 0; k < e->n_items; k++)
                                add_item(a, &merged, e->items[k].str, e->items[k].len);
                        for (size_t k = 0; k < l->n_items; k++)
                                add_item(a, &merged, l->items[k].str, l->items[k].len);
                        *l = merged;
                        continue;
                }
                if (!l->present)
                        *l = *e;
                else if (later->desc->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
                        merge_dropping_unknowns(a, e->msg, l->msg);
        }
}

static bool parse_into(struct wm_arena *a, struct wm_msg *m, const uint8_t *p, size_t len,
                       const struct wm_options *opts)
{
        const uint8_t *end = p + len;
        while (p < end) {
                uint64_t key, v = 0;
                if (!read_varint(&p, end, &key))
                        return false;
                uint64_t number = key >> 3;
                uint8_t wt = key & 7;
                if (number == 0 || number > 536870911)
                        return false;

                const uint8_t *value = p; /* the field's bytes after the key */
                const uint8_t *payload = p;
                size_t plen;
                switch (wt) {
                case WT_VARINT:
                        if (!read_varint(&p, end, &v))
                                return false;
                        plen = (size_t)(p - payload);
                        break;
                case WT_I64:
                case WT_I32:
                        plen = wt == WT_I64 ? 8 : 4;
                        if ((size_t)(end - p) < plen)
                                return false;
                        p += plen;
                        break;
                case WT_LEN: {
                        uint64_t n;
                        if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
                                return false;
                        payload = p;
                        plen = (size_t)n;
                        p += plen;
                        break;
                }
                default:
                        /* Groups (3, 4) are valid for Go but not for protobuf-c,
                         * so crisp refuses such a request before any check
                         * needs this model; 6 and 7 are invalid for both. */
                        return false;
                }

                int idx = field_index(m->desc, number);
                const ProtobufCFieldDescriptor *f = idx >= 0 ? &m->desc->fields[idx] : NULL;
                if (f != NULL && f->type == PROTOBUF_C_TYPE_BOOL && wt != WT_VARINT &&
                    opts->bool_any_wire_type) {
                        bool b = false;
                        for (const uint8_t *q = value; q < p; q++)
                                b = b || (*q & 0x7f) != 0;
                        m->values[idx].present = true;
                        m->values[idx].varint = b;
                        continue;
                }
                if (f == NULL || wire_type_of(f) != wt) {
                        add_unknown(a, m, (uint32_t)number, wt, payload, plen);
                        continue;
                }
                struct wm_value *val = &m->values[idx];
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        add_item(a, val, payload, plen);
                        continue;
                }
                switch (f->type) {
                case PROTOBUF_C_TYPE_MESSAGE:
                        if (val->present && opts->drop_merged_unknowns) {
                                struct wm_msg *later = new_msg(a, f->descriptor);
                                if (!parse_into(a, later, payload, plen, opts))
                                        return false;
                                merge_dropping_unknowns(a, val->msg, later);
                                val->msg = later;
                        } else {
                                /* Go: parsing into the message already there
                                 * is the merge. */
                                if (!val->present)
                                        val->msg = new_msg(a, f->descriptor);
                                val->present = true;
                                if (!parse_into(a, val->msg, payload, plen, opts))
                                        return false;
                        }
                        break;
                case PROTOBUF_C_TYPE_STRING:
                case PROTOBUF_C_TYPE_BYTES:
                        val->present = true;
                        val->str = payload;
                        val->str_len = plen;
                        if (f->type == PROTOBUF_C_TYPE_STRING && opts->c_strings)
                                val->str_len = strnlen((const char *)payload, plen);
                        break;
                default:
                        val->present = true;
                        val->varint = v;
                        break;
                }
        }
        return true;
}

struct wm_msg *wm_parse(struct wm_arena *a, const ProtobufCMessageDescriptor *desc,
                        const uint8_t *data, size_t len, const struct wm_options *opts)
{
        struct wm_msg *m = new_msg(a, desc);
        return parse_into(a, m, data, len, opts) ? m : NULL;
}

/* A varint field's value as its type reads it (Go and protobuf-c agree). */
static uint64_t varint_as_type(ProtobufCType type, uint64_t v)
{
        switch (type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_ENUM:
                return (uint32_t)v;
        case PROTOBUF_C_TYPE_BOOL:
                return v != 0;
        default:
                return v;
        }
}

static bool differ(char *why, size_t size, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Says where and how two messages differ; returns false. */
static bool differ(char *why, size_t size, const char *where, const char *fmt, ...)
{
        if (why == NULL || size == 0)
                return false;
        char what[128];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        snprintf(why, size, "%s: %s", where, what);
        return false;
}

static bool equal_at(const struct wm_msg *x, const struct wm_msg *y, const char *where, char *why,
                     size_t size)
{
        if (x->desc != y->desc)
                return differ(why, size, where, "message types differ");
        for (unsigned i = 0; i < x->desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &x->desc->fields[i];
                const struct wm_value *a = &x->values[i], *b = &y->values[i];
                char here[256];
                snprintf(here, sizeof(here), "%s.%s", where, f->name);
                /* The CRI is proto3: a scalar or string field has no
                 * presence, so absent and present-with-the-zero-value are the
                 * same value to the runtime. Only message fields have
                 * presence. */
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        if (a->n_items != b->n_items)
                                return differ(why, size, here, "%zu vs %zu elements", a->n_items,
                                              b->n_items);
                        for (size_t k = 0; k < a->n_items; k++)
                                if (a->items[k].len != b->items[k].len ||
                                    (a->items[k].len && memcmp(a->items[k].str, b->items[k].str,
                                                               a->items[k].len) != 0))
                                        return differ(why, size, here, "element %zu differs", k);
                        continue;
                }
                if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                        if (a->present != b->present)
                                return differ(why, size, here, "present %d vs %d", a->present,
                                              b->present);
                        if (a->present && !equal_at(a->msg, b->msg, here, why, size))
                                return false;
                        continue;
                }
                switch (f->type) {
                case PROTOBUF_C_TYPE_STRING:
                case PROTOBUF_C_TYPE_BYTES: {
                        size_t la = a->present ? a->str_len : 0, lb = b->present ? b->str_len : 0;
                        if (la != lb || (la && memcmp(a->str, b->str, la) != 0))
                                return differ(why, size, here, "%zu vs %zu bytes, or other bytes",
                                              la, lb);
                        break;
                }
                default: {
                        uint64_t va = a->present ? varint_as_type(f->type, a->varint) : 0;
                        uint64_t vb = b->present ? varint_as_type(f->type, b->varint) : 0;
                        if (va != vb)
                                return differ(why, size, here, "value %llu vs %llu",
                                              (unsigned long long)va, (unsigned long long)vb);
                        break;
                }
                }
        }
        if (x->n_unknown != y->n_unknown)
                return differ(why, size, where, "%zu vs %zu unknown fields", x->n_unknown,
                              y->n_unknown);
        for (size_t i = 0; i < x->n_unknown; i++) {
                const struct wm_unknown *a = &x->unknown[i], *b = &y->unknown[i];
                if (a->number != b->number || a->wire_type != b->wire_type || a->len != b->len ||
                    (a->len && memcmp(a->data, b->data, a->len) != 0))
                        return differ(why, size, where, "unknown field #%zu (number %u) differs", i,
                                      a->number);
        }
        return true;
}

bool wm_equal(const struct wm_msg *x, const struct wm_msg *y, char *why, size_t why_size)
{
        return equal_at(x, y, x->desc->short_name, why, why_size);
}

bool wm_is_empty(const struct wm_msg *m)
{
        for (unsigned i = 0; i < m->desc->n_fields; i++)
                if (m->values[i].present)
                        return false;
        return m->n_unknown == 0;
}

static struct wm_value *value_of(const struct wm_msg *m, uint32_t number, ProtobufCType type)
{
        int idx = field_index(m->desc, number);
        /* api/cri.proto declares the CRI's strings as bytes: the same on the
         * wire, and the model reads both as length-delimited bytes. */
        ProtobufCType have = idx < 0 ? type : m->desc->fields[idx].type;
        if (type == PROTOBUF_C_TYPE_STRING && have == PROTOBUF_C_TYPE_BYTES)
                have = PROTOBUF_C_TYPE_STRING;
        if (idx < 0 || have != type) {
                fprintf(stderr, "wire_model: %s has no field %u of the type asked for\n",
                        m->desc->name, number);
                abort();
        }
        return &m->values[idx];
}

struct wm_msg *wm_msg_field(const struct wm_msg *m, uint32_t number)
{
        const struct wm_value *v = value_of(m, number, PROTOBUF_C_TYPE_MESSAGE);
        return v->present ? v->msg : NULL;
}

struct wm_msg *wm_msg_field_ensure(struct wm_arena *a, struct wm_msg *m, uint32_t number)
{
        struct wm_value *v = value_of(m, number, PROTOBUF_C_TYPE_MESSAGE);
        if (!v->present) {
                int idx = field_index(m->desc, number);
                v->msg = new_msg(a, m->desc->fields[idx].descriptor);
                v->present = true;
        }
        return v->msg;
}

bool wm_string_field(const struct wm_msg *m, uint32_t number, const uint8_t **s, size_t *len)
{
        const struct wm_value *v = value_of(m, number, PROTOBUF_C_TYPE_STRING);
        *s = v->present ? v->str : NULL;
        *len = v->present ? v->str_len : 0;
        return v->present;
}

bool wm_varint_field(const struct wm_msg *m, uint32_t number, uint64_t *out)
{
        int idx = field_index(m->desc, number);
        if (idx < 0 || wire_type_of(&m->desc->fields[idx]) != WT_VARINT) {
                fprintf(stderr, "wire_model: %s has no varint field %u\n", m->desc->name, number);
                abort();
        }
        const struct wm_value *v = &m->values[idx];
        *out = v->present ? v->varint : 0;
        return v->present;
}

void wm_clear_field(struct wm_msg *m, uint32_t number)
{
        int idx = field_index(m->desc, number);
        if (idx < 0)
                abort();
        memset(&m->values[idx], 0, sizeof(m->values[idx]));
}
