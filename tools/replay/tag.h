/* Every tag crisp puts on its completion queue is a struct crisp_tag: the
 * queue's worker threads call tag->fn(tag, ok) and know nothing else. */
#ifndef CRISP_TAG_H
#define CRISP_TAG_H

#include <stdbool.h>
#include <stddef.h>

struct crisp_tag {
        void (*fn)(struct crisp_tag *tag, bool ok);
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
