/* `crisp replay FILE --print`: one readable line per recorded call
 * (replay_print.h). */
#include "replay_print.h"

#include <stdlib.h>
#include <string.h>

#include "cri_view.pb-c.h"
#include "replay_call.h"
#include "replay_wire.h"
#include "rule/rewrite.h"
#include "rule/seccomp_default.h"

typedef Crisp__View__SecurityProfile SecurityProfile;

/* Copies bytes from the recording (api/cri_view.proto declares the strings it
 * reads as bytes) so that they cannot break the line. */
static void safe_copy(char *dst, size_t size, const ProtobufCBinaryData *src)
{
        size_t n = 0;
        for (size_t i = 0; src && i < src->len && n + 1 < size; i++) {
                unsigned char c = src->data[i];
                dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
        dst[n] = '\0';
}

/* The same, for a NUL-terminated string of the recording itself. */
static void safe_copy_str(char *dst, size_t size, const char *src)
{
        ProtobufCBinaryData b = {src ? strlen(src) : 0, (uint8_t *)src};
        safe_copy(dst, size, &b);
}

/* One context's seccomp settings, as the log lines of crisp show them. */
struct seccomp_view {
        bool linux; /* the request has the context's `linux` block */
        char text[320];
};

static void describe(struct seccomp_view *v, const Crisp__View__LinuxSandboxSecurityContext *sb,
                     const Crisp__View__LinuxContainerSecurityContext *ct, bool linux)
{
        v->linux = linux;
        const ProtobufCBinaryData *path = sb   ? &sb->seccomp_profile_path
                                          : ct ? &ct->seccomp_profile_path
                                               : NULL;
        const SecurityProfile *sp = sb ? sb->seccomp : ct ? ct->seccomp : NULL;
        char safe_path[128], safe_ref[128];
        safe_copy(safe_path, sizeof(safe_path), path);
        const char *field = "absent";
        if (sp) {
                int32_t type = sp->has_profile_type ? sp->profile_type : 0;
                field = type == 0   ? "RuntimeDefault"
                        : type == 1 ? "Unconfined"
                        : type == 2 ? "Localhost"
                                    : "unknown";
                if (type == 2) {
                        safe_copy(safe_ref, sizeof(safe_ref), &sp->localhost_ref);
                        snprintf(v->text, sizeof(v->text), "Localhost:%s path='%s'", safe_ref,
                                 safe_path);
                        return;
                }
        }
        snprintf(v->text, sizeof(v->text), "%s path='%s'", field, safe_path);
}

/* What one request says: identity and the seccomp of each context. */
struct request_view {
        bool decoded;
        char pod[400];
        char container[256];
        size_t n;
        const char *names[2];
        struct seccomp_view contexts[2];
};

static void view_sandbox(struct request_view *v, const char *name,
                         const Crisp__View__PodSandboxConfig *cfg)
{
        if (cfg == NULL)
                return;
        if (cfg->metadata && v->pod[0] == '\0') {
                char ns[128], pod[256];
                safe_copy(ns, sizeof(ns), &cfg->metadata->namespace_);
                safe_copy(pod, sizeof(pod), &cfg->metadata->name);
                snprintf(v->pod, sizeof(v->pod), "%s/%s", ns, pod);
        }
        v->names[v->n] = name;
        describe(&v->contexts[v->n], cfg->linux ? cfg->linux->security_context : NULL, NULL,
                 cfg->linux != NULL);
        v->n++;
}

static void view_request(struct request_view *v, const char *method, const struct crisp_msg *m)
{
        memset(v, 0, sizeof(*v));
        switch (crisp_method_classify(method, strlen(method))) {
        case CRISP_METHOD_RUN_POD_SANDBOX: {
                Crisp__View__RunPodSandboxRequest *req =
                    crisp__view__run_pod_sandbox_request__unpack(NULL, m->len, m->data);
                if (req == NULL)
                        return;
                v->decoded = true;
                view_sandbox(v, "sandbox", req->config);
                crisp__view__run_pod_sandbox_request__free_unpacked(req, NULL);
                return;
        }
        case CRISP_METHOD_CREATE_CONTAINER: {
                Crisp__View__CreateContainerRequest *req =
                    crisp__view__create_container_request__unpack(NULL, m->len, m->data);
                if (req == NULL)
                        return;
                v->decoded = true;
                const Crisp__View__ContainerConfig *cfg = req->config;
                if (cfg) {
                        if (cfg->metadata)
                                safe_copy(v->container, sizeof(v->container), &cfg->metadata->name);
                        v->names[v->n] = "container";
                        describe(&v->contexts[v->n], NULL,
                                 cfg->linux ? cfg->linux->security_context : NULL,
                                 cfg->linux != NULL);
                        v->n++;
                }
                view_sandbox(v, "sandbox_config", req->sandbox_config);
                crisp__view__create_container_request__free_unpacked(req, NULL);
                return;
        }
        case CRISP_METHOD_OTHER:
                return;
        }
}

static void print_seccomp(FILE *out, const struct crisp_call_record *rec,
                          const struct request_view *sent)
{
        if (!sent->decoded) {
                fputs("  (the request does not decode)", out);
                return;
        }
        struct request_view fwd;
        bool changed = rec->has_forwarded && rec->forwarded.n > 0;
        if (changed)
                view_request(&fwd, rec->method, &rec->forwarded.items[0]);
        for (size_t i = 0; i < sent->n; i++) {
                fprintf(out, "%s %s: ", i == 0 ? " " : ";", sent->names[i]);
                if (!sent->contexts[i].linux) {
                        fputs("no linux block", out);
                        continue;
                }
                fputs(sent->contexts[i].text, out);
                if (changed && fwd.decoded && i < fwd.n &&
                    strcmp(fwd.contexts[i].text, sent->contexts[i].text) != 0)
                        fprintf(out, " -> %s", fwd.contexts[i].text);
        }
}

/* The ids the runtime handed out in the recording (RunPodSandbox and
 * CreateContainer answers), and whom they name: later calls carry only an
 * id, and the line should still say which pod or container they are about. */
struct known_id {
        char *id;
        char *who;
};

struct known_ids {
        struct known_id *v;
        size_t n, cap;
};

/* The string in top-level field 1 of `m`: the id in a RunPodSandbox or
 * CreateContainer answer, and the first field of nearly every call about a
 * pod or container (container_id, pod_sandbox_id). */
static bool field1_string(const struct crisp_msg_list *l, char *buf, size_t size)
{
        if (l->n == 0)
                return false;
        size_t pos = 0;
        struct pb_field f;
        while (pb_next_field(l->items[0].data, l->items[0].len, &pos, &f) == 1) {
                if (f.number != 1)
                        continue;
                if (f.wire_type != 2 || f.value_len == 0 || f.value_len >= size ||
                    memchr(f.value, '\0', f.value_len))
                        return false;
                memcpy(buf, f.value, f.value_len);
                buf[f.value_len] = '\0';
                return true;
        }
        return false;
}

static const char *known_who(const struct known_ids *k, const char *id)
{
        for (size_t i = 0; i < k->n; i++)
                if (strcmp(k->v[i].id, id) == 0)
                        return k->v[i].who;
        return NULL;
}

static void remember(struct known_ids *k, const char *id, const char *who)
{
        if (known_who(k, id) != NULL)
                return;
        if (k->n == k->cap) {
                size_t cap = k->cap ? k->cap * 2 : 16;
                struct known_id *v = realloc(k->v, cap * sizeof(*v));
                if (v == NULL)
                        return; /* only the lines lose a name */
                k->v = v;
                k->cap = cap;
        }
        char *a = strdup(id), *b = strdup(who);
        if (a == NULL || b == NULL) {
                free(a);
                free(b);
                return;
        }
        k->v[k->n++] = (struct known_id){a, b};
}

static void forget_all(struct known_ids *k)
{
        for (size_t i = 0; i < k->n; i++) {
                free(k->v[i].id);
                free(k->v[i].who);
        }
        free(k->v);
}

int replay_print_main(const struct crisp_recording *recording, FILE *out)
{
        struct known_ids known = {0};
        for (size_t i = 0; i < recording->n; i++) {
                const struct crisp_call_record *rec = recording->calls[i];
                struct request_view sent = {0};
                bool rewritable =
                    crisp_method_classify(rec->method, strlen(rec->method)) != CRISP_METHOD_OTHER;
                if (rewritable && rec->requests.n > 0)
                        view_request(&sent, rec->method, &rec->requests.items[0]);

                /* Who: the recorded identity, else what the request says. */
                char who[700];
                char ns[128] = "", pod[256] = "", container[256] = "";
                safe_copy_str(ns, sizeof(ns), rec->pod_namespace);
                safe_copy_str(pod, sizeof(pod), rec->pod_name);
                safe_copy_str(container, sizeof(container), rec->container);
                if (rec->pod_namespace || rec->pod_name)
                        snprintf(who, sizeof(who), "%s/%s", ns, pod);
                else
                        snprintf(who, sizeof(who), "%s", sent.pod[0] ? sent.pod : "-");
                const char *ctr = container[0] ? container : sent.container;
                if (ctr[0])
                        snprintf(who + strlen(who), sizeof(who) - strlen(who), " %s", ctr);
                char id[256];
                if (strcmp(who, "-") == 0 && field1_string(&rec->requests, id, sizeof(id))) {
                        const char *w = known_who(&known, id);
                        if (w)
                                snprintf(who, sizeof(who), "%s", w);
                }
                if (rewritable && strcmp(who, "-") != 0 &&
                    field1_string(&rec->responses, id, sizeof(id)))
                        remember(&known, id, who);

                const char *slash = strrchr(rec->method, '/');
                char status[200];
                if (!rec->has_code)
                        snprintf(status, sizeof(status), "-");
                else if (rec->code == 0 || rec->details == NULL || rec->details_len == 0)
                        snprintf(status, sizeof(status), "%s", replay_code_name(rec->code));
                else {
                        char details[100];
                        ProtobufCBinaryData d = {rec->details_len, (uint8_t *)rec->details};
                        safe_copy(details, sizeof(details), &d);
                        snprintf(status, sizeof(status), "%s \"%s\"", replay_code_name(rec->code),
                                 details);
                }
                fprintf(out, "%s  %-22s %-40s %s", rec->time[0] ? rec->time : "-",
                        slash ? slash + 1 : rec->method, who, status);
                if (rewritable)
                        print_seccomp(out, rec, &sent);
                if (rec->dropped_requests || rec->dropped_responses)
                        fprintf(out, "  (truncated: %llu requests, %llu responses not recorded)",
                                (unsigned long long)rec->dropped_requests,
                                (unsigned long long)rec->dropped_responses);
                fputc('\n', out);
        }
        forget_all(&known);
        return 0;
}
