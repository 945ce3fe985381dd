"""The YAML in deploy/ parses (python3-yaml) and holds what the scripts and
the other files rely on: the kind config mounts the unit's binary path, the
unit and the kubelet drop-in into every node and gives kubeadm crisp's socket;
the DaemonSets run install.sh the way it expects; the pods are what
hack/kind-up.sh says they are."""

import os
import re
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402


def load_all(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


class KindConfig(unittest.TestCase):
    def setUp(self):
        [self.config] = load_all(deploylib.KIND_CONFIG)
        self.unit = deploylib.Unit(deploylib.UNIT)
        self.argv = self.unit.exec_start()

    def test_is_a_kind_cluster(self):
        self.assertEqual(self.config["kind"], "Cluster")
        self.assertEqual(self.config["apiVersion"], "kind.x-k8s.io/v1alpha4")
        roles = [node["role"] for node in self.config["nodes"]]
        self.assertEqual(roles[0], "control-plane")
        self.assertIn("worker", roles)

    def test_every_node_mounts_binary_unit_and_dropin(self):
        want = {
            self.argv[0]: "build-static/crisp",
            "/etc/systemd/system/crisp.service": "deploy/systemd/crisp.service",
            "/etc/systemd/system/kubelet.service.d/20-crisp.conf": "deploy/kubelet/20-crisp.conf",
        }
        for node in self.config["nodes"]:
            mounts = {m["containerPath"]: m for m in node["extraMounts"]}
            self.assertEqual(set(mounts), set(want), node["role"])
            for container_path, host_path in want.items():
                self.assertEqual(mounts[container_path]["hostPath"], host_path)
                self.assertTrue(mounts[container_path].get("readOnly"))
            # Not into a .wants/ folder: kind's node systemd ignores those files.
            self.assertFalse(any(".wants/" in p for p in mounts))
        # The files mounted from the repository exist (the binary is built by
        # hack/kind-up.sh; test_kind_up checks it).
        for host_path in want.values():
            if not host_path.startswith("build-static/"):
                self.assertTrue(os.path.isfile(os.path.join(deploylib.REPO, host_path)),
                                host_path)

    def test_kubeadm_cri_socket_is_crisps_listen_socket(self):
        patches = [yaml.safe_load(p) for p in self.config["kubeadmConfigPatches"]]
        kinds = sorted(p["kind"] for p in patches)
        self.assertEqual(kinds, ["InitConfiguration", "JoinConfiguration"])
        listen = deploylib.flag(self.argv, "listen")
        for patch in patches:
            self.assertEqual(patch["nodeRegistration"]["criSocket"], "unix://" + listen)

    def test_mounted_dropin_pulls_in_the_mounted_unit(self):
        dropin = deploylib.Unit(deploylib.KUBELET_DROPIN)
        self.assertIn("crisp.service", dropin.get("Unit", "Wants"))
        self.assertIn("crisp.service", dropin.get("Unit", "After"))
        # In kind no kubelet.env is mounted: the drop-in must tolerate that.
        self.assertEqual(dropin.get("Service", "EnvironmentFile"), ["-/etc/crisp/kubelet.env"])


class Pods(unittest.TestCase):
    def test_default_pod_sets_no_seccomp(self):
        [pod] = load_all(os.path.join(deploylib.DEPLOY, "kind", "pod-default.yaml"))
        self.assertEqual(pod["metadata"]["name"], "crisp-default")
        self.assertNotIn("seccomp", yaml.safe_dump(pod).lower())
        self.assertEqual(pod["spec"]["containers"][0]["image"], "busybox:1.36")

    def test_unconfined_pod_asks_for_unconfined(self):
        [pod] = load_all(os.path.join(deploylib.DEPLOY, "kind", "pod-unconfined.yaml"))
        self.assertEqual(pod["metadata"]["name"], "crisp-unconfined")
        self.assertEqual(pod["spec"]["securityContext"]["seccompProfile"], {"type": "Unconfined"})
        self.assertEqual(pod["spec"]["containers"][0]["image"], "busybox:1.36")

    def test_kind_up_uses_these_names_and_image(self):
        script = deploylib.read(deploylib.KIND_UP)
        for needle in ("crisp-default deploy/kind/pod-default.yaml",
                       "crisp-unconfined deploy/kind/pod-unconfined.yaml",
                       "image: busybox:1.36#"):
            self.assertIn(needle, script)


class DaemonSets(unittest.TestCase):
    def setUp(self):
        self.docs = load_all(deploylib.DAEMONSET)
        self.by_name = {d["metadata"]["name"]: d for d in self.docs}
        self.script = deploylib.read(deploylib.INSTALLER)

    def test_documents(self):
        self.assertEqual([(d["kind"], d["metadata"]["name"]) for d in self.docs], [
            ("Namespace", "crisp-system"), ("DaemonSet", "crisp-installer"),
            ("DaemonSet", "crisp-uninstaller")])

    def check(self, name, label_value, action):
        ds = self.by_name[name]
        self.assertEqual(ds["metadata"]["namespace"], "crisp-system")
        spec = ds["spec"]
        template = spec["template"]
        self.assertEqual(spec["selector"]["matchLabels"], template["metadata"]["labels"])
        self.assertEqual(spec["updateStrategy"], {
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
        pod = template["spec"]
        # The label gates the rollout, per node.
        self.assertEqual(pod["nodeSelector"], {"crisp.io/enabled": label_value})
        self.assertIs(pod["hostPID"], True)  # nsenter --target 1, and PROC_ROOT=/proc
        self.assertIs(pod["automountServiceAccountToken"], False)
        self.assertEqual(pod["tolerations"], [{"operator": "Exists"}])
        [init] = pod["initContainers"]
        self.assertEqual(init["args"], [action])
        self.assertIs(init["securityContext"]["privileged"], True)
        env = {e["name"]: e["value"] for e in init["env"]}
        # Every variable set here is one install.sh reads.
        for var in env:
            self.assertRegex(self.script, r"\b%s=\$\{%s:-" % (var, var))
        volumes = {v["name"]: v for v in pod["volumes"]}
        [mount] = init["volumeMounts"]
        self.assertEqual(mount["mountPath"], env["HOST_ROOT"])
        self.assertEqual(volumes[mount["name"]]["hostPath"], {"path": "/", "type": "Directory"})
        [main] = pod["containers"]
        self.assertEqual(main["command"], ["sleep", "infinity"])
        self.assertEqual(main["image"], init["image"])
        self.assertNotIn("privileged", main["securityContext"])
        self.assertEqual(main["securityContext"]["capabilities"], {"drop": ["ALL"]})
        return init

    def test_installer(self):
        init = self.check("crisp-installer", "true", "install")
        self.assertEqual({e["name"]: e["value"] for e in init["env"]}["CRISP_RUNTIME"], "auto")

    def test_uninstaller(self):
        self.check("crisp-uninstaller", "false", "uninstall")

    def test_image_holds_what_install_sh_needs(self):
        dockerfile = deploylib.read(os.path.join(deploylib.DEPLOY, "daemonset", "Dockerfile"))
        [copy] = [line for line in dockerfile.splitlines() if line.startswith("COPY ")]
        *sources, dest = copy.split()[1:]
        self.assertEqual(dest, "/opt/crisp/")
        copied = {os.path.basename(s) for s in sources}
        # CRISP_PAYLOAD defaults to the script's own folder.
        needed = set(re.search(r"for f in (crisp crisp\.service [^;]*); do",
                               self.script).group(1).split())
        self.assertLessEqual(needed | {"install.sh"}, copied)
        self.assertIn('ENTRYPOINT ["/opt/crisp/install.sh"]', dockerfile)
        for source in sources:
            if not source.startswith("build-static/"):
                self.assertTrue(os.path.isfile(os.path.join(deploylib.REPO, source)), source)

    def test_dockerignore_lets_exactly_the_copied_files_in(self):
        dockerfile = deploylib.read(os.path.join(deploylib.DEPLOY, "daemonset", "Dockerfile"))
        [copy] = [line for line in dockerfile.splitlines() if line.startswith("COPY ")]
        sources = copy.split()[1:-1]
        ignore = [line for line in deploylib.read(os.path.join(
            deploylib.DEPLOY, "daemonset", "Dockerfile.dockerignore")).splitlines()
                  if line and not line.startswith("#")]
        self.assertEqual(ignore[0], "*")
        self.assertEqual(sorted(ignore[1:]), sorted("!" + s for s in sources))

    def test_root_dockerignore_is_the_same_for_the_legacy_builder(self):
        def patterns(path):
            return [line for line in deploylib.read(path).splitlines()
                    if line and not line.startswith("#")]
        self.assertEqual(patterns(os.path.join(deploylib.REPO, ".dockerignore")),
                         patterns(os.path.join(deploylib.DEPLOY, "daemonset",
                                               "Dockerfile.dockerignore")))

    def test_base_image_is_a_build_argument(self):
        # Offline, a local base image (hack/kind-node-image.sh --base-image).
        dockerfile = deploylib.read(os.path.join(deploylib.DEPLOY, "daemonset", "Dockerfile"))
        self.assertIn("ARG BASE=debian:bookworm-slim\nFROM ${BASE}\n", dockerfile)

    def test_image_name_matches_build_instructions(self):
        dockerfile = deploylib.read(os.path.join(deploylib.DEPLOY, "daemonset", "Dockerfile"))
        images = {c["image"] for d in self.docs if d["kind"] == "DaemonSet"
                  for c in d["spec"]["template"]["spec"]["containers"]
                  + d["spec"]["template"]["spec"]["initContainers"]}
        self.assertEqual(len(images), 1)
        self.assertIn("-t %s " % images.pop(), dockerfile)


class KubeletConfigSnippet(unittest.TestCase):
    def test_endpoint_is_crisps(self):
        [config] = load_all(os.path.join(deploylib.DEPLOY, "kubelet", "kubelet-config.yaml"))
        self.assertEqual(config["kind"], "KubeletConfiguration")
        self.assertEqual(config["apiVersion"], "kubelet.config.k8s.io/v1beta1")
        listen = deploylib.flag(deploylib.Unit(deploylib.UNIT).exec_start(), "listen")
        self.assertEqual(config["containerRuntimeEndpoint"], "unix://" + listen)


if __name__ == "__main__":
    unittest.main()
