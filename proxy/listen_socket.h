/* The unix socket crisp listens on: refuse a path a live process serves,
 * replace a stale one, restrict its mode, remove it on exit. */
#ifndef CRISP_LISTEN_SOCKET_H
#define CRISP_LISTEN_SOCKET_H

#include <sys/types.h>

#include "base/error.h"

/* Before binding: fails with -EADDRINUSE when something answers on `path`,
 * with -EEXIST when `path` is not a socket; removes a stale socket file. */
int crisp_listen_socket_prepare(const char *path, crisp_error **err);

/* After binding: sets the socket's mode and remembers its inode, so that
 * crisp_listen_socket_remove never removes a socket another process made. */
int crisp_listen_socket_finish(const char *path, mode_t mode, crisp_error **err);

void crisp_listen_socket_remove(const char *path);

#endif
