/* Static pod manifests (issue 8): kubeadm's own, container-level seccomp,
 * the three container lists, the kubelet's naming and defaults, what is
 * refused, and the folder: order, skipped files and stale detection. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "podspec/static_pods.h"
#include "test_files.h"

static char dir[64];

static int setup(void **state)
{
        (void)state;
        return crisp_test_dir_make(dir, sizeof(dir), "static-pods");
}

static int teardown(void **state)
{
        (void)state;
        return crisp_test_dir_remove(dir);
}

static void write_in(const char *name, const char *text)
{
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        crisp_test_write_file(p, text);
}

static void remove_in(const char *name)
{
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        assert_int_equal(unlink(p), 0);
}

/* kubeadm v1.29's /etc/kubernetes/manifests/kube-apiserver.yaml, shortened
 * flags; seccomp RuntimeDefault at the pod level, as kubeadm writes it. */
static const char kube_apiserver_yaml[] =
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata:\n"
    "  annotations:\n"
    "    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 192.168.122.10:6443\n"
    "  creationTimestamp: null\n"
    "  labels:\n"
    "    component: kube-apiserver\n"
    "    tier: control-plane\n"
    "  name: kube-apiserver\n"
    "  namespace: kube-system\n"
    "spec:\n"
    "  containers:\n"
    "  - command:\n"
    "    - kube-apiserver\n"
    "    - --advertise-address=192.168.122.10\n"
    "    - --allow-privileged=true\n"
    "    - --authorization-mode=Node,RBAC\n"
    "    - --client-ca-file=/etc/kubernetes/pki/ca.crt\n"
    "    - --enable-admission-plugins=NodeRestriction\n"
    "    - --etcd-servers=https://127.0.0.1:2379\n"
    "    - --secure-port=6443\n"
    "    image: registry.k8s.io/kube-apiserver:v1.29.2\n"
    "    imagePullPolicy: IfNotPresent\n"
    "    livenessProbe:\n"
    "      failureThreshold: 8\n"
    "      httpGet:\n"
    "        host: 192.168.122.10\n"
    "        path: /livez\n"
    "        port: 6443\n"
    "        scheme: HTTPS\n"
    "      initialDelaySeconds: 10\n"
    "      periodSeconds: 10\n"
    "      timeoutSeconds: 15\n"
    "    name: kube-apiserver\n"
    "    resources:\n"
    "      requests:\n"
    "        cpu: 250m\n"
    "    volumeMounts:\n"
    "    - mountPath: /etc/ssl/certs\n"
    "      name: ca-certs\n"
    "      readOnly: true\n"
    "    - mountPath: /etc/kubernetes/pki\n"
    "      name: k8s-certs\n"
    "      readOnly: true\n"
    "  hostNetwork: true\n"
    "  priority: 2000001000\n"
    "  priorityClassName: system-node-critical\n"
    "  securityContext:\n"
    "    seccompProfile:\n"
    "      type: RuntimeDefault\n"
    "  volumes:\n"
    "  - hostPath:\n"
    "      path: /etc/ssl/certs\n"
    "      type: DirectoryOrCreate\n"
    "    name: ca-certs\n"
    "  - hostPath:\n"
    "      path: /etc/kubernetes/pki\n"
    "      type: DirectoryOrCreate\n"
    "    name: k8s-certs\n"
    "status: {}\n";

static const char etcd_yaml[] =
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata:\n"
    "  annotations:\n"
    "    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://192.168.122.10:2379\n"
    "  creationTimestamp: null\n"
    "  labels:\n"
    "    component: etcd\n"
    "    tier: control-plane\n"
    "  name: etcd\n"
    "  namespace: kube-system\n"
    "spec:\n"
    "  containers:\n"
    "  - command:\n"
    "    - etcd\n"
    "    - --advertise-client-urls=https://192.168.122.10:2379\n"
    "    - --data-dir=/var/lib/etcd\n"
    "    - --listen-client-urls=https://127.0.0.1:2379,https://192.168.122.10:2379\n"
    "    image: registry.k8s.io/etcd:3.5.10-0\n"
    "    imagePullPolicy: IfNotPresent\n"
    "    name: etcd\n"
    "    resources:\n"
    "      requests:\n"
    "        cpu: 100m\n"
    "        memory: 100Mi\n"
    "    volumeMounts:\n"
    "    - mountPath: /var/lib/etcd\n"
    "      name: etcd-data\n"
    "  hostNetwork: true\n"
    "  priority: 2000001000\n"
    "  priorityClassName: system-node-critical\n"
    "  securityContext:\n"
    "    seccompProfile:\n"
    "      type: RuntimeDefault\n"
    "  volumes:\n"
    "  - hostPath:\n"
    "      path: /var/lib/etcd\n"
    "      type: DirectoryOrCreate\n"
    "    name: etcd-data\n"
    "status: {}\n";

static int parse(const char *text, struct crisp_pod_spec *pod, crisp_error **err)
{
        return crisp_static_pod_parse(text, strlen(text), "/etc/kubernetes/manifests/x.yaml",
                                      "worker-1", pod, err);
}

static void kubeadm_kube_apiserver(void **state)
{
        (void)state;
        struct crisp_pod_spec pod;
        _cleanup_error_ crisp_error *err = NULL;
        /* The kubelet lower-cases the node name in the pod's name. */
        assert_int_equal(crisp_static_pod_parse(kube_apiserver_yaml, strlen(kube_apiserver_yaml),
                                                "kube-apiserver.yaml", "Control-Plane-1", &pod,
                                                &err),
                         0);
        assert_string_equal(pod.name, "kube-apiserver-control-plane-1");
        assert_string_equal(pod.namespace_, "kube-system");
        assert_string_equal(pod.uid, "");
        assert_string_equal(pod.resource_version, "");
        assert_int_equal(pod.seccomp, CRISP_SPEC_RUNTIME_DEFAULT);
        assert_int_equal(pod.n_containers, 1);
        assert_string_equal(pod.containers[0].name, "kube-apiserver");
        assert_int_equal(pod.containers[0].kind, CRISP_CONTAINER_REGULAR);
        assert_int_equal(pod.containers[0].seccomp, CRISP_SPEC_UNSET);
        crisp_pod_spec_release(&pod);
}

static void kubeadm_etcd(void **state)
{
        (void)state;
        struct crisp_pod_spec pod;
        assert_int_equal(parse(etcd_yaml, &pod, NULL), 0);
        assert_string_equal(pod.name, "etcd-worker-1");
        assert_string_equal(pod.namespace_, "kube-system");
        assert_int_equal(pod.seccomp, CRISP_SPEC_RUNTIME_DEFAULT);
        assert_int_equal(pod.n_containers, 1);
        assert_non_null(crisp_pod_spec_container(&pod, "etcd", 4));
        crisp_pod_spec_release(&pod);
}

/* Containers override the pod; init and ephemeral containers count too. */
static void containers_and_their_kinds(void **state)
{
        (void)state;
        const char *text = "apiVersion: v1\n"
                           "kind: Pod\n"
                           "metadata: {name: mixed}\n"
                           "spec:\n"
                           "  securityContext:\n"
                           "    runAsNonRoot: true\n"
                           "    seccompProfile: {type: Unconfined}\n"
                           "  initContainers:\n"
                           "  - name: setup\n"
                           "    image: busybox\n"
                           "  containers:\n"
                           "  - name: app\n"
                           "    securityContext:\n"
                           "      seccompProfile: {type: RuntimeDefault}\n"
                           "  - name: tuned\n"
                           "    securityContext:\n"
                           "      seccompProfile:\n"
                           "        type: Localhost\n"
                           "        localhostProfile: profiles/tuned.json\n"
                           "  - name: odd\n"
                           "    securityContext: {seccompProfile: {type: Weird}}\n"
                           "  - name: typeless\n"
                           "    securityContext: {seccompProfile: {}, privileged: false}\n"
                           "  ephemeralContainers:\n"
                           "  - name: debugger\n"
                           "    securityContext:\n"
                           "      seccompProfile: {type: Unconfined}\n";
        struct crisp_pod_spec pod;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(parse(text, &pod, &err), 0);
        assert_string_equal(pod.name, "mixed-worker-1");
        assert_string_equal(pod.namespace_, "default"); /* as the kubelet defaults it */
        assert_int_equal(pod.seccomp, CRISP_SPEC_UNCONFINED);
        assert_int_equal(pod.n_containers, 6);
        static const struct {
                const char *name;
                enum crisp_container_kind kind;
                enum crisp_spec_seccomp seccomp;
        } want[] = {
            {"app", CRISP_CONTAINER_REGULAR, CRISP_SPEC_RUNTIME_DEFAULT},
            {"tuned", CRISP_CONTAINER_REGULAR, CRISP_SPEC_LOCALHOST},
            {"odd", CRISP_CONTAINER_REGULAR, CRISP_SPEC_OTHER},
            {"typeless", CRISP_CONTAINER_REGULAR, CRISP_SPEC_UNSET},
            {"setup", CRISP_CONTAINER_INIT, CRISP_SPEC_UNSET},
            {"debugger", CRISP_CONTAINER_EPHEMERAL, CRISP_SPEC_UNCONFINED},
        };
        for (size_t i = 0; i < 6; i++) {
                const struct crisp_container_spec *c =
                    crisp_pod_spec_container(&pod, want[i].name, strlen(want[i].name));
                assert_non_null(c);
                assert_int_equal(c->kind, want[i].kind);
                assert_int_equal(c->seccomp, want[i].seccomp);
        }
        crisp_pod_spec_release(&pod);
}

/* No seccompProfile anywhere; namespace left out, null, or "". */
static void unset_seccomp_and_default_namespace(void **state)
{
        (void)state;
        static const char *const texts[] = {
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: plain\nspec:\n  containers:\n"
            "  - name: c\n    image: nginx\n",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: plain\n  namespace:\nspec:\n"
            "  securityContext: {}\n  containers: [{name: c}]\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: plain, namespace: ''}\nspec:\n"
            "  securityContext: {seccompProfile: null}\n  containers: [{name: c}]\n",
        };
        for (size_t i = 0; i < 3; i++) {
                struct crisp_pod_spec pod;
                assert_int_equal(parse(texts[i], &pod, NULL), 0);
                assert_string_equal(pod.namespace_, "default");
                assert_string_equal(pod.name, "plain-worker-1");
                assert_int_equal(pod.seccomp, CRISP_SPEC_UNSET);
                assert_int_equal(pod.n_containers, 1);
                assert_int_equal(pod.containers[0].seccomp, CRISP_SPEC_UNSET);
                crisp_pod_spec_release(&pod);
        }
}

static void json_manifest(void **state)
{
        (void)state;
        const char *text =
            "{\n"
            "  \"apiVersion\": \"v1\",\n"
            "  \"kind\": \"Pod\",\n"
            "  \"metadata\": {\"name\": \"haproxy\", \"namespace\": \"lb\"},\n"
            "  \"spec\": {\n"
            "\t\"securityContext\": {\"seccompProfile\": {\"type\": \"RuntimeDefault\"}},\n"
            "\t\"containers\": [{\"name\": \"haproxy\", \"image\": \"haproxy:2.8\",\n"
            "\t  \"securityContext\": {\"seccompProfile\": {\"type\": \"Unconfined\"}}}]\n"
            "  }\n"
            "}\n";
        struct crisp_pod_spec pod;
        _cleanup_error_ crisp_error *err = NULL;
        int r = parse(text, &pod, &err);
        if (err)
                fprintf(stderr, "%s\n", err->msg);
        assert_int_equal(r, 0);
        assert_string_equal(pod.name, "haproxy-worker-1");
        assert_string_equal(pod.namespace_, "lb");
        assert_int_equal(pod.seccomp, CRISP_SPEC_RUNTIME_DEFAULT);
        assert_int_equal(pod.containers[0].seccomp, CRISP_SPEC_UNCONFINED);
        crisp_pod_spec_release(&pod);
}

/* Only the first document counts, as for the kubelet (a warning is logged). */
static void the_first_document_only(void **state)
{
        (void)state;
        const char *texts[] = {
            "---\napiVersion: v1\nkind: Pod\nmetadata: {name: first}\nspec: {containers: "
            "[{name: a}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: second}\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: first}\nspec: {containers: "
            "[{name: a}]}\n---\n: [broken\n",
        };
        for (size_t i = 0; i < 2; i++) {
                struct crisp_pod_spec pod;
                assert_int_equal(parse(texts[i], &pod, NULL), 0);
                assert_string_equal(pod.name, "first-worker-1");
                crisp_pod_spec_release(&pod);
        }
}

static void what_is_refused(void **state)
{
        (void)state;
        static const struct {
                const char *text, *want;
        } cases[] = {
            {"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
             "kind is 'Deployment', not Pod"},
            {"apiVersion: v1\nmetadata: {name: d}\nspec: {}\n", "kind is not set, not Pod"},
            {"apiVersion: v2\nkind: Pod\nmetadata: {name: p}\nspec: {}\n",
             "apiVersion is 'v2', not v1"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\nspec: {}\n",
             "metadata.name is not set"},
            {"apiVersion: v1\nkind: Pod\nspec: {}\n", "metadata.name is not set"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "spec is not set"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {name: [p]}\nspec: {}\n",
             "metadata.name: expected a string, found a list"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: {a: 1}}\n",
             "spec.containers: expected a list, found a mapping"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: x}]}\n",
             "spec.containers[0]: no name"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
             "spec: {containers: [{name: a}], initContainers: [{name: a}]}\n",
             "spec.initContainers[0]: container name 'a' is used twice"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
             "spec: {containers: [{name: a, securityContext: {seccompProfile: {type: [x]}}}]}\n",
             "spec.containers[0].securityContext.seccompProfile.type: expected a string"},
            {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
             "spec:\n  securityContext: {seccompProfile: {type: Unconfined}}\n"
             "  securityContext: {seccompProfile: {type: RuntimeDefault}}\n",
             "spec.securityContext: given twice"},
            {"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n   bad: indent\n",
             "not valid YAML or JSON"},
            {"{\"apiVersion\": \"v1\", \"kind\": \"Pod\"", "not valid YAML or JSON"},
            {"", "empty; expected a Pod"},
            {"# only a comment\n", "empty; expected a Pod"},
            {"just a string\n", "expected a Pod (a mapping), found a scalar"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct crisp_pod_spec pod;
                memset(&pod, 0xa5, sizeof(pod));
                _cleanup_error_ crisp_error *err = NULL;
                int r = crisp_static_pod_parse(cases[i].text, strlen(cases[i].text), "m.yaml", "n",
                                               &pod, &err);
                if (r != -EINVAL || err == NULL || strncmp(err->msg, "m.yaml", 6) != 0 ||
                    strstr(err->msg, cases[i].want) == NULL)
                        fail_msg("case %zu: want -EINVAL and '%s', got %d and '%s'", i,
                                 cases[i].want, r, err ? err->msg : "(none)");
                static const struct crisp_pod_spec zero;
                assert_memory_equal(&pod, &zero, sizeof(zero));
        }
}

/* ---- the folder --------------------------------------------------------------------- */

static const char pod_a[] = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
                            "spec: {containers: [{name: c}]}\n";

static void a_missing_folder_is_empty(void **state)
{
        (void)state;
        char missing[128];
        snprintf(missing, sizeof(missing), "%s/manifests", dir);
        struct crisp_static_pods *pods = NULL;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_static_pods_load(missing, "n", &pods, &err), 0);
        assert_non_null(pods);
        assert_int_equal(crisp_static_pods_count(pods), 0);
        assert_null(crisp_static_pods_find(pods, "default", "a-n"));
        assert_false(crisp_static_pods_stale(pods));
        /* The folder appearing is a change. */
        assert_int_equal(mkdir(missing, 0700), 0);
        assert_true(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
}

static void the_folder_as_the_kubelet_reads_it(void **state)
{
        (void)state;
        write_in("kube-apiserver.yaml", kube_apiserver_yaml);
        write_in("etcd.yaml", etcd_yaml);
        write_in("a.json", "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": "
                           "{\"name\": \"a\"}, \"spec\": {\"containers\": [{\"name\": \"c\"}]}}");
        write_in("a-again.yaml", pod_a); /* same pod: the first file by name wins */
        write_in(".hidden.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: hidden}\n"
                                 "spec: {containers: [{name: c}]}\n");
        write_in("kube-apiserver.yaml.bak~", "apiVersion: v1\nkind: Pod\n"
                                             "metadata: {name: backup}\nspec: {containers: "
                                             "[{name: c}]}\n");
        write_in("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n");
        write_in("deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
        write_in("empty.yaml", "");
        char p[256];
        snprintf(p, sizeof(p), "%s/subdir", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        write_in("subdir/inner.yaml", pod_a);
        snprintf(p, sizeof(p), "%s/linked.yaml", dir);
        assert_int_equal(symlink("subdir/inner.yaml", p), 0); /* followed, as by the kubelet */
        /* Too big: skipped before it is read into memory. */
        snprintf(p, sizeof(p), "%s/huge.yaml", dir);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 1024 * 1024 + 1), 0);
        close(fd);

        struct crisp_static_pods *pods = NULL;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_static_pods_load(dir, "cp-1", &pods, &err), 0);
        /* a.json (a-cp-1), etcd, kube-apiserver, the backup file (any name
         * not starting with '.' counts), linked.yaml (a-cp-1 again: skipped) */
        assert_int_equal(crisp_static_pods_count(pods), 4);
        const struct crisp_pod_spec *api =
            crisp_static_pods_find(pods, "kube-system", "kube-apiserver-cp-1");
        assert_non_null(api);
        assert_int_equal(api->seccomp, CRISP_SPEC_RUNTIME_DEFAULT);
        assert_non_null(crisp_static_pods_find(pods, "kube-system", "etcd-cp-1"));
        assert_non_null(crisp_static_pods_find(pods, "default", "a-cp-1"));
        assert_non_null(crisp_static_pods_find(pods, "default", "backup-cp-1"));
        assert_null(crisp_static_pods_find(pods, "default", "hidden-cp-1"));
        assert_null(crisp_static_pods_find(pods, "default", "etcd-cp-1")); /* wrong namespace */
        assert_null(crisp_static_pods_find(pods, "kube-system", "etcd"));
        assert_false(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
        crisp_static_pods_free(NULL);
}

/* Sets a file's mtime to a given instant: the test must not depend on the
 * clock moving between two writes (file times are coarse, a jiffy). */
static void set_mtime(const char *name, time_t sec, long nsec)
{
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        struct timespec t[2] = {{sec, nsec}, {sec, nsec}};
        assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
}

static struct crisp_static_pods *load(size_t want_count)
{
        struct crisp_static_pods *pods = NULL;
        assert_int_equal(crisp_static_pods_load(dir, "n", &pods, NULL), 0);
        assert_int_equal(crisp_static_pods_count(pods), want_count);
        assert_false(crisp_static_pods_stale(pods));
        return pods;
}

static void stale_when_a_file_is_added_changed_or_removed(void **state)
{
        (void)state;
        write_in("a.yaml", pod_a);
        set_mtime("a.yaml", 1700000000, 100);
        struct crisp_static_pods *pods = load(1);

        /* added */
        write_in("b.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"
                           "spec: {containers: [{name: c}]}\n");
        assert_true(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
        pods = load(2);

        /* modified in place, same size: only the mtime's nanoseconds differ */
        char changed[sizeof(pod_a)];
        memcpy(changed, pod_a, sizeof(pod_a));
        strstr(changed, "name: a}")[6] = 'z';
        write_in("a.yaml", changed);
        set_mtime("a.yaml", 1700000000, 100);
        assert_false(crisp_static_pods_stale(pods)); /* what stat sees is the same */
        set_mtime("a.yaml", 1700000000, 101);
        assert_true(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
        pods = load(2);
        assert_non_null(crisp_static_pods_find(pods, "default", "z-n"));

        /* modified: a different size */
        write_in("b.yaml", etcd_yaml);
        set_mtime("b.yaml", 1700000000, 0);
        assert_true(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
        pods = load(2);
        assert_non_null(crisp_static_pods_find(pods, "kube-system", "etcd-n"));

        /* replaced by rename, with the old mtime and size kept: the inode */
        char from[256], to[256];
        write_in(".b.tmp", etcd_yaml);
        set_mtime(".b.tmp", 1700000000, 0);
        snprintf(from, sizeof(from), "%s/.b.tmp", dir);
        snprintf(to, sizeof(to), "%s/b.yaml", dir);
        crisp_static_pods_free(pods);
        pods = load(2);
        struct stat before;
        assert_int_equal(stat(dir, &before), 0);
        assert_int_equal(rename(from, to), 0);
        /* Only the inode tells: the folder's mtime is put back too. */
        struct timespec t[2] = {before.st_atim, before.st_mtim};
        assert_int_equal(utimensat(AT_FDCWD, dir, t, 0), 0);
        assert_true(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
        pods = load(2);

        /* removed */
        remove_in("a.yaml");
        assert_true(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
        pods = load(1);

        /* the folder itself gone */
        remove_in("b.yaml");
        crisp_static_pods_free(pods);
        pods = load(0);
        assert_int_equal(rmdir(dir), 0);
        assert_true(crisp_static_pods_stale(pods));
        crisp_static_pods_free(pods);
        assert_int_equal(mkdir(dir, 0700), 0); /* for the teardown */
}

int main(void)
{
        /* The skipped files' warnings are expected; keep the output to failures. */
        crisp_log_set_level(CRISP_LOG_ERROR);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(kubeadm_kube_apiserver),
            cmocka_unit_test(kubeadm_etcd),
            cmocka_unit_test(containers_and_their_kinds),
            cmocka_unit_test(unset_seccomp_and_default_namespace),
            cmocka_unit_test(json_manifest),
            cmocka_unit_test(the_first_document_only),
            cmocka_unit_test(what_is_refused),
            cmocka_unit_test_setup_teardown(a_missing_folder_is_empty, setup, teardown),
            cmocka_unit_test_setup_teardown(the_folder_as_the_kubelet_reads_it, setup, teardown),
            cmocka_unit_test_setup_teardown(stale_when_a_file_is_added_changed_or_removed, setup,
                                            teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
