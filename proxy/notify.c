/* sd_notify(3) spoken directly: READY=1 and STOPPING=1 for systemd's
 * Type=notify, without libsystemd (notify.h). */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/cleanup.h"
#include "base/log.h"

int crisp_notify(const char *state)
{
        const char *target = getenv("NOTIFY_SOCKET");
        if (target == NULL || target[0] == '\0')
                return 0;

        /* "/path" is a socket in the file system, "@name" one in the abstract
         * namespace (the '@' stands for a leading NUL byte). Other forms
         * (systemd 253's "vsock:") are not used for system services. */
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        size_t len = strlen(target);
        if ((target[0] != '/' && target[0] != '@') || len >= sizeof(addr.sun_path))
                return -EAFNOSUPPORT;
        memcpy(addr.sun_path, target, len);
        socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        if (addr.sun_path[0] == '@')
                addr.sun_path[0] = '\0';
        else
                addr_len++; /* the path's terminating NUL */

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        size_t size = strlen(state);
        ssize_t sent;
        do
                sent = sendto(fd, state, size, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
        while (sent < 0 && errno == EINTR);
        if (sent < 0)
                return -errno;
        if ((size_t)sent != size)
                return -EMSGSIZE;
        return 1;
}

static void notify_logged(const char *state, const char *what)
{
        int r = crisp_notify(state);
        if (r < 0)
                log_warn("cannot tell systemd %s notify_socket=%s: %s", what,
                         getenv("NOTIFY_SOCKET"), strerror(-r));
        else if (r > 0)
                log_debug("told systemd %s", what);
}

void crisp_notify_ready(void)
{
        notify_logged("READY=1\nSTATUS=serving the CRI", "we are ready");
}

void crisp_notify_stopping(void)
{
        notify_logged("STOPPING=1\nSTATUS=draining calls", "we are stopping");
}
