/* The config file (--config FILE): reads the YAML onto the settings, with
 * errors that name the file, line and key (config.h). */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/cleanup.h"
#include "base/yaml_nodes.h"

/* One YAML document, walked with the line of every node at hand for errors. */
struct reader {
        const char *file;
        yaml_document_t *doc;
        struct crisp_options *opts;
        /* defaultProfile as read, checked as a whole once its mapping is read */
        const char *dp_type;
        const yaml_node_t *dp_node;
};

static int fail(struct reader *rd, const yaml_node_t *n, const char *key, crisp_error **err,
                const char *what)
{
        return crisp_error_set(err, EINVAL, "%s:%lu: %s: %s", rd->file, crisp_yaml_line(n), key,
                               what);
}

/* The node's text, when it is a scalar; else an error naming the key. */
static int scalar(struct reader *rd, const yaml_node_t *n, const char *key, const char **out,
                  crisp_error **err)
{
        if (n->type != YAML_SCALAR_NODE) {
                char what[96];
                snprintf(what, sizeof(what), "expected a value, found %s", crisp_yaml_type_name(n));
                return fail(rd, n, key, err, what);
        }
        const char *s = (const char *)n->data.scalar.value;
        /* "\0" in a quoted scalar: every use below reads the value as a C
         * string, which would end there and apply a part of it. */
        if (strlen(s) != n->data.scalar.length)
                return fail(rd, n, key, err, "the value holds a NUL character (\\0)");
        *out = s;
        return 0;
}

static int get_long(struct reader *rd, const yaml_node_t *n, const char *key, int base, long min,
                    long max, long *out, crisp_error **err)
{
        const char *s = NULL;
        int r = scalar(rd, n, key, &s, err);
        if (r < 0)
                return r;
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, base);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
                return crisp_error_set(
                    err, EINVAL, "%s:%lu: %s: '%s' is not a%s number from %ld to %ld", rd->file,
                    crisp_yaml_line(n), key, s, base == 8 ? "n octal" : "", min, max);
        *out = v;
        return 0;
}

static int get_bool(struct reader *rd, const yaml_node_t *n, const char *key, bool *out,
                    crisp_error **err)
{
        const char *s = NULL;
        int r = scalar(rd, n, key, &s, err);
        if (r < 0)
                return r;
        if (strcmp(s, "true") == 0)
                *out = true;
        else if (strcmp(s, "false") == 0)
                *out = false;
        else
                return crisp_error_set(err, EINVAL, "%s:%lu: %s: '%s' is not true or false",
                                       rd->file, crisp_yaml_line(n), key, s);
        return 0;
}

static int get_socket_path(struct reader *rd, const yaml_node_t *n, const char *key, char *dst,
                           size_t size, crisp_error **err)
{
        const char *s = NULL;
        int r = scalar(rd, n, key, &s, err);
        if (r < 0)
                return r;
        _cleanup_error_ crisp_error *inner = NULL;
        if (crisp_endpoint_to_path(s, dst, size, &inner) < 0)
                return crisp_error_set(err, EINVAL, "%s:%lu: %s: %s", rd->file, crisp_yaml_line(n),
                                       key, inner->msg);
        return 0;
}

/* A list of non-empty strings, copied. */
static int get_strings(struct reader *rd, const yaml_node_t *n, const char *key, char ***out,
                       size_t *n_out, crisp_error **err)
{
        if (n->type != YAML_SEQUENCE_NODE) {
                char what[96];
                snprintf(what, sizeof(what), "expected a list, found %s", crisp_yaml_type_name(n));
                return fail(rd, n, key, err, what);
        }
        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        char **v = count ? calloc(count, sizeof(char *)) : NULL;
        if (count && v == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
        /* Hand the list over first, so the caller's release frees it on error. */
        *out = v;
        *n_out = 0;
        for (size_t i = 0; i < count; i++) {
                yaml_node_t *item =
                    yaml_document_get_node(rd->doc, n->data.sequence.items.start[i]);
                const char *s = NULL;
                int r = scalar(rd, item, key, &s, err);
                if (r < 0)
                        return r;
                if (s[0] == '\0')
                        return fail(rd, item, key, err, "an empty string matches nothing");
                if ((v[i] = strdup(s)) == NULL)
                        return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
                (*n_out)++;
        }
        return 0;
}

/* Walks a mapping: calls `on_key` for each pair; refuses duplicate keys and
 * anything that is not a mapping. */
typedef int (*key_fn)(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                      crisp_error **err);

static int each_pair(struct reader *rd, const yaml_node_t *map, const char *where, key_fn on_key,
                     crisp_error **err)
{
        if (map->type != YAML_MAPPING_NODE) {
                char what[96];
                snprintf(what, sizeof(what), "expected a mapping, found %s",
                         crisp_yaml_type_name(map));
                return fail(rd, map, where, err, what);
        }
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = yaml_document_get_node(rd->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(rd->doc, p->value);
                const char *key;
                int r = scalar(rd, k, where, &key, err);
                if (r < 0)
                        return r;
                for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
                        yaml_node_t *prev = yaml_document_get_node(rd->doc, q->key);
                        if (prev->type == YAML_SCALAR_NODE &&
                            strcmp((const char *)prev->data.scalar.value, key) == 0)
                                return crisp_error_set(
                                    err, EINVAL, "%s:%lu: %s: given twice (first on line %lu)",
                                    rd->file, crisp_yaml_line(k), key, crisp_yaml_line(prev));
                }
                r = on_key(rd, key, k, v, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int unknown(struct reader *rd, const yaml_node_t *k, const char *where, const char *key,
                   const char *allowed, crisp_error **err)
{
        return crisp_error_set(err, EINVAL, "%s:%lu: %s%s%s: unknown key; allowed here: %s",
                               rd->file, crisp_yaml_line(k), where, where[0] ? "." : "", key,
                               allowed);
}

/* ---- sections ---------------------------------------------------------------- */

static int on_default_profile(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                              crisp_error **err);
static int on_exemptions(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                         crisp_error **err);
static int on_log(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                  crisp_error **err);
static int on_metrics(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                      crisp_error **err);
static int on_record(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                     crisp_error **err);
static int on_pod_spec(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                       crisp_error **err);

static int on_top(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                  crisp_error **err)
{
        struct crisp_options *o = rd->opts;
        long n = 0;
        int r;
        const char *s = NULL;
        if (strcmp(key, "listen") == 0)
                return get_socket_path(rd, v, key, o->listen, sizeof(o->listen), err);
        if (strcmp(key, "runtimeEndpoint") == 0)
                return get_socket_path(rd, v, key, o->runtime_endpoint, sizeof(o->runtime_endpoint),
                                       err);
        if (strcmp(key, "mode") == 0) {
                if ((r = scalar(rd, v, key, &s, err)) < 0)
                        return r;
                if (crisp_mode_parse(s, &o->policy.mode) < 0)
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: mode: '%s' is not enforce, audit, "
                                               "complain or off",
                                               rd->file, crisp_yaml_line(v), s);
                return 0;
        }
        if (strcmp(key, "ambiguousUnconfined") == 0) {
                if ((r = scalar(rd, v, key, &s, err)) < 0)
                        return r;
                if (crisp_ambiguous_policy_parse(s, &o->policy.ambiguous) < 0)
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: ambiguousUnconfined: '%s' is not "
                                               "runtime-default or keep",
                                               rd->file, crisp_yaml_line(v), s);
                return 0;
        }
        if (strcmp(key, "maxMessageSize") == 0) {
                if ((r = get_long(rd, v, key, 10, 1024, INT_MAX, &n, err)) < 0)
                        return r;
                o->max_message_size = (size_t)n;
                return 0;
        }
        if (strcmp(key, "socketMode") == 0) {
                if ((r = get_long(rd, v, key, 8, 0, 0777, &n, err)) < 0)
                        return r;
                o->socket_mode = (mode_t)n;
                return 0;
        }
        if (strcmp(key, "shutdownGracePeriod") == 0) {
                if ((r = get_long(rd, v, "shutdownGracePeriod (seconds)", 10, 0, 3600, &n, err)) <
                    0)
                        return r;
                o->shutdown_grace_ms = n * 1000;
                return 0;
        }
        if (strcmp(key, "threads") == 0) {
                if ((r = get_long(rd, v, key, 10, 1, 64, &n, err)) < 0)
                        return r;
                o->threads = (int)n;
                return 0;
        }
        if (strcmp(key, "defaultProfile") == 0) {
                free(o->policy.default_profile_path);
                o->policy.default_profile_path = NULL;
                rd->dp_type = NULL;
                if ((r = each_pair(rd, v, key, on_default_profile, err)) < 0)
                        return r;
                bool has_path = o->policy.default_profile_path != NULL;
                if (rd->dp_type == NULL)
                        return fail(rd, v, key, err,
                                    "needs a type: RuntimeDefault, or Localhost with a path");
                if (strcmp(rd->dp_type, "RuntimeDefault") == 0 && has_path)
                        return fail(rd, v, key, err, "type RuntimeDefault takes no path");
                if (strcmp(rd->dp_type, "Localhost") == 0 && !has_path)
                        return fail(rd, v, key, err,
                                    "type Localhost needs a path (an absolute path to a seccomp "
                                    "profile JSON file)");
                return 0;
        }
        if (strcmp(key, "exemptions") == 0)
                return each_pair(rd, v, key, on_exemptions, err);
        if (strcmp(key, "log") == 0)
                return each_pair(rd, v, key, on_log, err);
        if (strcmp(key, "metrics") == 0)
                return each_pair(rd, v, key, on_metrics, err);
        if (strcmp(key, "record") == 0)
                return each_pair(rd, v, key, on_record, err);
        if (strcmp(key, "podSpec") == 0)
                return each_pair(rd, v, key, on_pod_spec, err);
        if (strcmp(key, "complainSource") == 0) {
                if ((r = scalar(rd, v, key, &s, err)) < 0)
                        return r;
                if (crisp_complain_source_parse(s, &o->complain_source) < 0)
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: complainSource: '%s' is not auto, audit "
                                               "or kmsg",
                                               rd->file, crisp_yaml_line(v), s);
                return 0;
        }
        if (strcmp(key, "complainDir") == 0) {
                if ((r = scalar(rd, v, key, &s, err)) < 0)
                        return r;
                char where[160];
                snprintf(where, sizeof(where), "%s:%lu: complainDir", rd->file, crisp_yaml_line(v));
                return crisp_options_set_path(where, s, o->complain_dir, sizeof(o->complain_dir),
                                              err);
        }
        return unknown(rd, k, "", key,
                       "listen, runtimeEndpoint, mode, ambiguousUnconfined, defaultProfile, "
                       "exemptions, log, metrics, record, podSpec, maxMessageSize, socketMode, "
                       "shutdownGracePeriod, threads, complainDir, complainSource",
                       err);
}

/* defaultProfile: {type: RuntimeDefault} or {type: Localhost, path: /abs}.
 * `type` and `path` are read here; the pair is checked in check_default_profile. */
static int on_default_profile(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                              crisp_error **err)
{
        struct crisp_policy *p = &rd->opts->policy;
        const char *s = NULL;
        int r;
        if (strcmp(key, "type") == 0) {
                if ((r = scalar(rd, v, "defaultProfile.type", &s, err)) < 0)
                        return r;
                if (strcmp(s, "RuntimeDefault") != 0 && strcmp(s, "Localhost") != 0)
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: defaultProfile.type: '%s' is not "
                                               "RuntimeDefault or Localhost",
                                               rd->file, crisp_yaml_line(v), s);
                rd->dp_type = s; /* the document outlives the walk */
                return 0;
        }
        if (strcmp(key, "path") == 0) {
                if ((r = scalar(rd, v, "defaultProfile.path", &s, err)) < 0)
                        return r;
                if (s[0] != '/')
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: defaultProfile.path: '%s' is not an "
                                               "absolute path (the runtime reads it as one)",
                                               rd->file, crisp_yaml_line(v), s);
                free(p->default_profile_path);
                if ((p->default_profile_path = strdup(s)) == NULL)
                        return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
                return 0;
        }
        return unknown(rd, k, "defaultProfile", key, "type, path", err);
}

static int on_pod_label(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                        crisp_error **err)
{
        struct crisp_policy *p = &rd->opts->policy;
        const char *s = NULL;
        if (key[0] == '\0')
                return fail(rd, k, "exemptions.podLabels", err, "a label key cannot be empty");
        int r = scalar(rd, v, "exemptions.podLabels", &s, err);
        if (r < 0)
                return r;
        struct crisp_label *grown =
            realloc(p->pod_labels, (p->n_pod_labels + 1) * sizeof(*p->pod_labels));
        if (grown == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
        p->pod_labels = grown;
        struct crisp_label *l = &p->pod_labels[p->n_pod_labels];
        l->key = strdup(key);
        l->value = strdup(s);
        p->n_pod_labels++; /* counted even when strdup failed: release frees it */
        if (l->key == NULL || l->value == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
        return 0;
}

static int on_exemptions(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                         crisp_error **err)
{
        struct crisp_policy *p = &rd->opts->policy;
        if (strcmp(key, "namespaces") == 0)
                return get_strings(rd, v, "exemptions.namespaces", &p->namespaces, &p->n_namespaces,
                                   err);
        if (strcmp(key, "runtimeHandlers") == 0)
                return get_strings(rd, v, "exemptions.runtimeHandlers", &p->runtime_handlers,
                                   &p->n_runtime_handlers, err);
        if (strcmp(key, "podLabels") == 0)
                return each_pair(rd, v, "exemptions.podLabels", on_pod_label, err);
        return unknown(rd, k, "exemptions", key, "namespaces, podLabels, runtimeHandlers", err);
}

static int on_log(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                  crisp_error **err)
{
        const char *s = NULL;
        int r;
        if (strcmp(key, "format") == 0) {
                if ((r = scalar(rd, v, "log.format", &s, err)) < 0)
                        return r;
                if (crisp_log_parse_format(s, &rd->opts->log_format) < 0)
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: log.format: '%s' is not text or json",
                                               rd->file, crisp_yaml_line(v), s);
                return 0;
        }
        if (strcmp(key, "level") == 0) {
                if ((r = scalar(rd, v, "log.level", &s, err)) < 0)
                        return r;
                if (crisp_log_parse_level(s, &rd->opts->log_level) < 0)
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: log.level: '%s' is not error, warn, info "
                                               "or debug",
                                               rd->file, crisp_yaml_line(v), s);
                return 0;
        }
        return unknown(rd, k, "log", key, "format, level", err);
}

static int on_metrics(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                      crisp_error **err)
{
        if (strcmp(key, "listen") != 0)
                return unknown(rd, k, "metrics", key, "listen", err);
        const char *s = NULL;
        int r = scalar(rd, v, "metrics.listen", &s, err);
        if (r < 0)
                return r;
        _cleanup_error_ crisp_error *inner = NULL;
        if (s[0] != '\0' && crisp_metrics_address_check(s, &inner) < 0) /* "": off */
                return crisp_error_set(err, EINVAL, "%s:%lu: metrics.listen: %s", rd->file,
                                       crisp_yaml_line(v), inner->msg);
        snprintf(rd->opts->metrics_listen, sizeof(rd->opts->metrics_listen), "%s", s);
        return 0;
}

static int on_record(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                     crisp_error **err)
{
        struct crisp_options *o = rd->opts;
        long n = 0;
        int r;
        const char *s = NULL;
        if (strcmp(key, "path") == 0) {
                if ((r = scalar(rd, v, "record.path", &s, err)) < 0)
                        return r;
                if (strlen(s) >= sizeof(o->record_path))
                        return fail(rd, v, "record.path", err, "the file name is too long");
                strcpy(o->record_path, s);
                return 0;
        }
        if (strcmp(key, "maxMessages") == 0) {
                if ((r = get_long(rd, v, "record.maxMessages", 10, 1, 1000000, &n, err)) < 0)
                        return r;
                o->record_max_messages = (unsigned)n;
                return 0;
        }
        if (strcmp(key, "maxSize") == 0) {
                if ((r = get_long(rd, v, "record.maxSize", 10, 4096, LONG_MAX, &n, err)) < 0)
                        return r;
                o->record_max_size = (unsigned long long)n;
                return 0;
        }
        if (strcmp(key, "queueSize") == 0) {
                if ((r = get_long(rd, v, "record.queueSize", 10, 65536, LONG_MAX, &n, err)) < 0)
                        return r;
                o->record_queue_size = (size_t)n;
                return 0;
        }
        if (strcmp(key, "redact") == 0)
                return get_bool(rd, v, "record.redact", &o->record_redact, err);
        return unknown(rd, k, "record", key, "path, maxMessages, maxSize, queueSize, redact", err);
}

/* podSpec: the pod-spec source (issue 8). */
static int on_pod_spec(struct reader *rd, const char *key, yaml_node_t *k, yaml_node_t *v,
                       crisp_error **err)
{
        struct crisp_options *o = rd->opts;
        const char *s = NULL;
        long n = 0;
        int r;
        char where[160];
        snprintf(where, sizeof(where), "%s:%lu: podSpec.%s", rd->file, crisp_yaml_line(v), key);
        if (strcmp(key, "kubeconfig") == 0) {
                if ((r = scalar(rd, v, "podSpec.kubeconfig", &s, err)) < 0)
                        return r;
                if (s[0] == '\0') {
                        o->kubeconfig[0] = '\0';
                        return 0;
                }
                return crisp_options_set_path(where, s, o->kubeconfig, sizeof(o->kubeconfig), err);
        }
        if (strcmp(key, "nodeName") == 0) {
                if ((r = scalar(rd, v, "podSpec.nodeName", &s, err)) < 0)
                        return r;
                if (s[0] == '\0') {
                        o->node_name[0] = '\0';
                        return 0;
                }
                if ((r = crisp_node_name_check(where, s, err)) < 0)
                        return r;
                snprintf(o->node_name, sizeof(o->node_name), "%s", s);
                return 0;
        }
        if (strcmp(key, "staticPodPath") == 0) {
                if ((r = scalar(rd, v, "podSpec.staticPodPath", &s, err)) < 0)
                        return r;
                o->static_pod_path_given = s[0] != '\0';
                if (s[0] == '\0') {
                        o->static_pod_path[0] = '\0';
                        return 0;
                }
                return crisp_options_set_path(where, s, o->static_pod_path,
                                              sizeof(o->static_pod_path), err);
        }
        if (strcmp(key, "waitMilliseconds") == 0) {
                if ((r = get_long(rd, v, "podSpec.waitMilliseconds", 10, 0, 10000, &n, err)) < 0)
                        return r;
                o->pod_spec_wait_ms = n;
                return 0;
        }
        return unknown(rd, k, "podSpec", key,
                       "kubeconfig, nodeName, staticPodPath, waitMilliseconds", err);
}

/* ---- entry points -------------------------------------------------------------- */

/* Loads the one document `parser` reads; `name` names the input in errors.
 * Deletes the parser. */
static int load(yaml_parser_t *parser, const char *name, struct crisp_options *opts,
                crisp_error **err)
{
        yaml_document_t document;
        _cleanup_yaml_document_ yaml_document_t *doc = NULL;
        int ok = yaml_parser_load(parser, &document);
        if (!ok) {
                int r = crisp_error_set(err, EINVAL, "%s:%lu: not valid YAML: %s", name,
                                        (unsigned long)parser->problem_mark.line + 1,
                                        parser->problem ? parser->problem : "parse error");
                yaml_parser_delete(parser);
                return r;
        }
        doc = &document;
        yaml_parser_delete(parser);

        yaml_node_t *root = yaml_document_get_root_node(doc);
        if (root == NULL)
                return crisp_error_set(err, EINVAL,
                                       "%s:1: the file is empty; expected a mapping "
                                       "of settings (see deploy/crisp.yaml)",
                                       name);
        struct reader rd = {.file = name, .doc = doc, .opts = opts};
        int r = each_pair(&rd, root, "the file", on_top, err);
        if (r < 0)
                return r;
        opts->ambiguous = opts->policy.ambiguous;
        opts->no_default = opts->policy.mode == CRISP_MODE_OFF;
        return 0;
}

int crisp_config_load(const char *path, struct crisp_options *opts, crisp_error **err)
{
        _cleanup_fclose_ FILE *f = fopen(path, "r");
        if (f == NULL)
                return crisp_error_set_errno(err, errno, "--config: cannot open %s", path);

        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return crisp_error_set(err, ENOMEM, "%s: out of memory", path);
        yaml_parser_set_input_file(&parser, f);
        return load(&parser, path, opts, err);
}

int crisp_config_load_buffer(const char *name, const char *data, size_t len,
                             struct crisp_options *opts, crisp_error **err)
{
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return crisp_error_set(err, ENOMEM, "%s: out of memory", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        return load(&parser, name, opts, err);
}
