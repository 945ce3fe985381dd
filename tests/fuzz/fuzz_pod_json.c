/* libFuzzer target: a pod from the API server (src/podspec/pod_spec_json.c), as a
 * list item or a watch event's object carries it, and the spec rule on it
 * (src/podspec/spec_rule.c).
 *
 * Input: JSON bytes (one value).
 *
 * Invariants, besides ASan/LSan/UBSan:
 *  1. A value that is not an object with a non-empty metadata.uid (or
 *     kubernetes.io/config.mirror annotation) is refused with -EINVAL and a
 *     message; anything else is read (0).
 *  2. Read: uid is non-empty, namespace, name and resourceVersion are set;
 *     every container has a name and a known kind, and the facts for that
 *     name find a container (the first of that name).
 *  3. The rule answers for every container, and for a name not in the pod,
 *     with a verdict and a reason; a missing container is undecided.
 *  4. Released without a leak, refused or not. */
#include <errno.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podspec/pod_spec_json.h"
#include "podspec/spec_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET "fuzz_pod_json"
#include "fuzz_check.h"

static void check_rule(const struct crisp_pod_spec *pod, const char *name, bool present)
{
        struct crisp_spec_facts facts;
        crisp_spec_facts_of(pod, name, &facts);
        CHECK(facts.container_found == present, "container '%s' found=%d", name,
              facts.container_found);
        const char *why = NULL;
        enum crisp_spec_verdict v = crisp_spec_decide(&facts, &why);
        CHECK(why != NULL && why[0] != '\0', "verdict without a reason");
        CHECK(v >= CRISP_SPEC_KEEP && v <= CRISP_SPEC_UNDECIDED, "verdict %d", (int)v);
        CHECK(present || v == CRISP_SPEC_UNDECIDED, "a missing container was decided");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1 << 20)
                return 0;
        struct json_tokener *tok = json_tokener_new();
        struct json_object *obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
        json_tokener_free(tok);
        if (obj == NULL)
                return 0;

        struct crisp_pod_spec pod;
        crisp_error *err = NULL;
        int r = crisp_pod_spec_from_json(obj, &pod, &err);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ENOMEM, "return %d", r);
                CHECK(err != NULL && err->msg != NULL && err->msg[0] != '\0',
                      "refused without a message");
        } else {
                CHECK(r == 0 && err == NULL, "return %d", r);
                CHECK(pod.uid && pod.uid[0] != '\0', "read a pod without a uid");
                CHECK(pod.namespace_ && pod.name && pod.resource_version, "unset strings");
                for (size_t i = 0; i < pod.n_containers; i++) {
                        const struct crisp_container_spec *c = &pod.containers[i];
                        CHECK(c->name != NULL, "container %zu without a name", i);
                        CHECK(c->kind <= CRISP_CONTAINER_EPHEMERAL, "kind %d", (int)c->kind);
                        CHECK(c->seccomp <= CRISP_SPEC_OTHER, "seccomp %d", (int)c->seccomp);
                        check_rule(&pod, c->name, true);
                }
                /* No container of the pod can be named like this: its name
                 * has a character JSON strings from the fuzzer never build
                 * here (checked first). */
                bool taken = false;
                for (size_t i = 0; i < pod.n_containers; i++)
                        taken |= strcmp(pod.containers[i].name, "\x01missing") == 0;
                if (!taken)
                        check_rule(&pod, "\x01missing", false);
        }
        crisp_error_free(&err);
        crisp_pod_spec_release(&pod);
        json_object_put(obj);
        return 0;
}
