/* The list-and-watch loop, as client-go's reflector does it:
 *
 *   list (paged)  -> every pod into the cache, the others out; remember RV
 *   watch from RV -> ADDED/MODIFIED: put, DELETED: remove, BOOKMARK: new RV
 *                    ERROR 410 / HTTP 410: list again
 *   the watch ends (timeoutSeconds) -> watch again from the last RV
 *   anything else -> wait (backoff with jitter), then again
 *
 * Each request gets a fresh curl handle and the kubeconfig is read again
 * first, so no TLS session and no connection outlives a credential change.
 * The cache is "in sync" only while a watch is connected: a lookup then
 * waits briefly for a missing pod; otherwise it does not wait at all. */
#include "podspec/pod_watch.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "podspec/kubeconfig.h"
#include "base/log.h"
#include "podspec/metrics_podspec.h"
#include "podspec/pod_spec_json.h"
#include "base/monotonic.h"

#define DEFAULT_PAGE_SIZE      500
#define DEFAULT_MAX_BACKOFF_MS 30000
#define MIN_BACKOFF_MS         200
#define CONNECT_TIMEOUT_MS     5000
#define LIST_TIMEOUT_S         60
#define MAX_LIST_BYTES         (256L * 1024 * 1024)
#define MAX_EVENT_BYTES        (16L * 1024 * 1024)
/* A watch lasts 5 to 10 minutes (client-go's choice), then starts again:
 * spreads the load of many nodes and bounds how long a rotated credential
 * waits to be used. */
#define WATCH_MIN_S 300
#define WATCH_MAX_S 600

struct crisp_pod_watch {
        char *kubeconfig;
        char *node_name;
        char *node_escaped; /* URL-escaped, for the field selector */
        long page_size;
        long max_backoff_ms;
        struct crisp_pod_cache *cache;

        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cond;
        bool stopping; /* under mu; also read without it by curl's callback */
        unsigned int seed;
        char last_problem[512]; /* logged once until it changes */
};

enum watch_end {
        WATCH_TIMEOUT, /* ended as asked */
        WATCH_GONE,    /* 410: relist */
        WATCH_DROPPED, /* was connected, then broke */
        WATCH_FAILED,  /* never connected */
        WATCH_STOPPED,
};

static bool stopping(struct crisp_pod_watch *w)
{
        return __atomic_load_n(&w->stopping, __ATOMIC_RELAXED);
}

/* Logs a problem at warn once, and again only when it changes (a node that
 * has not joined yet must not fill the journal); repeats go to debug. */
static void problem(struct crisp_pod_watch *w, const char *what)
{
        if (strcmp(w->last_problem, what) == 0) {
                log_debug("pod-spec: %s", what);
                return;
        }
        snprintf(w->last_problem, sizeof(w->last_problem), "%s", what);
        log_warn("pod-spec: %s; lookups use the policy until the watch is back", what);
}

/* ---- one HTTPS request ------------------------------------------------------------ */

struct request {
        struct crisp_pod_watch *w;
        CURL *curl;
        struct curl_slist *headers;
        struct curl_slist *connect_to; /* tls-server-name's route, or NULL */
        char errbuf[CURL_ERROR_SIZE];
        long status;
        /* the body: whole (list), or the current partial line (watch) */
        char *buf;
        size_t len, cap;
        size_t limit;
        bool watching;
        bool connected; /* a watch got 200 and its headers */
        bool gone;      /* a watch ERROR event with code 410 */
        char *rv;       /* watch: the newest resourceVersion seen */
        unsigned long events;
};

static void request_release(struct request *rq)
{
        if (rq->curl)
                curl_easy_cleanup(rq->curl);
        curl_slist_free_all(rq->headers);
        curl_slist_free_all(rq->connect_to);
        free(rq->buf);
        free(rq->rv);
}

static int append(struct request *rq, const char *data, size_t n)
{
        if (rq->len + n + 1 > rq->limit)
                return -EFBIG;
        if (rq->len + n + 1 > rq->cap) {
                size_t cap = rq->cap ? rq->cap : 64 * 1024;
                while (cap < rq->len + n + 1)
                        cap *= 2;
                char *b = realloc(rq->buf, cap);
                if (b == NULL)
                        return -ENOMEM;
                rq->buf = b;
                rq->cap = cap;
        }
        memcpy(rq->buf + rq->len, data, n);
        rq->len += n;
        rq->buf[rq->len] = '\0';
        return 0;
}

static void set_rv(struct request *rq, const char *rv)
{
        if (rv == NULL || rv[0] == '\0')
                return;
        char *copy = strdup(rv);
        if (copy) {
                free(rq->rv);
                rq->rv = copy;
        }
}

static void publish_pods(struct crisp_pod_watch *w)
{
        crisp_metrics_podspec_pods(crisp_pod_cache_count(w->cache));
        crisp_metrics_podspec_event();
}

/* One watch event (a JSON object on one line). Returns false to end the
 * watch (410, or an ERROR event). */
static bool handle_event(struct request *rq, const char *line, size_t len)
{
        struct crisp_pod_watch *w = rq->w;
        struct json_tokener *tok = json_tokener_new();
        if (tok == NULL)
                return false;
        struct json_object *ev = json_tokener_parse_ex(tok, line, (int)len);
        json_tokener_free(tok);
        if (ev == NULL) {
                log_warn("pod-spec: a watch event that is not JSON (%zu bytes); watching again",
                         len);
                return false;
        }
        struct json_object *type_o = NULL, *obj = NULL;
        json_object_object_get_ex(ev, "type", &type_o);
        json_object_object_get_ex(ev, "object", &obj);
        const char *type = type_o ? json_object_get_string(type_o) : "";
        bool go_on = true;

        if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0 ||
            strcmp(type, "DELETED") == 0) {
                struct crisp_pod_spec pod;
                _cleanup_error_ crisp_error *err = NULL;
                if (crisp_pod_spec_from_json(obj, &pod, &err) == 0) {
                        char what[600];
                        snprintf(what, sizeof(what), "%s pod=%s/%s uid=%s", type, pod.namespace_,
                                 pod.name, pod.uid);
                        set_rv(rq, pod.resource_version);
                        if (type[0] == 'D') {
                                crisp_pod_cache_remove(w->cache, pod.uid);
                                crisp_pod_spec_release(&pod);
                        } else {
                                crisp_pod_cache_put(w->cache, &pod);
                        }
                        /* Logged after the change, so the log never runs ahead of the cache. */
                        log_debug("pod-spec: %s", what);
                } else {
                        log_warn("pod-spec: skipped a %s event: %s", type, err->msg);
                        crisp_pod_spec_release(&pod);
                }
        } else if (strcmp(type, "BOOKMARK") == 0) {
                set_rv(rq, crisp_json_resource_version(obj));
                log_debug("pod-spec: bookmark resourceVersion=%s", rq->rv ? rq->rv : "");
        } else if (strcmp(type, "ERROR") == 0) {
                struct json_object *code = NULL, *msg = NULL;
                json_object_object_get_ex(obj, "code", &code);
                json_object_object_get_ex(obj, "message", &msg);
                if (code && json_object_get_int(code) == 410) {
                        rq->gone = true;
                } else {
                        char what[400];
                        snprintf(what, sizeof(what), "the watch reported an error: code=%d %s",
                                 code ? json_object_get_int(code) : 0,
                                 msg ? json_object_get_string(msg) : "");
                        problem(w, what);
                }
                go_on = false;
        } else {
                log_warn("pod-spec: ignored a watch event of type '%.40s'", type);
        }
        rq->events++;
        publish_pods(w);
        json_object_put(ev);
        return go_on;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
        struct request *rq = arg;
        size_t n = size * nmemb;
        if (!rq->watching || !rq->connected)
                return append(rq, data, n) == 0 ? n : 0;
        /* A watch: split into lines, one event each. */
        while (n > 0) {
                char *nl = memchr(data, '\n', n);
                size_t take = nl ? (size_t)(nl - data) : n;
                if (append(rq, data, take) < 0) {
                        log_warn("pod-spec: a watch event larger than %ld bytes; watching again",
                                 MAX_EVENT_BYTES);
                        return 0;
                }
                if (nl == NULL)
                        break;
                if (rq->len > 0 && !handle_event(rq, rq->buf, rq->len))
                        return 0; /* ends the transfer */
                rq->len = 0;
                data = nl + 1;
                n -= take + 1;
        }
        return size * nmemb;
}

/* The end of the response headers: a watch answered 200 is connected. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
        struct request *rq = arg;
        size_t n = size * nmemb;
        if (n <= 2 && (n == 0 || data[0] == '\r' || data[0] == '\n')) {
                curl_easy_getinfo(rq->curl, CURLINFO_RESPONSE_CODE, &rq->status);
                if (rq->watching && rq->status == 200) {
                        rq->connected = true;
                        crisp_pod_cache_set_synced(rq->w->cache, true);
                        crisp_metrics_podspec_synced(true);
                }
        }
        return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
        (void)a, (void)b, (void)c, (void)d;
        return stopping(((struct request *)arg)->w) ? 1 : 0;
}

/* Reads a token file; trailing whitespace dropped, as kubectl does. */
static int read_token_file(const char *path, char **out, crisp_error **err)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (f == NULL)
                return crisp_error_set_errno(err, errno, "token file %s", path);
        char buf[16384];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                         buf[n - 1] == '\t'))
                buf[--n] = '\0';
        if (n == 0)
                return crisp_error_set(err, EINVAL, "token file %s is empty", path);
        *out = strdup(buf);
        return *out ? 0 : -ENOMEM;
}

static void blob(CURL *curl, CURLoption opt, const uint8_t *data, size_t len)
{
        struct curl_blob b = {.data = (void *)data, .len = len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(curl, opt, &b);
}

/* Makes a request to `url` with the kubeconfig's server, CA and credentials. */
static int request_init(struct request *rq, struct crisp_pod_watch *w,
                        const struct crisp_kubeconfig *kc, const char *url,
                        struct curl_slist *connect_to, bool watching, long timeout_s,
                        crisp_error **err)
{
        memset(rq, 0, sizeof(*rq));
        rq->connect_to = connect_to;
        rq->w = w;
        rq->watching = watching;
        rq->limit = watching ? MAX_EVENT_BYTES : MAX_LIST_BYTES;
        rq->curl = curl_easy_init();
        if (rq->curl == NULL)
                return crisp_error_set(err, ENOMEM, "cannot make a curl handle");
        CURL *c = rq->curl;
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (connect_to)
                curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rq->errbuf);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* a node agent talks to its API server */
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, rq);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, rq);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, rq);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "crisp/" CRISP_VERSION_STRING);
        if (watching) {
                /* A watch past its own timeoutSeconds with no byte is dead. */
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_s + 30);
        } else {
                curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
        }

        if (kc->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, kc->ca_file);
        else if (kc->ca_data)
                blob(c, CURLOPT_CAINFO_BLOB, kc->ca_data, kc->ca_data_len);
        if (kc->client_cert_file)
                curl_easy_setopt(c, CURLOPT_SSLCERT, kc->client_cert_file);
        else if (kc->client_cert_data)
                blob(c, CURLOPT_SSLCERT_BLOB, kc->client_cert_data, kc->client_cert_data_len);
        if (kc->client_key_file)
                curl_easy_setopt(c, CURLOPT_SSLKEY, kc->client_key_file);
        else if (kc->client_key_data)
                blob(c, CURLOPT_SSLKEY_BLOB, kc->client_key_data, kc->client_key_data_len);

        _cleanup_free_ char *token = NULL;
        if (kc->token_file) {
                int r = read_token_file(kc->token_file, &token, err);
                if (r < 0)
                        return r;
        } else if (kc->token) {
                token = strdup(kc->token);
        }
        rq->headers = curl_slist_append(NULL, "Accept: application/json");
        if (token) {
                size_t n = strlen(token) + 32;
                _cleanup_free_ char *h = malloc(n);
                if (h == NULL)
                        return -ENOMEM;
                snprintf(h, n, "Authorization: Bearer %s", token);
                struct curl_slist *l = curl_slist_append(rq->headers, h);
                if (l == NULL)
                        return -ENOMEM;
                rq->headers = l;
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, rq->headers);
        return 0;
}

/* "HTTP 403: <the Status message>", or curl's reason. */
static void describe_failure(struct request *rq, CURLcode rc, char *out, size_t size)
{
        if (rc != CURLE_OK && rq->status == 0) {
                snprintf(out, size, "%s", rq->errbuf[0] ? rq->errbuf : curl_easy_strerror(rc));
                return;
        }
        const char *message = NULL;
        struct json_object *status = rq->buf ? json_tokener_parse(rq->buf) : NULL;
        struct json_object *m = NULL;
        if (status && json_object_object_get_ex(status, "message", &m))
                message = json_object_get_string(m);
        snprintf(out, size, "HTTP %ld%s%.300s", rq->status, message ? ": " : "",
                 message ? message : "");
        json_object_put(status);
}

/* ---- list ---------------------------------------------------------------------------- */

/* The server's "host:port" (an IPv6 host in brackets) and the path after
 * it, from "https://host[:port][/path]". Returns false when it cannot tell. */
static bool split_server(const char *server, char *host, size_t host_size, char *port,
                         size_t port_size, const char **path)
{
        const char *p = strstr(server, "://");
        if (p == NULL)
                return false;
        p += 3;
        const char *end = p + strcspn(p, "/");
        const char *colon = NULL;
        if (*p == '[') {
                const char *close = memchr(p, ']', (size_t)(end - p));
                if (close == NULL)
                        return false;
                colon = close[1] == ':' ? close + 1 : NULL;
        } else {
                colon = memchr(p, ':', (size_t)(end - p));
        }
        const char *host_end = colon ? colon : end;
        if ((size_t)(host_end - p) >= host_size || host_end == p)
                return false;
        snprintf(host, host_size, "%.*s", (int)(host_end - p), p);
        if (colon)
                snprintf(port, port_size, "%.*s", (int)(end - colon - 1), colon + 1);
        else
                snprintf(port, port_size, "443");
        *path = end;
        return true;
}

/* The URL of the node's pods. With tls-server-name, the URL names that
 * host, so curl sends it as SNI and checks the certificate against it, and
 * *connect_to sends the connection to the real server (kubectl's meaning). */
static char *pods_url(struct crisp_pod_watch *w, const struct crisp_kubeconfig *kc,
                      const char *extra, struct curl_slist **connect_to)
{
        char *url = NULL;
        if (kc->tls_server_name && connect_to) {
                char host[256], port[16], route[600];
                const char *path;
                if (!split_server(kc->server, host, sizeof(host), port, sizeof(port), &path))
                        return NULL;
                snprintf(route, sizeof(route), "%s:%s:%s:%s", kc->tls_server_name, port, host,
                         port);
                *connect_to = curl_slist_append(NULL, route);
                if (*connect_to == NULL ||
                    asprintf(&url,
                             "https://%s:%s%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s%s",
                             kc->tls_server_name, port, path, w->node_escaped, extra) < 0)
                        return NULL;
                return url;
        }
        if (asprintf(&url, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s%s", kc->server,
                     w->node_escaped, extra) < 0)
                return NULL;
        return url;
}

/* Lists every pod of the node, page by page, into the cache; *rv gets the
 * list's resourceVersion. */
static int list_pods(struct crisp_pod_watch *w, const struct crisp_kubeconfig *kc, char **rv,
                     char *why, size_t why_size)
{
        _cleanup_free_ char *cont = NULL;
        size_t pods = 0;
        crisp_pod_cache_relist_begin(w->cache);
        for (;;) {
                char extra[1024];
                _cleanup_free_ char *cont_esc = NULL;
                if (cont) {
                        cont_esc = curl_easy_escape(NULL, cont, 0);
                        if (cont_esc == NULL)
                                return -ENOMEM;
                }
                snprintf(extra, sizeof(extra), "&limit=%ld%s%s", w->page_size,
                         cont_esc ? "&continue=" : "", cont_esc ? cont_esc : "");
                struct curl_slist *connect_to = NULL;
                _cleanup_free_ char *url = pods_url(w, kc, extra, &connect_to);
                if (url == NULL) {
                        curl_slist_free_all(connect_to);
                        snprintf(why, why_size, "cannot make the URL of %s", kc->server);
                        return -EINVAL;
                }
                struct request rq;
                _cleanup_error_ crisp_error *err = NULL;
                int r = request_init(&rq, w, kc, url, connect_to, false, LIST_TIMEOUT_S, &err);
                if (r < 0) {
                        snprintf(why, why_size, "cannot list pods: %s",
                                 err ? err->msg : "out of memory");
                        request_release(&rq);
                        return r;
                }
                CURLcode rc = curl_easy_perform(rq.curl);
                curl_easy_getinfo(rq.curl, CURLINFO_RESPONSE_CODE, &rq.status);
                if (rc != CURLE_OK || rq.status != 200) {
                        char d[400];
                        describe_failure(&rq, rc, d, sizeof(d));
                        snprintf(why, why_size, "cannot list pods from %s: %s", kc->server, d);
                        request_release(&rq);
                        return -EIO;
                }
                struct json_object *list = json_tokener_parse(rq.buf ? rq.buf : "");
                request_release(&rq);
                struct json_object *items = NULL;
                if (list == NULL || !json_object_object_get_ex(list, "items", &items) ||
                    !json_object_is_type(items, json_type_array)) {
                        json_object_put(list);
                        snprintf(why, why_size, "the pod list from %s is not a PodList",
                                 kc->server);
                        return -EIO;
                }
                for (size_t i = 0; i < json_object_array_length(items); i++) {
                        struct crisp_pod_spec pod;
                        _cleanup_error_ crisp_error *perr = NULL;
                        if (crisp_pod_spec_from_json(json_object_array_get_idx(items, i), &pod,
                                                     &perr) == 0) {
                                crisp_pod_cache_put(w->cache, &pod);
                                pods++;
                        } else {
                                log_warn("pod-spec: skipped a listed pod: %s", perr->msg);
                                crisp_pod_spec_release(&pod);
                        }
                }
                free(*rv);
                const char *list_rv = crisp_json_resource_version(list);
                *rv = strdup(list_rv ? list_rv : "");
                struct json_object *c = NULL, *meta = NULL;
                free(cont);
                cont = NULL;
                if (json_object_object_get_ex(list, "metadata", &meta) &&
                    json_object_object_get_ex(meta, "continue", &c) &&
                    json_object_get_string_len(c) > 0)
                        cont = strdup(json_object_get_string(c));
                json_object_put(list);
                if (*rv == NULL)
                        return -ENOMEM;
                if (cont == NULL)
                        break;
                if (stopping(w))
                        return -ECANCELED;
        }
        size_t removed = crisp_pod_cache_relist_end(w->cache);
        publish_pods(w);
        log_info("pod-spec: listed pods node=%s pods=%zu removed=%zu resourceVersion=%s",
                 w->node_name, pods, removed, *rv);
        return 0;
}

/* ---- watch --------------------------------------------------------------------------- */

static enum watch_end watch_pods(struct crisp_pod_watch *w, const struct crisp_kubeconfig *kc,
                                 char **rv, char *why, size_t why_size)
{
        long timeout_s = WATCH_MIN_S + (long)(rand_r(&w->seed) % (WATCH_MAX_S - WATCH_MIN_S));
        _cleanup_free_ char *rv_esc = curl_easy_escape(NULL, *rv, 0);
        char extra[512];
        snprintf(extra, sizeof(extra),
                 "&watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
                 rv_esc ? rv_esc : "", timeout_s);
        struct curl_slist *connect_to = NULL;
        _cleanup_free_ char *url = pods_url(w, kc, extra, &connect_to);
        struct request rq;
        _cleanup_error_ crisp_error *err = NULL;
        if (url == NULL) {
                curl_slist_free_all(connect_to);
                snprintf(why, why_size, "cannot make the URL of %s", kc->server);
                return WATCH_FAILED;
        }
        if (request_init(&rq, w, kc, url, connect_to, true, timeout_s, &err) < 0) {
                snprintf(why, why_size, "cannot watch pods: %s", err ? err->msg : "out of memory");
                request_release(&rq);
                return WATCH_FAILED;
        }
        CURLcode rc = curl_easy_perform(rq.curl);
        if (rq.status == 0)
                curl_easy_getinfo(rq.curl, CURLINFO_RESPONSE_CODE, &rq.status);
        if (rq.rv) {
                free(*rv);
                *rv = steal_pointer(&rq.rv);
        }
        enum watch_end end;
        if (stopping(w)) {
                end = WATCH_STOPPED;
        } else if (rq.gone || rq.status == 410) {
                snprintf(why, why_size, "resourceVersion %s is gone (410)", *rv);
                end = WATCH_GONE;
        } else if (rq.connected && rc == CURLE_OK) {
                end = WATCH_TIMEOUT;
        } else if (rq.connected) {
                snprintf(why, why_size, "the watch broke after %lu events: %s", rq.events,
                         rq.errbuf[0] ? rq.errbuf : curl_easy_strerror(rc));
                end = WATCH_DROPPED;
        } else {
                char d[400];
                describe_failure(&rq, rc, d, sizeof(d));
                snprintf(why, why_size, "cannot watch pods at %s: %s", kc->server, d);
                end = WATCH_FAILED;
        }
        request_release(&rq);
        return end;
}

/* ---- the thread ---------------------------------------------------------------------- */

/* Waits `ms` (or until stopped); true when stopped. */
static bool pause_ms(struct crisp_pod_watch *w, long ms)
{
        struct timespec until = crisp_monotonic_after_ms(ms);
        pthread_mutex_lock(&w->mu);
        while (!w->stopping) {
                if (pthread_cond_timedwait(&w->cond, &w->mu, &until) == ETIMEDOUT)
                        break;
        }
        bool s = w->stopping;
        pthread_mutex_unlock(&w->mu);
        return s;
}

static void set_synced(struct crisp_pod_watch *w, bool synced)
{
        crisp_pod_cache_set_synced(w->cache, synced);
        crisp_metrics_podspec_synced(synced);
}

static void *watch_thread(void *arg)
{
        struct crisp_pod_watch *w = arg;
        bool need_list = true;
        _cleanup_free_ char *rv = NULL;
        long backoff_ms = 0;

        while (!stopping(w)) {
                if (backoff_ms > 0) {
                        /* Full jitter over [backoff/2, backoff]: nodes that lost the
                         * API server together do not come back together. */
                        long ms = backoff_ms / 2 + (long)(rand_r(&w->seed) % (backoff_ms / 2 + 1));
                        if (pause_ms(w, ms))
                                break;
                }
                char why[640] = "";
                struct crisp_kubeconfig kc = {0};
                _cleanup_error_ crisp_error *err = NULL;
                if (crisp_kubeconfig_load(w->kubeconfig, &kc, &err) < 0) {
                        snprintf(why, sizeof(why), "cannot read the kubeconfig: %s", err->msg);
                        problem(w, why);
                        crisp_metrics_podspec_restart(CRISP_RESTART_KUBECONFIG);
                        backoff_ms = backoff_ms ? backoff_ms * 2 : 1000;
                        if (backoff_ms > w->max_backoff_ms)
                                backoff_ms = w->max_backoff_ms;
                        continue;
                }
                if (need_list) {
                        int r = list_pods(w, &kc, &rv, why, sizeof(why));
                        if (r < 0) {
                                crisp_kubeconfig_release(&kc);
                                if (r == -ECANCELED)
                                        break;
                                problem(w, why);
                                crisp_metrics_podspec_restart(CRISP_RESTART_ERROR);
                                backoff_ms = backoff_ms ? backoff_ms * 2 : MIN_BACKOFF_MS;
                                if (backoff_ms > w->max_backoff_ms)
                                        backoff_ms = w->max_backoff_ms;
                                continue;
                        }
                        need_list = false;
                }
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                enum watch_end end = watch_pods(w, &kc, &rv, why, sizeof(why));
                clock_gettime(CLOCK_MONOTONIC, &t1);
                crisp_kubeconfig_release(&kc);
                set_synced(w, false);
                if (end == WATCH_STOPPED)
                        break;
                bool lasted = t1.tv_sec - t0.tv_sec >= 5;
                switch (end) {
                case WATCH_TIMEOUT:
                        crisp_metrics_podspec_restart(CRISP_RESTART_TIMEOUT);
                        log_debug("pod-spec: the watch ended; watching again");
                        backoff_ms = lasted ? 0 : MIN_BACKOFF_MS;
                        break;
                case WATCH_GONE:
                        crisp_metrics_podspec_restart(CRISP_RESTART_GONE);
                        log_info("pod-spec: %s; listing again", why);
                        need_list = true;
                        backoff_ms = lasted ? 0 : MIN_BACKOFF_MS;
                        break;
                case WATCH_DROPPED:
                        crisp_metrics_podspec_restart(CRISP_RESTART_DROPPED);
                        problem(w, why);
                        backoff_ms = lasted ? MIN_BACKOFF_MS : backoff_ms * 2 + MIN_BACKOFF_MS;
                        break;
                case WATCH_FAILED:
                default:
                        crisp_metrics_podspec_restart(CRISP_RESTART_ERROR);
                        problem(w, why);
                        backoff_ms = backoff_ms ? backoff_ms * 2 : MIN_BACKOFF_MS;
                        break;
                }
                if (backoff_ms > w->max_backoff_ms)
                        backoff_ms = w->max_backoff_ms;
                if (end == WATCH_TIMEOUT || end == WATCH_GONE)
                        w->last_problem[0] = '\0'; /* it worked: say the next problem again */
        }
        set_synced(w, false);
        return NULL;
}

void crisp_pod_watch_global_init(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

void crisp_pod_watch_global_cleanup(void)
{
        curl_global_cleanup();
}

int crisp_pod_watch_start(const struct crisp_pod_watch_options *opts, struct crisp_pod_cache *cache,
                          struct crisp_pod_watch **out, crisp_error **err)
{
        if (opts->node_name == NULL || opts->node_name[0] == '\0')
                return crisp_error_set(err, EINVAL, "pod-spec: no node name");
        struct crisp_pod_watch *w = calloc(1, sizeof(*w));
        if (w == NULL)
                return crisp_error_set(err, ENOMEM, "pod-spec: out of memory");
        w->kubeconfig = strdup(opts->kubeconfig);
        w->node_name = strdup(opts->node_name);
        w->node_escaped = curl_easy_escape(NULL, opts->node_name, 0);
        w->page_size = opts->page_size > 0 ? opts->page_size : DEFAULT_PAGE_SIZE;
        w->max_backoff_ms =
            opts->max_backoff_ms > 0 ? opts->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
        w->cache = cache;
        w->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
        pthread_mutex_init(&w->mu, NULL);
        crisp_cond_init_monotonic(&w->cond);
        if (!w->kubeconfig || !w->node_name || !w->node_escaped) {
                crisp_pod_watch_stop(w);
                return crisp_error_set(err, ENOMEM, "pod-spec: out of memory");
        }
        int rc = pthread_create(&w->thread, NULL, watch_thread, w);
        if (rc != 0) {
                w->thread = 0;
                crisp_pod_watch_stop(w);
                return crisp_error_set_errno(err, rc, "pod-spec: cannot start the watch thread");
        }
        crisp_metrics_podspec_enable();
        *out = w;
        return 0;
}

void crisp_pod_watch_stop(struct crisp_pod_watch *w)
{
        if (w == NULL)
                return;
        if (w->thread) {
                pthread_mutex_lock(&w->mu);
                __atomic_store_n(&w->stopping, true, __ATOMIC_RELAXED);
                pthread_cond_broadcast(&w->cond);
                pthread_mutex_unlock(&w->mu);
                pthread_join(w->thread, NULL);
        }
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mu);
        free(w->kubeconfig);
        free(w->node_name);
        curl_free(w->node_escaped);
        free(w);
}
