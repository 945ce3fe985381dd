"""deploy/daemonset/install.sh against a temporary node root and a fake
systemctl (fake_systemctl.py) that logs its calls and models what the
installer relies on: unit files are read at daemon-reload, environment files
when the kubelet starts, and the kubelet's command line is written where the
installer reads it back.

The node is a kubeadm-style one: kubelet.service with a 10-kubeadm.conf
drop-in whose ExecStart ends in $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS,
kubeadm's flags file with the runtime's endpoint, and /etc/default/kubelet
with extra flags of the node's own.
"""

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_systemctl.py")
CRISP = "unix:///run/crisp/crisp.sock"
CRISP_CRIO = "unix:///run/crisp/run/crio/crio.sock"
CONTAINERD = "unix:///run/containerd/containerd.sock"

KUBELET_SERVICE = """\
[Unit]
Description=kubelet (test node)
[Service]
ExecStart=/usr/bin/kubelet
Restart=always
[Install]
WantedBy=multi-user.target
"""

# The semantics of kubeadm's packaged drop-in, written for this test.
KUBEADM_DROPIN = """\
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""


def make_socket(path):
    """A unix socket file, as a running runtime leaves one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()


def snapshot(root):
    """Every file, folder and link under root, with content hash and mode."""
    tree = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    tree[rel] = ("file", oct(st.st_mode), hashlib.sha256(f.read()).hexdigest())
            else:
                tree[rel] = ("other", oct(st.st_mode))
    return tree


class Node:
    """A temporary node root, the payload, and the fake's files."""

    def __init__(self, runtime="containerd", extra_args='"--node-ip=10.0.0.7 --v=2"'):
        self.tmp = tempfile.mkdtemp(prefix="crisp-installer-")
        self.root = os.path.join(self.tmp, "root")
        self.proc = os.path.join(self.tmp, "proc")
        self.state = os.path.join(self.tmp, "state.json")
        self.log_path = os.path.join(self.tmp, "systemctl.log")
        self.payload = os.path.join(self.tmp, "payload")
        os.makedirs(self.proc)
        os.makedirs(self.payload)
        # Folders every node has.
        for rel in ("usr/local/bin", "etc/systemd/system", "etc/default", "var/log"):
            os.makedirs(os.path.join(self.root, rel))
        self.write("usr/lib/systemd/system/kubelet.service", KUBELET_SERVICE)
        self.write("usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
        runtime_socket = CONTAINERD if runtime == "containerd" else "unix:///run/crio/crio.sock"
        self.write("var/lib/kubelet/kubeadm-flags.env",
                   'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=%s '
                   '--pod-infra-container-image=registry.k8s.io/pause:3.9"\n' % runtime_socket)
        if extra_args is not None:
            self.write("etc/default/kubelet", "KUBELET_EXTRA_ARGS=%s\n" % extra_args)
        make_socket(os.path.join(self.root, deploylib.endpoint_path(runtime_socket).lstrip("/")))
        # The payload, as the installer image holds it (a stand-in binary).
        self.set_binary(b"#!/bin/sh\necho crisp v1\n")
        for src in (deploylib.UNIT, deploylib.KUBELET_DROPIN, deploylib.CRIO_DROPIN):
            shutil.copy(src, self.payload)
        # The node as it was before crisp, and systemd's view of it.
        self.fake(["daemon-reload"])
        self.fake(["restart", "kubelet.service"])
        self.before = snapshot(self.root)
        open(self.log_path, "w").close()

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def set_binary(self, content):
        path = os.path.join(self.payload, "crisp")
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, 0o755)

    def env(self, **extra):
        env = dict(os.environ, FAKE_ROOT=self.root, FAKE_STATE=self.state,
                   FAKE_LOG=self.log_path, FAKE_PROC=self.proc, HOST_ROOT=self.root,
                   SYSTEMCTL="%s %s" % (sys.executable, FAKE), CRISP_PAYLOAD=self.payload,
                   PROC_ROOT=self.proc, KUBELET_HEALTHZ="true", CRISP_WAIT_SECONDS="0")
        env.update(extra)
        return env

    def fake(self, args):
        subprocess.run([sys.executable, FAKE] + args, env=self.env(), check=True,
                       capture_output=True)

    def installer(self, action, expect_rc=0, **extra):
        result = subprocess.run(["bash", deploylib.INSTALLER, action], env=self.env(**extra),
                                capture_output=True, text=True, timeout=120)
        if result.returncode != expect_rc:
            raise AssertionError("install.sh %s exited %d (wanted %d)\nstdout:\n%s\nstderr:\n%s"
                                 "\nsystemctl calls:\n%s" % (action, result.returncode, expect_rc,
                                                             result.stdout, result.stderr,
                                                             self.log()))
        return result

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def calls(self):
        """systemctl calls since the last reset, minus the read-only ones."""
        return [line for line in self.log().splitlines()
                if not line.startswith(("is-active", "show "))]

    def reset_log(self):
        open(self.log_path, "w").close()

    def kubelet_argv(self):
        with open(self.state) as f:
            return json.load(f)["kubelet_argv"]

    def crisp_argv(self):
        with open(self.state) as f:
            return json.load(f).get("crisp_argv")

    def read(self, rel):
        with open(os.path.join(self.root, rel)) as f:
            return f.read()

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Installer(unittest.TestCase):
    def node(self, **kwargs):
        node = Node(**kwargs)
        self.addCleanup(node.cleanup)
        return node

    def assertNoViolation(self, node):
        self.assertNotIn("VIOLATION", node.log(), node.log())

    def test_install_puts_files_and_switches_the_kubelet_in_order(self):
        node = self.node()
        node.installer("install")
        self.assertNoViolation(node)
        self.assertEqual(node.calls(), [
            "daemon-reload", "enable crisp.service", "restart crisp.service",
            "daemon-reload", "restart kubelet.service"])
        # crisp checked before the kubelet was touched, the kubelet after.
        log = node.log().splitlines()
        self.assertLess(log.index("is-active --quiet crisp.service"),
                        log.index("restart kubelet.service"))
        self.assertIn("is-active --quiet kubelet.service",
                      log[log.index("restart kubelet.service"):])
        for rel, mode in (("usr/local/bin/crisp", 0o755),
                          ("etc/systemd/system/crisp.service", 0o644),
                          ("etc/systemd/system/kubelet.service.d/20-crisp.conf", 0o644),
                          ("etc/crisp/kubelet.env", 0o644)):
            st = os.stat(os.path.join(node.root, rel))
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, rel)
        self.assertEqual(node.read("etc/systemd/system/crisp.service"),
                         deploylib.read(deploylib.UNIT))
        self.assertFalse(os.path.exists(os.path.join(node.root, "etc/systemd/system/"
                                                     "crisp.service.d")))
        # The node's own extra flags are kept, crisp's endpoint comes last.
        env = deploylib.parse_env_file(node.read("etc/crisp/kubelet.env"))
        self.assertEqual(env["KUBELET_EXTRA_ARGS"],
                         "--node-ip=10.0.0.7 --v=2 --container-runtime-endpoint=" + CRISP)
        argv = node.kubelet_argv()
        self.assertEqual(deploylib.flag(argv, "container-runtime-endpoint"), CRISP)
        self.assertIn("--node-ip=10.0.0.7", argv)
        self.assertIn("--pod-infra-container-image=registry.k8s.io/pause:3.9", argv)
        # The unit as the fake started it: crisp's listen socket is the
        # kubelet's endpoint.
        self.assertEqual("unix://" + deploylib.flag(node.crisp_argv(), "listen"), CRISP)

    def test_install_twice_changes_nothing_and_restarts_nothing(self):
        node = self.node()
        node.installer("install")
        first = snapshot(node.root)
        node.reset_log()
        node.installer("install")
        self.assertEqual(snapshot(node.root), first)
        self.assertEqual(node.calls(), ["enable --now crisp.service"])
        self.assertNoViolation(node)

    def test_uninstall_leaves_the_node_as_it_was(self):
        node = self.node()
        node.installer("install")
        node.reset_log()
        node.installer("uninstall")
        self.assertNoViolation(node)
        self.assertEqual(node.calls(), [
            "daemon-reload", "restart kubelet.service", "disable --now crisp.service",
            "daemon-reload"])
        self.assertEqual(snapshot(node.root), node.before)
        self.assertEqual(deploylib.flag(node.kubelet_argv(), "container-runtime-endpoint"),
                         CONTAINERD)

    def test_uninstall_removes_an_empty_logs_directory_only(self):
        node = self.node()
        node.installer("install")
        logs = os.path.join(node.root, "var/log/crisp")
        os.makedirs(logs)  # as systemd does for LogsDirectory=crisp
        node.installer("uninstall")
        self.assertEqual(snapshot(node.root), node.before)
        node.installer("install")
        node.write("var/log/crisp/calls.jsonl", "{}\n")
        node.installer("uninstall")
        self.assertTrue(os.path.isfile(os.path.join(logs, "calls.jsonl")))

    def test_uninstall_twice_and_on_a_clean_node_is_a_no_op(self):
        node = self.node()
        node.installer("uninstall")
        self.assertEqual(node.calls(), [])
        self.assertEqual(snapshot(node.root), node.before)
        node.installer("install")
        node.installer("uninstall")
        node.reset_log()
        node.installer("uninstall")
        self.assertEqual(node.calls(), [])
        self.assertEqual(snapshot(node.root), node.before)

    def test_new_binary_restarts_crisp_only(self):
        node = self.node()
        node.installer("install")
        node.set_binary(b"#!/bin/sh\necho crisp v2\n")
        node.reset_log()
        node.installer("install")
        self.assertEqual(node.calls(), ["daemon-reload", "enable crisp.service",
                                        "restart crisp.service"])
        self.assertEqual(node.read("usr/local/bin/crisp"), "#!/bin/sh\necho crisp v2\n")
        self.assertNoViolation(node)

    def test_crio_node_gets_the_crio_layout(self):
        node = self.node(runtime="crio")
        node.installer("install")
        self.assertNoViolation(node)
        self.assertEqual(node.read("etc/systemd/system/crisp.service.d/10-crio.conf"),
                         deploylib.read(deploylib.CRIO_DROPIN))
        argv = node.kubelet_argv()
        endpoint = deploylib.flag(argv, "container-runtime-endpoint")
        self.assertEqual(endpoint, CRISP_CRIO)
        crisp_argv = node.crisp_argv()
        self.assertEqual("unix://" + deploylib.flag(crisp_argv, "listen"), endpoint)
        self.assertEqual(deploylib.flag(crisp_argv, "runtime-endpoint"),
                         "unix://" + deploylib.CRIO_SOCKET)
        # kubelet >= 1.29 keeps the cAdvisor stats provider it had on CRI-O.
        self.assertTrue(deploylib.kubelet_uses_cadvisor_stats(endpoint, 29))
        node.installer("uninstall")
        self.assertEqual(snapshot(node.root), node.before)

    def test_node_without_extra_args_file(self):
        node = self.node(extra_args=None)
        node.installer("install")
        env = deploylib.parse_env_file(node.read("etc/crisp/kubelet.env"))
        self.assertEqual(env["KUBELET_EXTRA_ARGS"], "--container-runtime-endpoint=" + CRISP)
        node.installer("uninstall")
        self.assertEqual(snapshot(node.root), node.before)

    def test_nodes_own_endpoint_flag_is_dropped_from_extra_args(self):
        node = self.node(extra_args="'--container-runtime-endpoint unix:///x.sock --v=4 "
                                    "--container-runtime-endpoint=unix:///y.sock'")
        node.installer("install")
        env = deploylib.parse_env_file(node.read("etc/crisp/kubelet.env"))
        self.assertEqual(env["KUBELET_EXTRA_ARGS"], "--v=4 --container-runtime-endpoint=" + CRISP)

    def test_crisp_failing_to_start_leaves_the_kubelet_alone(self):
        node = self.node()
        result = node.installer("install", expect_rc=1, FAKE_CRISP_FAILS="1")
        self.assertIn("crisp.service is not active", result.stderr)
        self.assertNotIn("restart kubelet.service", node.log())
        for rel in ("etc/crisp/kubelet.env",
                    "etc/systemd/system/kubelet.service.d/20-crisp.conf"):
            self.assertFalse(os.path.exists(os.path.join(node.root, rel)), rel)

    def test_kubelet_failing_through_crisp_is_rolled_back(self):
        node = self.node()
        result = node.installer("install", expect_rc=1, FAKE_KUBELET_BROKEN_ENDPOINT=CRISP)
        self.assertIn("rolled back", result.stderr)
        self.assertEqual(node.calls(), [
            "daemon-reload", "enable crisp.service", "restart crisp.service",
            "daemon-reload", "restart kubelet.service",   # onto crisp: unhealthy
            "daemon-reload", "restart kubelet.service"])  # back onto containerd
        self.assertEqual(deploylib.flag(node.kubelet_argv(), "container-runtime-endpoint"),
                         CONTAINERD)
        for rel in ("etc/crisp/kubelet.env",
                    "etc/systemd/system/kubelet.service.d/20-crisp.conf", "etc/crisp"):
            self.assertFalse(os.path.exists(os.path.join(node.root, rel)), rel)
        self.assertNoViolation(node)

    def test_no_runtime_socket_is_an_error(self):
        node = self.node()
        os.unlink(os.path.join(node.root, "run/containerd/containerd.sock"))
        before = snapshot(node.root)
        result = node.installer("install", expect_rc=1)
        self.assertIn("no runtime socket", result.stderr)
        self.assertEqual(node.calls(), [])
        self.assertEqual(snapshot(node.root), before)

    def test_status(self):
        node = self.node()
        out = node.installer("status").stdout
        self.assertIn("absent  /usr/local/bin/crisp", out)
        self.assertIn("kubelet endpoint " + CONTAINERD, out)
        node.installer("install")
        out = node.installer("status").stdout
        for path in ("/usr/local/bin/crisp", "/etc/systemd/system/crisp.service",
                     "/etc/systemd/system/kubelet.service.d/20-crisp.conf",
                     "/etc/crisp/kubelet.env"):
            self.assertIn("present " + path, out)
        self.assertIn("crisp.service active", out)
        self.assertIn("kubelet endpoint " + CRISP, out)

    def test_usage(self):
        node = self.node()
        result = node.installer("frobnicate", expect_rc=2)
        self.assertIn("usage", result.stderr)

    def test_scripts_pass_shellcheck(self):
        shellcheck = deploylib.require_tool("shellcheck")
        for script in (deploylib.INSTALLER, deploylib.KIND_UP):
            result = deploylib.run([shellcheck, script])
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
