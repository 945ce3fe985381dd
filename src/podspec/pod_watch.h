/* Keeps the pod cache (pod_cache.h) in step with the API server (issue 8):
 * one list, then a watch, of the pods with spec.nodeName=<node>, over HTTPS
 * with libcurl, on a thread of its own. It relists after 410 Gone, follows
 * bookmarks, reconnects with backoff and jitter, and reads the kubeconfig
 * (and the token file, and the certificate files) again before every
 * request, so rotated credentials are picked up without a restart. Nothing
 * else in crisp ever waits for it. */
#ifndef CRISP_POD_WATCH_H
#define CRISP_POD_WATCH_H

#include "base/error.h"
#include "podspec/pod_cache.h"

struct crisp_pod_watch_options {
        const char *kubeconfig;
        const char *node_name;
        long page_size;      /* list page size (limit=); 0: 500 */
        long max_backoff_ms; /* 0: 30 s */
};

struct crisp_pod_watch;

/* libcurl's process-wide set-up and tear-down: once, before any thread
 * starts, and once at the end. */
void crisp_pod_watch_global_init(void);
void crisp_pod_watch_global_cleanup(void);

/* Starts the thread. Fails only on bad options or no memory: an API server
 * that is away, or a kubeconfig that is not there yet (a node that has not
 * joined), is retried, with a log line, not an error. */
int crisp_pod_watch_start(const struct crisp_pod_watch_options *opts, struct crisp_pod_cache *cache,
                          struct crisp_pod_watch **out, crisp_error **err);

/* Stops the thread (within about a second: libcurl's progress callback) and
 * frees everything. */
void crisp_pod_watch_stop(struct crisp_pod_watch *w);

#endif
