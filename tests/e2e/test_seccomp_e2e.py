"""End to end: what seccomp a real container gets, directly and through crisp.

One private containerd (real containerd + runc, see containerd.py) serves the
whole module. Each test starts its own crisp in front of it when it needs one,
creates a host-network pod with a busybox container and reads `Seccomp:` from
/proc/self/status of a process exec'd inside: 0 = unconfined, 2 = filter.

Needs root, containerd, runc and busybox-static; missing ones fail the module
loudly (hack/install-deps.sh installs them). Run from the repo root:
    CRISP_BIN=build/crisp PYTHONPATH=tests/lib:tests/e2e \
        /usr/bin/python3 -m unittest -v tests/e2e/test_seccomp_e2e.py
"""

import json
import os
import sys
import unittest

# Loaded by file path, the module is imported as tests.e2e.test_seccomp_e2e:
# make its sibling modules and tests/lib importable whatever PYTHONPATH says.
_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "lib")):
    if os.path.abspath(_path) not in map(os.path.abspath, sys.path):
        sys.path.insert(0, os.path.abspath(_path))

import cri_client  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402
from crisp import Crisp  # noqa: E402
from cri_client import NOTHING, RUNTIME_DEFAULT, UNCONFINED_FIELD, UNCONFINED_PATH  # noqa: E402

UNCONFINED, FILTER = 0, 2
DEFAULTED = "seccomp defaulted"


class SeccompEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.containerd = PrivateContainerd().start()

    @classmethod
    def tearDownClass(cls):
        cls.containerd.stop()

    def mode(self, socket, pod=NOTHING, container=NOTHING, privileged=False):
        return cri_client.seccomp_mode_of_new_container(
            socket, pod_seccomp=pod, container_seccomp=container, privileged=privileged,
            log_directory=self.containerd.log_dir)

    def crisp(self, *args):
        return Crisp(self.containerd.socket, args=args)

    # -- the baseline: containerd on its own --------------------------------
    def test_direct_nothing_set_is_unconfined(self):
        self.assertEqual(self.mode(self.containerd.socket), UNCONFINED)

    def test_direct_runtime_default_is_filtered(self):
        # Proves the probe can see a filter at all, so a 2 through crisp means something.
        self.assertEqual(self.mode(self.containerd.socket, RUNTIME_DEFAULT, RUNTIME_DEFAULT),
                         FILTER)

    # -- through crisp, default policy ---------------------------------------
    def test_crisp_defaults_nothing_set_to_runtime_default(self):
        with self.crisp() as crisp:
            self.assertEqual(self.mode(crisp.listen), FILTER)
            crisp.wait_for_log(DEFAULTED)

    def test_crisp_keeps_explicit_unconfined_path(self):
        # The pod is RuntimeDefault, as every kubelet >= 1.19 sends it, so
        # nothing in this pod's requests may be rewritten.
        with self.crisp() as crisp:
            self.assertEqual(self.mode(crisp.listen, RUNTIME_DEFAULT, UNCONFINED_PATH), UNCONFINED)
        self.assertNotIn(DEFAULTED, crisp.log())

    def test_crisp_keeps_explicit_runtime_default(self):
        with self.crisp() as crisp:
            self.assertEqual(self.mode(crisp.listen, RUNTIME_DEFAULT, RUNTIME_DEFAULT), FILTER)
        self.assertNotIn(DEFAULTED, crisp.log())

    def test_crisp_defaults_ambiguous_unconfined(self):
        # kubelet 1.28+ sends F=Unconfined with an empty path for "nothing set".
        with self.crisp() as crisp:
            self.assertEqual(self.mode(crisp.listen, RUNTIME_DEFAULT, UNCONFINED_FIELD), FILTER)
            crisp.wait_for_log(DEFAULTED)

    def test_crisp_ambiguous_unconfined_keep(self):
        with self.crisp("--ambiguous-unconfined=keep") as crisp:
            self.assertEqual(self.mode(crisp.listen, RUNTIME_DEFAULT, UNCONFINED_FIELD),
                             UNCONFINED)
        self.assertNotIn(DEFAULTED, crisp.log())

    def test_crisp_privileged_container_runs(self):
        # crisp defaults privileged contexts too, as the kubelet's SeccompDefault
        # does; the runtime must still accept them and apply no filter.
        with self.crisp() as crisp:
            self.assertEqual(self.mode(crisp.listen, privileged=True), UNCONFINED)

    def test_crisp_keeps_explicit_localhost_profile(self):
        # A profile of the node's that allows all but mkdir: the container
        # runs under it, through crisp as directly, and crisp logs nothing.
        profile = os.path.join(self.containerd.tmp, "no-mkdir.json")
        with open(profile, "w") as f:
            json.dump({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}, f)
        with self.crisp() as crisp:
            for socket in (self.containerd.socket, crisp.listen):
                with self.subTest(endpoint=socket):
                    self.assertEqual(self.mkdir_under(socket, cri_client.localhost(profile)),
                                     (FILTER, 1, "mkdir: can't create directory '/tmp/probe': "
                                      "Operation not permitted\n"))
        self.assertNotIn(DEFAULTED, crisp.log())

    def mkdir_under(self, socket, container_seccomp):
        """(seccomp mode, exit code, stderr) of a mkdir in a new container."""
        with cri_client.CriClient(socket) as cri:
            pod = cri_client.pod_config(RUNTIME_DEFAULT)
            pod_id = cri.call("RunPodSandbox", config=pod).pod_sandbox_id
            try:
                container_id = cri.call(
                    "CreateContainer", pod_sandbox_id=pod_id, sandbox_config=pod,
                    config=cri_client.container_config(container_seccomp)).container_id
                cri.call("StartContainer", container_id=container_id)
                mode = cri.call("ExecSync", container_id=container_id, timeout=30,
                                cmd=["grep", "Seccomp:", "/proc/self/status"]).stdout
                out = cri.call("ExecSync", container_id=container_id, timeout=30,
                               cmd=["/bin/busybox", "mkdir", "/tmp/probe"])
            finally:
                cri.call("StopPodSandbox", pod_sandbox_id=pod_id)
                cri.call("RemovePodSandbox", pod_sandbox_id=pod_id)
        return int(mode.split()[1]), out.exit_code, out.stderr.decode()

    # -- through crisp, defaulting off ---------------------------------------
    def test_crisp_no_default_passes_nothing_set_through(self):
        with self.crisp("--no-default") as crisp:
            self.assertEqual(self.mode(crisp.listen), UNCONFINED)
        self.assertNotIn(DEFAULTED, crisp.log())


if __name__ == "__main__":
    unittest.main()
