/*
 * A stand-in for the nginx test images critest runs (nginx:1.14-2 and
 * hostnet-nginx): nothing can be pulled here, and what the specs look at is
 * small. The process must read `nginx: master process ...` in its argv (the
 * PID namespace specs find it by that), write its PID to /var/run/nginx.pid,
 * and answer HTTP with 200 on the image's port (/etc/nginx/port). The HTTP
 * side is busybox's httpd, run as a child; this process forwards the stop
 * signal to it (as PID 1 of a container it would otherwise ignore SIGTERM).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TITLE "nginx: master process nginx -g daemon off;"

static pid_t child;

static void on_stop(int sig)
{
        if (child > 0)
                kill(child, SIGTERM);
        _exit(128 + sig);
}

int main(int argc, char **argv)
{
        (void)argc;
        if (strncmp(argv[0], "nginx:", 6) != 0) {
                char *args[] = {TITLE, NULL};
                execv("/usr/sbin/nginx", args);
                perror("nginx: execv /usr/sbin/nginx");
                return 1;
        }
        char port[16] = "80";
        FILE *f = fopen("/etc/nginx/port", "r");
        if (f != NULL) {
                if (fgets(port, sizeof(port), f) == NULL)
                        snprintf(port, sizeof(port), "80");
                port[strcspn(port, "\n")] = '\0';
                fclose(f);
        }
        f = fopen("/var/run/nginx.pid", "w");
        if (f == NULL) {
                perror("nginx: /var/run/nginx.pid");
                return 1;
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
        signal(SIGTERM, on_stop);
        signal(SIGINT, on_stop);
        signal(SIGQUIT, on_stop);
        child = fork();
        if (child == 0) {
                execl("/bin/httpd", "httpd", "-f", "-p", port, "-h", "/usr/share/nginx/html",
                      (char *)NULL);
                perror("nginx: exec /bin/httpd");
                _exit(127);
        }
        if (child < 0) {
                perror("nginx: fork");
                return 1;
        }
        int status;
        while (waitpid(child, &status, 0) < 0) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
