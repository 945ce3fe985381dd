"""The fleet rollout on a live cluster (issue 20): a kind cluster whose
kubelets talk to containerd directly (no crisp: the control case, a pod with
no profile runs with Seccomp 0), the installer image built from
deploy/daemonset/Dockerfile with a local base image, loaded with kind load,
deploy/daemonset/daemonset.yaml applied as the README says:

- label the worker crisp.io/enabled=true: the installer pod runs there and
  nowhere else; the worker's kubelet moves to crisp's socket without losing
  its running pod (same container, no restart); a new pod there gets
  Seccomp 2; the unlabelled control-plane node is untouched (no crisp, its
  kubelet on containerd, a new pod there 0);
- label it false: the uninstaller moves the kubelet back to containerd and
  removes crisp (binary, unit, drop-in, kubelet.env); the running pod
  survives again; a new pod gets 0.
The cluster is deleted at the end, whatever failed.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kindlib as kl  # noqa: E402

CLUSTER = "crisp-e2e-fleet"
INSTALLER_IMAGE = "crisp.local/crisp-installer:e2e"
DEPLOY = os.path.join(kl.REPO, "deploy")
CONTAINERD = "unix:///run/containerd/containerd.sock"
CRISP = "unix://" + kl.CRISP_SOCKET
FILES = ("/usr/local/bin/crisp", "/etc/systemd/system/crisp.service",
         "/etc/systemd/system/kubelet.service.d/20-crisp.conf", "/etc/crisp/kubelet.env")


class DaemonSetRollout(kl.KindTestCase):
    name = "daemonset"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.inputs.base_image:
            raise RuntimeError("KIND_BASE_IMAGE is not set: a local base image for the "
                               "installer (hack/kind-node-image.sh --base-image)")
        cls.cluster = cls.track(kl.Cluster(CLUSTER, cls.env, cls.out))
        cls.worker = cls.cluster.node("worker")
        cls.control_plane = cls.cluster.node("control-plane")
        cls.image = cls.inputs.pod_image
        config = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
                  "nodes": [{"role": "control-plane"}, {"role": "worker"}]}
        if cls.inputs.config_extra:
            with open(cls.inputs.config_extra) as f:
                config.update(yaml.safe_load(f))
        path = os.path.join(cls.out, "kind-config.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        with cls.timings("kind create cluster without crisp, 2 nodes"):
            cls.cluster.run(["kind", "create", "cluster", "--name", CLUSTER, "--config", path,
                             "--image", cls.inputs.node_image, "--wait", "180s"], timeout=900)
        cls.minor, cls.version = cls.kubelet_minor(cls.cluster)
        with cls.timings("kind load image-archive (pod image)"):
            cls.cluster.run(["kind", "load", "image-archive", cls.inputs.pod_archive,
                             "--name", CLUSTER])
        with cls.timings("installer image: docker build + kind load"):
            cls.build_installer()

    @classmethod
    def build_installer(cls):
        """deploy/daemonset/Dockerfile as README says, from a context with the
        repository's layout: the static crisp is the test build's."""
        ctx = os.path.join(cls.out, "installer-context")
        shutil.rmtree(ctx, ignore_errors=True)
        for rel in ("deploy/systemd/crisp.service", "deploy/kubelet/20-crisp.conf",
                    "deploy/crio/10-crio.conf", "deploy/daemonset/install.sh",
                    "deploy/daemonset/Dockerfile", "deploy/daemonset/Dockerfile.dockerignore",
                    ".dockerignore"):
            os.makedirs(os.path.dirname(os.path.join(ctx, rel)), exist_ok=True)
            shutil.copy2(os.path.join(kl.REPO, rel), os.path.join(ctx, rel))
        os.makedirs(os.path.join(ctx, "build-static"))
        shutil.copy2(os.path.join(os.environ["CRISP_STATIC_BUILD_DIR"], "crisp"),
                     os.path.join(ctx, "build-static", "crisp"))
        env = dict(cls.env, DOCKER_BUILDKIT="1")
        result = subprocess.run(["docker", "build", "-f", "deploy/daemonset/Dockerfile",
                                 "--build-arg", "BASE=" + cls.inputs.base_image,
                                 "-t", INSTALLER_IMAGE, "."], cwd=ctx, env=env,
                                capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            # docker CLIs without BuildKit support fall back to the legacy builder
            # (the root .dockerignore keeps its context as small).
            env["DOCKER_BUILDKIT"] = "0"
            result = subprocess.run(["docker", "build", "-f", "deploy/daemonset/Dockerfile",
                                     "--build-arg", "BASE=" + cls.inputs.base_image,
                                     "-t", INSTALLER_IMAGE, "."], cwd=ctx, env=env,
                                    capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise AssertionError("docker build: %s%s" % (result.stdout, result.stderr))
        archive = os.path.join(cls.out, "installer.tar")
        cls.cluster.run(["docker", "save", "-o", archive, INSTALLER_IMAGE])
        cls.cluster.run(["kind", "load", "image-archive", archive, "--name", CLUSTER])
        os.unlink(archive)
        cls.addClassCleanup(subprocess.run, ["docker", "rmi", INSTALLER_IMAGE],
                            capture_output=True)

    # -- the node's state ---------------------------------------------------------------------
    def kubelet_endpoint(self, node):
        """The running kubelet's endpoint: its /configz (1.27+), else its
        command line; compared after a restart, so read until it answers."""
        def read():
            result = self.cluster.kubectl("get", "--raw",
                                          "/api/v1/nodes/%s/proxy/configz" % node, check=False)
            if result.returncode != 0:
                return None
            value = json.loads(result.stdout)["kubeletconfig"].get("containerRuntimeEndpoint")
            return value or None
        return kl.wait_until(read, "the kubelet's /configz on %s" % node, timeout=120)

    def files(self, node):
        return {f for f in FILES
                if self.cluster.exec(node, "test", "-e", f, check=False).returncode == 0}

    def crisp_state(self, node):
        return self.cluster.exec(node, "systemctl", "is-active", "crisp.service",
                                 check=False).stdout.strip()

    def keeper(self):
        pod = self.cluster.pod("keeper")
        [status] = pod["status"]["containerStatuses"]
        return status["containerID"], status["restartCount"], pod["status"]["phase"]

    def new_pod_seccomp(self, name, node):
        self.cluster.apply(kl.pod(name, [kl.container("app", self.image, kl.SLEEP)], node=node))
        self.cluster.wait_ready(name)
        return self.cluster.seccomp(name)

    def installer_pods(self, app):
        out = self.cluster.kubectl("get", "pods", "-n", "crisp-system", "-l",
                                   "app.kubernetes.io/name=" + app, "-o",
                                   "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} "
                                   "{.status.phase}{\"\\n\"}{end}").stdout
        return [line.split() for line in out.splitlines() if line.strip()]

    def wait_running(self, app, node, timeout=300):
        def running():
            pods = self.installer_pods(app)
            return [p for p in pods if p[1] == node and p[2] == "Running"]
        try:
            [[name, _, _]] = kl.wait_until(running, "%s Running on %s" % (app, node), timeout)
        except AssertionError:
            out = self.cluster.kubectl("describe", "pods", "-n", "crisp-system", check=False)
            raise AssertionError("%s not Running on %s:\n%s" % (app, node, out.stdout[-6000:]))
        return name

    def save_logs(self, pod, container):
        out = self.cluster.kubectl("logs", "-n", "crisp-system", pod, "-c", container,
                                   check=False)
        with open(os.path.join(self.out, "%s.%s.log" % (pod, container)), "w") as f:
            f.write(out.stdout + out.stderr)
        return out.stdout

    # -- the rollout ---------------------------------------------------------------------------
    def test_rollout(self):
        cluster = self.cluster
        # The control case: no crisp anywhere, a pod with no profile is unconfined.
        for node in (self.control_plane, self.worker):
            self.assertEqual(self.kubelet_endpoint(node), CONTAINERD)
            self.assertEqual(self.files(node), set())
        with self.timings("control: a pod without crisp"):
            self.assertEqual(self.new_pod_seccomp("direct", self.worker), 0)
        kl.log("control cluster, kubelet %s, no crisp: no profile -> 0" % self.version)
        cluster.apply(kl.pod("keeper", [kl.container("app", self.image, kl.SLEEP)],
                             node=self.worker))
        cluster.wait_ready("keeper")
        before = self.keeper()

        # The installer, as README says: the image name replaced, then a label.
        with open(os.path.join(DEPLOY, "daemonset", "daemonset.yaml")) as f:
            manifest = f.read().replace("image: crisp-installer:0.1.0",
                                        "image: " + INSTALLER_IMAGE)
        cluster.kubectl("apply", "-f", "-", input=manifest)
        self.assertEqual(self.installer_pods("crisp-installer"), [])
        with self.timings("label true -> installer pod Running"):
            cluster.kubectl("label", "node", self.worker, "crisp.io/enabled=true")
            installer = self.wait_running("crisp-installer", self.worker)
        log = self.save_logs(installer, "install")
        self.assertIn("crisp-install: installed: the kubelet talks to " + CRISP, log)

        # The worker: on crisp, its running pod untouched, new pods defaulted.
        self.assertEqual(self.kubelet_endpoint(self.worker), CRISP)
        self.assertEqual(self.crisp_state(self.worker), "active")
        self.assertEqual(self.files(self.worker), set(FILES))
        # The node's own KUBELET_EXTRA_ARGS (kind's /etc/default/kubelet) are
        # kept, before crisp's endpoint.
        own = self.cluster.exec(self.worker, "sh", "-c", ". /etc/default/kubelet && "
                                "echo $KUBELET_EXTRA_ARGS").stdout.split()
        env = self.cluster.exec(self.worker, "cat", "/etc/crisp/kubelet.env").stdout
        args = env.split("KUBELET_EXTRA_ARGS=", 1)[1].strip().strip('"').split()
        self.assertEqual(args, own + ["--container-runtime-endpoint=" + CRISP], env)
        self.assertEqual(self.keeper(), before, "the running pod survived the switch")
        with self.timings("a new pod on the labelled node"):
            self.assertEqual(self.new_pod_seccomp("through-crisp", self.worker), 2)
        self.assertIn("pod=default/through-crisp", cluster.journal(self.worker))
        # The unlabelled node: untouched.
        self.assertEqual(self.kubelet_endpoint(self.control_plane), CONTAINERD)
        self.assertEqual(self.files(self.control_plane), set())
        self.assertEqual([p[1] for p in self.installer_pods("crisp-installer")], [self.worker])
        self.assertEqual(self.new_pod_seccomp("unlabelled", self.control_plane), 0)
        kl.log("label true: worker on crisp, new pod -> 2; control plane untouched -> 0")

        # Back: the uninstaller.
        with self.timings("label false -> uninstaller pod Running"):
            cluster.kubectl("label", "node", self.worker, "crisp.io/enabled=false",
                            "--overwrite")
            uninstaller = self.wait_running("crisp-uninstaller", self.worker)
            kl.wait_until(lambda: self.installer_pods("crisp-installer") == [],
                          "the installer pod to go")
        log = self.save_logs(uninstaller, "uninstall")
        self.assertIn("crisp-install: uninstalled", log)
        self.assertEqual(self.kubelet_endpoint(self.worker), CONTAINERD)
        self.assertNotEqual(self.crisp_state(self.worker), "active")
        self.assertEqual(self.files(self.worker), set())
        self.assertEqual(self.keeper(), before, "the running pod survived the switch back")
        self.assertEqual(self.new_pod_seccomp("after-removal", self.worker), 0)
        kl.log("label false: worker back on containerd, crisp removed, new pod -> 0")


if __name__ == "__main__":
    unittest.main()
