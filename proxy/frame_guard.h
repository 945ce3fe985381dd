/* What nghttp2 lets pass on purpose, and the RFC does not: a client's DATA
 * or HEADERS on a stream that is already closed (libnghttp2 ignores them,
 * as it cannot remember every stream: nghttp2_session.c says why), and a
 * HEADERS that opens a stream numbered below one already used. RFC 9113
 * §5.1 and §5.1.1 make both connection errors (STREAM_CLOSED,
 * PROTOCOL_ERROR); HAProxy treats them so, and so does crisp: the guard
 * looks at each frame header of the kubelet's connection just before
 * nghttp2 does. Frames on a stream crisp itself reset are still ignored,
 * as the RFC requires (they may have been in flight). */
#ifndef CRISP_FRAME_GUARD_H
#define CRISP_FRAME_GUARD_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame_guard;

struct frame_guard *frame_guard_new(void);

/* Walks p[len]. Returns how many bytes it took: all of them, or up to and
 * including the last byte of a frame header that needs a look (*check set):
 * give nghttp2 the bytes before that last byte, then ask frame_guard_verdict. */
size_t frame_guard_scan(struct frame_guard *g, const uint8_t *p, size_t len, bool *check);

/* The frame header found by the last scan, judged against the session's
 * streams: 0, or the error code of the connection error it is. */
uint32_t frame_guard_verdict(struct frame_guard *g, nghttp2_session *session);

/* crisp sent GOAWAY: streams above `last_stream_id` are ignored (nghttp2
 * drops them; the client knows to retry them elsewhere). */
void frame_guard_goaway_sent(struct frame_guard *g, int32_t last_stream_id);

/* crisp (or nghttp2 for it) sent RST_STREAM on `stream_id`. */
void frame_guard_reset_sent(struct frame_guard *g, int32_t stream_id);

#endif
