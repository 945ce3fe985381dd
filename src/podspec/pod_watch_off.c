/* The stand-in for pod_watch.c in builds without libcurl (CRISP_PODSPEC=OFF,
 * the static build for kind nodes): --kubeconfig is refused at start. */
#include "podspec/pod_watch.h"

#include <errno.h>

void crisp_pod_watch_global_init(void)
{
}

void crisp_pod_watch_global_cleanup(void)
{
}

int crisp_pod_watch_start(const struct crisp_pod_watch_options *opts, struct crisp_pod_cache *cache,
                          struct crisp_pod_watch **out, crisp_error **err)
{
        (void)opts, (void)cache, (void)out;
        return crisp_error_set(err, ENOTSUP,
                               "this crisp was built without the pod-spec source "
                               "(CRISP_PODSPEC=OFF, e.g. the static build): --kubeconfig "
                               "is not available");
}

void crisp_pod_watch_stop(struct crisp_pod_watch *w)
{
        (void)w;
}
