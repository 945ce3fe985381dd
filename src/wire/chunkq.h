/* A queue of byte ranges inside reference-counted blocks (block.h): bytes
 * move from a connection's read buffer to the other connection's write
 * without being copied. Each chunk holds a reference to its block. One
 * thread only, like the blocks. */
#ifndef CRISP_WIRE_CHUNKQ_H
#define CRISP_WIRE_CHUNKQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "wire/block.h"

struct crisp_chunk {
        struct crisp_chunk *next;
        struct crisp_block *block;
        const uint8_t *p;
        size_t len;
};

struct crisp_chunkq {
        struct crisp_chunk *head, *tail;
        size_t bytes;   /* in all chunks */
        size_t nchunks; /* chunks in the queue */
};

static inline void crisp_chunkq_init(struct crisp_chunkq *q)
{
        q->head = q->tail = NULL;
        q->bytes = q->nchunks = 0;
}

/* Appends `len` bytes at `p`, which lie inside `block`; takes a reference.
 * Bytes that continue the last chunk in the same block extend it. Returns
 * 0 or -ENOMEM. */
int crisp_chunkq_push(struct crisp_chunkq *q, struct crisp_block *block, const uint8_t *p,
                      size_t len);

/* Moves the first `n` bytes (at most q->bytes) to the end of `to`,
 * splitting a chunk when needed. Returns 0 or -ENOMEM. */
int crisp_chunkq_move(struct crisp_chunkq *q, size_t n, struct crisp_chunkq *to);

/* Drops the first `n` bytes (at most q->bytes). */
void crisp_chunkq_drop(struct crisp_chunkq *q, size_t n);

/* Drops everything. */
void crisp_chunkq_clear(struct crisp_chunkq *q);

/* Fills at most `max` iovecs with the queue's first bytes; returns how many. */
size_t crisp_chunkq_iov(const struct crisp_chunkq *q, struct iovec *iov, size_t max);

/* Copies the first `n` bytes (at most q->bytes) to `out`, leaving the queue as it is. */
void crisp_chunkq_peek(const struct crisp_chunkq *q, uint8_t *out, size_t n);

/* Frees the chunk nodes kept for reuse. */
void crisp_chunkq_trim(void);

#endif
