/* An observer of every call crisp relays: the metrics, the recorder and
 * complain mode each are one (observers.h makes several into one). The
 * callbacks run on the relay's loop thread, so they must be quick and copy
 * what they keep; bytes are valid only during the callback. */
#ifndef CRISP_CALL_OBSERVER_H
#define CRISP_CALL_OBSERVER_H

#include <stddef.h>
#include <stdint.h>

#include "rule/rewrite.h"

/* What an observer wants of a call besides its start and end: the relay
 * reassembles messages only for a call whose observer asks. */
enum {
        CRISP_OBSERVE_REQUESTS = 1,  /* every request message, whole */
        CRISP_OBSERVE_RESPONSES = 2, /* every response message, whole */
};

struct crisp_call_observer {
        /* A call starts; returns the observer's per-call state (NULL: ignore
         * the call) and sets *wants to CRISP_OBSERVE_* bits. */
        void *(*begin)(void *self, const char *method, unsigned *wants);
        /* A request message as the client sent it; `forwarded` is what crisp
         * sent the runtime instead when it rewrote it, else NULL. Only with
         * CRISP_OBSERVE_REQUESTS. */
        void (*request)(void *call, const uint8_t *data, size_t len, const uint8_t *forwarded,
                        size_t forwarded_len);
        /* The rewriter's view of the first request (identity, changes). */
        void (*rewrite)(void *call, const struct crisp_rewrite_result *result);
        /* crisp refused the first request (INVALID_ARGUMENT), or in audit mode
         * would have; optional. */
        void (*rejected)(void *call, const char *reason);
        /* A response message from the runtime. Only with CRISP_OBSERVE_RESPONSES. */
        void (*response)(void *call, const uint8_t *data, size_t len);
        /* The call is over: the status the client was told (CANCELLED when it
         * went away first); frees `call`. */
        void (*end)(void *call, int code, const char *details, size_t details_len);
        void *self;
};

#endif
