"""The CRI-O harness's own pieces, without CRI-O (they run in every build,
CI included, so that the harness does not rot while no CRI-O is given):
the config it writes keeps every path in its folder, the registry mapping
rewrites every host to the local registry, the runc wrapper edits exactly
what it should and passes runc's arguments through, deploy/crio/ gives the
layout the kubelet test relies on, and a missing CRIO is a skip.
"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import tomllib
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import criolib  # noqa: E402
import runc_wrap  # noqa: E402


def unstarted(root, **kw):
    crio = criolib.PrivateCrio("/x/crio", "/x/pinns", "127.0.0.1:5999", **kw)
    crio.root = root
    crio.runtime_path = os.path.join(root, "bin", "runc-wrap")
    return crio


class Config(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="crisp-crio-harness-")
        self.addCleanup(tmp.cleanup)
        self.root = tmp.name

    def paths(self, doc, prefix=""):
        for key, value in doc.items():
            if isinstance(value, dict):
                yield from self.paths(value, prefix + key + ".")
            for v in (value if isinstance(value, list) else [value]):
                if isinstance(v, str) and v.startswith("/"):
                    yield prefix + key, v

    def test_every_path_is_ours_or_a_tool(self):
        for setting in (True, False):
            doc = tomllib.loads(unstarted(self.root, default_when_empty=setting).config())
            self.assertIs(doc["crio"]["runtime"]["seccomp_use_default_when_empty"], setting)
            allowed = (self.root + "/", "/x/pinns", criolib.CONMON, criolib.CNI_BIN_DIR)
            for key, path in self.paths(doc):
                self.assertTrue(path.startswith(allowed), "%s = %s" % (key, path))
            self.assertEqual(doc["crio"]["api"]["listen"],
                             os.path.join(self.root, "run/crio/crio.sock"))
            self.assertEqual(doc["crio"]["runtime"]["cgroup_manager"], "cgroupfs")

    def test_registries_rewrite_every_host_to_the_local_registry(self):
        doc = tomllib.loads(unstarted(self.root).registries_conf())
        self.assertEqual(doc["unqualified-search-registries"], [])
        by_prefix = {r["prefix"]: r for r in doc["registry"]}
        self.assertEqual(set(by_prefix), set(criolib.MAPPED_HOSTS))
        for reg in by_prefix.values():
            self.assertEqual(reg["location"], "127.0.0.1:5999")
            self.assertTrue(reg["insecure"])
            self.assertNotIn("mirror", reg)  # a mirror would fall back upstream

    def test_cni_is_apart_from_the_containerd_harness(self):
        import critestlib
        plugin = json.loads(unstarted(self.root).cni_conflist())["plugins"][0]
        self.assertEqual(plugin["bridge"], criolib.BRIDGE)
        self.assertNotEqual(criolib.BRIDGE, critestlib.BRIDGE)
        self.assertNotEqual(criolib.SUBNET, critestlib.SUBNET)
        self.assertTrue(plugin["ipam"]["dataDir"].startswith(self.root + "/"))


class RuncWrapper(unittest.TestCase):
    def test_command_lines(self):
        # as conmon runs runc
        sub, rest = runc_wrap.split(["--root", "/r", "--systemd-cgroup", "--log", "/l",
                                     "--log-format", "json", "create", "--bundle", "/b",
                                     "--pid-file", "/p", "id"])
        self.assertEqual((sub, runc_wrap.option(rest, ("--bundle", "-b"))), ("create", "/b"))
        sub, rest = runc_wrap.split(["--root=/r", "exec", "-d", "--process", "/t/p.json", "id"])
        self.assertEqual((sub, runc_wrap.option(rest, ("--process", "-p"))), ("exec", "/t/p.json"))
        self.assertEqual(runc_wrap.option(["-b=/x"], ("--bundle", "-b")), "/x")

    def test_fit_process(self):
        process = {"oomScoreAdj": -998, "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_SYS_RESOURCE"], "effective": ["CAP_SYS_RESOURCE"]}}
        self.assertTrue(runc_wrap.fit_process(process, {"CAP_CHOWN"}, 0))
        self.assertEqual(process, {"oomScoreAdj": 0, "capabilities": {
            "bounding": ["CAP_CHOWN"], "effective": []}})
        self.assertFalse(runc_wrap.fit_process(process, {"CAP_CHOWN"}, 0))
        keep = {"oomScoreAdj": 5}
        self.assertFalse(runc_wrap.fit_process(keep, set(), 0))

    def test_drop_hugepage_limits(self):
        doc = {"linux": {"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
                                       "memory": {"limit": 5}}}}
        self.assertTrue(runc_wrap.drop_hugepage_limits(doc))
        self.assertEqual(doc, {"linux": {"resources": {"memory": {"limit": 5}}}})
        self.assertFalse(runc_wrap.drop_hugepage_limits(doc))
        self.assertFalse(runc_wrap.drop_hugepage_limits({}))

    def test_execs_runc_with_the_same_arguments(self):
        tmp = tempfile.TemporaryDirectory(prefix="crisp-runc-wrap-")
        self.addCleanup(tmp.cleanup)
        fake = os.path.join(tmp.name, "runc")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv"\n')
        os.chmod(fake, 0o755)
        with open(os.path.join(_HERE, "runc_wrap.py")) as f:
            source = f.read().replace('RUNC = "/usr/sbin/runc"', "RUNC = %s" % json.dumps(fake))
        wrapper = os.path.join(tmp.name, "runc-wrap")
        with open(wrapper, "w") as f:
            f.write(source)
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
        bundle = os.path.join(tmp.name, "bundle")
        os.makedirs(bundle)
        config = {"process": {"oomScoreAdj": -1000, "capabilities": {
            "bounding": ["CAP_" + c for c in runc_wrap.CAPS]}}, "root": {"path": "rootfs"},
            "linux": {"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}}}
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(config, f)
        args = ["--root", tmp.name, "create", "--bundle", bundle, "my id"]
        subprocess.run([wrapper] + args, check=True, timeout=60)
        with open(os.path.join(tmp.name, "argv")) as f:
            self.assertEqual(f.read().splitlines(), args)
        with open(os.path.join(bundle, "config.json")) as f:
            got = json.load(f)
        own = runc_wrap.own_oom_score_adj()
        self.assertEqual(got["process"]["oomScoreAdj"], max(-1000, own))
        self.assertEqual(set(got["process"]["capabilities"]["bounding"]),
                         runc_wrap.bounding_set() & set(config["process"]["capabilities"]
                                                        ["bounding"]))
        self.assertEqual(got["root"], config["root"])
        self.assertEqual("hugepageLimits" in got["linux"]["resources"],
                         not runc_wrap.hugetlb_unmounted())


class DeployLayout(unittest.TestCase):
    def test_crisp_on_a_path_ending_in_run_crio_crio_sock(self):
        listen, runtime = criolib.unit_exec_start()
        self.assertEqual(runtime, "/run/crio/crio.sock")
        self.assertTrue(listen.endswith("run/crio/crio.sock"), listen)
        self.assertNotEqual(listen, runtime)
        self.assertEqual(criolib.kubelet_endpoint(), listen)
        self.assertEqual(criolib.under("/w", runtime), "/w/run/crio/crio.sock")


class Binaries(unittest.TestCase):
    def run_need_crio(self, **env):
        base = {k: v for k, v in os.environ.items()
                if k not in ("CRIO", "PINNS", "CRISP_SKIPPED_FILE")}
        code = ("import criolib, unittest\n"
                "try:\n    print(criolib.need_crio())\nexcept unittest.SkipTest:\n"
                "    print('skip')\n")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(base, PYTHONPATH=os.pathsep.join(sys.path), **env),
                              timeout=120)

    def test_no_crio_is_one_skip_line_in_ci_too(self):
        out = self.run_need_crio(CI="true")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.splitlines(), [
            "crio: SKIPPED: no CRIO or PINNS given; to run it, set %s (see docs/crio.md)"
            % criolib.CRIO_HOW, "skip"])

    def test_pinns_beside_crio_by_default(self):
        tmp = tempfile.TemporaryDirectory(prefix="crisp-crio-bins-")
        self.addCleanup(tmp.cleanup)
        for name in ("crio", "pinns"):
            with open(os.path.join(tmp.name, name), "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(os.path.join(tmp.name, name), 0o755)
        crio = os.path.join(tmp.name, "crio")
        out = self.run_need_crio(CRIO=crio)
        self.assertEqual(out.stdout.strip(), str((crio, os.path.join(tmp.name, "pinns"))),
                         out.stderr)
        os.unlink(os.path.join(tmp.name, "pinns"))
        out = self.run_need_crio(CRIO=crio)  # given, but not working: a failure
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("PINNS=%s/pinns is not an executable file" % tmp.name, out.stderr)


if __name__ == "__main__":
    unittest.main()
