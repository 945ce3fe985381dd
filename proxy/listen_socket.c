/* The unix socket crisp listens on: created with its mode, a stale one
 * replaced, a live one never taken over (listen_socket.h). */
#include "listen_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"

static ino_t our_inode;
static dev_t our_device;

int crisp_listen_socket_prepare(const char *path, crisp_error **err)
{
        struct stat st;
        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return crisp_error_set_errno(err, errno, "cannot inspect %s", path);
        }
        if (!S_ISSOCK(st.st_mode))
                return crisp_error_set(
                    err, EEXIST, "%s exists and is not a socket; refusing to replace it", path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return crisp_error_set_errno(err, errno, "socket");
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
                return crisp_error_set(err, EADDRINUSE,
                                       "another process is serving on %s; refusing to take it over",
                                       path);
        if (errno != ECONNREFUSED)
                return crisp_error_set_errno(err, errno, "cannot probe %s", path);

        /* Nobody listens: a socket file left by a crisp that died. */
        if (unlink(path) < 0 && errno != ENOENT)
                return crisp_error_set_errno(err, errno, "cannot remove stale socket %s", path);
        log_info("removed stale socket path=%s", path);
        return 0;
}

int crisp_listen_socket_finish(const char *path, mode_t mode, crisp_error **err)
{
        if (chmod(path, mode) < 0)
                return crisp_error_set_errno(err, errno, "chmod %s to %04o", path, (unsigned)mode);
        struct stat st;
        if (stat(path, &st) < 0)
                return crisp_error_set_errno(err, errno, "stat %s", path);
        our_inode = st.st_ino;
        our_device = st.st_dev;
        return 0;
}

void crisp_listen_socket_remove(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return; /* gRPC may have removed it already */
        if (!S_ISSOCK(st.st_mode) || st.st_ino != our_inode || st.st_dev != our_device)
                return; /* not ours any more */
        if (unlink(path) < 0)
                log_warn("cannot remove socket path=%s: %s", path, strerror(errno));
}
