/* Reference-counted byte blocks: the relay's read buffers, and any bytes it
 * hands on without copying. A chunk of a block (chunkq.h) keeps the whole
 * block alive; the last reference frees it. Blocks belong to one thread
 * (the relay's loop): the counts are not atomic. */
#ifndef CRISP_WIRE_BLOCK_H
#define CRISP_WIRE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

struct crisp_block {
        uint32_t refs;
        uint32_t cap;  /* bytes at data */
        uint8_t *data; /* inline after the header, or wrapped (owned) */
        uint8_t wrapped;
};

/* The read buffer size: a read never takes more than this. Blocks of this
 * size are kept on a small free list, so a busy connection does not go to
 * malloc for each one. */
#define CRISP_BLOCK_SLAB (64 * 1024)

/* A block of `cap` bytes, one reference. NULL when out of memory. */
struct crisp_block *crisp_block_new(size_t cap);

/* A block around `data` (malloc'ed, `len` bytes), which it frees with itself. */
struct crisp_block *crisp_block_wrap(uint8_t *data, size_t len);

/* A new block holding a copy of `p`. */
struct crisp_block *crisp_block_copy(const uint8_t *p, size_t len);

static inline struct crisp_block *crisp_block_ref(struct crisp_block *b)
{
        b->refs++;
        return b;
}

void crisp_block_unref(struct crisp_block *b);

/* Frees the blocks kept for reuse (at exit, so leak checkers see nothing). */
void crisp_block_trim(void);

#endif
