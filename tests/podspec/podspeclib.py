"""Shared setup for the pod-spec source's tests (issue 8).

Each test gets a fake API server (tests/lib/fake_apiserver.py: HTTPS with a
CA, a server certificate and a client certificate made with openssl), a
kubeconfig pointing at it, a static pod manifests folder, a fake runtime and
a crisp started with --kubeconfig. Requests are kubelet-1.31 shaped: an
ambiguous container context (path "", field Unconfined), so only the pod
spec can tell "nothing set" from "explicit Unconfined".
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "operate"))

import certs  # noqa: E402
import fake_apiserver as fa  # noqa: E402
from operatelib import scrape, metric, wait_for_metric  # noqa: E402,F401
from protos import crisp_api  # noqa: E402
from testbed import CALL_TIMEOUT_S, RelayTestCase  # noqa: E402

CREATE = "/runtime.v1.RuntimeService/CreateContainer"
NODE = "node1"
UNCONFINED, RUNTIME_DEFAULT = 1, 0
DECIDED = "pod-spec: decided"


class PodSpecTestCase(RelayTestCase):
    """A fake API server, then crisp with --kubeconfig in front of a fake runtime."""

    wait_ms = 250
    embed = False          # certificates as files (rotatable) or embedded data
    require_client_cert = True
    start_api_down = False
    with_kubeconfig = True  # False: --pod-manifest-path alone (no API server)
    extra_args = ()

    def setUp(self):
        from testbed import short_tempdir
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.pki_dir = os.path.join(tmp.name, "pki")
        self.pki = certs.make_pki(self.pki_dir)
        self.client = certs.client_cert(self.pki, "kubelet-client")
        self.api = fa.FakeApiServer(self.pki, require_client_cert=self.require_client_cert)
        self.api.start()
        self.addCleanup(self.api.stop)
        if self.start_api_down:
            self.api.set_down(True)
        self.kubeconfig = certs.kubeconfig(os.path.join(tmp.name, "kubelet.conf"), self.api.url,
                                           self.pki.ca, cert=self.client.cert,
                                           key=self.client.key, embed=self.embed)
        self.manifests = os.path.join(tmp.name, "manifests")
        os.mkdir(self.manifests)
        self.metrics_socket = os.path.join(tmp.name, "metrics.sock")
        self.add_initial_state()
        kubeconfig = ("--kubeconfig", self.kubeconfig) if self.with_kubeconfig else ()
        self.crisp_args = kubeconfig + ("--node-name", NODE,
                                        "--pod-manifest-path", self.manifests,
                           "--pod-spec-wait-ms", str(self.wait_ms),
                           "--metrics-listen", self.metrics_socket,
                           "--log-level", "debug") + tuple(self.extra_args)
        super().setUp()
        self.api_pb = crisp_api()

    def add_initial_state(self):
        """Pods and manifests present before crisp starts (override)."""

    # -- requests -----------------------------------------------------------------
    def create(self, uid, container="app", pod_name="web", namespace="default"):
        """Sends an ambiguous CreateContainer and returns the container
        context's seccomp profile_type the runtime received (0 RuntimeDefault,
        1 Unconfined) and whether the deprecated path was set."""
        pb = self.api_pb
        req = pb.CreateContainerRequest()
        req.config.metadata.name = container.encode()
        req.config.linux.security_context.seccomp.profile_type = UNCONFINED
        sb = req.sandbox_config
        sb.metadata.name = pod_name.encode()
        sb.metadata.uid = uid.encode()
        sb.metadata.namespace = namespace.encode()
        sb.linux.security_context.seccomp.profile_type = UNCONFINED
        before = len(self.fake.calls(CREATE))
        self.unary(CREATE)(req.SerializeToString(), timeout=CALL_TIMEOUT_S)
        calls = self.fake.calls(CREATE)
        self.assertEqual(len(calls), before + 1)
        got = pb.CreateContainerRequest()
        got.ParseFromString(calls[-1].requests[0])
        return got.config.linux.security_context.seccomp.profile_type

    def metric(self, name, **labels):
        return metric(scrape(self.metrics_socket), name, **labels)

    def wait_metric(self, want, name, **labels):
        wait_for_metric(self.metrics_socket, want, name, **labels)

    def wait_synced(self):
        self.wait_metric(1, "crisp_podspec_cache_synced")
