"""The offline kind tooling that runs without kind or docker (issue 20):
hack/kind-node/image-archive.py writes `docker save` archives that name the
image (RepoTags) and whose config matches the layer, reproducibly; the runc
wrapper removes exactly the capabilities the host lacks from config.json and
process.json, and passes everything else to runc untouched."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

KIND_NODE = os.path.join(deploylib.REPO, "hack", "kind-node")
ARCHIVE = os.path.join(KIND_NODE, "image-archive.py")
WRAPPER = os.path.join(KIND_NODE, "runc-drop-missing-caps")
ALL_CAPS = "000001ffffffffff"
NO_SYS_RESOURCE = "000001fffeffffff"  # bit 24 clear, as on this project's test machines


class ImageArchive(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="crisp-archive-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "bin"))
        with open(os.path.join(self.root, "bin", "hello"), "w") as f:
            f.write("#!/bin/sh\necho hello\n")
        os.chmod(os.path.join(self.root, "bin", "hello"), 0o755)
        os.symlink("hello", os.path.join(self.root, "bin", "hi"))

    def build(self, out, *extra):
        result = deploylib.run([sys.executable, ARCHIVE, "--layer-dir", self.root,
                                "--tag", "crisp.local/test:1", "--tag", "crisp.local/test:latest",
                                "-o", out] + list(extra))
        self.assertEqual(result.returncode, 0, result.stderr)
        return out

    def test_docker_save_layout(self):
        out = self.build(os.path.join(self.tmp, "a.tar"), "--entrypoint", '["/bin/hello"]',
                         "--stop-signal", "SIGRTMIN+3", "--env", "container=docker")
        with tarfile.open(out) as tar:
            [entry] = json.load(tar.extractfile("manifest.json"))
            self.assertEqual(entry["RepoTags"], ["crisp.local/test:1", "crisp.local/test:latest"])
            config_bytes = tar.extractfile(entry["Config"]).read()
            [layer_name] = entry["Layers"]
            layer = tar.extractfile(layer_name).read()
        config = json.loads(config_bytes)
        self.assertEqual(entry["Config"], hashlib.sha256(config_bytes).hexdigest() + ".json")
        self.assertEqual(config["rootfs"]["diff_ids"],
                         ["sha256:" + hashlib.sha256(layer).hexdigest()])
        self.assertEqual(config["config"]["Entrypoint"], ["/bin/hello"])
        self.assertEqual(config["config"]["StopSignal"], "SIGRTMIN+3")
        self.assertEqual(config["config"]["Env"], ["container=docker"])
        layer_path = os.path.join(self.tmp, "layer.tar")
        with open(layer_path, "wb") as f:
            f.write(layer)
        with tarfile.open(layer_path) as tar:
            members = {m.name.lstrip("./"): m for m in tar.getmembers()}
        self.assertTrue(members["bin/hello"].mode & 0o111)
        self.assertEqual(members["bin/hi"].linkname, "hello")
        self.assertEqual({(m.uid, m.gid, m.mtime) for m in members.values()}, {(0, 0, 0)})

    def test_same_files_same_image(self):
        a = self.build(os.path.join(self.tmp, "a.tar"))
        os.utime(os.path.join(self.root, "bin", "hello"), (1, 1))  # times do not count
        b = self.build(os.path.join(self.tmp, "b.tar"))
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())


class RuncWrapper(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="crisp-runc-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.fake = os.path.join(self.tmp, "runc")
        self.calls = os.path.join(self.tmp, "calls")
        with open(self.fake, "w") as f:
            f.write('#!/bin/sh\necho "$*" >>"%s"\n' % self.calls)
        os.chmod(self.fake, 0o755)
        self.caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_KILL"]

    def run_wrapper(self, capbnd, *args):
        env = dict(os.environ, CRISP_REAL_RUNC=self.fake, CRISP_RUNC_CAPBND=capbnd)
        result = subprocess.run([WRAPPER] + list(args), env=env, capture_output=True, text=True,
                                cwd=self.tmp)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(self.calls) as f:
            return f.read().splitlines()[-1]

    def spec(self, path, indent=None):
        caps = {k: list(self.caps) for k in ("bounding", "effective", "permitted",
                                              "inheritable")}
        caps["ambient"] = ["CAP_SYS_RESOURCE"]
        with open(path, "w") as f:
            json.dump({"process": {"args": ["sh"], "capabilities": caps}}, f, indent=indent)

    def caps_in(self, path):
        with open(path) as f:
            return json.load(f)["process"]["capabilities"]

    def test_create_drops_what_the_host_lacks(self):
        for indent in (None, 4):
            bundle = os.path.join(self.tmp, "bundle%s" % indent)
            os.makedirs(bundle)
            self.spec(os.path.join(bundle, "config.json"), indent)
            args = ["--root", "/run/x", "create", "--bundle", bundle, "--pid-file", "p", "id1"]
            self.assertEqual(self.run_wrapper(NO_SYS_RESOURCE, *args), " ".join(args))
            caps = self.caps_in(os.path.join(bundle, "config.json"))
            self.assertEqual(caps["bounding"], ["CAP_CHOWN", "CAP_KILL"])
            self.assertEqual(caps["ambient"], [])

    def test_exec_process_file(self):
        process = os.path.join(self.tmp, "process.json")
        self.spec(process)
        self.run_wrapper(NO_SYS_RESOURCE, "exec", "--process", process, "--detach", "id1")
        self.assertEqual(self.caps_in(process)["effective"], ["CAP_CHOWN", "CAP_KILL"])

    def test_nothing_missing_changes_nothing(self):
        self.spec(os.path.join(self.tmp, "config.json"))
        with open(os.path.join(self.tmp, "config.json")) as f:
            before = f.read()
        self.run_wrapper(ALL_CAPS, "run", "id2")  # bundle: the current folder
        with open(os.path.join(self.tmp, "config.json")) as f:
            self.assertEqual(f.read(), before)

    def test_other_commands_pass_through(self):
        self.spec(os.path.join(self.tmp, "config.json"))
        self.assertEqual(self.run_wrapper(NO_SYS_RESOURCE, "state", "id1"), "state id1")
        self.assertIn("CAP_SYS_RESOURCE", self.caps_in(os.path.join(self.tmp,
                                                                    "config.json"))["bounding"])


if __name__ == "__main__":
    unittest.main()
