/* issue 14: `crisp report`: GET /complain from the metrics listener (a
 * unix socket or HOST:PORT), printed as a table or as JSON; report_main.h. */
#include "report_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"

#define MAX_ANSWER (64 << 20)

static void usage(FILE *out)
{
        fputs("usage: crisp report --metrics-listen ADDRESS [--json] [--fail-on-break]\n"
              "  what complain mode learned: one row per workload, whether RuntimeDefault\n"
              "  would break it, and the syscalls it would deny (count, first and last seen)\n"
              "  --metrics-listen ADDRESS  the running crisp's metrics listener: a unix socket\n"
              "                            path (or unix:///path) or HOST:PORT\n"
              "  --json                    print crisp's JSON document as it came\n"
              "  --fail-on-break           exit 1 when any workload would break\n"
              "exit status: 0; 1 with --fail-on-break and a workload that would break;\n"
              "2 when crisp cannot be asked\n",
              out);
}

static int connect_to(const char *address)
{
        if (strncmp(address, "unix://", 7) == 0)
                address += 7;
        if (address[0] == '/') {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                if (strlen(address) >= sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                strcpy(sa.sun_path, address);
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                        int e = errno;
                        if (fd >= 0)
                                close(fd);
                        return -e;
                }
                return fd;
        }
        char host[128];
        const char *colon = strrchr(address, ':');
        if (colon == NULL || (size_t)(colon - address) >= sizeof(host))
                return -EINVAL;
        memcpy(host, address, (size_t)(colon - address));
        host[colon - address] = '\0';
        char *h = host;
        if (h[0] == '[') {
                h++;
                h[strlen(h) - 1] = '\0';
        }
        int port = atoi(colon + 1);
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        bool v6 = inet_pton(AF_INET6, h, &s6.sin6_addr) == 1;
        if (!v6 && inet_pton(AF_INET, h, &s4.sin_addr) != 1)
                return -EINVAL;
        int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int r = v6 ? connect(fd, (struct sockaddr *)&s6, sizeof(s6))
                   : connect(fd, (struct sockaddr *)&s4, sizeof(s4));
        if (r < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

/* GET /complain; returns the body (malloc'ed) or NULL with a message. */
static char *fetch(const char *address)
{
        _cleanup_close_ int fd = connect_to(address);
        if (fd < 0) {
                fprintf(stderr, "crisp report: cannot connect to %s: %s\n", address, strerror(-fd));
                return NULL;
        }
        static const char req[] = "GET /complain HTTP/1.1\r\nHost: crisp\r\nConnection: "
                                  "close\r\n\r\n";
        if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
                fprintf(stderr, "crisp report: cannot ask %s: %s\n", address, strerror(errno));
                return NULL;
        }
        size_t len = 0, cap = 65536;
        _cleanup_free_ char *buf = malloc(cap + 1);
        for (;;) {
                if (buf == NULL) {
                        fprintf(stderr, "crisp report: out of memory\n");
                        return NULL;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(stderr, "crisp report: reading from %s: %s\n", address,
                                strerror(errno));
                        return NULL;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == cap) {
                        if (cap >= MAX_ANSWER) {
                                fprintf(stderr, "crisp report: answer larger than %d bytes\n",
                                        MAX_ANSWER);
                                return NULL;
                        }
                        cap *= 2;
                        char *bigger = realloc(buf, cap + 1);
                        if (bigger == NULL)
                                free(buf);
                        buf = bigger;
                }
        }
        buf[len] = '\0';
        int status = 0;
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
                fprintf(stderr, "crisp report: %s answered /complain with status %d\n", address,
                        status);
                return NULL;
        }
        char *body = strstr(buf, "\r\n\r\n");
        if (body == NULL) {
                fprintf(stderr, "crisp report: %s sent no body\n", address);
                return NULL;
        }
        return strdup(body + 4);
}

static const char *str(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static void when(int64_t t, char *out, size_t size)
{
        if (t <= 0) {
                snprintf(out, size, "-");
                return;
        }
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Prints the table; returns how many workloads would break, -1 when the
 * document is not crisp's. */
static int print_table(json_object *root)
{
        json_object *rows, *counters;
        if (!json_object_object_get_ex(root, "workloads", &rows) ||
            !json_object_is_type(rows, json_type_array))
                return -1;
        int breaking = 0;
        printf("%-20s %-30s %-20s %-11s %-20s %-20s %s\n", "NAMESPACE", "POD", "CONTAINER",
               "WOULD BREAK", "FIRST SEEN", "LAST SEEN", "SYSCALLS (COUNT)");
        for (size_t i = 0; i < json_object_array_length(rows); i++) {
                json_object *row = json_object_array_get_idx(rows, i), *b, *calls;
                bool would_break =
                    json_object_object_get_ex(row, "would_break", &b) && json_object_get_boolean(b);
                breaking += would_break;
                int64_t first = 0, last = 0;
                char list[2048] = "";
                size_t used = 0;
                if (json_object_object_get_ex(row, "syscalls", &calls))
                        for (size_t k = 0; k < json_object_array_length(calls); k++) {
                                json_object *c = json_object_array_get_idx(calls, k), *v;
                                int64_t f = json_object_object_get_ex(c, "first_seen", &v)
                                                ? json_object_get_int64(v)
                                                : 0;
                                int64_t l = json_object_object_get_ex(c, "last_seen", &v)
                                                ? json_object_get_int64(v)
                                                : 0;
                                if (first == 0 || f < first)
                                        first = f;
                                if (l > last)
                                        last = l;
                                int n = snprintf(list + used, sizeof(list) - used, "%s%s(%s)",
                                                 k ? " " : "", str(c, "name"), str(c, "count"));
                                if (n > 0 && (size_t)n < sizeof(list) - used)
                                        used += (size_t)n;
                        }
                char f[32], l[32];
                when(first, f, sizeof(f));
                when(last, l, sizeof(l));
                printf("%-20s %-30s %-20s %-11s %-20s %-20s %s\n", str(row, "namespace"),
                       str(row, "pod"), str(row, "container"), would_break ? "yes" : "no", f, l,
                       used ? list : "-");
        }
        if (json_object_object_get_ex(root, "counters", &counters))
                printf("\nrecords: attributed=%s unattributed=%s unparsed=%s lost=%s "
                       "dropped=%s twin_failures=%s\n",
                       str(counters, "records"), str(counters, "unattributed"),
                       str(counters, "unparsed"), str(counters, "lost"), str(counters, "dropped"),
                       str(counters, "twin_failures"));
        return breaking;
}

static int count_breaking(json_object *root)
{
        json_object *rows;
        if (!json_object_object_get_ex(root, "workloads", &rows) ||
            !json_object_is_type(rows, json_type_array))
                return -1;
        int n = 0;
        for (size_t i = 0; i < json_object_array_length(rows); i++) {
                json_object *b;
                if (json_object_object_get_ex(json_object_array_get_idx(rows, i), "would_break",
                                              &b) &&
                    json_object_get_boolean(b))
                        n++;
        }
        return n;
}

int crisp_report_main(int argc, char **argv)
{
        static const struct option options[] = {
            {"metrics-listen", required_argument, NULL, 'm'},
            {"json", no_argument, NULL, 'j'},
            {"fail-on-break", no_argument, NULL, 'f'},
            {"help", no_argument, NULL, 'h'},
            {0, 0, 0, 0},
        };
        const char *address = NULL;
        bool json = false, fail = false;
        optind = 1;
        int c;
        while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (c) {
                case 'm':
                        address = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'f':
                        fail = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (address == NULL || optind != argc) {
                usage(stderr);
                return 2;
        }
        _cleanup_free_ char *body = fetch(address);
        if (body == NULL)
                return 2;
        json_object *root = json_tokener_parse(body);
        if (root == NULL) {
                fprintf(stderr, "crisp report: %s did not answer JSON\n", address);
                return 2;
        }
        int breaking = json ? count_breaking(root) : print_table(root);
        if (json && breaking >= 0)
                printf("%s\n", body);
        json_object_put(root);
        if (breaking < 0) {
                fprintf(stderr, "crisp report: the answer is not a complain report\n");
                return 2;
        }
        return fail && breaking > 0 ? 1 : 0;
}
