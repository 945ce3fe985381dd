/* crisp's listening socket, accepted on the loop (libuv): crisp accepts
 * each connection itself, copes with running out of file descriptors, and
 * hands every accepted socket to the relay (proxy/downstream.c). */
#ifndef CRISP_ACCEPTOR_H
#define CRISP_ACCEPTOR_H

#include <sys/types.h>
#include <uv.h>

#include "base/error.h"

struct crisp_acceptor;

/* Called on the loop's thread with each accepted connection: a connected,
 * non-blocking, close-on-exec socket that `on_accept` now owns. */
typedef void (*crisp_accept_fn)(int fd, void *arg);

/* Binds and listens on `path` (which crisp_listen_socket_prepare has
 * cleared), with `mode`, and accepts on `loop`. */
int crisp_acceptor_start(uv_loop_t *loop, const char *path, mode_t mode, crisp_accept_fn on_accept,
                         void *arg, struct crisp_acceptor **out, crisp_error **err);

/* Stops accepting: closes the listening socket, so new clients are refused,
 * and removes the socket file. Call on the loop's thread; the acceptor frees
 * itself once the loop has closed its handles. NULL is a no-op. */
void crisp_acceptor_stop(struct crisp_acceptor *a);

#endif
