/* libFuzzer target: a static pod manifest (src/podspec/static_pods.c,
 * crisp_static_pod_parse), YAML or JSON, as the kubelet's manifests folder
 * holds it.
 *
 * Input: the file's bytes.
 *
 * Invariants, besides ASan/LSan/UBSan:
 *  1. Refused: -EINVAL or -ENOMEM, with a message naming the file.
 *  2. Read: the sandbox name is "<metadata.name>-node-1" (ends in
 *     "-node-1", something before it), the namespace is non-empty, uid and
 *     resourceVersion are "", every container has a non-empty name, no two
 *     share one, and the spec rule decides each with a reason.
 *  3. Released without a leak, refused or not. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podspec/spec_rule.h"
#include "podspec/static_pods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "fuzz-manifest.yaml"
#define NODE   "node-1"

#define FUZZ_TARGET "fuzz_static_pod"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1 << 20)
                return 0;
        struct crisp_pod_spec pod;
        memset(&pod, 0, sizeof(pod));
        crisp_error *err = NULL;
        int r = crisp_static_pod_parse((const char *)data, size, ORIGIN, NODE, &pod, &err);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ENOMEM, "return %d", r);
                CHECK(err != NULL && err->msg != NULL, "refused without a message");
                CHECK(r == -ENOMEM || strstr(err->msg, ORIGIN) != NULL,
                      "the message does not name the file: %s", err->msg);
        } else {
                CHECK(r == 0 && err == NULL, "return %d", r);
                size_t n = strlen(pod.name), suffix = strlen("-" NODE);
                CHECK(n > suffix && strcmp(pod.name + n - suffix, "-" NODE) == 0,
                      "sandbox name '%s'", pod.name);
                CHECK(pod.namespace_ && pod.namespace_[0] != '\0', "no namespace");
                CHECK(pod.uid && pod.uid[0] == '\0', "a uid from a manifest");
                CHECK(pod.resource_version && pod.resource_version[0] == '\0',
                      "a resourceVersion from a manifest");
                for (size_t i = 0; i < pod.n_containers; i++) {
                        const char *name = pod.containers[i].name;
                        CHECK(name && name[0] != '\0', "container %zu without a name", i);
                        for (size_t j = 0; j < i; j++)
                                CHECK(strcmp(pod.containers[j].name, name) != 0,
                                      "two containers named '%s'", name);
                        struct crisp_spec_facts facts;
                        crisp_spec_facts_of(&pod, name, &facts);
                        CHECK(facts.container_found, "container '%s' not found", name);
                        const char *why = NULL;
                        crisp_spec_decide(&facts, &why);
                        CHECK(why != NULL, "no reason");
                }
        }
        crisp_error_free(&err);
        crisp_pod_spec_release(&pod);
        return 0;
}
