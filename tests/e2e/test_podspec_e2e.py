"""End to end with the pod-spec source (issue 8): a real containerd, a fake
API server holding the pods' specs, and crisp with --kubeconfig in between.
Requests are shaped as kubelet 1.31 sends them: every context that is not
RuntimeDefault or Localhost arrives as path "" and field Unconfined, so the
request alone cannot tell "nothing set" from "explicit Unconfined"; the
spec does. `Seccomp:` of a process exec'd in the container is the proof:
0 = unconfined, 2 = filter.

Needs root, containerd, runc, busybox-static and openssl; missing ones fail
the module loudly."""

import os
import sys
import tempfile
import unittest
import uuid

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "lib")):
    if os.path.abspath(_path) not in map(os.path.abspath, sys.path):
        sys.path.insert(0, os.path.abspath(_path))

import certs  # noqa: E402
import cri_client  # noqa: E402
import fake_apiserver as fa  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402
from crisp import Crisp  # noqa: E402
from cri_client import UNCONFINED_FIELD  # noqa: E402

UNCONFINED, FILTER = 0, 2
NODE = "node1"


class PodSpecEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.containerd = PrivateContainerd().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="crisp-podspec-")
        pki = certs.make_pki(os.path.join(cls.tmp.name, "pki"))
        client = certs.client_cert(pki, "kubelet-client")
        cls.api = fa.FakeApiServer(pki)
        cls.api.start()
        cls.kubeconfig = certs.kubeconfig(os.path.join(cls.tmp.name, "kubelet.conf"),
                                          cls.api.url, pki.ca, cert=client.cert, key=client.key)

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()
        cls.containerd.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.crisp = Crisp(self.containerd.socket,
                           args=("--kubeconfig", self.kubeconfig, "--node-name", NODE,
                                 "--pod-manifest-path", "", "--pod-spec-wait-ms", "5000"))
        self.crisp.__enter__()
        self.addCleanup(self.crisp.__exit__, None, None, None)

    def mode(self, seccomp=None, containers=(), init=(), ephemeral=()):
        """Puts a pod with this spec in the API server, then runs its
        container "probe" through crisp as kubelet 1.31 would."""
        uid = str(uuid.uuid4())
        if not (containers or init or ephemeral):
            containers = (("probe", None),)
        self.api.add_pod(fa.pod("p-" + uid[:8], uid=uid, node=NODE, seccomp=seccomp,
                                containers=containers or (("main", None),),
                                init_containers=init, ephemeral_containers=ephemeral))
        return cri_client.seccomp_mode_of_new_container(
            self.crisp.listen, pod_seccomp=UNCONFINED_FIELD, container_seccomp=UNCONFINED_FIELD,
            log_directory=self.containerd.log_dir, pod_uid=uid)

    def test_spec_unconfined_runs_unconfined(self):
        self.assertEqual(self.mode(seccomp="Unconfined"), UNCONFINED)
        self.crisp.wait_for_log("source=spec")

    def test_nothing_set_gets_runtime_default(self):
        self.assertEqual(self.mode(), FILTER)
        self.crisp.wait_for_log("seccomp defaulted")

    def test_container_setting_overrides_the_pod(self):
        # The pod says RuntimeDefault, the container Unconfined: the
        # container's own setting wins, as in the kubelet.
        self.assertEqual(self.mode(seccomp="RuntimeDefault",
                                   containers=(("probe", "Unconfined"),)), UNCONFINED)

    def test_init_container_from_its_own_entry(self):
        self.assertEqual(self.mode(init=(("probe", "Unconfined"),)), UNCONFINED)
        self.crisp.wait_for_log("kind=initContainer")

    def test_ephemeral_container_from_its_own_entry(self):
        self.assertEqual(self.mode(ephemeral=(("probe", "Unconfined"),)), UNCONFINED)
        self.crisp.wait_for_log("kind=ephemeralContainer")

    def test_without_the_spec_the_policy_decides(self):
        # The same Unconfined pod, but unknown to the API server: the wait
        # runs out and ambiguousUnconfined (runtime-default) applies.
        with Crisp(self.containerd.socket,
                   args=("--kubeconfig", self.kubeconfig, "--node-name", NODE,
                         "--pod-manifest-path", "", "--pod-spec-wait-ms", "1")) as crisp:
            mode = cri_client.seccomp_mode_of_new_container(
                crisp.listen, pod_seccomp=UNCONFINED_FIELD, container_seccomp=UNCONFINED_FIELD,
                log_directory=self.containerd.log_dir, pod_uid=str(uuid.uuid4()))
            self.assertEqual(mode, FILTER)
            crisp.wait_for_log("source=policy-fallback")


if __name__ == "__main__":
    unittest.main()
