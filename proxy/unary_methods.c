/* The unary CRI methods, as the CRI's api.proto defines them (runtime.v1 up
 * to cri-api v0.28; runtime.v1alpha2 as of v0.25, its last release). Only
 * GetContainerEvents (runtime.v1, server streaming) is left out on purpose:
 * it and every method not listed here take the relay's generic path. */
#include "unary_methods.h"

/* Methods in both API versions. */
#define BOTH(service, name) "/runtime.v1." service "/" name, "/runtime.v1alpha2." service "/" name

static const char *const paths[] = {
    BOTH("RuntimeService", "Version"),
    BOTH("RuntimeService", "RunPodSandbox"),
    BOTH("RuntimeService", "StopPodSandbox"),
    BOTH("RuntimeService", "RemovePodSandbox"),
    BOTH("RuntimeService", "PodSandboxStatus"),
    BOTH("RuntimeService", "ListPodSandbox"),
    BOTH("RuntimeService", "CreateContainer"),
    BOTH("RuntimeService", "StartContainer"),
    BOTH("RuntimeService", "StopContainer"),
    BOTH("RuntimeService", "RemoveContainer"),
    BOTH("RuntimeService", "ListContainers"),
    BOTH("RuntimeService", "ContainerStatus"),
    BOTH("RuntimeService", "UpdateContainerResources"),
    BOTH("RuntimeService", "ReopenContainerLog"),
    BOTH("RuntimeService", "ExecSync"),
    BOTH("RuntimeService", "Exec"),
    BOTH("RuntimeService", "Attach"),
    BOTH("RuntimeService", "PortForward"),
    BOTH("RuntimeService", "ContainerStats"),
    BOTH("RuntimeService", "ListContainerStats"),
    BOTH("RuntimeService", "PodSandboxStats"),
    BOTH("RuntimeService", "ListPodSandboxStats"),
    BOTH("RuntimeService", "UpdateRuntimeConfig"),
    BOTH("RuntimeService", "Status"),
    BOTH("ImageService", "ListImages"),
    BOTH("ImageService", "ImageStatus"),
    BOTH("ImageService", "PullImage"),
    BOTH("ImageService", "RemoveImage"),
    BOTH("ImageService", "ImageFsInfo"),
    /* runtime.v1 only (added after v1alpha2 was frozen) */
    "/runtime.v1.RuntimeService/CheckpointContainer",
    "/runtime.v1.RuntimeService/ListMetricDescriptors",
    "/runtime.v1.RuntimeService/ListPodSandboxMetrics",
    "/runtime.v1.RuntimeService/RuntimeConfig",
};

size_t crisp_unary_method_count(void)
{
        return sizeof(paths) / sizeof(paths[0]);
}

const char *crisp_unary_method_path(size_t i)
{
        return i < crisp_unary_method_count() ? paths[i] : NULL;
}
