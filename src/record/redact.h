/* --record-redact: what must never reach a recording file, and how it is
 * taken out while the message stays decodable (so the recording still
 * replays): the environment VALUES of CreateContainer requests (keys are
 * kept: they say what was set, not the secret) and the stdout/stderr of
 * ExecSync responses. Each is replaced by CRISP_REDACTED. No gRPC here. */
#ifndef CRISP_REDACT_H
#define CRISP_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define CRISP_REDACTED "REDACTED"

enum crisp_redact_kind {
        CRISP_REDACT_NOTHING = 0,
        CRISP_REDACT_CREATE_CONTAINER_REQUEST, /* config.envs[].value */
        CRISP_REDACT_EXEC_SYNC_RESPONSE,       /* stdout, stderr */
};

/* What to redact in a request (`request` true) or response of `method`. */
enum crisp_redact_kind crisp_redact_kind_of(const char *method, bool request);

/* Writes a redacted copy of in[0..len) to *out (malloc'd, freed by the
 * caller) and its length to *out_len. A message that does not decode returns
 * -EINVAL: the caller must not store it (it could hold anything). */
int crisp_redact(enum crisp_redact_kind kind, const uint8_t *in, size_t len, uint8_t **out,
                 size_t *out_len, crisp_error **err);

#endif
