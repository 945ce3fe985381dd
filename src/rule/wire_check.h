/* Before crisp decodes a request with protobuf-c, it checks that protobuf-c
 * will read it as the runtime (Go protobuf) will, and can write it back
 * without losing anything. protobuf-c is laxer in a few places; each was
 * found by tests/fuzz against an independent decoder with Go's rules:
 *
 *   - a field number 0, which Go refuses and protobuf-c reads;
 *   - a known field with the wrong wire type, which Go keeps as an unknown
 *     field while protobuf-c may read it as the known one (a fixed32 0 after
 *     a varint Unconfined would read as RuntimeDefault to crisp only);
 *   - a known message field sent more than once, whose earlier occurrences
 *     carry fields crisp's schema does not know: protobuf-c merges the
 *     occurrences but drops those unknown fields, the runtime keeps them;
 *   - the same, where a later occurrence sets a string or bytes field to
 *     empty: Go reads the empty value, protobuf-c's merge the earlier one.
 *
 * A request failing the check is refused (INVALID_ARGUMENT): crisp never
 * forwards a request it did not fully understand. No kubelet sends these. */
#ifndef CRISP_WIRE_CHECK_H
#define CRISP_WIRE_CHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Returns 0 when `data` (a message of type `desc`) is safe to decode and
 * re-encode with protobuf-c, or -EINVAL with *err saying which field of
 * which message is the problem. `what` names the request in that message. */
int crisp_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                     const char *what, crisp_error **err);

#endif
