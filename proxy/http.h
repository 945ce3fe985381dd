/* A tiny HTTP/1.1 server on the control loop (libuv) for /metrics, /healthz
 * and /readyz: one request per connection, answered and closed. Listens on
 * a unix socket path or HOST:PORT (IPv4, or [IPv6]). */
#ifndef CRISP_HTTP_H
#define CRISP_HTTP_H

#include <uv.h>

#include "base/error.h"

struct crisp_http_response {
        int status;               /* 200, 404, 503... */
        const char *content_type; /* e.g. "text/plain; version=0.0.4" */
        char *body;               /* malloc'ed; the server frees it */
        size_t body_len;
};

/* Answers a GET/HEAD for `path` (the URL without its query). Runs on the
 * loop's thread; must not block. */
typedef void (*crisp_http_handler)(void *arg, const char *path, struct crisp_http_response *resp);

struct crisp_http;

int crisp_http_start(uv_loop_t *loop, const char *address, crisp_http_handler handler, void *arg,
                     struct crisp_http **out, crisp_error **err);

/* Stops listening and closes open connections (their handles are closed on
 * the loop); the server is freed once everything is closed. */
void crisp_http_stop(struct crisp_http *http);

#endif
