"""hack/kind-up.sh --dry-run: the steps that need no container engine run for
real (build the node binary, check it, render the kind config and check what
it mounts), the docker/kind/kubectl steps are printed, in order, and none of
those tools is ever run: PATH holds stand-ins that record any call."""

import os
import shutil
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

TOOLS = ("docker", "podman", "kind", "kubectl")


class KindUpDryRun(unittest.TestCase):
    def setUp(self):
        self.build = os.environ.get("CRISP_STATIC_BUILD_DIR")
        if not self.build:
            raise RuntimeError("CRISP_STATIC_BUILD_DIR is not set: run through ctest")
        self.tmp = tempfile.mkdtemp(prefix="crisp-kind-up-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bin = os.path.join(self.tmp, "bin")
        self.calls = os.path.join(self.tmp, "calls")
        os.makedirs(self.bin)
        for tool in TOOLS:
            path = os.path.join(self.bin, tool)
            with open(path, "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >>"%s"\nexit 1\n' % (tool, self.calls))
            os.chmod(path, 0o755)

    def kind_up(self, *args, rc=0):
        env = dict(os.environ, PATH=self.bin + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        result = deploylib.run(["bash", deploylib.KIND_UP, "--dry-run"] + list(args), env=env,
                               timeout=900)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, rc, output)
        self.assertFalse(os.path.exists(self.calls),
                         "a container tool ran in --dry-run: %s"
                         % (deploylib.read(self.calls) if os.path.exists(self.calls) else ""))
        return output

    def test_dry_run_walks_every_step(self):
        out = self.kind_up("--build-dir", self.build)
        steps = ["== 1. build", "== 2. kind config", "== 3. create the cluster",
                 "== 4. crisp on every node", "== 5. load the pod image busybox:1.36",
                 "== 6. the pods", "== crisp-default: expect Seccomp: 2",
                 "== crisp-unconfined: expect Seccomp: 0", "== 7. crisp's decisions", "== done"]
        positions = [out.find(s) for s in steps]
        self.assertNotIn(-1, positions, out)
        self.assertEqual(positions, sorted(positions), out)
        config = os.path.join(self.build, "kind-config.yaml")
        self.assertIn("+ kind create cluster --name crisp --config %s --wait 180s" % config, out)
        for cmd in ("docker exec crisp-worker /usr/local/bin/crisp --version",
                    "docker exec crisp-control-plane systemctl is-active crisp.service",
                    # the kubelet's own endpoint, not kubeadm's flags file
                    "kubelet_endpoint crisp-worker",
                    # the pod image is loaded, as kind load docker-image would
                    "docker save -o %s busybox:1.36" % os.path.join(self.build, "pod-image.tar"),
                    "kind load image-archive %s --name crisp"
                    % os.path.join(self.build, "pod-image.tar"),
                    "kubectl --context kind-crisp wait --for=condition=Ready pod/crisp-default",
                    "kubectl --context kind-crisp exec crisp-default -- grep Seccomp: "
                    "/proc/1/status"):
            self.assertIn("+ " + cmd, out)

    def test_rendered_config_mounts_files_that_exist(self):
        self.kind_up("--build-dir", self.build)
        with open(os.path.join(self.build, "kind-config.yaml")) as f:
            rendered = yaml.safe_load(f)
        with open(deploylib.KIND_CONFIG) as f:
            original = yaml.safe_load(f)
        self.assertEqual(rendered["kubeadmConfigPatches"], original["kubeadmConfigPatches"])
        for node, orig in zip(rendered["nodes"], original["nodes"]):
            self.assertEqual(len(node["extraMounts"]), len(orig["extraMounts"]))
            for mount, orig_mount in zip(node["extraMounts"], orig["extraMounts"]):
                self.assertEqual(mount["containerPath"], orig_mount["containerPath"])
                self.assertTrue(os.path.isabs(mount["hostPath"]))
                self.assertTrue(os.path.isfile(mount["hostPath"]), mount["hostPath"])
                if mount["containerPath"] == deploylib.UNIT_BINARY:
                    self.assertEqual(mount["hostPath"], os.path.join(self.build, "crisp"))

    def test_options_reach_the_commands(self):
        out = self.kind_up("--build-dir", self.build, "--no-build", "--name", "pool-a",
                           "--image", "kindest/node:v1.29.2", "--pod-image", "mirror/busybox:1")
        self.assertNotIn("Built target", out)
        self.assertIn("--name pool-a --config", out)
        self.assertIn("--image kindest/node:v1.29.2", out)
        self.assertIn("docker exec pool-a-worker", out)
        self.assertIn("sed s#image: busybox:1.36#image: mirror/busybox:1, imagePullPolicy: Never#",
                      out)
        self.assertNotIn("kubeadm-flags.env", out)

    def test_pod_archive_is_loaded_and_named_by_its_tag(self):
        archive = os.path.join(self.tmp, "pod.tar")
        deploylib.run([sys.executable, os.path.join(deploylib.REPO, "hack", "kind-node",
                                                    "image-archive.py"),
                       "--layer-dir", self.bin, "--tag", "example.test/pod:1", "-o", archive])
        out = self.kind_up("--build-dir", self.build, "--no-build", "--pod-archive", archive)
        self.assertIn("== 5. load the pod image example.test/pod:1 (%s)" % archive, out)
        self.assertIn("+ kind load image-archive %s --name crisp" % archive, out)
        self.assertIn("image: example.test/pod:1, imagePullPolicy: Never#", out)
        self.assertNotIn("docker save", out)

    def test_config_extra_and_crisp_opts_are_merged(self):
        extra = os.path.join(deploylib.REPO, "hack", "kind-node", "cluster-extra.yaml")
        self.kind_up("--build-dir", self.build, "--no-build", "--config-extra", extra,
                     "--crisp-opts", "--metrics-listen=/run/crisp/metrics.sock")
        with open(os.path.join(self.build, "kind-config.yaml")) as f:
            rendered = yaml.safe_load(f)
        with open(deploylib.KIND_CONFIG) as f:
            original = yaml.safe_load(f)
        with open(extra) as f:
            wanted = yaml.safe_load(f)
        self.assertEqual(rendered["networking"], wanted["networking"])
        self.assertEqual(rendered["kubeadmConfigPatches"],
                         original["kubeadmConfigPatches"] + wanted["kubeadmConfigPatches"])
        env = os.path.join(self.build, "crisp.env")
        self.assertEqual(deploylib.read(env).splitlines()[-1],
                         "CRISP_OPTS=--metrics-listen=/run/crisp/metrics.sock")
        for node in rendered["nodes"]:
            self.assertIn({"hostPath": env, "containerPath": "/etc/default/crisp",
                           "readOnly": True}, node["extraMounts"])

    def test_config_extra_may_not_overwrite(self):
        extra = os.path.join(self.tmp, "extra.yaml")
        with open(extra, "w") as f:
            f.write("kind: Other\n")
        out = self.kind_up("--build-dir", self.build, "--no-build", "--config-extra", extra, rc=1)
        self.assertIn("config.kind is set in both", out)

    def test_pod_spec_mounts_the_dynamic_crisp_its_libraries_and_dropins(self):
        build = os.path.join(self.tmp, "podspec")
        os.makedirs(build)
        shutil.copy(deploylib.crisp_binary(), os.path.join(build, "crisp"))
        out = self.kind_up("--build-dir", build, "--no-build", "--pod-spec")
        self.assertRegex(out, r"ok: .*/crisp, and \d+ libraries in .*kind-lib")
        libs = os.listdir(os.path.join(build, "kind-lib"))
        # The relay's own libraries; the daemon has no gRPC since issue 19.
        self.assertIn("libnghttp2.so.14", libs)
        self.assertIn("libuv.so.1", libs)
        self.assertFalse(any(lib.startswith("libgrpc") for lib in libs), libs)
        self.assertTrue(any(lib.startswith("libcurl") for lib in libs), libs)
        self.assertNotIn("libc.so.6", libs)
        with open(os.path.join(build, "kind-config.yaml")) as f:
            rendered = yaml.safe_load(f)
        for node in rendered["nodes"]:
            mounts = {m["containerPath"]: m["hostPath"] for m in node["extraMounts"]}
            self.assertEqual(mounts["/usr/local/bin/crisp"], os.path.join(build, "crisp"))
            self.assertEqual(mounts["/usr/local/lib/crisp"], os.path.join(build, "kind-lib"))
            self.assertEqual(mounts["/etc/systemd/system/crisp.service.d/30-podspec.conf"],
                             deploylib.PODSPEC_DROPIN)
            self.assertEqual(mounts["/etc/systemd/system/crisp.service.d/31-podspec-kind.conf"],
                             deploylib.KIND_PODSPEC_DROPIN)
        self.assertIn("env LD_LIBRARY_PATH=/usr/local/lib/crisp /usr/local/bin/crisp --version",
                      out)
        self.assertIn('journalctl -u crisp.service --grep "pod-spec: listed pods"', out)
        # Exact on every kubelet: explicit Unconfined stays unconfined.
        self.assertIn("== crisp-unconfined: expect Seccomp: 0 (explicit Unconfined; crisp read "
                      "the pod's spec", out)

    def test_refuses_a_dynamically_linked_binary(self):
        dynamic = os.path.join(self.tmp, "dynamic")
        os.makedirs(dynamic)
        shutil.copy(deploylib.crisp_binary(), os.path.join(dynamic, "crisp"))
        out = self.kind_up("--build-dir", dynamic, "--no-build", rc=1)
        self.assertRegex(out, r"needs lib\S+\.so\S*, which kind nodes do not have")

    def test_refuses_a_missing_binary(self):
        out = self.kind_up("--build-dir", os.path.join(self.tmp, "nothing"), "--no-build", rc=1)
        self.assertIn("is missing", out)

    def test_unknown_argument(self):
        out = self.kind_up("--frobnicate", rc=2)
        self.assertIn("usage:", out)


if __name__ == "__main__":
    unittest.main()
