"""The pod-spec source when the API server is not there for it (issue 8):
down, slow, or without the pod. Every call still goes through promptly with
the ambiguousUnconfined policy's answer, and the log and the metrics say
why. Static pods are settled from their manifests with the API server down,
and a node whose kubeconfig does not exist yet (not joined) still serves,
even without the kubeconfig's folder (issue 22)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import certs  # noqa: E402
from crisp import read_only  # noqa: E402
import fake_apiserver as fa  # noqa: E402
from podspeclib import RUNTIME_DEFAULT, UNCONFINED, PodSpecTestCase  # noqa: E402

STATIC_UNCONFINED = """\
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.31.0
    securityContext:
      seccompProfile:
        type: Unconfined
"""

STATIC_NOTHING = """\
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.15-0
"""


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


class ApiDown(PodSpecTestCase):
    start_api_down = True
    wait_ms = 10000  # would be felt if crisp waited while not in sync

    def add_initial_state(self):
        write(os.path.join(self.manifests, "kube-apiserver.yaml"), STATIC_UNCONFINED)

    def test_policy_answers_at_once_and_says_why(self):
        self.assertEqual(self.create("u-any"), RUNTIME_DEFAULT)  # ambiguousUnconfined default
        self.crisp.wait_for_log("source=policy-fallback result=not-synced")
        self.assertEqual(self.metric("crisp_podspec_lookups_total", result="not-synced"), 1)
        self.assertEqual(self.metric("crisp_podspec_cache_synced"), 0)
        self.api.wait_for_connections(1)  # crisp does try, in the background
        self.wait_metric(0, "crisp_podspec_cache_pods")

    def test_static_pod_from_its_manifest(self):
        self.assertEqual(self.create("static-hash-1", container="kube-apiserver",
                                     pod_name="kube-apiserver-node1", namespace="kube-system"),
                         UNCONFINED)
        self.crisp.wait_for_log("source=static-manifest")
        # A manifest written while crisp runs is read at the next lookup.
        write(os.path.join(self.manifests, "etcd.yaml"), STATIC_NOTHING)
        self.assertEqual(self.create("static-hash-2", container="etcd", pod_name="etcd-node1",
                                     namespace="kube-system"), RUNTIME_DEFAULT)
        self.assertEqual(self.metric("crisp_podspec_lookups_total", result="static-manifest"), 2)

    def test_comes_back_when_the_api_server_does(self):
        self.api.add_pod(fa.pod("web", uid="u-web", seccomp="Unconfined",
                                containers=[("app", None)]))
        self.api.set_down(False)
        self.wait_synced()
        self.assertEqual(self.create("u-web"), UNCONFINED)
        self.assertGreaterEqual(self.metric("crisp_podspec_watch_restarts_total",
                                            reason="error"), 1)


class StaticPodsAlone(PodSpecTestCase):
    """--pod-manifest-path without --kubeconfig: a standalone kubelet, whose
    static pods no API server knows, is settled from their manifests."""
    with_kubeconfig = False

    def add_initial_state(self):
        write(os.path.join(self.manifests, "kube-apiserver.yaml"), STATIC_UNCONFINED)

    def test_static_pod_from_its_manifest_without_an_api_server(self):
        self.crisp.wait_for_log("pod-spec: on kubeconfig=- ")
        self.assertEqual(self.create("static-hash-1", container="kube-apiserver",
                                     pod_name="kube-apiserver-node1", namespace="kube-system"),
                         UNCONFINED)
        self.crisp.wait_for_log("source=static-manifest")
        # Any other pod: the policy, as without a pod-spec source.
        self.assertEqual(self.create("u-any"), RUNTIME_DEFAULT)
        self.assertEqual(self.api.connections, [])


class ApiSlow(PodSpecTestCase):
    wait_ms = 10000

    def add_initial_state(self):
        self.api.set_delay(3600, kinds=("list",))  # the list never comes back in time

    def test_slow_list_means_not_in_sync(self):
        self.api.wait_for_requests("list", 1)
        self.assertEqual(self.create("u-any"), RUNTIME_DEFAULT)
        self.crisp.wait_for_log("result=not-synced")


class PodMissing(PodSpecTestCase):
    wait_ms = 200

    def test_wait_runs_out_then_the_policy_decides(self):
        self.wait_synced()
        self.assertEqual(self.create("u-nowhere"), RUNTIME_DEFAULT)
        self.crisp.wait_for_log("source=policy-fallback result=timeout")
        self.assertEqual(self.metric("crisp_podspec_lookups_total", result="timeout"), 1)


class PodMissingKeepPolicy(PodSpecTestCase):
    wait_ms = 1
    extra_args = ("--ambiguous-unconfined", "keep")

    def test_the_keep_policy_applies_when_the_spec_is_missing(self):
        self.wait_synced()
        self.assertEqual(self.create("u-nowhere"), UNCONFINED)
        self.crisp.wait_for_log("outcome=keep")


class NotJoinedYet(PodSpecTestCase):
    """The kubelet's kubeconfig appears only when the node joins."""

    def add_initial_state(self):
        self.real_kubeconfig = self.kubeconfig
        self.kubeconfig = self.kubeconfig + ".later"
        self.api.add_pod(fa.pod("web", uid="u-web", seccomp="Unconfined",
                                containers=[("app", None)]))

    def test_serves_then_picks_the_kubeconfig_up(self):
        self.assertEqual(self.create("u-web"), RUNTIME_DEFAULT)  # no source yet: the policy
        self.crisp.wait_for_log("cannot read the kubeconfig")
        os.rename(self.real_kubeconfig, self.kubeconfig)  # kubeadm join writes it
        self.wait_synced()
        self.assertEqual(self.create("u-web"), UNCONFINED)


class NotEvenItsFolderYet(PodSpecTestCase):
    """issue 22: before a node joins, the kubeconfig's folder
    (/etc/kubernetes) and the static pods' may not exist either. They are
    the kubelet's: crisp starts without them, creates neither, and picks
    each up when it appears."""

    def add_initial_state(self):
        self.real_kubeconfig = self.kubeconfig
        self.kubeconfig_dir = os.path.join(os.path.dirname(self.kubeconfig), "etc-kubernetes")
        self.kubeconfig = os.path.join(self.kubeconfig_dir, "kubelet.conf")
        os.rmdir(self.manifests)
        self.api.add_pod(fa.pod("web", uid="u-web", seccomp="Unconfined",
                                containers=[("app", None)]))

    def test_serves_creates_nothing_then_picks_both_up(self):
        self.assertEqual(self.create("u-web"), RUNTIME_DEFAULT)  # no source yet: the policy
        self.crisp.wait_for_log("cannot read the kubeconfig")
        self.assertFalse(os.path.exists(self.kubeconfig_dir))
        self.assertFalse(os.path.exists(self.manifests))
        self.assertEqual(self.crisp.count_log("created folder"), 0)
        # The kubelet writes its static pods, then kubeadm join the kubeconfig.
        os.mkdir(self.manifests)
        write(os.path.join(self.manifests, "kube-apiserver.yaml"), STATIC_UNCONFINED)
        self.assertEqual(self.create("static-hash-1", container="kube-apiserver",
                                     pod_name="kube-apiserver-node1", namespace="kube-system"),
                         UNCONFINED)
        self.crisp.wait_for_log("source=static-manifest")
        os.mkdir(self.kubeconfig_dir)
        os.rename(self.real_kubeconfig, self.kubeconfig)
        self.wait_synced()
        self.assertEqual(self.create("u-web"), UNCONFINED)


class ReadOnlyFolders(PodSpecTestCase):
    """issue 22: crisp only reads the kubeconfig, the credentials and the
    static pod manifests: a read-only file system there (a read-only bind
    mount in crisp's own mount namespace; needs root) changes nothing."""

    def crisp_wrapper(self):
        return read_only(self.etc, self.pki_dir)

    def add_initial_state(self):
        # As on a node: /etc/kubernetes/{kubelet.conf,manifests}, and the
        # credentials in a folder of their own.
        self.etc = os.path.join(os.path.dirname(self.kubeconfig), "etc-kubernetes")
        os.mkdir(self.etc)
        moved = os.path.join(self.etc, "kubelet.conf")
        os.rename(self.kubeconfig, moved)
        self.kubeconfig = moved
        os.rmdir(self.manifests)
        self.manifests = os.path.join(self.etc, "manifests")
        os.mkdir(self.manifests)
        write(os.path.join(self.manifests, "kube-apiserver.yaml"), STATIC_UNCONFINED)
        self.api.add_pod(fa.pod("web", uid="u-web", seccomp="Unconfined",
                                containers=[("app", None)]))

    def test_reads_everything_from_read_only_folders(self):
        self.wait_synced()
        self.assertEqual(self.create("u-web"), UNCONFINED)
        self.assertEqual(self.create("static-hash-1", container="kube-apiserver",
                                     pod_name="kube-apiserver-node1", namespace="kube-system"),
                         UNCONFINED)
        # They really were read-only for crisp.
        with open("/proc/%d/mountinfo" % self.crisp.proc.pid) as f:
            mounts = {m[4]: m[5].split(",") for m in (line.split() for line in f)}
        for folder in (self.etc, self.pki_dir):
            self.assertIn("ro", mounts.get(folder, []), (folder, mounts))


class EmbeddedCredentials(PodSpecTestCase):
    embed = True

    def add_initial_state(self):
        self.api.add_pod(fa.pod("web", uid="u-web", seccomp="Unconfined",
                                containers=[("app", None)]))

    def test_embedded_ca_and_client_certificate(self):
        self.wait_synced()
        self.assertEqual(self.create("u-web"), UNCONFINED)


class TokenFile(PodSpecTestCase):
    require_client_cert = False

    def add_initial_state(self):
        self.token_file = os.path.join(self.pki_dir, "token")
        write(self.token_file, "first-token\n")
        self.api.set_token("first-token")
        certs.kubeconfig(self.kubeconfig, self.api.url, self.pki.ca, token_file=self.token_file)
        self.api.add_pod(fa.pod("web", uid="u-web", seccomp="Unconfined",
                                containers=[("app", None)]))

    def test_a_rotated_token_is_read_again(self):
        self.wait_synced()
        self.assertEqual(self.api.wait_for_requests("watch", 1)[0].authorization,
                         "Bearer first-token")
        # A projected token is replaced; the API server stops taking the old one.
        write(self.token_file, "second-token\n")
        self.api.set_token("second-token")
        self.api.drop_watches()
        self.api.wait_for(lambda: any(r.authorization == "Bearer second-token"
                                      for r in self.api.requests), what="the new token in use")
        self.wait_synced()
        self.assertEqual(self.create("u-web"), UNCONFINED)


class ClientCertificateRequired(PodSpecTestCase):
    """A client certificate the API server's CA did not sign fails the TLS
    handshake: not in sync, and the reason is in the log."""

    def add_initial_state(self):
        stranger = certs.client_cert(certs.make_pki(os.path.join(self.pki_dir, "other")),
                                     "stranger")
        certs.kubeconfig(self.kubeconfig, self.api.url, self.pki.ca, cert=stranger.cert,
                         key=stranger.key)

    def test_refused_without_certificate(self):
        self.api.wait_for_handshake_failures(1)
        self.crisp.wait_for_log("cannot list pods")
        self.assertEqual(self.create("u-any"), RUNTIME_DEFAULT)
        self.assertEqual(self.metric("crisp_podspec_cache_synced"), 0)


class TlsServerName(PodSpecTestCase):
    """The API server's certificate names only kubernetes.default.svc, and
    crisp reaches it at 127.0.0.1: tls-server-name makes TLS check that name
    (kubectl's meaning)."""

    use_name = True

    def add_initial_state(self):
        named = certs.make_pki(os.path.join(self.pki_dir, "named"),
                               server_san="DNS:kubernetes.default.svc")
        self.named = fa.FakeApiServer(named)
        self.named.start()
        self.addCleanup(self.named.stop)
        client = certs.client_cert(named, "kubelet-client")
        self.named.add_pod(fa.pod("web", uid="u-web", seccomp="Unconfined",
                                  containers=[("app", None)]))
        certs.kubeconfig(self.kubeconfig, self.named.url, named.ca, cert=client.cert,
                         key=client.key,
                         tls_server_name="kubernetes.default.svc" if self.use_name else None)

    def test_tls_server_name_is_checked_instead_of_the_address(self):
        self.wait_synced()
        self.assertEqual(self.create("u-web"), UNCONFINED)


class TlsServerNameMissing(TlsServerName):
    """The same server without tls-server-name: 127.0.0.1 is not in its
    certificate, so crisp refuses it (TLS is always verified)."""

    use_name = False

    def test_tls_server_name_is_checked_instead_of_the_address(self):
        self.crisp.wait_for_log("cannot list pods")
        self.assertEqual(self.create("u-web"), RUNTIME_DEFAULT)
        self.assertEqual(self.metric("crisp_podspec_cache_synced"), 0)


if __name__ == "__main__":
    unittest.main()
