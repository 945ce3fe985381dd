/* nghttp2's allocator in the relay (h2_mem.h): small blocks by size class,
 * kept on per-thread free lists for reuse.
 *
 * nghttp2 allocates and frees about a dozen small objects per call (each
 * side's stream, outbound frames, copied header fields, decoded header
 * strings); through glibc's malloc they cost about a tenth of the relay's
 * instructions (callgrind, BENCHMARKS.md). Here a free is a push and an
 * allocation a pop. At most LIMIT_BYTES sit on the lists: a burst of calls
 * does not leave its memory behind.
 *
 * Under AddressSanitizer blocks go straight to malloc and free, so that a
 * use after free is still caught. */
#include "h2_mem.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOLED 0
#endif
#endif
#ifndef POOLED
#define POOLED 1
#endif

/* A block's header: its size class (CLASSES: a plain malloc'ed block). */
#define HEADER      ((size_t)alignof(max_align_t))
#define CLASSES     8 /* 32, 64, ..., 4096 bytes, header included */
#define LIMIT_BYTES (512 * 1024)

struct free_block {
        struct free_block *next;
};

static _Thread_local struct free_block *bins[CLASSES];
static _Thread_local size_t kept_bytes;

static size_t class_size(unsigned c)
{
        return (size_t)32 << c;
}

static unsigned class_of(size_t total)
{
        unsigned c = 0;
        while (c < CLASSES && class_size(c) < total)
                c++;
        return c;
}

void *h2_mem_malloc(size_t size)
{
        if (!POOLED)
                return malloc(size);
        unsigned c = class_of(size + HEADER);
        uint8_t *p;
        if (c < CLASSES && bins[c] != NULL) {
                p = (uint8_t *)bins[c];
                bins[c] = bins[c]->next;
                kept_bytes -= class_size(c);
        } else {
                p = malloc(c < CLASSES ? class_size(c) : size + HEADER);
                if (p == NULL)
                        return NULL;
        }
        *(unsigned *)p = c;
        return p + HEADER;
}

void h2_mem_free(void *ptr)
{
        if (!POOLED || ptr == NULL) {
                free(ptr);
                return;
        }
        uint8_t *p = (uint8_t *)ptr - HEADER;
        unsigned c = *(unsigned *)p;
        if (c >= CLASSES || kept_bytes + class_size(c) > LIMIT_BYTES) {
                free(p);
                return;
        }
        struct free_block *b = (struct free_block *)p;
        b->next = bins[c];
        bins[c] = b;
        kept_bytes += class_size(c);
}

void *h2_mem_calloc(size_t n, size_t size)
{
        if (!POOLED)
                return calloc(n, size);
        if (size != 0 && n > SIZE_MAX / size)
                return NULL;
        void *p = h2_mem_malloc(n * size);
        if (p != NULL)
                memset(p, 0, n * size);
        return p;
}

void *h2_mem_realloc(void *ptr, size_t size)
{
        if (!POOLED)
                return realloc(ptr, size);
        if (ptr == NULL)
                return h2_mem_malloc(size);
        uint8_t *p = (uint8_t *)ptr - HEADER;
        unsigned c = *(unsigned *)p;
        if (c >= CLASSES) {
                uint8_t *q = realloc(p, size + HEADER);
                return q ? q + HEADER : NULL;
        }
        size_t room = class_size(c) - HEADER;
        if (size <= room)
                return ptr;
        void *q = h2_mem_malloc(size);
        if (q == NULL)
                return NULL;
        memcpy(q, ptr, room);
        h2_mem_free(ptr);
        return q;
}

void h2_mem_trim(void)
{
        for (unsigned c = 0; c < CLASSES; c++)
                while (bins[c] != NULL) {
                        struct free_block *b = bins[c];
                        bins[c] = b->next;
                        free(b);
                }
        kept_bytes = 0;
}

static void *nh_malloc(size_t size, void *ud)
{
        (void)ud;
        return h2_mem_malloc(size);
}

static void nh_free(void *ptr, void *ud)
{
        (void)ud;
        h2_mem_free(ptr);
}

static void *nh_calloc(size_t n, size_t size, void *ud)
{
        (void)ud;
        return h2_mem_calloc(n, size);
}

static void *nh_realloc(void *ptr, size_t size, void *ud)
{
        (void)ud;
        return h2_mem_realloc(ptr, size);
}

nghttp2_mem *h2_mem(void)
{
        static nghttp2_mem mem = {
            .mem_user_data = NULL,
            .malloc = nh_malloc,
            .free = nh_free,
            .calloc = nh_calloc,
            .realloc = nh_realloc,
        };
        return &mem;
}
