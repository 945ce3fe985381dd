/* gRPC's message framing (grpc_framing.h). */
#include "wire/grpc_framing.h"

#include <string.h>

struct crisp_grpc_step crisp_grpc_framer_step(struct crisp_grpc_framer *f, const uint8_t *p,
                                              size_t len)
{
        struct crisp_grpc_step s = {0};
        if (f->have < CRISP_GRPC_PREFIX) {
                size_t n = CRISP_GRPC_PREFIX - f->have;
                if (n > len)
                        n = len;
                memcpy(f->prefix + f->have, p, n);
                f->have = (uint8_t)(f->have + n);
                s.used = n;
                if (f->have < CRISP_GRPC_PREFIX) {
                        s.piece = CRISP_GRPC_PREFIX_PART;
                        return s;
                }
                s.piece = CRISP_GRPC_PREFIX_DONE;
                f->compressed = f->prefix[0];
                f->length = (uint32_t)f->prefix[1] << 24 | (uint32_t)f->prefix[2] << 16 |
                            (uint32_t)f->prefix[3] << 8 | f->prefix[4];
                f->remaining = f->length;
                if (f->length == 0) {
                        s.message_end = true;
                        f->have = 0;
                        f->messages++;
                }
                return s;
        }
        size_t n = f->remaining < len ? f->remaining : len;
        f->remaining -= (uint32_t)n;
        s.piece = CRISP_GRPC_BODY;
        s.used = n;
        if (f->remaining == 0) {
                s.message_end = true;
                f->have = 0;
                f->messages++;
        }
        return s;
}
