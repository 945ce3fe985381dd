/* gRPC's status codes by name (the numbers of grpc/status.h), one table for
 * logs, metrics and replay. No gRPC header needed. */
#ifndef CRISP_STATUS_CODE_H
#define CRISP_STATUS_CODE_H

#define CRISP_STATUS_CODE_COUNT 17 /* OK (0) .. UNAUTHENTICATED (16) */

/* "OK", "CANCELLED", ...; NULL for a number that is not a gRPC code. */
const char *crisp_status_code_name(int code);

#endif
