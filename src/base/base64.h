/* Standard base64 (RFC 4648, "+/" alphabet, "=" padding): how a recording
 * stores protobuf bytes in JSON. The decoder is strict, because a recording is
 * test input: anything that is not canonical base64 is an error that says
 * where, rather than bytes silently guessed at. */
#ifndef CRISP_BASE64_H
#define CRISP_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Length of the encoding of `len` bytes, without a terminating NUL. */
size_t crisp_base64_encoded_len(size_t len);

/* Writes the encoding of data[0..len) to `out`, which must hold
 * crisp_base64_encoded_len(len) bytes; no NUL is written. */
void crisp_base64_encode(const uint8_t *data, size_t len, char *out);

/* Decodes text[0..len) into a new buffer (*out, freed by the caller; never
 * NULL on success, even for no bytes) of *out_len bytes. Returns 0, or
 * -EINVAL with a message saying what is wrong and at which offset, or
 * -ENOMEM. */
int crisp_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len,
                        crisp_error **err);

#endif
