/* Requests are parsed with Debian's http-parser (libhttp-parser-dev, the
 * parser Node.js used for years, maintained in Debian): even a tiny GET
 * deserves a real parser rather than string matching, and this one is a
 * plain C library that fits a libuv read callback directly. */
#include "http.h"

#include <errno.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

#define MAX_URL           1024
#define MAX_REQUEST       (16 * 1024) /* bytes read before giving up on a client */
#define CLIENT_TIMEOUT_MS 10000

struct crisp_http {
        uv_loop_t *loop;
        union {
                uv_tcp_t tcp;
                uv_pipe_t pipe;
                uv_stream_t stream;
                uv_handle_t handle;
        } listener;
        bool is_pipe;
        char unix_path[108];
        crisp_http_handler handler;
        void *arg;
        int open_handles; /* the listener plus each connection's two handles */
        bool stopping;
        struct conn *conns; /* open connections, to close them on stop */
};

struct conn {
        struct crisp_http *http;
        union {
                uv_tcp_t tcp;
                uv_pipe_t pipe;
                uv_stream_t stream;
                uv_handle_t handle;
        } s;
        uv_timer_t timer; /* drops clients that do not finish a request */
        http_parser parser;
        char url[MAX_URL];
        size_t url_len;
        size_t received;
        bool answered;
        uv_write_t write_req;
        char *out; /* the response being written */
        struct conn *prev, *next;
};

static void release(struct crisp_http *http)
{
        if (--http->open_handles == 0 && http->stopping)
                free(http);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
        struct conn *c = h->data;
        struct crisp_http *http = c->http;
        /* Two handles per connection: free it after the second. */
        if (h == &c->s.handle)
                c->s.handle.data = NULL;
        else
                c->timer.data = NULL;
        if (c->s.handle.data == NULL && c->timer.data == NULL) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        http->conns = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                free(c->out);
                free(c);
        }
        release(http);
}

static void conn_close(struct conn *c)
{
        if (!uv_is_closing(&c->s.handle))
                uv_close(&c->s.handle, on_conn_handle_closed);
        if (!uv_is_closing((uv_handle_t *)&c->timer))
                uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_written(uv_write_t *req, int status)
{
        (void)status;
        conn_close(req->data);
}

static const char *reason(int status)
{
        switch (status) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 503:
                return "Service Unavailable";
        default:
                return "Error";
        }
}

static void respond(struct conn *c, struct crisp_http_response *r, bool head)
{
        c->answered = true;
        uv_timer_stop(&c->timer);
        size_t body_len = head ? 0 : r->body_len;
        char header[256];
        int hl = snprintf(header, sizeof(header),
                          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n",
                          r->status, reason(r->status),
                          r->content_type ? r->content_type : "text/plain", r->body_len);
        c->out = malloc((size_t)hl + body_len);
        if (c->out == NULL) {
                free(r->body);
                conn_close(c);
                return;
        }
        memcpy(c->out, header, (size_t)hl);
        if (body_len)
                memcpy(c->out + hl, r->body, body_len);
        free(r->body);
        uv_buf_t buf = uv_buf_init(c->out, (unsigned)((size_t)hl + body_len));
        c->write_req.data = c;
        if (uv_write(&c->write_req, &c->s.stream, &buf, 1, on_written) < 0)
                conn_close(c);
}

static void respond_text(struct conn *c, int status, const char *text)
{
        struct crisp_http_response r = {.status = status, .content_type = "text/plain"};
        r.body = strdup(text);
        r.body_len = r.body ? strlen(text) : 0;
        respond(c, &r, false);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
        struct conn *c = p->data;
        if (c->url_len + len >= sizeof(c->url))
                return 1; /* too long: the parser stops with an error */
        memcpy(c->url + c->url_len, at, len);
        c->url_len += len;
        c->url[c->url_len] = '\0';
        return 0;
}

static int on_message_complete(http_parser *p)
{
        struct conn *c = p->data;
        if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
                respond_text(c, 405, "only GET and HEAD\n");
                return 1;
        }
        char *query = strchr(c->url, '?');
        if (query)
                *query = '\0';
        struct crisp_http_response r = {.status = 404, .content_type = "text/plain"};
        c->http->handler(c->http->arg, c->url, &r);
        respond(c, &r, p->method == HTTP_HEAD);
        return 1; /* one request per connection */
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        (void)h;
        (void)suggested;
        static char scratch[4096]; /* the loop is single-threaded; parsed at once */
        *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct conn *c = s->data;
        if (n < 0) {
                if (!c->answered)
                        conn_close(c);
                return;
        }
        if (n == 0 || c->answered)
                return;
        c->received += (size_t)n;
        http_parser_execute(&c->parser, &settings, buf->base, (size_t)n);
        if (c->answered) {
                uv_read_stop(s);
                return;
        }
        if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || c->received > MAX_REQUEST) {
                uv_read_stop(s);
                respond_text(c, 400, "bad request\n");
        }
}

static void on_timeout(uv_timer_t *t)
{
        struct conn *c = t->data;
        if (!c->answered)
                conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
        struct crisp_http *http = server->data;
        if (status < 0 || http->stopping)
                return;
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL)
                return;
        c->http = http;
        if (http->is_pipe)
                uv_pipe_init(http->loop, &c->s.pipe, 0);
        else
                uv_tcp_init(http->loop, &c->s.tcp);
        uv_timer_init(http->loop, &c->timer);
        c->s.handle.data = c;
        c->timer.data = c;
        http->open_handles += 2;
        c->next = http->conns;
        if (c->next)
                c->next->prev = c;
        http->conns = c;
        if (uv_accept(server, &c->s.stream) < 0) {
                conn_close(c);
                return;
        }
        http_parser_init(&c->parser, HTTP_REQUEST);
        c->parser.data = c;
        uv_timer_start(&c->timer, on_timeout, CLIENT_TIMEOUT_MS, 0);
        uv_read_start(&c->s.stream, on_alloc, on_read);
}

static void on_listener_closed(uv_handle_t *h)
{
        release(h->data);
}

static int bind_address(struct crisp_http *http, const char *address, crisp_error **err)
{
        const char *path = strncmp(address, "unix://", 7) == 0 ? address + 7 : address;
        int r;
        if (path[0] == '/') {
                http->is_pipe = true;
                snprintf(http->unix_path, sizeof(http->unix_path), "%s", path);
                uv_pipe_init(http->loop, &http->listener.pipe, 0);
                /* A stale socket from a previous run would make bind fail. */
                struct stat st;
                if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                        unlink(path);
                r = uv_pipe_bind(&http->listener.pipe, path);
        } else {
                char host[108];
                snprintf(host, sizeof(host), "%s", address);
                char *colon = strrchr(host, ':');
                if (colon == NULL)
                        return crisp_error_set(err, EINVAL, "metrics: '%s' has no port", address);
                *colon = '\0';
                int port = atoi(colon + 1);
                char *h = host;
                size_t hl = strlen(h);
                if (h[0] == '[' && hl > 1 && h[hl - 1] == ']') {
                        h[hl - 1] = '\0';
                        h++;
                }
                struct sockaddr_storage sa;
                if (uv_ip4_addr(h, port, (struct sockaddr_in *)&sa) != 0 &&
                    uv_ip6_addr(h, port, (struct sockaddr_in6 *)&sa) != 0)
                        return crisp_error_set(err, EINVAL,
                                               "metrics: '%s' is not a numeric IP address", h);
                uv_tcp_init(http->loop, &http->listener.tcp);
                r = uv_tcp_bind(&http->listener.tcp, (const struct sockaddr *)&sa, 0);
        }
        http->open_handles = 1;
        http->listener.handle.data = http;
        if (r == 0)
                r = uv_listen(&http->listener.stream, 16, on_connection);
        if (r < 0)
                return crisp_error_set(err, -r, "metrics: cannot listen on %s: %s", address,
                                       uv_strerror(r));
        return 0;
}

int crisp_http_start(uv_loop_t *loop, const char *address, crisp_http_handler handler, void *arg,
                     struct crisp_http **out, crisp_error **err)
{
        struct crisp_http *http = calloc(1, sizeof(*http));
        if (http == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory");
        http->loop = loop;
        http->handler = handler;
        http->arg = arg;
        int r = bind_address(http, address, err);
        if (r < 0) {
                if (http->open_handles > 0) {
                        http->stopping = true;
                        uv_close(&http->listener.handle, on_listener_closed);
                } else {
                        free(http);
                }
                return r;
        }
        *out = http;
        return 0;
}

void crisp_http_stop(struct crisp_http *http)
{
        if (http == NULL)
                return;
        http->stopping = true;
        if (http->is_pipe)
                unlink(http->unix_path);
        for (struct conn *c = http->conns; c != NULL; c = c->next)
                conn_close(c);
        uv_close(&http->listener.handle, on_listener_closed);
}
