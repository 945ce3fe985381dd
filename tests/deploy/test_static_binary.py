"""The crisp built for kind nodes (CRISP_STATIC=ON; the ctest fixture
deploy/static_build builds it into CRISP_STATIC_BUILD_DIR) keeps only glibc,
libstdc++ and libgcc_s dynamic, asks for no newer symbol versions than
Debian bookworm (kindest/node from kind v0.21) provides, and works."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

sys.path.insert(0, os.path.join(deploylib.REPO, "tests", "lib"))
import grpc  # noqa: E402
from crisp import wait_for_socket  # noqa: E402
from fake_runtime import FakeRuntime  # noqa: E402

# What a kindest/node image (Debian bookworm or trixie) has.
ALLOWED = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2"}
# bookworm: glibc 2.36, libstdc++ from GCC 12.
MAX_VERSIONS = {"GLIBC": (2, 36), "GLIBCXX": (3, 4, 30), "CXXABI": (1, 3, 13)}


def static_binary():
    build = os.environ.get("CRISP_STATIC_BUILD_DIR")
    if not build:
        raise RuntimeError("CRISP_STATIC_BUILD_DIR is not set: run through ctest")
    path = os.path.join(build, "crisp")
    if not os.access(path, os.X_OK):
        raise RuntimeError("%s missing: the deploy/static_build fixture did not build it" % path)
    return path


def needed(path):
    out = deploylib.run(["objdump", "-p", path], check=True).stdout
    return {line.split()[1] for line in out.splitlines() if line.split()[:1] == ["NEEDED"]}, out


def highest_versions(path):
    out = deploylib.run(["objdump", "-T", path], check=True).stdout
    found = {}
    for name, version in re.findall(r"\b(GLIBC|GLIBCXX|CXXABI)_([0-9][0-9.]*)\b", out):
        key = tuple(int(x) for x in version.split("."))
        found[name] = max(found.get(name, key), key)
    return found


class StaticBinary(unittest.TestCase):
    def setUp(self):
        deploylib.require_tool("objdump")
        self.binary = static_binary()

    def test_only_glibc_and_the_cxx_runtime_are_dynamic(self):
        libs, dump = needed(self.binary)
        self.assertLessEqual(libs, ALLOWED, "unexpected shared libraries")
        self.assertIn("libc.so.6", libs)
        self.assertNotRegex(dump, r"\b(RPATH|RUNPATH)\b")

    def test_symbol_versions_fit_bookworm(self):
        versions = highest_versions(self.binary)
        self.assertIn("GLIBC", versions)
        for name, version in versions.items():
            self.assertLessEqual(version, MAX_VERSIONS[name], "%s_%s is newer than bookworm's"
                                 % (name, ".".join(map(str, version))))

    def test_the_check_tells_a_dynamic_build_apart(self):
        # The build under test (CRISP_BIN) links the shared libraries.
        libs, _ = needed(deploylib.crisp_binary())
        self.assertFalse(libs <= ALLOWED, libs)

    def test_it_runs(self):
        result = deploylib.run([self.binary, "--version"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^crisp \S+ \(nghttp2")

    def test_it_relays(self):
        with tempfile.TemporaryDirectory(prefix="crisp-", dir="/tmp") as tmp:
            runtime = os.path.join(tmp, "runtime.sock")
            listen = os.path.join(tmp, "crisp.sock")
            with FakeRuntime(runtime) as fake:
                proc = subprocess.Popen([self.binary, "--listen", listen, "--runtime-endpoint",
                                         "unix://" + runtime], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
                try:
                    wait_for_socket(listen)
                    with grpc.insecure_channel("unix:" + listen) as channel:
                        call = channel.unary_unary("/runtime.v1.ImageService/ImageFsInfo")
                        self.assertEqual(call(b"", timeout=30), b"")
                    self.assertEqual(len(fake.calls("/runtime.v1.ImageService/ImageFsInfo")), 1)
                finally:
                    proc.terminate()
                    _, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 0, err)


if __name__ == "__main__":
    unittest.main()
