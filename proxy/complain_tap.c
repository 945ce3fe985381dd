/* issue 14: complain mode in the daemon: the twin maker the rewriter calls
 * (cached per capability set) and the CreateContainer observer that tells
 * the report which container runs under a twin; complain.h. */
#include "complain.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "complain/twin.h"
#include "base/log.h"

#define TWIN_CACHE 64

struct crisp_complain {
        struct crisp_call_observer observer;
        struct crisp_report *report;
        char dir[4096];
        unsigned kernel_major, kernel_minor;
        int source;

        pthread_mutex_t mu; /* the cache and the reader's start */
        struct {
                crisp_caps caps;
                char path[256];
        } cache[TWIN_CACHE]; /* RuntimeDefault twins by capability set */
        size_t n_cache;
        struct crisp_kernel_reader *reader;
        bool reader_failed;
};

struct crisp_report *crisp_complain_report(struct crisp_complain *cx)
{
        return cx->report;
}

static void start_reader(struct crisp_complain *cx)
{
        /* under cx->mu */
        if (cx->reader || cx->reader_failed)
                return;
        _cleanup_error_ crisp_error *err = NULL;
        if (crisp_kernel_reader_start(cx->report, cx->source, &cx->reader, &err) < 0) {
                cx->reader_failed = true;
                log_error("complain: cannot read the kernel's seccomp records: %s; containers "
                          "still run under twins, but crisp report will not see what they do",
                          err->msg);
        }
}

static int make_twin(struct crisp_complain *cx, const struct crisp_twin_request *req, char *path,
                     size_t size, crisp_error **err)
{
        crisp_caps caps = crisp_caps_containerd_default();
        if (strcmp(req->context, "container") == 0 && req->n_add + req->n_drop > 0) {
                _cleanup_free_ struct crisp_cap_name *names =
                    calloc(req->n_add + req->n_drop, sizeof(*names));
                if (names == NULL)
                        return crisp_error_set(err, ENOMEM, "complain: out of memory");
                for (size_t i = 0; i < req->n_add; i++)
                        names[i] = (struct crisp_cap_name){req->add[i].name, req->add[i].len};
                for (size_t i = 0; i < req->n_drop; i++)
                        names[req->n_add + i] =
                            (struct crisp_cap_name){req->drop[i].name, req->drop[i].len};
                caps = crisp_caps_effective(names, req->n_add, names + req->n_add, req->n_drop);
        }
        _cleanup_free_ char *json = NULL;
        int r;
        if (req->base_profile == NULL) {
                pthread_mutex_lock(&cx->mu);
                for (size_t i = 0; i < cx->n_cache; i++)
                        /* still on disk: someone may have cleaned the folder */
                        if (cx->cache[i].caps == caps && access(cx->cache[i].path, R_OK) == 0) {
                                snprintf(path, size, "%s", cx->cache[i].path);
                                pthread_mutex_unlock(&cx->mu);
                                return 0;
                        }
                pthread_mutex_unlock(&cx->mu);
                r = crisp_twin_runtime_default(caps, cx->kernel_major, cx->kernel_minor, &json,
                                               err);
        } else {
                _cleanup_fclose_ FILE *f = fopen(req->base_profile, "re");
                if (f == NULL)
                        return crisp_error_set_errno(err, errno, "complain: cannot read %s",
                                                     req->base_profile);
                enum { MAX_PROFILE = 1 << 20 };
                _cleanup_free_ char *buf = malloc(MAX_PROFILE);
                if (buf == NULL)
                        return crisp_error_set(err, ENOMEM, "complain: out of memory");
                size_t n = fread(buf, 1, MAX_PROFILE, f);
                if (n == MAX_PROFILE)
                        return crisp_error_set(err, EFBIG, "complain: %s is larger than 1 MiB",
                                               req->base_profile);
                r = crisp_twin_of_profile(req->base_profile, buf, n, &json, err);
        }
        if (r < 0)
                return r;
        r = crisp_twin_write(cx->dir, json, path, size, err);
        if (r < 0 || req->base_profile != NULL)
                return r;
        pthread_mutex_lock(&cx->mu);
        for (size_t i = 0; i < cx->n_cache; i++)
                if (cx->cache[i].caps == caps) { /* rewritten after a clean-up */
                        snprintf(cx->cache[i].path, sizeof(cx->cache[0].path), "%s", path);
                        pthread_mutex_unlock(&cx->mu);
                        return 0;
                }
        if (cx->n_cache < TWIN_CACHE) {
                cx->cache[cx->n_cache].caps = caps;
                snprintf(cx->cache[cx->n_cache].path, sizeof(cx->cache[0].path), "%s", path);
                cx->n_cache++;
        }
        pthread_mutex_unlock(&cx->mu);
        return 0;
}

int crisp_complain_twin(void *arg, const struct crisp_twin_request *req, char *path, size_t size)
{
        struct crisp_complain *cx = arg;
        _cleanup_error_ crisp_error *err = NULL;
        pthread_mutex_lock(&cx->mu);
        start_reader(cx);
        pthread_mutex_unlock(&cx->mu);
        int r = make_twin(cx, req, path, size, &err);
        if (r < 0) {
                struct crisp_report_counters one = {.twin_failures = 1};
                crisp_report_count(cx->report, &one);
                log_error("complain: no twin for context=%s: %s; this container gets enforce's "
                          "profile %s instead",
                          req->context, err->msg,
                          req->base_profile ? req->base_profile : "RuntimeDefault");
        }
        return r;
}

/* ---- the observer --------------------------------------------------------------- */

struct tap_call {
        struct crisp_complain *cx;
        bool twin; /* the container got a twin: remember it once its id is known */
        struct crisp_workload w;
        char id[65];
};

static void *tap_begin(void *self, const char *method, unsigned *wants)
{
        *wants = 0;
        size_t n = strlen(method), k = strlen("/CreateContainer");
        if (n < k || strcmp(method + n - k, "/CreateContainer") != 0)
                return NULL;
        struct tap_call *c = calloc(1, sizeof(*c));
        if (c) {
                c->cx = self;
                *wants = CRISP_OBSERVE_RESPONSES; /* the container id */
        }
        return c;
}

static void tap_rewrite(void *call, const struct crisp_rewrite_result *res)
{
        struct tap_call *c = call;
        /* Exempt pods and audit forward the request as it came: no twin. */
        if (!res->container_twin || !res->changed || res->exemption[0] != '\0')
                return;
        c->twin = true;
        snprintf(c->w.namespace_, sizeof(c->w.namespace_), "%s", res->pod_namespace);
        snprintf(c->w.pod, sizeof(c->w.pod), "%s", res->pod_name);
        snprintf(c->w.container, sizeof(c->w.container), "%s", res->container);
}

/* CreateContainerResponse.container_id is field 1 (a string). */
static void container_id_of(const uint8_t *p, size_t len, char id[65])
{
        size_t i = 0;
        while (i < len) {
                uint64_t key = 0;
                for (unsigned shift = 0; i < len && shift < 64; shift += 7) {
                        key |= (uint64_t)(p[i] & 0x7f) << shift;
                        if (!(p[i++] & 0x80))
                                break;
                }
                if ((key & 7) != 2)
                        return; /* CreateContainerResponse has only the id */
                uint64_t n = 0;
                for (unsigned shift = 0; i < len && shift < 64; shift += 7) {
                        n |= (uint64_t)(p[i] & 0x7f) << shift;
                        if (!(p[i++] & 0x80))
                                break;
                }
                if (n > len - i)
                        return;
                if (key >> 3 == 1 && n == 64) {
                        memcpy(id, p + i, 64);
                        id[64] = '\0';
                }
                i += (size_t)n;
        }
}

/* Registered as soon as the runtime's answer arrives, before crisp passes
 * it on: the kubelet's StartContainer, and so the container's processes,
 * come only after the client has it. */
static void tap_response(void *call, const uint8_t *data, size_t len)
{
        struct tap_call *c = call;
        if (!c->twin || c->id[0] != '\0')
                return;
        container_id_of(data, len, c->id);
        if (c->id[0] == '\0')
                return;
        crisp_report_add_container(c->cx->report, c->id, &c->w, (int64_t)time(NULL));
        log_info("complain: watching pod=%s/%s container=%s id=%.12s", c->w.namespace_, c->w.pod,
                 c->w.container, c->id);
}

static void tap_end(void *call, int code, const char *details, size_t details_len)
{
        (void)code, (void)details, (void)details_len;
        free(call);
}

const struct crisp_call_observer *crisp_complain_observer(struct crisp_complain *cx)
{
        return &cx->observer;
}

struct crisp_complain *crisp_complain_new(const char *dir, int source)
{
        struct crisp_complain *cx = calloc(1, sizeof(*cx));
        if (cx == NULL)
                return NULL;
        cx->report = crisp_report_new();
        if (cx->report == NULL) {
                free(cx);
                return NULL;
        }
        snprintf(cx->dir, sizeof(cx->dir), "%s", dir);
        cx->source = source;
        struct utsname u;
        if (uname(&u) == 0)
                sscanf(u.release, "%u.%u", &cx->kernel_major, &cx->kernel_minor);
        pthread_mutex_init(&cx->mu, NULL);
        cx->observer = (struct crisp_call_observer){
            .begin = tap_begin,
            .request = NULL, /* only CreateContainer's response is read */
            .rewrite = tap_rewrite,
            .response = tap_response,
            .end = tap_end,
            .self = cx,
        };
        return cx;
}

void crisp_complain_free(struct crisp_complain *cx)
{
        if (cx == NULL)
                return;
        crisp_kernel_reader_stop(cx->reader);
        crisp_report_free(cx->report);
        pthread_mutex_destroy(&cx->mu);
        free(cx);
}
