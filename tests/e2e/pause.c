/*
 * The pod sandbox ("pause") process for the end-to-end test image.
 *
 * Nothing can be pulled on the test machines, so the sandbox image is built
 * locally and needs its own pause program. It is compiled with `cc -static` at
 * test time so it runs in a rootfs that holds no libc.
 *
 * It holds the pod's namespaces open until the runtime stops the sandbox: it
 * exits 0 on SIGTERM or SIGINT, and, as PID 1 of the pod's PID namespace,
 * reaps any child that gets reparented to it so no zombie outlives its exec.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
        (void)sig;
        _exit(0);
}

static void on_child(int sig)
{
        (void)sig;
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
}

int main(void)
{
        struct sigaction stop = {.sa_handler = on_stop};
        struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};

        sigemptyset(&stop.sa_mask);
        sigemptyset(&child.sa_mask);
        if (sigaction(SIGTERM, &stop, NULL) != 0 || sigaction(SIGINT, &stop, NULL) != 0 ||
            sigaction(SIGCHLD, &child, NULL) != 0)
                return 1;
        for (;;)
                pause();
}
