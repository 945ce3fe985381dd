/* HTTP/2 request messaging rules (RFC 9113 §8.1-8.3), checked by crisp on
 * the kubelet's side instead of by libnghttp2, for one reason: libnghttp2
 * refuses an :authority with a '/' in it, and the kubelet, crictl and
 * critest send the runtime socket's path there (their gRPC dialer makes
 * the target, a path, the authority). Everything else is as strict as
 * libnghttp2 and HAProxy: a request that breaks a rule is a stream error
 * (PROTOCOL_ERROR), never forwarded. */
#ifndef CRISP_WIRE_H2_REQUEST_H
#define CRISP_WIRE_H2_REQUEST_H

#include <stddef.h>
#include <stdint.h>

struct crisp_h2_field {
        const uint8_t *name;
        size_t namelen;
        const uint8_t *value;
        size_t valuelen;
};

/* A request's header block, in the order received. Returns 0, or -EPROTO
 * with *why saying which rule it breaks. *content_length gets the
 * content-length field's value, or -1 without one. */
int crisp_h2_check_request(const struct crisp_h2_field *f, size_t n, int64_t *content_length,
                           const char **why);

/* A request's trailers: regular fields only, with the same rules. */
int crisp_h2_check_trailers(const struct crisp_h2_field *f, size_t n, const char **why);

#endif
