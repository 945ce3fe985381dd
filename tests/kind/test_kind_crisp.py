"""crisp in a real kind cluster (issue 20), created the way a user creates
it: hack/kind-up.sh with deploy/kind/kind-config.yaml unchanged (two nodes,
control plane and worker), the pod image loaded from an archive, crisp's
/metrics on a unix socket in each node (--crisp-opts).

- hack/kind-up.sh's own checks: crisp active and the kubelet's endpoint on
  crisp's socket on both nodes; no profile -> Seccomp 2; explicit Unconfined
  -> 2 on kubelets >= 1.28 (sent like "nothing set", the documented
  limitation), 0 on older ones;
- a pod on the worker with an init container and a container the kubelet
  restarts after it exits: every CreateContainer defaulted, 2 each;
- kubectl exec, logs and port-forward through crisp;
- crisp's /metrics on both nodes: calls relayed, none failed, nothing it
  could not decode.
The cluster is deleted at the end, whatever failed.

Needs what docs/kind.md lists (hack/kind-e2e.sh); given nothing, skips with
one line.
"""

import os
import re
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kindlib as kl  # noqa: E402

CLUSTER = "crisp-e2e"


class CrispInKind(kl.KindTestCase):
    name = "crisp"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = cls.track(kl.Cluster(CLUSTER, cls.env, cls.out))
        args = ["--name", CLUSTER, "--image", cls.inputs.node_image,
                "--build-dir", os.environ["CRISP_STATIC_BUILD_DIR"], "--no-build",
                "--pod-archive", cls.inputs.pod_archive,
                "--crisp-opts", "--metrics-listen=" + kl.METRICS_SOCKET]
        if cls.inputs.config_extra:
            args += ["--config-extra", cls.inputs.config_extra]
        with cls.timings("hack/kind-up.sh (create, 2 nodes, the two pods)"):
            cls.kind_up_output = kl.kind_up(args, cls.env, os.path.join(cls.out, "kind-up.log"))
        cls.minor, cls.version = cls.kubelet_minor(cls.cluster)
        cls.worker = cls.cluster.node("worker")
        cls.control_plane = cls.cluster.node("control-plane")
        cls.image = cls.inputs.pod_image

    # -- what hack/kind-up.sh checked and printed ------------------------------------------
    def test_1_kind_up_crisp_on_both_nodes(self):
        out = self.kind_up_output
        for node in (self.control_plane, self.worker):
            self.assertIn("%s: the kubelet's endpoint is unix://%s" % (node, kl.CRISP_SOCKET),
                          out)
            self.assertEqual(self.cluster.exec(node, "systemctl", "is-active",
                                               "crisp.service").stdout.strip(), "active")

    def test_1_kind_up_seccomp(self):
        out = self.kind_up_output
        self.assertEqual(kl.printed_seccomp(out, "crisp-default"), 2)
        unconfined = kl.printed_seccomp(out, "crisp-unconfined")
        kl.log("kubelet %s: no profile -> 2, explicit Unconfined -> %d" % (self.version,
                                                                          unconfined))
        self.assertEqual(unconfined, 2 if self.minor >= 28 else 0)
        self.assertIn("seccomp defaulted method=/runtime.v1.RuntimeService/CreateContainer "
                      "pod=default/crisp-default", out)

    # -- init container, restarted container -------------------------------------------------
    def test_2_init_and_restarted_containers(self):
        with self.timings("pod with an init container and a restarted one"):
            self.cluster.apply(kl.pod("lifecycle", [
                kl.container("app", self.image, kl.SLEEP),
                kl.container("once", self.image, kl.PRINT),
            ], node=self.worker, init_containers=[kl.container("init", self.image, kl.PRINT)]))

            def restarted():
                pod = self.cluster.pod("lifecycle") or {}
                for c in pod.get("status", {}).get("containerStatuses", []):
                    if c["name"] == "once" and c.get("restartCount", 0) >= 1:
                        return True
                return False
            kl.wait_until(restarted, "container once to be restarted", timeout=240)

        def logged(container, previous=False):
            args = ["logs", "lifecycle", "-c", container] + (["--previous"] if previous else [])
            result = self.cluster.kubectl(*args, check=False)
            return result.stdout if "Seccomp:" in result.stdout else None
        # The restarted container may not have printed yet: wait for its line.
        for container, previous in (("init", False), ("app", False), ("once", True),
                                    ("once", False)):
            out = kl.wait_until(lambda: logged(container, previous), "the log of %s%s"
                                % (container, " (previous)" if previous else ""), timeout=120)
            self.assertRegex(out, r"Seccomp:\s+2", "%s%s" % (container,
                                                             " (previous)" if previous else ""))
        journal = self.cluster.journal(self.worker)
        once = [line for line in journal.splitlines()
                if "seccomp defaulted" in line and "pod=default/lifecycle" in line
                and "container=once " in line and "context=container" in line]
        self.assertGreaterEqual(len(once), 2, "crisp defaulted 'once' at each start")
        self.assertTrue(any("container=init " in line for line in journal.splitlines()
                            if "pod=default/lifecycle" in line))

    # -- kubectl exec, logs, port-forward -------------------------------------------------
    def test_3_exec_logs_port_forward(self):
        serve = ["sh", "-c", "grep Seccomp: /proc/self/status; mkdir -p /www; "
                 "echo crisp-port-forward >/www/index.html; exec httpd -f -p 8080 -h /www"]
        self.cluster.apply(kl.pod("web", [kl.container("web", self.image, serve)],
                                  node=self.worker))
        with self.timings("pod web Ready"):
            self.cluster.wait_ready("web")
        with self.timings("kubectl exec"):
            self.assertEqual(self.cluster.seccomp("web"), 2)
        with self.timings("kubectl logs"):
            self.assertRegex(self.cluster.kubectl("logs", "web").stdout, r"Seccomp:\s+2")
        with self.timings("kubectl port-forward, one HTTP GET"):
            self.assertEqual(self.port_forward_get("web", 8080), "crisp-port-forward\n")

    def port_forward_get(self, pod, port):
        proc = subprocess.Popen(["kubectl", "--context", self.cluster.context, "port-forward",
                                 "pod/" + pod, ":%d" % port], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:NNNNN -> 8080"
            m = re.search(r"127\.0\.0\.1:(\d+) -> %d" % port, line)
            if not m:
                proc.kill()
                raise AssertionError("port-forward said %r %r" % (line, proc.stderr.read()))
            local = int(m.group(1))
            with urllib.request.urlopen("http://127.0.0.1:%d/index.html" % local,
                                        timeout=60) as response:
                return response.read().decode()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    # -- crisp's metrics, over everything above -----------------------------------------
    def test_9_metrics_no_failed_call(self):
        for node in (self.control_plane, self.worker):
            samples = self.cluster.metrics(node)
            calls = kl.metric(samples, "crisp_calls_total")
            created = kl.metric(samples, "crisp_calls_total", method="CreateContainer", code="OK")
            kl.log("%s: %d calls through crisp, %d CreateContainer" % (node, calls, created))
            self.assertGreater(calls, 100, node)
            self.assertGreater(created, 0, node)
            self.assertEqual(self.cluster.unexplained_failures(node, samples), {},
                             "failed calls through crisp on %s" % node)
            self.assertEqual(kl.metric(samples, "crisp_decode_failures_total"), 0, node)


if __name__ == "__main__":
    unittest.main()
