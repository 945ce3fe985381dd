/* The relay's small-block allocator, given to nghttp2 (nghttp2_mem) and
 * used for the relay's own per-call objects. One thread: a block is freed
 * on the thread that allocated it (the relay's loop). */
#ifndef CRISP_H2_MEM_H
#define CRISP_H2_MEM_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>

void *h2_mem_malloc(size_t size);
void *h2_mem_calloc(size_t n, size_t size);
void *h2_mem_realloc(void *ptr, size_t size);
void h2_mem_free(void *ptr);

/* The allocator for nghttp2_session_*_new3. */
nghttp2_mem *h2_mem(void);

/* Frees the blocks kept for reuse (at exit, so leak checkers see nothing). */
void h2_mem_trim(void);

#endif
