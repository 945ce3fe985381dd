/* Static pods: the kubelet's manifests folder, read as the kubelet reads it
 * (static_pods.h). */
#include "podspec/static_pods.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/yaml_nodes.h"

/* A manifest is a few KiB; the bound keeps a stray big file in the folder
 * from costing crisp its memory. */
#define MANIFEST_MAX (1024 * 1024)

/* ---- one manifest ------------------------------------------------------------ */

struct reader {
        const char *origin;
        yaml_document_t *doc;
};

/* The value of `key` in the mapping `map` (NULL when absent or null; a NULL
 * `map` is an empty one). A key given twice is refused: what it means
 * depends on the reader, and this settles a pod's seccomp. */
static int get(struct reader *rd, const yaml_node_t *map, const char *where, const char *key,
               yaml_node_t **out, crisp_error **err)
{
        *out = NULL;
        if (crisp_yaml_is_null(map))
                return 0;
        if (map->type != YAML_MAPPING_NODE)
                return crisp_error_set(err, EINVAL, "%s:%lu: %s: expected a mapping, found %s",
                                       rd->origin, crisp_yaml_line(map), where,
                                       crisp_yaml_type_name(map));
        const yaml_node_t *twice;
        if (!crisp_yaml_mapping_get(rd->doc, map, key, out, &twice))
                return crisp_error_set(err, EINVAL, "%s:%lu: %s.%s: given twice", rd->origin,
                                       crisp_yaml_line(twice), where, key);
        return 0;
}

/* The string value of `key`: NULL when absent, null or "". */
static int get_str(struct reader *rd, const yaml_node_t *map, const char *where, const char *key,
                   const char **out, crisp_error **err)
{
        yaml_node_t *v;
        *out = NULL;
        int r = get(rd, map, where, key, &v, err);
        if (r < 0 || v == NULL)
                return r;
        if (v->type != YAML_SCALAR_NODE)
                return crisp_error_set(err, EINVAL, "%s:%lu: %s.%s: expected a string, found %s",
                                       rd->origin, crisp_yaml_line(v), where, key,
                                       crisp_yaml_type_name(v));
        const char *s = (const char *)v->data.scalar.value;
        *out = s[0] ? s : NULL;
        return 0;
}

/* <node>.securityContext.seccompProfile.type */
static int get_seccomp(struct reader *rd, const yaml_node_t *node, const char *where,
                       enum crisp_spec_seccomp *out, crisp_error **err)
{
        char at[192];
        yaml_node_t *sc, *profile;
        const char *type;
        int r = get(rd, node, where, "securityContext", &sc, err);
        if (r < 0)
                return r;
        snprintf(at, sizeof(at), "%s.securityContext", where);
        if ((r = get(rd, sc, at, "seccompProfile", &profile, err)) < 0)
                return r;
        snprintf(at, sizeof(at), "%s.securityContext.seccompProfile", where);
        if ((r = get_str(rd, profile, at, "type", &type, err)) < 0)
                return r;
        *out = crisp_spec_seccomp_parse(type);
        return 0;
}

static int add_containers(struct reader *rd, const yaml_node_t *spec, const char *key,
                          enum crisp_container_kind kind, struct crisp_pod_spec *pod,
                          crisp_error **err)
{
        yaml_node_t *seq;
        int r = get(rd, spec, "spec", key, &seq, err);
        if (r < 0 || seq == NULL)
                return r;
        if (seq->type != YAML_SEQUENCE_NODE)
                return crisp_error_set(err, EINVAL, "%s:%lu: spec.%s: expected a list, found %s",
                                       rd->origin, crisp_yaml_line(seq), key,
                                       crisp_yaml_type_name(seq));
        size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
        if (count == 0)
                return 0;
        struct crisp_container_spec *grown =
            realloc(pod->containers, (pod->n_containers + count) * sizeof(*grown));
        if (grown == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->origin);
        pod->containers = grown;
        for (size_t i = 0; i < count; i++) {
                yaml_node_t *item =
                    yaml_document_get_node(rd->doc, seq->data.sequence.items.start[i]);
                char where[64];
                snprintf(where, sizeof(where), "spec.%s[%zu]", key, i);
                const char *name;
                if ((r = get_str(rd, item, where, "name", &name, err)) < 0)
                        return r;
                if (name == NULL)
                        return crisp_error_set(err, EINVAL, "%s:%lu: %s: no name", rd->origin,
                                               crisp_yaml_line(item), where);
                /* The API server (and the kubelet's validation) keeps names
                 * unique across all three lists; lookups rely on it. */
                if (crisp_pod_spec_container(pod, name, strlen(name)) != NULL)
                        return crisp_error_set(err, EINVAL,
                                               "%s:%lu: %s: container name '%s' is used twice",
                                               rd->origin, crisp_yaml_line(item), where, name);
                struct crisp_container_spec *c = &pod->containers[pod->n_containers];
                memset(c, 0, sizeof(*c));
                c->kind = kind;
                if ((r = get_seccomp(rd, item, where, &c->seccomp, err)) < 0)
                        return r;
                if ((c->name = strdup(name)) == NULL)
                        return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->origin);
                pod->n_containers++;
        }
        return 0;
}

static int read_pod(struct reader *rd, const yaml_node_t *root, const char *node_name,
                    struct crisp_pod_spec *pod, crisp_error **err)
{
        if (root == NULL)
                return crisp_error_set(err, EINVAL, "%s: empty; expected a Pod", rd->origin);
        if (root->type != YAML_MAPPING_NODE)
                return crisp_error_set(err, EINVAL, "%s:%lu: expected a Pod (a mapping), found %s",
                                       rd->origin, crisp_yaml_line(root),
                                       crisp_yaml_type_name(root));
        const char *kind, *api_version, *name, *ns;
        int r;
        if ((r = get_str(rd, root, "the manifest", "kind", &kind, err)) < 0 ||
            (r = get_str(rd, root, "the manifest", "apiVersion", &api_version, err)) < 0)
                return r;
        if (kind == NULL || strcmp(kind, "Pod") != 0)
                return crisp_error_set(err, EINVAL, "%s: kind is %s%s%s, not Pod", rd->origin,
                                       kind ? "'" : "", kind ? kind : "not set", kind ? "'" : "");
        if (api_version == NULL || strcmp(api_version, "v1") != 0)
                return crisp_error_set(err, EINVAL, "%s: apiVersion is %s%s%s, not v1", rd->origin,
                                       api_version ? "'" : "",
                                       api_version ? api_version : "not set",
                                       api_version ? "'" : "");
        yaml_node_t *meta, *spec;
        if ((r = get(rd, root, "the manifest", "metadata", &meta, err)) < 0 ||
            (r = get_str(rd, meta, "metadata", "name", &name, err)) < 0 ||
            (r = get_str(rd, meta, "metadata", "namespace", &ns, err)) < 0)
                return r;
        if (name == NULL)
                return crisp_error_set(err, EINVAL, "%s: metadata.name is not set", rd->origin);

        /* The kubelet's name for a static pod: generatePodName() lower-cases
         * the node name. */
        if (asprintf(&pod->name, "%s-%s", name, node_name) < 0) {
                pod->name = NULL;
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->origin);
        }
        for (char *c = pod->name + strlen(name) + 1; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        pod->namespace_ = strdup(ns ? ns : "default");
        pod->uid = strdup("");
        pod->resource_version = strdup("");
        if (pod->namespace_ == NULL || pod->uid == NULL || pod->resource_version == NULL)
                return crisp_error_set(err, ENOMEM, "%s: out of memory", rd->origin);

        if ((r = get(rd, root, "the manifest", "spec", &spec, err)) < 0)
                return r;
        if (spec == NULL)
                return crisp_error_set(err, EINVAL, "%s: spec is not set", rd->origin);
        if ((r = get_seccomp(rd, spec, "spec", &pod->seccomp, err)) < 0 ||
            (r = add_containers(rd, spec, "containers", CRISP_CONTAINER_REGULAR, pod, err)) < 0 ||
            (r = add_containers(rd, spec, "initContainers", CRISP_CONTAINER_INIT, pod, err)) < 0 ||
            (r = add_containers(rd, spec, "ephemeralContainers", CRISP_CONTAINER_EPHEMERAL, pod,
                                err)) < 0)
                return r;
        return 0;
}

/* The kubelet decodes one object per file: Go's YAML reads the first
 * document and never looks at the rest. So does crisp, with a warning,
 * since a second Pod in the file is never run and its author may think it
 * is. */
static void warn_if_more_documents(yaml_parser_t *parser, const char *origin)
{
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) {
                log_warn("static pod manifest %s: only its first document is read; what follows "
                         "it is not valid YAML (the kubelet ignores it too)",
                         origin);
                return;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT)
                log_warn("static pod manifest %s: only its first document is read; the kubelet "
                         "ignores the others too",
                         origin);
        yaml_event_delete(&ev);
}

int crisp_static_pod_parse(const char *data, size_t len, const char *origin, const char *node_name,
                           struct crisp_pod_spec *out, crisp_error **err)
{
        memset(out, 0, sizeof(*out));
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return crisp_error_set(err, ENOMEM, "%s: out of memory", origin);
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        yaml_document_t document;
        _cleanup_yaml_document_ yaml_document_t *doc = NULL;
        if (!yaml_parser_load(&parser, &document)) {
                int r = crisp_error_set(err, EINVAL, "%s:%lu: not valid YAML or JSON: %s", origin,
                                        (unsigned long)parser.problem_mark.line + 1,
                                        parser.problem ? parser.problem : "parse error");
                yaml_parser_delete(&parser);
                return r;
        }
        doc = &document;
        yaml_node_t *root = yaml_document_get_root_node(doc);
        if (root != NULL)
                warn_if_more_documents(&parser, origin);
        yaml_parser_delete(&parser);

        struct reader rd = {.origin = origin, .doc = doc};
        __attribute__((cleanup(crisp_pod_spec_release))) struct crisp_pod_spec pod = {0};
        int r = read_pod(&rd, root, node_name, &pod, err);
        if (r < 0)
                return r;
        *out = pod;
        memset(&pod, 0, sizeof(pod));
        return 0;
}

/* ---- the folder ---------------------------------------------------------------- */

/* What stale() compares: every non-hidden name in the folder with what
 * stat() says of it (stat, not lstat: the kubelet follows symlinks), and
 * the folder's own mtime. The inode catches a file replaced by rename with
 * an older mtime and the same size. */
struct entry {
        char *name;
        mode_t type;
        off_t size;
        struct timespec mtime;
        ino_t ino;
};

struct snapshot {
        bool exists;
        struct timespec mtime;
        size_t n;
        struct entry *entries;
};

struct crisp_static_pods {
        char *dir;
        struct snapshot snap;
        size_t n;
        struct crisp_pod_spec *pods;
};

static void snapshot_release(struct snapshot *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->entries[i].name);
        free(s->entries);
        memset(s, 0, sizeof(*s));
}

static int not_hidden(const struct dirent *d)
{
        return d->d_name[0] != '.';
}

/* Byte order, as Go's os.ReadDir sorts, whatever the locale. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* Takes a snapshot of `dir`. Returns 0 (a missing or unreadable folder is
 * a snapshot of nothing, with a warning for the unreadable), or -ENOMEM. */
static int snapshot_take(const char *dir, bool quiet, struct snapshot *s)
{
        memset(s, 0, sizeof(*s));
        struct stat st;
        struct dirent **names = NULL;
        int n = stat(dir, &st) < 0 ? -1 : scandir(dir, &names, not_hidden, by_name);
        if (n < 0) {
                int e = errno;
                if (e != ENOENT && !quiet)
                        log_warn("static pods: cannot read %s: %s", dir, strerror(e));
                return e == ENOMEM ? -ENOMEM : 0;
        }
        s->exists = true;
        s->mtime = st.st_mtim;
        int r = 0;
        s->entries = n ? calloc((size_t)n, sizeof(*s->entries)) : NULL;
        if (n && s->entries == NULL)
                r = -ENOMEM;
        for (int i = 0; i < n; i++) {
                if (r == 0) {
                        struct entry *e = &s->entries[s->n];
                        _cleanup_free_ char *path = NULL;
                        if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
                                path = NULL;
                                r = -ENOMEM;
                        } else if ((e->name = strdup(names[i]->d_name)) == NULL) {
                                r = -ENOMEM;
                        } else {
                                s->n++;
                                /* A name that vanished or dangles is kept with
                                 * zeroes: its coming back is a change too. */
                                if (stat(path, &st) == 0) {
                                        e->type = st.st_mode & S_IFMT;
                                        e->size = st.st_size;
                                        e->mtime = st.st_mtim;
                                        e->ino = st.st_ino;
                                }
                        }
                }
                free(names[i]);
        }
        free(names);
        if (r < 0)
                snapshot_release(s);
        return r;
}

static bool same_time(struct timespec a, struct timespec b)
{
        return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool snapshot_equal(const struct snapshot *a, const struct snapshot *b)
{
        if (a->exists != b->exists || !same_time(a->mtime, b->mtime) || a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const struct entry *x = &a->entries[i], *y = &b->entries[i];
                if (strcmp(x->name, y->name) != 0 || x->type != y->type || x->size != y->size ||
                    !same_time(x->mtime, y->mtime) || x->ino != y->ino)
                        return false;
        }
        return true;
}

/* Reads a regular file of at most MANIFEST_MAX bytes into *out (NUL-ended
 * for the log's sake). Returns 0, or -errno with *why saying what is wrong. */
static int read_manifest(const char *path, char **out, size_t *len, const char **why)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                *why = strerror(e);
                return -e;
        }
        if (!S_ISREG(st.st_mode)) {
                *why = "not a regular file";
                return -EINVAL;
        }
        if (st.st_size > MANIFEST_MAX) {
                *why = "larger than 1 MiB";
                return -EFBIG;
        }
        /* One byte more than stat said: a file growing meanwhile is seen. */
        size_t cap = (size_t)st.st_size + 1;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (buf == NULL) {
                *why = "out of memory";
                return -ENOMEM;
        }
        size_t got = 0;
        while (got < cap) {
                ssize_t n = read(fd, buf + got, cap - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        *why = strerror(e);
                        return -e;
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        if (got == cap) {
                *why = "it grew while being read";
                return -EAGAIN;
        }
        buf[got] = '\0';
        *out = steal_pointer(&buf);
        *len = got;
        return 0;
}

int crisp_static_pods_load(const char *dir, const char *node_name, struct crisp_static_pods **out,
                           crisp_error **err)
{
        *out = NULL;
        struct crisp_static_pods *p = calloc(1, sizeof(*p));
        if (p == NULL || (p->dir = strdup(dir)) == NULL) {
                free(p);
                return crisp_error_set(err, ENOMEM, "static pods %s: out of memory", dir);
        }
        /* The snapshot comes first: a file changed while it is read then
         * differs from the snapshot, and the next stale() says so. */
        int r = snapshot_take(dir, false, &p->snap);
        if (r == 0 && p->snap.n > 0 && (p->pods = calloc(p->snap.n, sizeof(*p->pods))) == NULL)
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < p->snap.n; i++) {
                const struct entry *e = &p->snap.entries[i];
                /* Folders are skipped quietly: the kubelet does not recurse. */
                if (e->type == S_IFDIR)
                        continue;
                /* Nor is a FIFO or a device opened: opening one can block
                 * or have effects. (0: stat failed; open says why.) */
                if (e->type != S_IFREG && e->type != 0) {
                        log_warn("static pod manifest skipped: %s/%s: not a regular file", dir,
                                 e->name);
                        continue;
                }
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", dir, e->name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                        break;
                }
                _cleanup_free_ char *data = NULL;
                size_t len = 0;
                const char *why = NULL;
                if ((r = read_manifest(path, &data, &len, &why)) < 0) {
                        log_warn("static pod manifest skipped: %s: %s", path, why);
                        r = r == -ENOMEM ? r : 0;
                        continue;
                }
                _cleanup_error_ crisp_error *perr = NULL;
                struct crisp_pod_spec *pod = &p->pods[p->n];
                if ((r = crisp_static_pod_parse(data, len, path, node_name, pod, &perr)) < 0) {
                        log_warn("static pod manifest skipped: %s", perr ? perr->msg : path);
                        r = r == -ENOMEM ? r : 0;
                        continue;
                }
                /* Two files, one pod: the kubelet keeps the first it reads. */
                if (crisp_static_pods_find(p, pod->namespace_, pod->name) != NULL) {
                        log_warn("static pod manifest skipped: %s: pod %s/%s is already defined "
                                 "by an earlier file (the kubelet keeps the first too)",
                                 path, pod->namespace_, pod->name);
                        crisp_pod_spec_release(pod);
                        continue;
                }
                p->n++;
        }
        if (r < 0) {
                crisp_static_pods_free(p);
                return crisp_error_set(err, -r, "static pods %s: out of memory", dir);
        }
        *out = p;
        return 0;
}

const struct crisp_pod_spec *crisp_static_pods_find(const struct crisp_static_pods *pods,
                                                    const char *namespace_, const char *name)
{
        for (size_t i = 0; pods && i < pods->n; i++)
                if (strcmp(pods->pods[i].namespace_, namespace_) == 0 &&
                    strcmp(pods->pods[i].name, name) == 0)
                        return &pods->pods[i];
        return NULL;
}

size_t crisp_static_pods_count(const struct crisp_static_pods *pods)
{
        return pods ? pods->n : 0;
}

bool crisp_static_pods_stale(const struct crisp_static_pods *pods)
{
        struct snapshot now;
        /* Without memory to look, "changed" is the safe answer: a reload
         * costs little, a stale answer could settle a pod wrongly. */
        if (snapshot_take(pods->dir, true, &now) < 0)
                return true;
        bool same = snapshot_equal(&pods->snap, &now);
        snapshot_release(&now);
        return !same;
}

void crisp_static_pods_free(struct crisp_static_pods *pods)
{
        if (pods == NULL)
                return;
        for (size_t i = 0; i < pods->n; i++)
                crisp_pod_spec_release(&pods->pods[i]);
        free(pods->pods);
        snapshot_release(&pods->snap);
        free(pods->dir);
        free(pods);
}
