/* A queue of byte ranges inside blocks (chunkq.h). */
#include "wire/chunkq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Chunk nodes are small and many come and go on every call: reuse them. */
#define NODE_CACHE 256
static _Thread_local struct crisp_chunk *free_nodes;
static _Thread_local unsigned free_count;

static struct crisp_chunk *node_new(void)
{
        struct crisp_chunk *c = free_nodes;
        if (c != NULL) {
                free_nodes = c->next;
                free_count--;
                return c;
        }
        return malloc(sizeof(*c));
}

static void node_free(struct crisp_chunk *c)
{
        if (free_count < NODE_CACHE) {
                c->next = free_nodes;
                free_nodes = c;
                free_count++;
        } else {
                free(c);
        }
}

void crisp_chunkq_trim(void)
{
        while (free_nodes != NULL) {
                struct crisp_chunk *c = free_nodes;
                free_nodes = c->next;
                free(c);
        }
        free_count = 0;
}

static void append(struct crisp_chunkq *q, struct crisp_chunk *c)
{
        c->next = NULL;
        if (q->tail)
                q->tail->next = c;
        else
                q->head = c;
        q->tail = c;
        q->bytes += c->len;
        q->nchunks++;
}

int crisp_chunkq_push(struct crisp_chunkq *q, struct crisp_block *block, const uint8_t *p,
                      size_t len)
{
        if (len == 0)
                return 0;
        struct crisp_chunk *t = q->tail;
        if (t != NULL && t->block == block && t->p + t->len == p) {
                t->len += len;
                q->bytes += len;
                return 0;
        }
        struct crisp_chunk *c = node_new();
        if (c == NULL)
                return -ENOMEM;
        c->block = crisp_block_ref(block);
        c->p = p;
        c->len = len;
        append(q, c);
        return 0;
}

static struct crisp_chunk *pop(struct crisp_chunkq *q)
{
        struct crisp_chunk *c = q->head;
        q->head = c->next;
        if (q->head == NULL)
                q->tail = NULL;
        q->bytes -= c->len;
        q->nchunks--;
        return c;
}

int crisp_chunkq_move(struct crisp_chunkq *q, size_t n, struct crisp_chunkq *to)
{
        while (n > 0 && q->head != NULL) {
                struct crisp_chunk *c = q->head;
                if (c->len <= n) {
                        n -= c->len;
                        pop(q);
                        struct crisp_chunk *t = to->tail;
                        if (t != NULL && t->block == c->block && t->p + t->len == c->p) {
                                t->len += c->len; /* continues the last chunk */
                                to->bytes += c->len;
                                crisp_block_unref(c->block);
                                node_free(c);
                        } else {
                                append(to, c);
                        }
                        continue;
                }
                int r = crisp_chunkq_push(to, c->block, c->p, n);
                if (r < 0)
                        return r;
                c->p += n;
                c->len -= n;
                q->bytes -= n;
                n = 0;
        }
        return 0;
}

void crisp_chunkq_drop(struct crisp_chunkq *q, size_t n)
{
        while (n > 0 && q->head != NULL) {
                struct crisp_chunk *c = q->head;
                if (c->len <= n) {
                        n -= c->len;
                        pop(q);
                        crisp_block_unref(c->block);
                        node_free(c);
                } else {
                        c->p += n;
                        c->len -= n;
                        q->bytes -= n;
                        n = 0;
                }
        }
}

void crisp_chunkq_clear(struct crisp_chunkq *q)
{
        crisp_chunkq_drop(q, q->bytes);
}

size_t crisp_chunkq_iov(const struct crisp_chunkq *q, struct iovec *iov, size_t max)
{
        size_t n = 0;
        for (const struct crisp_chunk *c = q->head; c != NULL && n < max; c = c->next) {
                iov[n].iov_base = (void *)c->p;
                iov[n].iov_len = c->len;
                n++;
        }
        return n;
}

void crisp_chunkq_peek(const struct crisp_chunkq *q, uint8_t *out, size_t n)
{
        for (const struct crisp_chunk *c = q->head; c != NULL && n > 0; c = c->next) {
                size_t k = c->len < n ? c->len : n;
                memcpy(out, c->p, k);
                out += k;
                n -= k;
        }
}
