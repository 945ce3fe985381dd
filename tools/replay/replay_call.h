/* One call made the way the replay makes them: send every request, half-close,
 * read every response and the status. Synchronous, on the gRPC C core; any
 * streaming shape (the wire does not carry the shape). */
#ifndef CRISP_REPLAY_CALL_H
#define CRISP_REPLAY_CALL_H

#include <grpc/grpc.h>

#include "record/record.h"

struct replay_answer {
        struct crisp_msg_list responses;
        int code;
        char *details;
        size_t details_len;
};

/* A channel to the unix socket at `path`, with message limits above the
 * kubelet's 16 MiB so that the replay is never the limit. */
grpc_channel *replay_channel(const char *path);

/* Makes one call of `method` on `ch` with `requests`, waiting at most
 * `timeout_ms` (the call's deadline). Fills *out (clear it with
 * replay_answer_clear). Returns 0, or -ENOMEM (or -EINVAL: gRPC refused to
 * start the call). A failed call is not an error here: its status is the
 * answer. */
int replay_call(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                const struct crisp_msg_list *requests, long timeout_ms, struct replay_answer *out);

void replay_answer_clear(struct replay_answer *a);

/* "OK", "NOT_FOUND"... for a gRPC status code. */
const char *replay_code_name(int code);

#endif
