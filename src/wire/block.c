/* Reference-counted byte blocks (block.h). */
#include "wire/block.h"

#include <stdlib.h>
#include <string.h>

/* Free slabs kept for reuse, per thread (each relay loop has its own). */
#define SLAB_CACHE 8
static _Thread_local struct crisp_block *slab_cache[SLAB_CACHE];
static _Thread_local unsigned slab_cached;

struct crisp_block *crisp_block_new(size_t cap)
{
        struct crisp_block *b;
        if (cap == CRISP_BLOCK_SLAB && slab_cached > 0) {
                b = slab_cache[--slab_cached];
        } else {
                if (cap > UINT32_MAX)
                        return NULL;
                b = malloc(sizeof(*b) + cap);
                if (b == NULL)
                        return NULL;
                b->cap = (uint32_t)cap;
                b->data = (uint8_t *)(b + 1);
                b->wrapped = 0;
        }
        b->refs = 1;
        return b;
}

struct crisp_block *crisp_block_wrap(uint8_t *data, size_t len)
{
        if (len > UINT32_MAX)
                return NULL;
        struct crisp_block *b = malloc(sizeof(*b));
        if (b == NULL)
                return NULL;
        b->refs = 1;
        b->cap = (uint32_t)len;
        b->data = data;
        b->wrapped = 1;
        return b;
}

struct crisp_block *crisp_block_copy(const uint8_t *p, size_t len)
{
        struct crisp_block *b = crisp_block_new(len);
        if (b != NULL && len > 0)
                memcpy(b->data, p, len);
        return b;
}

void crisp_block_unref(struct crisp_block *b)
{
        if (b == NULL || --b->refs > 0)
                return;
        if (b->wrapped) {
                free(b->data);
                free(b);
        } else if (b->cap == CRISP_BLOCK_SLAB && slab_cached < SLAB_CACHE) {
                slab_cache[slab_cached++] = b;
        } else {
                free(b);
        }
}

void crisp_block_trim(void)
{
        while (slab_cached > 0)
                free(slab_cache[--slab_cached]);
}
