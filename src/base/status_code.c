/* gRPC's status codes by name, for logs, metrics and replay, without a gRPC
 * header (status_code.h). */
#include "base/status_code.h"

static const char *const names[CRISP_STATUS_CODE_COUNT] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *crisp_status_code_name(int code)
{
        return code >= 0 && code < CRISP_STATUS_CODE_COUNT ? names[code] : 0;
}
