/* Closed and reused stream ids on the kubelet's connection (frame_guard.h). */
#include "frame_guard.h"

#include <stdlib.h>
#include <string.h>

#define PREFACE_LEN 24
/* Stream ids whose use is remembered, below the highest: older ones count
 * as used (a HEADERS there is STREAM_CLOSED, not PROTOCOL_ERROR). */
#define USED_WINDOW 4096
/* Streams reset by crisp, remembered: late frames on them are ignored. */
#define RESETS 256

struct frame_guard {
        uint32_t preface_left;
        uint32_t payload_left;
        uint8_t hdr[9];
        uint8_t have;
        /* the frame header to judge */
        uint8_t type;
        int32_t id;
        int32_t max_id;                 /* the highest stream id the client opened */
        uint8_t used[USED_WINDOW / 16]; /* odd ids in (max_id - USED_WINDOW, max_id] */
        int32_t goaway_last;            /* -1: no GOAWAY sent */
        int32_t resets[RESETS];
        unsigned next_reset;
};

struct frame_guard *frame_guard_new(void)
{
        struct frame_guard *g = calloc(1, sizeof(*g));
        if (g) {
                g->preface_left = PREFACE_LEN;
                g->goaway_last = -1;
        }
        return g;
}

/* Bit of odd stream id `id` in the used window (ids cycle through it). */
static void used_bit(int32_t id, size_t *byte, uint8_t *mask)
{
        uint32_t slot = ((uint32_t)id >> 1) % (USED_WINDOW / 2);
        *byte = slot / 8;
        *mask = (uint8_t)(1u << (slot % 8));
}

static void mark_opened(struct frame_guard *g, int32_t id)
{
        size_t b;
        uint8_t m;
        /* Ids skipped between the old highest and this one were never used. */
        int32_t from = g->max_id > 0 ? g->max_id + 2 : 1;
        if (id - from > USED_WINDOW)
                from = id - USED_WINDOW;
        for (int32_t k = from; k < id; k += 2) {
                used_bit(k, &b, &m);
                g->used[b] &= (uint8_t)~m;
        }
        used_bit(id, &b, &m);
        g->used[b] |= m;
        g->max_id = id;
}

static bool was_used(const struct frame_guard *g, int32_t id)
{
        if (g->max_id - id >= USED_WINDOW)
                return true;
        size_t b;
        uint8_t m;
        used_bit(id, &b, &m);
        return g->used[b] & m;
}

size_t frame_guard_scan(struct frame_guard *g, const uint8_t *p, size_t len, bool *check)
{
        size_t i = 0;
        *check = false;
        while (i < len) {
                if (g->preface_left > 0) {
                        size_t n = len - i < g->preface_left ? len - i : g->preface_left;
                        g->preface_left -= (uint32_t)n;
                        i += n;
                        continue;
                }
                if (g->payload_left > 0) {
                        size_t n = len - i < g->payload_left ? len - i : g->payload_left;
                        g->payload_left -= (uint32_t)n;
                        i += n;
                        continue;
                }
                size_t n = len - i < 9u - g->have ? len - i : 9u - g->have;
                memcpy(g->hdr + g->have, p + i, n);
                g->have = (uint8_t)(g->have + n);
                i += n;
                if (g->have < 9)
                        continue;
                g->have = 0;
                g->payload_left = (uint32_t)g->hdr[0] << 16 | (uint32_t)g->hdr[1] << 8 | g->hdr[2];
                uint8_t type = g->hdr[3];
                int32_t id = (int32_t)(((uint32_t)g->hdr[5] << 24 | (uint32_t)g->hdr[6] << 16 |
                                        (uint32_t)g->hdr[7] << 8 | g->hdr[8]) &
                                       0x7fffffff);
                if ((type != NGHTTP2_DATA && type != NGHTTP2_HEADERS) || id == 0 || id % 2 == 0)
                        continue; /* nghttp2 judges these itself */
                if (id > g->max_id) {
                        if (type == NGHTTP2_HEADERS)
                                mark_opened(g, id);
                        continue; /* a new stream (DATA there: nghttp2's idle-stream error) */
                }
                g->type = type;
                g->id = id;
                *check = true;
                return i;
        }
        return i;
}

uint32_t frame_guard_verdict(struct frame_guard *g, nghttp2_session *session)
{
        nghttp2_stream *stream = nghttp2_session_find_stream(session, g->id);
        if (stream != NULL && nghttp2_stream_get_state(stream) != NGHTTP2_STREAM_STATE_IDLE &&
            nghttp2_stream_get_state(stream) != NGHTTP2_STREAM_STATE_CLOSED)
                return 0; /* open: nghttp2's own rules apply */
        if (g->goaway_last >= 0 && g->id > g->goaway_last)
                return 0; /* after crisp's GOAWAY: nghttp2 drops it, the client retries */
        for (unsigned k = 0; k < RESETS; k++)
                if (g->resets[k] == g->id)
                        return 0; /* reset by crisp: ignored, as the RFC says */
        if (g->type == NGHTTP2_HEADERS && !was_used(g, g->id))
                return NGHTTP2_PROTOCOL_ERROR; /* RFC 9113 §5.1.1 */
        return NGHTTP2_STREAM_CLOSED;          /* RFC 9113 §5.1 */
}

void frame_guard_reset_sent(struct frame_guard *g, int32_t stream_id)
{
        if (g == NULL)
                return;
        g->resets[g->next_reset++ % RESETS] = stream_id;
}

void frame_guard_goaway_sent(struct frame_guard *g, int32_t last_stream_id)
{
        if (g != NULL && (g->goaway_last < 0 || last_stream_id < g->goaway_last))
                g->goaway_last = last_stream_id;
}
