/* Reads a kubeconfig the way kubectl does, for how to reach the API server
 * (kubeconfig.h). */
#include "podspec/kubeconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "base/base64.h"
#include "base/cleanup.h"
#include "base/yaml_nodes.h"

/* Only what the current context selects is read and checked, as kubectl
 * does: an unused user with an exec plugin is no reason to refuse the file.
 * Keys crisp has no use for (preferences, extensions, namespace, ...) are
 * ignored; keys that would change how kubectl connects or who it is
 * (exec, proxy-url, impersonation, ...) are refused, since ignoring them
 * would make crisp talk to the API server differently from kubectl. */
struct reader {
        const char *file;
        const char *dir; /* the file's folder, absolute: relative paths start here */
        yaml_document_t *doc;
};

/* The value of `key` in `map` (NULL when absent or null; a NULL `map` is an
 * empty one). A key given twice is refused: Go's JSON takes the last, its
 * YAML refuses, so the file means different things to different readers. */
static int get(struct reader *rd, const yaml_node_t *map, const char *where, const char *key,
               yaml_node_t **out, crisp_error **err)
{
        *out = NULL;
        if (crisp_yaml_is_null(map))
                return 0;
        if (map->type != YAML_MAPPING_NODE)
                return crisp_error_set(err, EINVAL, "%s: %s: expected a mapping, found %s",
                                       rd->file, where, crisp_yaml_type_name(map));
        const yaml_node_t *twice;
        if (!crisp_yaml_mapping_get(rd->doc, map, key, out, &twice))
                return crisp_error_set(err, EINVAL, "%s: %s: %s is given twice", rd->file, where,
                                       key);
        return 0;
}

/* The string value of `key`; NULL when absent, null or "" (kubectl treats an
 * empty string as unset). */
static int get_str(struct reader *rd, const yaml_node_t *map, const char *where, const char *key,
                   const char **out, crisp_error **err)
{
        yaml_node_t *v;
        *out = NULL;
        int r = get(rd, map, where, key, &v, err);
        if (r < 0 || v == NULL)
                return r;
        if (v->type != YAML_SCALAR_NODE)
                return crisp_error_set(err, EINVAL, "%s: %s: %s: expected a string, found %s",
                                       rd->file, where, key, crisp_yaml_type_name(v));
        const char *s = (const char *)v->data.scalar.value;
        *out = s[0] ? s : NULL;
        return 0;
}

/* A key crisp cannot honour: refused when it has any value. */
static int refuse(struct reader *rd, const yaml_node_t *map, const char *where, const char *key,
                  const char *why, crisp_error **err)
{
        yaml_node_t *v;
        int r = get(rd, map, where, key, &v, err);
        if (r < 0)
                return r;
        if (v != NULL && !(v->type == YAML_SCALAR_NODE && v->data.scalar.value[0] == '\0'))
                return crisp_error_set(err, EINVAL, "%s: %s: %s", rd->file, where, why);
        return 0;
}

/* The `entry` mapping of the item called `name` in the list `list`, e.g.
 * clusters[name].cluster. *out is NULL when the item has no such mapping;
 * the return is -ENOENT when no item has that name. Two items of one name
 * are refused, as kubectl refuses them. */
static int find_named(struct reader *rd, const yaml_node_t *root, const char *list,
                      const char *name, const char *entry, yaml_node_t **out, crisp_error **err)
{
        yaml_node_t *seq;
        *out = NULL;
        int r = get(rd, root, "the file", list, &seq, err);
        if (r < 0)
                return r;
        if (seq != NULL && seq->type != YAML_SEQUENCE_NODE)
                return crisp_error_set(err, EINVAL, "%s: %s: expected a list, found %s", rd->file,
                                       list, crisp_yaml_type_name(seq));
        bool found = false;
        for (yaml_node_item_t *i = seq ? seq->data.sequence.items.start : NULL;
             seq && i < seq->data.sequence.items.top; i++) {
                yaml_node_t *item = yaml_document_get_node(rd->doc, *i);
                const char *n;
                if ((r = get_str(rd, item, list, "name", &n, err)) < 0)
                        return r;
                if (n == NULL || strcmp(n, name) != 0)
                        continue;
                if (found)
                        return crisp_error_set(err, EINVAL, "%s: %s[%s]: the name is given twice",
                                               rd->file, list, name);
                found = true;
                char where[256];
                snprintf(where, sizeof(where), "%s[%s]", list, name);
                if ((r = get(rd, item, where, entry, out, err)) < 0)
                        return r;
        }
        return found ? 0 : -ENOENT;
}

/* A path from the file: relative ones are relative to the file's folder. */
static int path_value(struct reader *rd, const yaml_node_t *map, const char *where, const char *key,
                      char **out, crisp_error **err)
{
        const char *s;
        int r = get_str(rd, map, where, key, &s, err);
        if (r < 0 || s == NULL)
                return r;
        int n = s[0] == '/' ? asprintf(out, "%s", s) : asprintf(out, "%s/%s", rd->dir, s);
        if (n < 0) {
                *out = NULL;
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
        }
        return 0;
}

/* A *-data field: base64 of PEM bytes. Line breaks are skipped as Go's
 * decoder skips them, so a block scalar (`|`) of base64 works as in kubectl. */
static int data_value(struct reader *rd, const yaml_node_t *map, const char *where, const char *key,
                      uint8_t **out, size_t *out_len, crisp_error **err)
{
        const char *s;
        int r = get_str(rd, map, where, key, &s, err);
        if (r < 0 || s == NULL)
                return r;
        _cleanup_free_ char *text = malloc(strlen(s) + 1);
        if (text == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
        size_t len = 0;
        for (; *s; s++)
                if (*s != '\n' && *s != '\r')
                        text[len++] = *s;
        _cleanup_error_ crisp_error *inner = NULL;
        r = crisp_base64_decode(text, len, out, out_len, &inner);
        if (r < 0)
                return crisp_error_set(err, -r, "%s: %s: %s: %s", rd->file, where, key,
                                       inner ? inner->msg : "cannot decode");
        return 0;
}

static int copy_str(struct reader *rd, const char *s, char **out, crisp_error **err)
{
        if (s == NULL)
                return 0;
        if ((*out = strdup(s)) == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);
        return 0;
}

/* Either the file or the embedded bytes, not both: kubectl refuses both
 * ("... are both specified"), since which one wins is not obvious. */
static int file_or_data(struct reader *rd, const yaml_node_t *map, const char *where,
                        const char *key, char **file, uint8_t **data, size_t *data_len,
                        crisp_error **err)
{
        char data_key[64];
        snprintf(data_key, sizeof(data_key), "%s-data", key);
        int r = path_value(rd, map, where, key, file, err);
        if (r < 0)
                return r;
        if ((r = data_value(rd, map, where, data_key, data, data_len, err)) < 0)
                return r;
        if (*file != NULL && *data != NULL)
                return crisp_error_set(err, EINVAL, "%s: %s: both %s and %s are given; keep one",
                                       rd->file, where, key, data_key);
        return 0;
}

static int read_cluster(struct reader *rd, const yaml_node_t *c, const char *name,
                        struct crisp_kubeconfig *kc, crisp_error **err)
{
        char where[256];
        snprintf(where, sizeof(where), "clusters[%s]", name);
        const char *s;
        int r = get_str(rd, c, where, "server", &s, err);
        if (r < 0)
                return r;
        if (s == NULL)
                return crisp_error_set(err, EINVAL, "%s: %s: no server", rd->file, where);
        if (strncasecmp(s, "https://", 8) != 0)
                return crisp_error_set(err, EINVAL,
                                       "%s: %s: server '%s' is not https:// (crisp talks to the "
                                       "API server over TLS only)",
                                       rd->file, where, s);
        size_t len = strlen(s);
        while (len > 8 && s[len - 1] == '/')
                len--;
        if (len == 8)
                return crisp_error_set(err, EINVAL, "%s: %s: server '%s' has no host", rd->file,
                                       where, s);
        if ((kc->server = strndup(s, len)) == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->file);

        if ((r = get_str(rd, c, where, "insecure-skip-tls-verify", &s, err)) < 0)
                return r;
        /* Anything but a plain false is refused: crisp always verifies. */
        if (s != NULL && strcmp(s, "false") != 0 && strcmp(s, "False") != 0 &&
            strcmp(s, "FALSE") != 0)
                return crisp_error_set(err, EINVAL,
                                       "%s: %s: insecure-skip-tls-verify: %s is not supported "
                                       "(crisp always verifies the API server's certificate)",
                                       rd->file, where, s);
        if ((r = refuse(rd, c, where, "proxy-url",
                        "proxy-url is not supported (crisp connects to the server directly)",
                        err)) < 0)
                return r;
        if ((r = get_str(rd, c, where, "tls-server-name", &s, err)) < 0 ||
            (r = copy_str(rd, s, &kc->tls_server_name, err)) < 0)
                return r;
        return file_or_data(rd, c, where, "certificate-authority", &kc->ca_file, &kc->ca_data,
                            &kc->ca_data_len, err);
}

static int read_user(struct reader *rd, const yaml_node_t *u, const char *name,
                     struct crisp_kubeconfig *kc, crisp_error **err)
{
        char where[256];
        snprintf(where, sizeof(where), "users[%s]", name);
        static const struct {
                const char *key, *why;
        } refused[] = {
            {"exec", "exec plugins are not supported; use a client certificate or a token"},
            {"auth-provider", "auth-provider plugins are not supported; use a client "
                              "certificate or a token"},
            {"username", "basic auth (username/password) is not supported"},
            {"password", "basic auth (username/password) is not supported"},
            {"as", "impersonation (as) is not supported"},
            {"as-uid", "impersonation (as-uid) is not supported"},
            {"as-groups", "impersonation (as-groups) is not supported"},
            {"as-user-extra", "impersonation (as-user-extra) is not supported"},
        };
        int r;
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                if ((r = refuse(rd, u, where, refused[i].key, refused[i].why, err)) < 0)
                        return r;
        if ((r = file_or_data(rd, u, where, "client-certificate", &kc->client_cert_file,
                              &kc->client_cert_data, &kc->client_cert_data_len, err)) < 0 ||
            (r = file_or_data(rd, u, where, "client-key", &kc->client_key_file,
                              &kc->client_key_data, &kc->client_key_data_len, err)) < 0)
                return r;
        bool cert = kc->client_cert_file || kc->client_cert_data;
        bool key = kc->client_key_file || kc->client_key_data;
        if (cert && !key)
                return crisp_error_set(err, EINVAL,
                                       "%s: %s: a client certificate without a client key",
                                       rd->file, where);
        if (key && !cert)
                return crisp_error_set(err, EINVAL,
                                       "%s: %s: a client key without a client certificate",
                                       rd->file, where);
        /* Both token and tokenFile: kept both, as kubectl does (it sends the
         * token and re-reads the file when it refreshes). */
        const char *s;
        if ((r = get_str(rd, u, where, "token", &s, err)) < 0 ||
            (r = copy_str(rd, s, &kc->token, err)) < 0 ||
            (r = path_value(rd, u, where, "tokenFile", &kc->token_file, err)) < 0)
                return r;
        if (!cert && kc->token == NULL && kc->token_file == NULL)
                return crisp_error_set(err, EINVAL,
                                       "%s: %s: no credentials: needs client-certificate and "
                                       "client-key (or their -data), or token or tokenFile",
                                       rd->file, where);
        return 0;
}

/* The absolute folder of `path`: kubectl resolves relative paths against
 * it, and crisp may change its working directory later. */
static char *folder_of(const char *path)
{
        const char *slash = strrchr(path, '/');
        char *dir = slash == NULL ? strdup(".") : strndup(path, slash == path ? 1 : slash - path);
        if (dir == NULL || dir[0] == '/')
                return dir;
        char cwd[4096];
        char *abs = NULL;
        if (getcwd(cwd, sizeof(cwd)) != NULL &&
            asprintf(&abs, "%s%s%s", cwd, strcmp(dir, ".") ? "/" : "",
                     strcmp(dir, ".") ? dir : "") < 0)
                abs = NULL;
        free(dir);
        return abs;
}

int crisp_kubeconfig_load(const char *path, struct crisp_kubeconfig *out, crisp_error **err)
{
        memset(out, 0, sizeof(*out));
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (f == NULL)
                return crisp_error_set_errno(err, errno, "kubeconfig: cannot open %s", path);
        _cleanup_free_ char *dir = folder_of(path);
        if (dir == NULL)
                return crisp_error_set(err, ENOMEM, "%s: cannot tell its folder", path);

        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return crisp_error_set(err, ENOMEM, "%s: out of memory", path);
        yaml_parser_set_input_file(&parser, f);
        yaml_document_t document;
        _cleanup_yaml_document_ yaml_document_t *doc = NULL;
        if (!yaml_parser_load(&parser, &document)) {
                int r = crisp_error_set(err, EINVAL, "%s:%lu: not valid YAML or JSON: %s", path,
                                        (unsigned long)parser.problem_mark.line + 1,
                                        parser.problem ? parser.problem : "parse error");
                yaml_parser_delete(&parser);
                return r;
        }
        doc = &document;
        yaml_parser_delete(&parser);

        struct reader rd = {.file = path, .dir = dir, .doc = doc};
        yaml_node_t *root = yaml_document_get_root_node(doc);
        if (root == NULL || root->type != YAML_MAPPING_NODE)
                return crisp_error_set(err, EINVAL, "%s: not a kubeconfig (expected a mapping)",
                                       path);

        const char *ctx_name, *cluster_name, *user_name;
        yaml_node_t *ctx, *cluster, *user;
        int r = get_str(&rd, root, "the file", "current-context", &ctx_name, err);
        if (r < 0)
                return r;
        if (ctx_name == NULL)
                return crisp_error_set(err, EINVAL, "%s: no current-context", path);
        if ((r = find_named(&rd, root, "contexts", ctx_name, "context", &ctx, err)) == -ENOENT)
                return crisp_error_set(err, EINVAL,
                                       "%s: current-context '%s': no such entry in contexts", path,
                                       ctx_name);
        if (r < 0)
                return r;
        char where[256];
        snprintf(where, sizeof(where), "contexts[%s]", ctx_name);
        if ((r = get_str(&rd, ctx, where, "cluster", &cluster_name, err)) < 0 ||
            (r = get_str(&rd, ctx, where, "user", &user_name, err)) < 0)
                return r;
        if (cluster_name == NULL)
                return crisp_error_set(err, EINVAL, "%s: %s: no cluster", path, where);
        if (user_name == NULL)
                return crisp_error_set(err, EINVAL, "%s: %s: no user", path, where);
        if ((r = find_named(&rd, root, "clusters", cluster_name, "cluster", &cluster, err)) ==
            -ENOENT)
                return crisp_error_set(err, EINVAL,
                                       "%s: %s: cluster '%s': no such entry in clusters", path,
                                       where, cluster_name);
        if (r < 0)
                return r;
        if ((r = find_named(&rd, root, "users", user_name, "user", &user, err)) == -ENOENT)
                return crisp_error_set(err, EINVAL, "%s: %s: user '%s': no such entry in users",
                                       path, where, user_name);
        if (r < 0)
                return r;

        __attribute__((cleanup(crisp_kubeconfig_release))) struct crisp_kubeconfig kc = {0};
        if ((r = read_cluster(&rd, cluster, cluster_name, &kc, err)) < 0 ||
            (r = read_user(&rd, user, user_name, &kc, err)) < 0)
                return r;
        *out = kc;
        memset(&kc, 0, sizeof(kc));
        return 0;
}

void crisp_kubeconfig_release(struct crisp_kubeconfig *kc)
{
        free(kc->server);
        free(kc->tls_server_name);
        free(kc->ca_file);
        free(kc->ca_data);
        free(kc->client_cert_file);
        free(kc->client_cert_data);
        free(kc->client_key_file);
        /* The key and the token are credentials: not left in freed memory. */
        if (kc->client_key_data)
                explicit_bzero(kc->client_key_data, kc->client_key_data_len);
        free(kc->client_key_data);
        if (kc->token)
                explicit_bzero(kc->token, strlen(kc->token));
        free(kc->token);
        free(kc->token_file);
        memset(kc, 0, sizeof(*kc));
}
