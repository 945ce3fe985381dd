/* kubeconfig reading (issue 8): kubeadm's kubelet.conf (files) and
 * admin.conf (embedded data), relative paths, JSON, and every refusal, each
 * naming the file and the entry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base64.h"
#include "base/cleanup.h"
#include "podspec/kubeconfig.h"
#include "test_files.h"

static char dir[64];
static char path[128]; /* dir/kubeconfig */

static int setup(void **state)
{
        (void)state;
        if (crisp_test_dir_make(dir, sizeof(dir), "kubeconfig") < 0)
                return -1;
        snprintf(path, sizeof(path), "%s/kubeconfig", dir);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return crisp_test_dir_remove(dir);
}

/* A PEM-shaped text stands for a certificate: the reader never parses PEM. */
static const char ca_pem[] = "-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkq\n"
                             "-----END CERTIFICATE-----\n";
static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\nMIIDITCCAgmgAwIBAgIIZ3Vl\n"
                               "-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu5\n"
                              "-----END RSA PRIVATE KEY-----\n";

/* The base64 of `text`, as kubeconfig *-data fields hold it. */
static char *b64(const char *text)
{
        size_t n = crisp_base64_encoded_len(strlen(text));
        char *out = malloc(n + 1);
        assert_non_null(out);
        crisp_base64_encode((const uint8_t *)text, strlen(text), out);
        out[n] = '\0';
        return out;
}

static void assert_bytes(const uint8_t *data, size_t len, const char *want)
{
        assert_non_null(data);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(data, want, len);
}

static void assert_all_null(const struct crisp_kubeconfig *kc)
{
        static const struct crisp_kubeconfig zero;
        assert_memory_equal(kc, &zero, sizeof(zero));
}

/* kubeadm's /etc/kubernetes/kubelet.conf after TLS bootstrap: the CA
 * embedded, the rotating client certificate and key in one file. */
static void kubeadm_kubelet_conf(void **state)
{
        (void)state;
        _cleanup_free_ char *ca = b64(ca_pem);
        char text[4096];
        snprintf(text, sizeof(text),
                 "apiVersion: v1\n"
                 "clusters:\n"
                 "- cluster:\n"
                 "    certificate-authority-data: %s\n"
                 "    server: https://192.168.122.10:6443\n"
                 "  name: kubernetes\n"
                 "contexts:\n"
                 "- context:\n"
                 "    cluster: kubernetes\n"
                 "    user: system:node:worker-1\n"
                 "  name: system:node:worker-1@kubernetes\n"
                 "current-context: system:node:worker-1@kubernetes\n"
                 "kind: Config\n"
                 "preferences: {}\n"
                 "users:\n"
                 "- name: system:node:worker-1\n"
                 "  user:\n"
                 "    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
                 "    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n",
                 ca);
        crisp_test_write_file(path, text);
        struct crisp_kubeconfig kc;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_kubeconfig_load(path, &kc, &err), 0);
        assert_null(err);
        assert_string_equal(kc.server, "https://192.168.122.10:6443");
        assert_null(kc.tls_server_name);
        assert_null(kc.ca_file);
        assert_bytes(kc.ca_data, kc.ca_data_len, ca_pem);
        assert_string_equal(kc.client_cert_file, "/var/lib/kubelet/pki/kubelet-client-current.pem");
        assert_string_equal(kc.client_key_file, "/var/lib/kubelet/pki/kubelet-client-current.pem");
        assert_null(kc.client_cert_data);
        assert_null(kc.client_key_data);
        assert_null(kc.token);
        assert_null(kc.token_file);
        crisp_kubeconfig_release(&kc);
        assert_all_null(&kc);
        crisp_kubeconfig_release(&kc); /* safe twice */
}

/* kubeadm's admin.conf: everything embedded. Other contexts, users and keys
 * crisp has no use for (namespace, extensions, an unused exec user) are
 * left alone; a trailing '/' on the server goes. */
static void kubeadm_admin_conf(void **state)
{
        (void)state;
        _cleanup_free_ char *ca = b64(ca_pem);
        _cleanup_free_ char *cert = b64(cert_pem);
        _cleanup_free_ char *key = b64(key_pem);
        char text[8192];
        snprintf(text, sizeof(text),
                 "apiVersion: v1\n"
                 "kind: Config\n"
                 "clusters:\n"
                 "- cluster:\n"
                 "    certificate-authority-data: %s\n"
                 "    server: https://cp.example.internal:6443/\n"
                 "    tls-server-name: kubernetes.default.svc\n"
                 "    insecure-skip-tls-verify: false\n"
                 "    extensions:\n"
                 "    - name: client.authentication.k8s.io/exec\n"
                 "      extension: {audience: x}\n"
                 "  name: kubernetes\n"
                 "- cluster:\n"
                 "    server: http://other:8080\n"
                 "  name: other\n"
                 "contexts:\n"
                 "- context: {cluster: other, user: cloud}\n"
                 "  name: cloud\n"
                 "- context:\n"
                 "    cluster: kubernetes\n"
                 "    namespace: kube-system\n"
                 "    user: kubernetes-admin\n"
                 "  name: kubernetes-admin@kubernetes\n"
                 "current-context: kubernetes-admin@kubernetes\n"
                 "preferences: {colors: true}\n"
                 "users:\n"
                 "- name: cloud\n"
                 "  user:\n"
                 "    exec: {command: gke-gcloud-auth-plugin}\n"
                 "- name: kubernetes-admin\n"
                 "  user:\n"
                 "    client-certificate-data: %s\n"
                 "    client-key-data: %s\n",
                 ca, cert, key);
        crisp_test_write_file(path, text);
        struct crisp_kubeconfig kc;
        assert_int_equal(crisp_kubeconfig_load(path, &kc, NULL), 0);
        assert_string_equal(kc.server, "https://cp.example.internal:6443");
        assert_string_equal(kc.tls_server_name, "kubernetes.default.svc");
        assert_bytes(kc.ca_data, kc.ca_data_len, ca_pem);
        assert_bytes(kc.client_cert_data, kc.client_cert_data_len, cert_pem);
        assert_bytes(kc.client_key_data, kc.client_key_data_len, key_pem);
        assert_null(kc.ca_file);
        assert_null(kc.client_cert_file);
        assert_null(kc.client_key_file);
        crisp_kubeconfig_release(&kc);
}

/* Relative paths resolve against the kubeconfig's folder, made absolute
 * even when the kubeconfig's own path is relative (crisp may chdir). */
static void relative_paths_start_at_the_files_folder(void **state)
{
        (void)state;
        char sub[128];
        snprintf(sub, sizeof(sub), "%s/sub", dir);
        assert_int_equal(mkdir(sub, 0700), 0);
        char sub_path[160];
        snprintf(sub_path, sizeof(sub_path), "%s/config", sub);
        const char *text = "current-context: c\n"
                           "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                           "clusters:\n"
                           "- name: k\n"
                           "  cluster:\n"
                           "    server: https://10.0.0.1:6443/api/\n"
                           "    certificate-authority: pki/ca.crt\n"
                           "users:\n"
                           "- name: u\n"
                           "  user:\n"
                           "    client-certificate: ../certs/client.crt\n"
                           "    client-key: /abs/client.key\n"
                           "    tokenFile: token\n";
        crisp_test_write_file(sub_path, text);
        struct crisp_kubeconfig kc;
        char want[256];

        assert_int_equal(crisp_kubeconfig_load(sub_path, &kc, NULL), 0);
        assert_string_equal(kc.server, "https://10.0.0.1:6443/api");
        snprintf(want, sizeof(want), "%s/pki/ca.crt", sub);
        assert_string_equal(kc.ca_file, want);
        snprintf(want, sizeof(want), "%s/../certs/client.crt", sub);
        assert_string_equal(kc.client_cert_file, want);
        assert_string_equal(kc.client_key_file, "/abs/client.key");
        snprintf(want, sizeof(want), "%s/token", sub);
        assert_string_equal(kc.token_file, want);
        crisp_kubeconfig_release(&kc);

        /* From the parent folder ("sub/config") and from its own ("config"). */
        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(dir), 0);
        int r1 = crisp_kubeconfig_load("sub/config", &kc, NULL);
        snprintf(want, sizeof(want), "%s/pki/ca.crt", sub);
        if (r1 == 0) {
                assert_string_equal(kc.ca_file, want);
                crisp_kubeconfig_release(&kc);
        }
        assert_int_equal(chdir(sub), 0);
        int r2 = crisp_kubeconfig_load("config", &kc, NULL);
        if (r2 == 0) {
                assert_string_equal(kc.ca_file, want);
                crisp_kubeconfig_release(&kc);
        }
        assert_int_equal(chdir(cwd), 0);
        assert_int_equal(r1, 0);
        assert_int_equal(r2, 0);
}

/* kubectl reads JSON kubeconfigs too (`kubectl config view -o json`). */
static void json_kubeconfig(void **state)
{
        (void)state;
        _cleanup_free_ char *ca = b64(ca_pem);
        char text[4096];
        snprintf(text, sizeof(text),
                 "{\n"
                 "  \"kind\": \"Config\",\n"
                 "  \"apiVersion\": \"v1\",\n"
                 "  \"preferences\": {},\n"
                 "  \"clusters\": [\n"
                 "    {\"name\": \"kind-kind\",\n"
                 "     \"cluster\": {\"server\": \"https:\\/\\/127.0.0.1:40123\",\n"
                 "\t\t\"certificate-authority-data\": \"%s\"}}\n"
                 "  ],\n"
                 "  \"users\": [{\"name\": \"kind-kind\", \"user\": {\"token\": \"abc.def\"}}],\n"
                 "  \"contexts\": [{\"name\": \"kind-kind\",\n"
                 "                \"context\": {\"cluster\": \"kind-kind\", \"user\": "
                 "\"kind-kind\"}}],\n"
                 "  \"current-context\": \"kind-kind\"\n"
                 "}\n",
                 ca);
        crisp_test_write_file(path, text);
        struct crisp_kubeconfig kc;
        _cleanup_error_ crisp_error *err = NULL;
        int r = crisp_kubeconfig_load(path, &kc, &err);
        if (err)
                fprintf(stderr, "%s\n", err->msg);
        assert_int_equal(r, 0);
        assert_string_equal(kc.server, "https://127.0.0.1:40123");
        assert_bytes(kc.ca_data, kc.ca_data_len, ca_pem);
        assert_string_equal(kc.token, "abc.def");
        assert_null(kc.client_cert_file);
        crisp_kubeconfig_release(&kc);
}

/* Tokens, inline and from a file (kept both, as kubectl keeps both); the CA
 * from a file; base64 broken over lines in a block scalar. */
static void tokens_and_block_base64(void **state)
{
        (void)state;
        const char *text = "current-context: c\n"
                           "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
                           "clusters: [{name: k, cluster: {server: 'https://h', "
                           "certificate-authority: /etc/kubernetes/pki/ca.crt}}]\n"
                           "users:\n"
                           "- name: u\n"
                           "  user:\n"
                           "    token: eyJhbGciOi.x.y\n"
                           "    tokenFile: /var/run/secrets/token\n"
                           "    client-certificate-data: |\n"
                           "      aGVsbG8g\n"
                           "      d29ybGQ=\n"
                           "    client-key: /k\n";
        crisp_test_write_file(path, text);
        struct crisp_kubeconfig kc;
        assert_int_equal(crisp_kubeconfig_load(path, &kc, NULL), 0);
        assert_string_equal(kc.server, "https://h");
        assert_string_equal(kc.ca_file, "/etc/kubernetes/pki/ca.crt");
        assert_null(kc.ca_data);
        assert_string_equal(kc.token, "eyJhbGciOi.x.y");
        assert_string_equal(kc.token_file, "/var/run/secrets/token");
        assert_bytes(kc.client_cert_data, kc.client_cert_data_len, "hello world");
        assert_string_equal(kc.client_key_file, "/k");
        crisp_kubeconfig_release(&kc);
}

/* ---- refusals --------------------------------------------------------------------- */

/* A kubeconfig from its parts: the current-context line, the cluster's
 * keys, the user's keys (each indented under its mapping). */
static void write_parts(const char *current, const char *context, const char *cluster,
                        const char *user)
{
        char text[4096];
        snprintf(text, sizeof(text),
                 "apiVersion: v1\n"
                 "kind: Config\n"
                 "%s\n"
                 "contexts:\n"
                 "- name: ctx\n"
                 "  context:\n%s\n"
                 "clusters:\n"
                 "- name: prod\n"
                 "  cluster:\n%s\n"
                 "users:\n"
                 "- name: admin\n"
                 "  user:\n%s\n",
                 current, context, cluster, user);
        crisp_test_write_file(path, text);
}

#define CURRENT "current-context: ctx"
#define CONTEXT "    cluster: prod\n    user: admin"
#define CLUSTER "    server: https://10.96.0.1:443"
#define USER    "    token: t0k3n"

struct refusal {
        const char *current, *context, *cluster, *user;
        const char *want; /* in the message, after "PATH: " */
};

static const struct refusal refusals[] = {
    {"", CONTEXT, CLUSTER, USER, "no current-context"},
    {"current-context: \"\"", CONTEXT, CLUSTER, USER, "no current-context"},
    {"current-context: nope", CONTEXT, CLUSTER, USER,
     "current-context 'nope': no such entry in contexts"},
    {CURRENT, "    user: admin", CLUSTER, USER, "contexts[ctx]: no cluster"},
    {CURRENT, "    cluster: prod", CLUSTER, USER, "contexts[ctx]: no user"},
    {CURRENT, "    cluster: staging\n    user: admin", CLUSTER, USER,
     "contexts[ctx]: cluster 'staging': no such entry in clusters"},
    {CURRENT, "    cluster: prod\n    user: root", CLUSTER, USER,
     "contexts[ctx]: user 'root': no such entry in users"},
    {CURRENT, CONTEXT, "    certificate-authority: /ca", USER, "clusters[prod]: no server"},
    {CURRENT, CONTEXT, "    server: http://10.96.0.1:80", USER,
     "clusters[prod]: server 'http://10.96.0.1:80' is not https://"},
    {CURRENT, CONTEXT, "    server: 10.96.0.1:443", USER,
     "clusters[prod]: server '10.96.0.1:443' is not https://"},
    {CURRENT, CONTEXT, "    server: https:///", USER,
     "clusters[prod]: server 'https:///' has no host"},
    {CURRENT, CONTEXT, CLUSTER "\n    insecure-skip-tls-verify: true", USER,
     "clusters[prod]: insecure-skip-tls-verify: true is not supported"},
    {CURRENT, CONTEXT, CLUSTER "\n    proxy-url: socks5://localhost:1080", USER,
     "clusters[prod]: proxy-url is not supported"},
    {CURRENT, CONTEXT, CLUSTER "\n    certificate-authority-data: 'not base64!'", USER,
     "clusters[prod]: certificate-authority-data: invalid base64"},
    {CURRENT, CONTEXT,
     CLUSTER "\n    certificate-authority: /ca\n"
             "    certificate-authority-data: aGk=",
     USER, "clusters[prod]: both certificate-authority and certificate-authority-data"},
    {CURRENT, CONTEXT, CLUSTER,
     "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws",
     "users[admin]: exec plugins are not supported"},
    {CURRENT, CONTEXT, CLUSTER, "    auth-provider:\n      name: oidc",
     "users[admin]: auth-provider plugins are not supported"},
    {CURRENT, CONTEXT, CLUSTER, "    username: admin\n    password: secret",
     "users[admin]: basic auth (username/password) is not supported"},
    {CURRENT, CONTEXT, CLUSTER, USER "\n    password: secret",
     "users[admin]: basic auth (username/password) is not supported"},
    {CURRENT, CONTEXT, CLUSTER, USER "\n    as: system:admin",
     "users[admin]: impersonation (as) is not supported"},
    {CURRENT, CONTEXT, CLUSTER, "    {}", "users[admin]: no credentials"},
    {CURRENT, CONTEXT, CLUSTER, "    client-key: /k.pem",
     "users[admin]: a client key without a client certificate"},
    {CURRENT, CONTEXT, CLUSTER, "    client-certificate: /c.pem",
     "users[admin]: a client certificate without a client key"},
    {CURRENT, CONTEXT, CLUSTER,
     USER "\n    client-key-data: aGk=", "users[admin]: a client key without a client certificate"},
    {CURRENT, CONTEXT, CLUSTER, USER "\n    client-certificate-data: aGk",
     "users[admin]: client-certificate-data: invalid base64"},
    {CURRENT, CONTEXT, CLUSTER, "    client-certificate-data: aGk=\n    client-key-data: a=Gk",
     "users[admin]: client-key-data: invalid base64"},
    {CURRENT, CONTEXT, CLUSTER,
     "    client-certificate: /c\n    client-certificate-data: aGk=\n    client-key: /k",
     "users[admin]: both client-certificate and client-certificate-data"},
    {CURRENT, CONTEXT, CLUSTER, "    token: [a, b]", "users[admin]: token: expected a string"},
    {CURRENT, CONTEXT, CLUSTER, USER "\n    token: again", "users[admin]: token is given twice"},
};

static void every_refusal_names_the_file_and_the_entry(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
                const struct refusal *t = &refusals[i];
                write_parts(t->current, t->context, t->cluster, t->user);
                struct crisp_kubeconfig kc;
                memset(&kc, 0xa5, sizeof(kc));
                _cleanup_error_ crisp_error *err = NULL;
                int r = crisp_kubeconfig_load(path, &kc, &err);
                char want[512];
                snprintf(want, sizeof(want), "%s: %s", path, t->want);
                if (r != -EINVAL || err == NULL || strstr(err->msg, want) == NULL)
                        fail_msg("case %zu: want -EINVAL and '%s', got %d and '%s'", i, want, r,
                                 err ? err->msg : "(none)");
                assert_all_null(&kc);
        }
}

static void list_mistakes_are_refused(void **state)
{
        (void)state;
        static const struct {
                const char *text, *want;
        } cases[] = {
            {"current-context: c\n"
             "contexts: [{name: c, context: {cluster: k, user: u}}, {name: c, context: {}}]\n",
             "contexts[c]: the name is given twice"},
            {"current-context: c\ncontexts: {c: {cluster: k}}\n",
             "contexts: expected a list, found a mapping"},
            {"current-context: c\n"
             "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
             "clusters: [{name: k, cluster: https://x}]\n"
             "users: [{name: u, user: {token: t}}]\n",
             "clusters[k]: expected a mapping, found a scalar"},
            {"- just\n- a list\n", "not a kubeconfig"},
            {"", "not a kubeconfig"},
            {"current-context: [c\n", "not valid YAML or JSON"},
            {"{\"current-context\": \"c\",\n", "not valid YAML or JSON"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                crisp_test_write_file(path, cases[i].text);
                struct crisp_kubeconfig kc;
                _cleanup_error_ crisp_error *err = NULL;
                int r = crisp_kubeconfig_load(path, &kc, &err);
                if (r != -EINVAL || err == NULL || strstr(err->msg, cases[i].want) == NULL ||
                    strncmp(err->msg, path, strlen(path)) != 0)
                        fail_msg("case %zu: want -EINVAL and '%s', got %d and '%s'", i,
                                 cases[i].want, r, err ? err->msg : "(none)");
                assert_all_null(&kc);
        }
}

static void a_missing_file_is_enoent(void **state)
{
        (void)state;
        struct crisp_kubeconfig kc;
        _cleanup_error_ crisp_error *err = NULL;
        assert_int_equal(crisp_kubeconfig_load(path, &kc, &err), -ENOENT);
        assert_non_null(strstr(err->msg, path));
        assert_all_null(&kc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(kubeadm_kubelet_conf, setup, teardown),
            cmocka_unit_test_setup_teardown(kubeadm_admin_conf, setup, teardown),
            cmocka_unit_test_setup_teardown(relative_paths_start_at_the_files_folder, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(json_kubeconfig, setup, teardown),
            cmocka_unit_test_setup_teardown(tokens_and_block_base64, setup, teardown),
            cmocka_unit_test_setup_teardown(every_refusal_names_the_file_and_the_entry, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(list_mistakes_are_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(a_missing_file_is_enoent, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
