/* One recorded call in memory, and the JSON line it becomes in a recording
 * file (the format of tests/fixtures/README.md, one object per line).
 *
 * The same struct serves both directions: the recorder fills it from a live
 * call and writes it out (crisp_record_to_json); the replay reads it back
 * (recording.h), where it may also carry a fixture's `name` and `expect`.
 * No gRPC here. */
#ifndef CRISP_RECORD_H
#define CRISP_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/error.h"

/* A list of messages (protobuf bytes), each separately allocated. */
struct crisp_msg {
        uint8_t *data;
        size_t len;
};

struct crisp_msg_list {
        struct crisp_msg *items;
        size_t n, cap;
};

/* Appends a copy of data[0..len). Returns 0 or -ENOMEM. */
int crisp_msg_list_append(struct crisp_msg_list *l, const uint8_t *data, size_t len);

/* Appends `data` itself (malloc'd), which the list then owns. */
int crisp_msg_list_append_owned(struct crisp_msg_list *l, uint8_t *data, size_t len);

void crisp_msg_list_clear(struct crisp_msg_list *l);

/* The three security contexts a fixture's `expect` may name. */
enum crisp_context {
        CRISP_CONTEXT_CONTAINER = 0,  /* CreateContainer.config.linux.security_context */
        CRISP_CONTEXT_SANDBOX_CONFIG, /* CreateContainer.sandbox_config.linux.security_context */
        CRISP_CONTEXT_SANDBOX,        /* RunPodSandbox.config.linux.security_context */
        CRISP_CONTEXT_COUNT,
};

/* "container", "sandbox_config", "sandbox". */
const char *crisp_context_name(enum crisp_context c);

/* What one named context must carry after crisp's rewrite. */
struct crisp_expect_context {
        bool named;
        int32_t profile_type;
        char *localhost_ref;
        char *path; /* seccomp_profile_path */
};

struct crisp_expect {
        bool present;
        bool unchanged; /* {"unchanged": true}: forwarded byte for byte */
        struct crisp_expect_context contexts[CRISP_CONTEXT_COUNT];
};

struct crisp_call_record {
        char *method;        /* "/runtime.v1.RuntimeService/CreateContainer" */
        char time[48];       /* RFC 3339, when the call started; "" when unknown */
        int64_t duration_us; /* < 0 when unknown */

        /* Identity, when the method carries it (NULL: absent). */
        char *pod_namespace, *pod_name, *pod_uid;
        char *container;

        struct crisp_msg_list requests;  /* as the client sent them */
        bool has_forwarded;              /* crisp changed a request... */
        struct crisp_msg_list forwarded; /* ...and sent these instead (one per request) */
        bool has_responses;
        struct crisp_msg_list responses;

        bool has_code;
        int code;      /* grpc_status_code */
        char *details; /* NULL when absent */
        size_t details_len;

        /* Messages not stored because of the per-call cap. */
        uint64_t dropped_requests, dropped_responses;

        /* Fixtures only. */
        char *name;
        struct crisp_expect expect;
        unsigned line; /* line number in the file it was read from */

        /* The recorder's own: its queue, and the memory this record holds. */
        struct crisp_call_record *next;
        size_t held_bytes;
};

/* Frees everything the record holds, and the record. NULL is fine. */
void crisp_call_record_free(struct crisp_call_record *r);

/* Formats `ts` (CLOCK_REALTIME) as RFC 3339 UTC with microseconds. */
void crisp_format_rfc3339(const struct timespec *ts, char *buf, size_t size);

/* Length of the valid UTF-8 sequence at s[0..n) (n > 0), or 0 if it is not
 * one: overlong forms, surrogates and values past U+10FFFF are not UTF-8.
 * What the JSON line holds, both ways (record.c writes, recording.c reads). */
size_t crisp_utf8_sequence(const unsigned char *s, size_t n);

/* Builds the JSON line of `r` (ending in '\n') into *line (malloc'd) of *len
 * bytes (NUL-terminated, the NUL not counted). With `redact`, CreateContainer environment values
 * and ExecSync output are replaced (redact.h); a message that should be redacted but does not
 * decode is stored empty instead. Returns 0 or -ENOMEM. */
int crisp_record_to_json(const struct crisp_call_record *r, bool redact, char **line, size_t *len,
                         crisp_error **err);

#endif
