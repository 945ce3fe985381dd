/* The gRPC status as it travels in HTTP/2 headers: grpc-status (a decimal
 * code) and grpc-message (percent-encoded), for the answers crisp gives
 * itself and for reading the runtime's. */
#ifndef CRISP_WIRE_GRPC_STATUS_H
#define CRISP_WIRE_GRPC_STATUS_H

#include <stddef.h>

/* Percent-encodes `msg` as grpc-message wants it (bytes outside ' '..'~',
 * and '%', as %XX) into out[size], NUL-terminated, cut at a whole
 * character. Returns the encoded length. */
size_t crisp_grpc_message_encode(const char *msg, char *out, size_t size);

/* Decodes a grpc-message value into out[size] (NUL-terminated; invalid
 * escapes are kept as they are, as gRPC does). Returns the decoded length. */
size_t crisp_grpc_message_decode(const char *value, size_t len, char *out, size_t size);

/* Parses a grpc-status value: 0..99 as the code, anything else -1. */
int crisp_grpc_status_parse(const char *value, size_t len);

#endif
