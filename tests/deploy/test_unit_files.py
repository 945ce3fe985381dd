"""The systemd files in deploy/: systemd itself accepts them
(`systemd-analyze verify` and `security`), they say what the deployment
relies on, the CRI-O layout keeps the kubelet's stats provider where it can,
crisp accepts the paths they use, and `cmake --install` puts them in place.

systemd-analyze runs with --root on a small file-system tree: the unit files
unchanged at their node paths, the binary under test copied to the unit's
ExecStart path (/usr/local/bin/crisp: verify checks that it is executable),
and the host's targets and slices (verify resolves the default dependencies).
"""

import glob
import os
import re
import shutil
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402
from deploylib import flag  # noqa: E402

# The kubelet side of a kubeadm node, written for these tests.
KUBELET_SERVICE = "[Unit]\nDescription=kubelet\n[Service]\nExecStart=/usr/bin/kubelet\n" \
                  "Restart=always\n[Install]\nWantedBy=multi-user.target\n"
KUBEADM_DROPIN = """\
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
MAX_EXPOSURE = 15  # systemd-analyze security's threshold is 10 x the exposure level
# With the pod-spec drop-in crisp reaches the API server: the host's network
# and IP sockets are what it adds (about 1.6 today), and all it may add.
MAX_EXPOSURE_WITH_NETWORK = 20


class Sysroot:
    """A tree for `systemd-analyze --root`."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="crisp-sysroot-")
        units = os.path.join(self.path, "usr/lib/systemd/system")
        os.makedirs(units)
        for pattern in ("*.target", "*.slice"):
            for src in glob.glob("/usr/lib/systemd/system/" + pattern) + \
                    glob.glob("/lib/systemd/system/" + pattern):
                dest = os.path.join(units, os.path.basename(src))
                if not os.path.lexists(dest) and os.path.isfile(src):
                    shutil.copy(src, dest)
        self.put_binary(deploylib.UNIT_BINARY, deploylib.crisp_binary())

    def put(self, rel, src=None, text=None):
        dest = os.path.join(self.path, rel.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if src:
            shutil.copy(src, dest)
        else:
            with open(dest, "w") as f:
                f.write(text)
        return dest

    def put_binary(self, rel, src):
        os.chmod(self.put(rel, src=src), 0o755)

    def analyze(self, *args):
        return deploylib.run([deploylib.require_tool("systemd-analyze")] + list(args)
                             + ["--root=" + self.path], timeout=120)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class SystemdAccepts(unittest.TestCase):
    def setUp(self):
        self.root = Sysroot()
        self.addCleanup(self.root.cleanup)
        self.root.put("/etc/systemd/system/crisp.service", src=deploylib.UNIT)

    def verify(self, unit):
        result = self.root.analyze("verify", unit)
        # Any output is a warning (unknown key, bad value, missing binary...).
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))

    def test_verify_unit(self):
        self.verify("crisp.service")

    def test_verify_unit_with_crio_dropin(self):
        self.root.put("/etc/systemd/system/crisp.service.d/10-crio.conf",
                      src=deploylib.CRIO_DROPIN)
        self.verify("crisp.service")

    def test_verify_unit_with_podspec_dropin(self):
        self.root.put("/etc/systemd/system/crisp.service.d/30-podspec.conf",
                      src=deploylib.PODSPEC_DROPIN)
        self.verify("crisp.service")
        # The network it opens is the one thing it opens: the sandbox stays tight.
        result = self.root.analyze("security", "--offline=yes",
                                   "--threshold=%d" % MAX_EXPOSURE_WITH_NETWORK, "crisp.service")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_verify_unit_with_kind_podspec_dropins(self):
        self.root.put("/etc/systemd/system/crisp.service.d/30-podspec.conf",
                      src=deploylib.PODSPEC_DROPIN)
        self.root.put("/etc/systemd/system/crisp.service.d/31-podspec-kind.conf",
                      src=deploylib.KIND_PODSPEC_DROPIN)
        self.verify("crisp.service")

    def test_verify_unit_with_complain_dropin(self):
        self.root.put("/etc/systemd/system/crisp.service.d/40-complain.conf",
                      src=deploylib.COMPLAIN_DROPIN)
        self.verify("crisp.service")

    def test_verify_kubelet_with_dropin(self):
        self.root.put("/usr/lib/systemd/system/kubelet.service", text=KUBELET_SERVICE)
        self.root.put("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
                      text=KUBEADM_DROPIN)
        self.root.put("/etc/systemd/system/kubelet.service.d/20-crisp.conf",
                      src=deploylib.KUBELET_DROPIN)
        self.root.put_binary("/usr/bin/kubelet", "/bin/true")
        self.verify("kubelet.service")

    def test_verify_notices_a_broken_unit(self):
        # The check above can fail: a wrong key is reported.
        broken = deploylib.read(deploylib.UNIT).replace("ProtectSystem=strict",
                                                        "ProtectSystem=strictly")
        self.root.put("/etc/systemd/system/crisp.service", text=broken)
        result = self.root.analyze("verify", "crisp.service")
        self.assertIn("strictly", result.stdout + result.stderr)

    def test_sandboxing_exposure(self):
        result = self.root.analyze("security", "--offline=yes",
                                   "--threshold=%d" % MAX_EXPOSURE, "crisp.service")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        level = re.search(r"Overall exposure level for crisp.service: ([0-9.]+)", result.stdout)
        self.assertLessEqual(float(level.group(1)), MAX_EXPOSURE / 10, result.stdout)

    def test_enable_links_into_multi_user(self):
        systemctl = deploylib.require_tool("systemctl")
        result = deploylib.run([systemctl, "--root=" + self.root.path, "enable",
                                "crisp.service"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(os.path.islink(os.path.join(
            self.root.path, "etc/systemd/system/multi-user.target.wants/crisp.service")))


class UnitSays(unittest.TestCase):
    def setUp(self):
        self.unit = deploylib.Unit(deploylib.UNIT)
        self.argv = self.unit.exec_start()

    def test_exec_start(self):
        self.assertEqual(self.argv, [deploylib.UNIT_BINARY, "--listen", deploylib.UNIT_LISTEN,
                                     "--runtime-endpoint", deploylib.UNIT_RUNTIME])
        # $CRISP_OPTS from /etc/default/crisp adds flags.
        argv = self.unit.exec_start({"CRISP_OPTS": "--ambiguous-unconfined=keep --log-level=debug"})
        self.assertEqual(argv[-2:], ["--ambiguous-unconfined=keep", "--log-level=debug"])
        self.assertEqual(self.unit.get("Service", "EnvironmentFile"), ["-/etc/default/crisp"])

    def test_crisp_accepts_the_flags(self):
        for env in ({}, deploylib.parse_env_file(deploylib.read(
                os.path.join(deploylib.DEPLOY, "systemd", "crisp.env")))):
            argv = [deploylib.crisp_binary()] + self.unit.exec_start(env)[1:] + ["--version"]
            result = deploylib.run(argv)
            self.assertEqual(result.returncode, 0, result.stderr)

    def test_readiness_and_restart(self):
        self.assertEqual(self.unit.get("Service", "Type"), "notify")
        self.assertEqual(self.unit.get("Service", "NotifyAccess"), "main")
        self.assertEqual(self.unit.get("Service", "Restart"), "always")
        self.assertEqual(self.unit.get("Unit", "StartLimitIntervalSec"), "0")
        self.assertEqual(self.unit.get("Install", "WantedBy"), ["multi-user.target"])

    def test_ordering(self):
        self.assertIn("containerd.service", self.unit.get("Unit", "Wants"))
        self.assertIn("containerd.service", self.unit.get("Unit", "After"))
        self.assertIn("kubelet.service", self.unit.get("Unit", "Before"))
        # Not Requires/BindsTo/PartOf: a containerd restart must not stop crisp.
        for key in ("Requires", "BindsTo", "PartOf", "Requisite"):
            self.assertFalse(self.unit.get("Unit", key), key)

    def test_runtime_directory_holds_the_socket(self):
        listen = flag(self.argv, "listen")
        self.assertEqual(os.path.dirname(listen), "/run/" + self.unit.get(
            "Service", "RuntimeDirectory")[0])

    def test_sandbox_keeps_what_crisp_needs(self):
        self.assertEqual(self.unit.get("Service", "RestrictAddressFamilies"), ["AF_UNIX"])
        self.assertEqual(self.unit.get("Service", "CapabilityBoundingSet"), "")
        self.assertEqual(self.unit.get("Service", "ProtectSystem"), "strict")
        self.assertIsNone(self.unit.get("Service", "User"))  # root: the runtime socket
        self.assertIsNone(self.unit.get("Service", "PrivateUsers"))

    def test_kind_podspec_dropin_adds_only_the_kubeconfig(self):
        """deploy/kind/31-podspec-kind.conf repeats the unit's command line
        with --kubeconfig added, and finds the libraries mounted beside a
        pod-spec crisp (hack/kind-up.sh --pod-spec)."""
        unit = deploylib.Unit(deploylib.UNIT, [deploylib.PODSPEC_DROPIN,
                                               deploylib.KIND_PODSPEC_DROPIN])
        self.assertEqual(unit.exec_start(), self.argv + ["--kubeconfig",
                                                         "/etc/kubernetes/kubelet.conf"])
        argv = unit.exec_start({"CRISP_OPTS": "--log-level=debug"})
        self.assertEqual(argv[-1], "--log-level=debug")
        self.assertEqual(unit.environment("/nonexistent")["LD_LIBRARY_PATH"],
                         "/usr/local/lib/crisp")
        self.assertIn("AF_INET", unit.get("Service", "RestrictAddressFamilies"))
        self.assertEqual(unit.get("Service", "PrivateNetwork"), "no")
        # A crisp with the pod-spec source (this build) takes that line.
        result = deploylib.run([deploylib.crisp_binary()] + argv[1:] + ["--version"])
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_kubelet_dropin(self):
        dropin = deploylib.Unit(deploylib.KUBELET_DROPIN)
        self.assertEqual(dropin.get("Unit", "Wants"), ["crisp.service"])
        self.assertEqual(dropin.get("Unit", "After"), ["crisp.service"])
        self.assertFalse(dropin.get("Unit", "Requires"))
        env = deploylib.parse_env_file(deploylib.read(deploylib.KUBELET_ENV))
        self.assertEqual(env["KUBELET_EXTRA_ARGS"],
                         "--container-runtime-endpoint=unix://" + flag(self.argv, "listen"))


class KubeletEndpoint(unittest.TestCase):
    """What the kubelet's command line becomes with the drop-in, by systemd's
    rules (deploylib.Unit), on a kubeadm node."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="crisp-kubelet-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.write("var/lib/kubelet/kubeadm-flags.env",
                   'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint='
                   'unix:///run/containerd/containerd.sock --node-ip=10.1.1.1"\n')
        self.write("etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--v=2"\n')
        self.base = os.path.join(self.root, "10-kubeadm.conf")
        with open(self.base, "w") as f:
            f.write(KUBEADM_DROPIN)

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def argv(self, dropins):
        unit = deploylib.Unit(os.path.join(self.root, "kubelet.service"), dropins,
                              text=KUBELET_SERVICE)
        # Unit() reads the main file from `text`; drop-ins from disk.
        return unit.exec_start(unit.environment(self.root))

    def test_without_crisp(self):
        argv = self.argv([self.base])
        self.assertEqual(flag(argv, "container-runtime-endpoint"),
                         "unix:///run/containerd/containerd.sock")

    def test_with_dropin_and_env_file(self):
        self.write("etc/crisp/kubelet.env", deploylib.read(deploylib.KUBELET_ENV))
        argv = self.argv([self.base, deploylib.KUBELET_DROPIN])
        self.assertEqual(flag(argv, "container-runtime-endpoint"), "unix:///run/crisp/crisp.sock")
        self.assertIn("--node-ip=10.1.1.1", argv)

    def test_dropin_without_env_file_changes_nothing(self):
        # kind: the endpoint comes from criSocket; the drop-in only orders.
        argv = self.argv([self.base, deploylib.KUBELET_DROPIN])
        self.assertEqual(flag(argv, "container-runtime-endpoint"),
                         "unix:///run/containerd/containerd.sock")
        self.assertIn("--v=2", argv)


class CrioLayout(unittest.TestCase):
    def setUp(self):
        self.unit = deploylib.Unit(deploylib.UNIT, [deploylib.CRIO_DROPIN])
        self.argv = self.unit.exec_start()
        self.listen = flag(self.argv, "listen")

    def test_crisp_fronts_crios_socket(self):
        self.assertEqual(self.argv[0], deploylib.UNIT_BINARY)
        self.assertEqual(flag(self.argv, "runtime-endpoint"), "unix://" + deploylib.CRIO_SOCKET)
        self.assertIn("crio.service", self.unit.get("Unit", "Wants"))
        self.assertIn("crio.service", self.unit.get("Unit", "After"))

    def test_listen_path_keeps_the_crio_suffix_but_is_not_crios(self):
        self.assertTrue(self.listen.endswith(deploylib.CRIO_SUFFIX))
        self.assertNotIn(self.listen, (deploylib.CRIO_SOCKET, deploylib.CRIO_LEGACY_PATH))
        self.assertIn(os.path.relpath(os.path.dirname(self.listen), "/run"),
                      self.unit.get("Service", "RuntimeDirectory"))

    def test_kubelet_env_points_at_that_socket(self):
        env = deploylib.parse_env_file(deploylib.read(deploylib.CRIO_KUBELET_ENV))
        self.assertEqual(flag(env["KUBELET_EXTRA_ARGS"].split(), "container-runtime-endpoint"),
                         "unix://" + self.listen)

    def test_stats_provider_by_kubelet_version(self):
        through_crisp = "unix://" + self.listen
        for minor in (29, 30, 33):
            self.assertTrue(deploylib.kubelet_uses_cadvisor_stats(through_crisp, minor))
        # <= 1.28 matches only CRI-O's own path, which CRI-O must keep.
        for minor in (25, 28):
            self.assertFalse(deploylib.kubelet_uses_cadvisor_stats(through_crisp, minor))
            self.assertTrue(deploylib.kubelet_uses_cadvisor_stats(
                "unix://" + deploylib.CRIO_LEGACY_PATH, minor))
        self.assertFalse(deploylib.kubelet_uses_cadvisor_stats("unix://" + deploylib.UNIT_LISTEN,
                                                               30))

    def test_crisp_serves_on_such_a_path(self):
        """crisp with the CRI-O layout's socket names, under a temporary
        folder, relays a call to a runtime on a .../run/crio/crio.sock path."""
        sys.path.insert(0, os.path.join(deploylib.REPO, "tests", "lib"))
        import grpc
        from crisp import Crisp
        from fake_runtime import FakeRuntime
        with tempfile.TemporaryDirectory(prefix="crisp-", dir="/tmp") as tmp:
            runtime = os.path.join(tmp, deploylib.CRIO_SOCKET.lstrip("/"))
            listen = os.path.join(tmp, self.listen.lstrip("/"))
            os.makedirs(os.path.dirname(runtime))
            os.makedirs(os.path.dirname(listen))
            with FakeRuntime(runtime) as fake, \
                    Crisp("unix://" + runtime, listen=listen) as crisp:
                self.assertTrue(crisp.listen.endswith(deploylib.CRIO_SUFFIX))
                with grpc.insecure_channel("unix:" + listen) as channel:
                    call = channel.unary_unary("/runtime.v1.RuntimeService/Version")
                    self.assertEqual(call(b"\x0a\x02v1", timeout=30), b"\x0a\x02v1")
                self.assertEqual(len(fake.calls("/runtime.v1.RuntimeService/Version")), 1)
                self.assertTrue(stat.S_ISSOCK(os.stat(listen).st_mode))


class CmakeInstall(unittest.TestCase):
    def test_destdir_install(self):
        build = os.environ.get("CRISP_BUILD_DIR")
        if not build:
            raise RuntimeError("CRISP_BUILD_DIR is not set: run through ctest")
        cache = deploylib.read(os.path.join(build, "CMakeCache.txt"))
        prefix = [line.split("=", 1)[1] for line in cache.splitlines()
                  if line.startswith("CMAKE_INSTALL_PREFIX:")][0]
        with tempfile.TemporaryDirectory(prefix="crisp-destdir-") as dest:
            result = deploylib.run([deploylib.require_tool("cmake"), "--install", build],
                                   env=dict(os.environ, DESTDIR=dest))
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            root = dest + prefix
            binary = os.path.join(root, "bin", "crisp")
            self.assertTrue(os.access(binary, os.X_OK))
            unit_path = os.path.join(root, "lib/systemd/system/crisp.service")
            unit = deploylib.read(unit_path)
            self.assertEqual(deploylib.Unit(unit_path).exec_start()[0],
                             os.path.join(prefix, "bin", "crisp"))
            self.assertEqual(unit.replace(os.path.join(prefix, "bin", "crisp"),
                                          deploylib.UNIT_BINARY),
                             deploylib.read(deploylib.UNIT))
            share = os.path.join(root, "share", "crisp")
            for rel, src in (("crisp.env", "systemd/crisp.env"),
                             ("kubelet/20-crisp.conf", "kubelet/20-crisp.conf"),
                             ("kubelet/kubelet.env", "kubelet/kubelet.env"),
                             ("kubelet/kubelet-config.yaml", "kubelet/kubelet-config.yaml"),
                             ("crio/kubelet.env", "crio/kubelet.env")):
                self.assertEqual(deploylib.read(os.path.join(share, rel)),
                                 deploylib.read(os.path.join(deploylib.DEPLOY, src)), rel)
            crio = deploylib.Unit(unit_path, [os.path.join(share, "crio/10-crio.conf")])
            self.assertEqual(crio.exec_start()[0], os.path.join(prefix, "bin", "crisp"))
            # Nothing outside the prefix.
            self.assertEqual(os.listdir(dest), [prefix.strip("/").split("/")[0]])


if __name__ == "__main__":
    unittest.main()
