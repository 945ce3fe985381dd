/* gRPC's message framing on an HTTP/2 stream: each message is a 5-byte
 * prefix (a compressed flag, then the length, big-endian) and its bytes.
 * The framer walks a stream's DATA as it arrives, in pieces of any size,
 * and says where each message starts and ends, so the relay can check a
 * message's size before passing a byte of it, and find the first request
 * of the calls it rewrites, without reassembling anything. */
#ifndef CRISP_WIRE_GRPC_FRAMING_H
#define CRISP_WIRE_GRPC_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRISP_GRPC_PREFIX 5

struct crisp_grpc_framer {
        uint8_t prefix[CRISP_GRPC_PREFIX];
        uint8_t have;       /* prefix bytes seen of the current message (5: in its body) */
        uint8_t compressed; /* the current message's flag */
        uint32_t length;    /* the current message's length */
        uint32_t remaining; /* of its body */
        uint64_t messages;  /* messages completed */
};

enum crisp_grpc_piece {
        CRISP_GRPC_PREFIX_PART, /* prefix bytes; the prefix is not complete yet */
        CRISP_GRPC_PREFIX_DONE, /* the prefix is complete: `length`, `compressed` are set */
        CRISP_GRPC_BODY,        /* message bytes */
};

struct crisp_grpc_step {
        enum crisp_grpc_piece piece;
        size_t used;      /* bytes of the input this step covered */
        bool message_end; /* the message is complete with this step */
};

static inline void crisp_grpc_framer_init(struct crisp_grpc_framer *f)
{
        *f = (struct crisp_grpc_framer){0};
}

/* Covers the first bytes of `p[len]` (len > 0) up to the next boundary: the
 * rest of a prefix, or a run of body bytes. Call again with the rest. */
struct crisp_grpc_step crisp_grpc_framer_step(struct crisp_grpc_framer *f, const uint8_t *p,
                                              size_t len);

/* True between messages: no prefix or body is half seen. */
static inline bool crisp_grpc_framer_at_boundary(const struct crisp_grpc_framer *f)
{
        return f->have == 0;
}

#endif
