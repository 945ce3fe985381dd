/* The node's seccomp policy: mode, defaultProfile and exemptions, parsed
 * and matched (policy.h). */
#include "rule/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {
    [CRISP_MODE_ENFORCE] = "enforce",
    [CRISP_MODE_AUDIT] = "audit",
    [CRISP_MODE_OFF] = "off",
    [CRISP_MODE_COMPLAIN] = "complain",
};

int crisp_mode_parse(const char *name, enum crisp_mode *out)
{
        for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
                if (strcmp(name, mode_names[i]) == 0) {
                        *out = (enum crisp_mode)i;
                        return 0;
                }
        }
        return -EINVAL;
}

const char *crisp_mode_name(enum crisp_mode mode)
{
        return (unsigned)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode] : "?";
}

static bool bytes_equal(const char *a, size_t a_len, const char *b)
{
        return a != NULL && strlen(b) == a_len && memcmp(a, b, a_len) == 0;
}

bool crisp_policy_exemption(const struct crisp_policy *policy, const struct crisp_pod_facts *pod,
                            char *why, size_t why_size)
{
        for (size_t i = 0; i < policy->n_namespaces; i++) {
                if (bytes_equal(pod->namespace_, pod->namespace_len, policy->namespaces[i])) {
                        snprintf(why, why_size, "namespace:%s", policy->namespaces[i]);
                        return true;
                }
        }
        for (size_t i = 0; i < policy->n_pod_labels; i++) {
                const struct crisp_label *want = &policy->pod_labels[i];
                /* A key may repeat on the wire; the last one is the pod's
                 * label, as Go decodes a map. */
                for (size_t j = pod->n_labels; j-- > 0;) {
                        if (!bytes_equal(pod->label_keys[j], pod->label_key_lens[j], want->key))
                                continue;
                        if (bytes_equal(pod->label_values[j], pod->label_value_lens[j],
                                        want->value)) {
                                snprintf(why, why_size, "podLabel:%s=%s", want->key, want->value);
                                return true;
                        }
                        break;
                }
        }
        if (pod->runtime_handler_known) {
                for (size_t i = 0; i < policy->n_runtime_handlers; i++) {
                        if (bytes_equal(pod->runtime_handler, pod->runtime_handler_len,
                                        policy->runtime_handlers[i])) {
                                snprintf(why, why_size, "runtimeHandler:%s",
                                         policy->runtime_handlers[i]);
                                return true;
                        }
                }
        }
        return false;
}

static int copy_strings(char ***dst, char *const *src, size_t n)
{
        *dst = NULL;
        if (n == 0)
                return 0;
        *dst = calloc(n, sizeof(char *));
        if (*dst == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                (*dst)[i] = strdup(src[i]);
                if ((*dst)[i] == NULL)
                        return -ENOMEM;
        }
        return 0;
}

int crisp_policy_copy(struct crisp_policy *dst, const struct crisp_policy *src, crisp_error **err)
{
        memset(dst, 0, sizeof(*dst));
        dst->mode = src->mode;
        dst->ambiguous = src->ambiguous;
        dst->n_namespaces = src->n_namespaces;
        dst->n_runtime_handlers = src->n_runtime_handlers;
        int r = 0;
        if (src->default_profile_path != NULL &&
            (dst->default_profile_path = strdup(src->default_profile_path)) == NULL)
                r = -ENOMEM;
        if (r == 0)
                r = copy_strings(&dst->namespaces, src->namespaces, src->n_namespaces);
        if (r == 0)
                r = copy_strings(&dst->runtime_handlers, src->runtime_handlers,
                                 src->n_runtime_handlers);
        if (r == 0 && src->n_pod_labels > 0) {
                dst->pod_labels = calloc(src->n_pod_labels, sizeof(*dst->pod_labels));
                if (dst->pod_labels == NULL)
                        r = -ENOMEM;
                else
                        dst->n_pod_labels = src->n_pod_labels;
                for (size_t i = 0; r == 0 && i < src->n_pod_labels; i++) {
                        dst->pod_labels[i].key = strdup(src->pod_labels[i].key);
                        dst->pod_labels[i].value = strdup(src->pod_labels[i].value);
                        if (!dst->pod_labels[i].key || !dst->pod_labels[i].value)
                                r = -ENOMEM;
                }
        }
        if (r < 0) {
                crisp_policy_release(dst);
                return crisp_error_set(err, ENOMEM, "out of memory copying the policy");
        }
        return 0;
}

static void free_strings(char **v, size_t n)
{
        for (size_t i = 0; v != NULL && i < n; i++)
                free(v[i]);
        free(v);
}

void crisp_policy_release(struct crisp_policy *policy)
{
        free(policy->default_profile_path);
        free_strings(policy->namespaces, policy->n_namespaces);
        free_strings(policy->runtime_handlers, policy->n_runtime_handlers);
        for (size_t i = 0; policy->pod_labels != NULL && i < policy->n_pod_labels; i++) {
                free(policy->pod_labels[i].key);
                free(policy->pod_labels[i].value);
        }
        free(policy->pod_labels);
        memset(policy, 0, sizeof(*policy));
}
