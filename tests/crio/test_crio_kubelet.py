"""A real kubelet (standalone, static pods) through crisp in front of a real
CRI-O (issue 21; docs/crio.md).

The socket layout and the flags are those of deploy/crio/, inside the test's
root folder W as on a node: CRI-O on W/run/crio/crio.sock, crisp started
with the --listen and --runtime-endpoint of deploy/crio/10-crio.conf's
ExecStart (W/run/crisp/run/crio/crio.sock: a path ending in
run/crio/crio.sock), the kubelet's endpoint from deploy/crio/kubelet.env,
after a kubeadm-style flag naming CRI-O's own socket (the kubelet takes the
last). CRI-O runs with `seccomp_use_default_when_empty = false` (CRI-O's CI
setting): with the stock `true` a kubelet 1.26 pod with no profile is
already filtered without crisp (see test_crio_seccomp).

- no profile: Seccomp 2 through crisp (init container too), 0 through
  `crisp --no-default`; explicit Unconfined on the pod or the container: 0;
- exec readiness probes pass, the kubelet's /containerLogs and /exec (CRI
  Exec through crisp, the stream to CRI-O's streaming server) work;
- the kubelet's steady traffic (relists, status, image and stats calls)
  until crisp has relayed STEADY_CALLS calls: no call failed in crisp's
  metrics; a pod removed from the manifests is torn down;
- the traffic recorded with --record passes `crisp replay --check`.

Needs CRIO (and PINNS) and KUBELET; without them it says it skipped, in CI
too. About 5 minutes.
"""

import base64
import datetime
import json
import os
import re
import subprocess
import sys
import time
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "critest"), os.path.join(_HERE, "..", "kubelet"),
              os.path.join(_HERE, "..", "operate")):
    sys.path.insert(0, os.path.abspath(_path))

import criolib  # noqa: E402
import critestlib  # noqa: E402
import cri_client  # noqa: E402
import kubeletlib as kl  # noqa: E402
import registry  # noqa: E402
from crisp import Crisp, crisp_binary  # noqa: E402
from operatelib import metric, scrape  # noqa: E402

# Apart from tests/kubelet (containerd), which may run at the same time: its
# pods' log folders under /var/log/pods are found (and removed) by these.
kl.NAMESPACE = "crisp-crio-kubelet-e2e"
kl.NODE = "crisp-crio-node"

IMAGE = criolib.BUSYBOX
# Steady kubelet traffic: conditions to wait for, not times.
STEADY_CALLS = 1500
STEADY_STATS_CALLS = 8
RUNTIME_DEFAULT = {"profile_type": 0, "localhost_ref": "", "path": "runtime/default"}


def simple_pod(name="nothing", seccomp=None, container_seccomp=None):
    return kl.pod(name, [kl.container("app", kl.seccomp_then_sleep(), IMAGE,
                                      seccomp=container_seccomp)], seccomp=seccomp)


class KubeletThroughCrispOnCrio(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.crio_bin, cls.pinns = criolib.need_crio()
        cls.kubelet_bin = criolib.need_tool("KUBELET", "crio-kubelet",
                                            "KUBELET (kubelet v1.26.5) besides CRIO")
        criolib.check_prerequisites()
        # One real-client test on the machine at a time (critestlib): critest's
        # host ports are fixed, and two kubelets' log garbage collectors look
        # at the same /var/log/containers.
        cls.addClassCleanup(critestlib.host_lock())
        cls.out = os.path.join(os.environ.get("CRISP_CLIENTS_OUT") or
                               os.path.join(os.getcwd(), "build", "clients-out"), "crio")
        os.makedirs(cls.out, exist_ok=True)
        kl.remove_pod_logs()
        cls.registry = registry.Registry(preferred_port=0).start()
        cls.addClassCleanup(cls.registry.stop)
        criolib.push_all(cls.registry)
        cls.crio = criolib.PrivateCrio(cls.crio_bin, cls.pinns, cls.registry.address,
                                       default_when_empty=False,
                                       out_dir=os.path.join(cls.out, "kubelet-logs"))
        cls.crio.start()
        cls.addClassCleanup(cls.crio.stop)
        cls.crio.pull(IMAGE)
        version = subprocess.run([cls.kubelet_bin, "--version"], capture_output=True,
                                 text=True, timeout=60).stdout.strip()
        print("CRI-O %s (%s), %s, crisp %s" % (cls.crio.version, cls.crio_bin, version,
                                                crisp_binary()), file=sys.stderr, flush=True)
        # deploy/crio/: crisp's sockets and the kubelet's endpoint, in W.
        listen, runtime = criolib.unit_exec_start()
        cls.crisp_listen = criolib.under(cls.crio.root, listen)
        cls.runtime_socket = criolib.under(cls.crio.root, runtime)
        cls.kubelet_endpoint = criolib.under(cls.crio.root, criolib.kubelet_endpoint())

    def setUp(self):
        self.kubelet = None

    def tearDown(self):
        errors = []
        if self.kubelet is not None:
            with open(os.path.join(self.out, "kubelet-%s.log" % self._testMethodName), "w") as f:
                f.write(self.kubelet.log())
            errors += self.kubelet.stop()
        # The kubelet leaves its pods running when it stops: remove ours.
        errors += self.crio.remove_all_pods()
        kl.remove_pod_logs()
        self.assertEqual(errors, [])

    def test_0_deploy_layout(self):
        """What deploy/crio/ says, on the paths the other tests use."""
        self.assertEqual(self.runtime_socket, self.crio.socket,
                         "10-crio.conf's --runtime-endpoint is CRI-O's own socket")
        self.assertEqual(self.kubelet_endpoint, self.crisp_listen,
                         "kubelet.env names crisp's --listen")
        self.assertTrue(self.crisp_listen.endswith("run/crio/crio.sock"), self.crisp_listen)
        self.assertNotEqual(self.crisp_listen, self.crio.socket)

    def crisp(self, args):
        """crisp as 10-crio.conf starts it (its folder made as systemd's
        RuntimeDirectory= would)."""
        os.makedirs(os.path.dirname(self.crisp_listen), mode=0o750, exist_ok=True)
        return Crisp(self.runtime_socket, listen=self.crisp_listen, args=args)

    def start_kubelet(self):
        # kubeadm's flag names the runtime; kubelet.env's comes last and wins.
        args = ["--container-runtime-endpoint=unix://" + self.crio.socket,
                "--container-runtime-endpoint=unix://" + self.kubelet_endpoint]
        self.kubelet = kl.Kubelet(self.kubelet_bin, args).start()
        return self.kubelet

    def wait_seccomp(self, pod, container, attempt=0, timeout=180):
        def seen():
            return kl.seccomp_in_log(pod, container, attempt)
        try:
            return kl.wait_until(lambda: seen() is not None,
                                 "%s/%s attempt %d to log its Seccomp" % (pod, container, attempt),
                                 timeout) and seen()
        except AssertionError as err:
            raise AssertionError("%s; kubelet log:\n%s\nCRI-O log:\n%s"
                                 % (err, self.kubelet.log()[-4000:], self.crio.log()[-3000:]))

    def test_1_no_default_relays_only(self):
        with self.crisp(["--no-default"]) as crisp:
            kubelet = self.start_kubelet()
            kubelet.add(simple_pod())
            self.assertEqual(self.wait_seccomp("nothing", "app"), 0)
            self.assertEqual(kubelet.stop(), [])
            self.kubelet = None
            self.assertEqual(crisp.count_log("seccomp defaulted"), 0)

    def test_2_through_crisp(self):
        metrics = os.path.join(self.out, "kubelet-metrics.sock")
        recording = os.path.join(self.out, "kubelet.jsonl")
        for path in (metrics, recording):
            if os.path.exists(path):
                os.unlink(path)
        with self.crisp(["--metrics-listen", metrics, "--record", recording]) as crisp:
            started = time.monotonic()
            kubelet = self.start_kubelet()
            probe = {"exec": {"command": ["cat", "/proc/self/status"]},
                     "periodSeconds": 1, "timeoutSeconds": 10}
            kubelet.add(kl.pod("nothing", [
                kl.container("app", kl.seccomp_then_sleep(), IMAGE, readinessProbe=probe),
            ], init_containers=[kl.container("init", kl.seccomp_then_exit(), IMAGE)]))
            kubelet.add(simple_pod("unconfined-pod", seccomp="Unconfined"))
            kubelet.add(simple_pod("unconfined-ctr", container_seccomp="Unconfined"))

            self.assertEqual(self.wait_seccomp("nothing", "init"), 2)
            self.assertEqual(self.wait_seccomp("nothing", "app"), 2)
            self.assertEqual(self.wait_seccomp("unconfined-pod", "app"), 0)
            self.assertEqual(self.wait_seccomp("unconfined-ctr", "app"), 0)

            def app_ready():
                status = kubelet.pod_status("nothing") or {}
                return any(c["name"] == "app" and c.get("ready")
                           for c in status.get("status", {}).get("containerStatuses", []))
            kl.wait_until(app_ready, "the readiness probe of nothing/app to pass", timeout=180)
            self.wait_calls(metrics, "ExecSync")

            status, body = kubelet.get("/containerLogs/%s/nothing-%s/app"
                                       % (kl.NAMESPACE, kl.NODE))
            self.assertEqual(status, 200, body)
            self.assertRegex(body, r"Seccomp:\s+2")
            stdout, _ = kubelet.exec("nothing", "app", ["grep", "Seccomp:", "/proc/self/status"])
            self.assertRegex(stdout, r"Seccomp:\s+2")
            self.wait_calls(metrics, "Exec")
            status, body = kubelet.get("/stats/summary")
            self.assertEqual(status, 200, body[:2000])
            self.assertIn("nothing-" + kl.NODE, body)

            def steady():
                samples = scrape(metrics)
                stats = metric(samples, "crisp_calls_total", method="ListContainerStats") + \
                    metric(samples, "crisp_calls_total", method="ListPodSandboxStats")
                return (metric(samples, "crisp_calls_total") >= STEADY_CALLS and
                        stats >= STEADY_STATS_CALLS)
            kl.wait_until(steady, "%d CRI calls from the kubelet, %d of them stats calls"
                          % (STEADY_CALLS, STEADY_STATS_CALLS), timeout=900)
            samples = scrape(metrics)
            steady_failures = failed_calls(samples)
            self.assertEqual(metric(samples, "crisp_decode_failures_total"), 0)
            print("kubelet -> crisp -> CRI-O, steady traffic (%.0f s since the kubelet "
                  "started): %s" % (time.monotonic() - started, calls_by_method(samples)),
                  file=sys.stderr, flush=True)

            removed_at = datetime.datetime.now(datetime.timezone.utc)
            kubelet.remove("nothing")
            kl.wait_until(lambda: kubelet.pod_status("nothing") is None,
                          "the kubelet to drop pod nothing")
            kl.wait_until(lambda: self.sandboxes("nothing") and
                          all(s.state == 1 for s in self.sandboxes("nothing")),
                          "the sandbox of pod nothing to be stopped")
            self.wait_calls(metrics, "StopPodSandbox")
            kubelet_log = kubelet.log()
            self.assertEqual(kubelet.stop(), [])
            self.kubelet = None
            self.assertEqual(criolib.crisp_problems(crisp.log()), [])
        with open(os.path.join(self.out, "kubelet.log"), "w") as f:
            f.write(kubelet_log)
        foreign = self.check_failed_calls(recording, removed_at, kubelet_log)
        # Over the steady traffic no call failed, but for the kubelet's
        # garbage collector asking about other runs' containers (below).
        self.assertEqual({k: v for k, v in steady_failures.items()
                          if dict(k) != {"method": "ContainerStatus", "code": "NOT_FOUND"}}, {},
                         "failed calls through crisp over the steady traffic")
        self.assertLessEqual(sum(steady_failures.values()), len(foreign), steady_failures)
        self.replay_check(recording)

    @staticmethod
    def wait_calls(metrics, method):
        kl.wait_until(lambda: metric(scrape(metrics), "crisp_calls_total", method=method,
                                     code="OK") > 0,
                      "crisp to count an OK %s call" % method, timeout=60)

    def sandboxes(self, pod_name):
        with cri_client.CriClient(self.crio.socket) as cri:
            return [s for s in cri.call("ListPodSandbox").items
                    if s.metadata.name == pod_name + "-" + kl.NODE]

    def check_failed_calls(self, recording, removed_at, kubelet_log):
        """Every call that failed through crisp, from the recording; only
        two kinds may, both answered the same without crisp:
        - an exec probe the kubelet started while the pod was being torn
          down (the runtime answers it for a stopping container);
        - ContainerStatus NOT_FOUND for a container this CRI-O never had:
          the kubelet's log garbage collector finds a dangling link in the
          host's /var/log/containers (another run's, e.g. the containerd
          kubelet test, which may run at the same time), asks the runtime
          about the container named in it, logs "Error getting
          ContainerStatus for containerID" and removes the link.
        Returns those foreign ContainerStatus records."""
        with open(recording) as f:
            records = [json.loads(line) for line in f]
        ours = set()  # every container id this CRI-O handed out, as seen through crisp
        for record in records:
            if record["method"].endswith(("/CreateContainer", "/ListContainers")):
                for blob in record.get("responses", []):
                    ours.update(re.findall(rb"[0-9a-f]{64}", base64.b64decode(blob)))
        foreign = []
        for record in records:
            if record.get("code", 0) == 0:
                continue
            started = datetime.datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
            if record["method"].endswith("/ExecSync") and started >= removed_at:
                continue
            ids = re.findall(rb"[0-9a-f]{64}", base64.b64decode(record["requests"][0]))
            if record["method"].endswith("/ContainerStatus") and record.get("code") == 5 and \
                    ids and ids[0] not in ours and \
                    "Error getting ContainerStatus for containerID" in kubelet_log and \
                    ids[0].decode() in kubelet_log:
                foreign.append(record)
                continue
            self.fail("a failed call other than a teardown exec probe or the log GC's question "
                      "about another run's container: %s %s code=%s %r"
                      % (record["time"], record["method"], record.get("code"),
                         record.get("details")))
        if foreign:
            print("kubelet -> crisp -> CRI-O: %d ContainerStatus NOT_FOUND from the kubelet's log "
                  "garbage collector, for containers of other runs (dangling links in "
                  "/var/log/containers): %s" % (len(foreign), [r.get("details") for r in foreign]),
                  file=sys.stderr, flush=True)
        return foreign

    def replay_check(self, recording):
        expectations = {
            "nothing": ({"sandbox": RUNTIME_DEFAULT},
                        {"container": RUNTIME_DEFAULT, "sandbox_config": RUNTIME_DEFAULT}),
            "unconfined-pod": ({"unchanged": True}, {"unchanged": True}),
            "unconfined-ctr": ({"sandbox": RUNTIME_DEFAULT}, {"sandbox_config": RUNTIME_DEFAULT}),
        }
        fixture = os.path.join(self.out, "kubelet-fixture.jsonl")
        counted = 0
        with open(recording) as f, open(fixture, "w") as out:
            for line in f:
                record = json.loads(line)
                method = record["method"].rsplit("/", 1)[-1]
                name = (record.get("pod") or {}).get("name", "")
                for pod, (run, create) in expectations.items():
                    if name == pod + "-" + kl.NODE and method in ("RunPodSandbox",
                                                                   "CreateContainer"):
                        record["expect"] = run if method == "RunPodSandbox" else create
                        counted += 1
                out.write(json.dumps(record) + "\n")
        self.assertGreaterEqual(counted, 3 + 4)  # three sandboxes, four containers
        result = subprocess.run([crisp_binary(), "replay", fixture, "--check"],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("%d records with expectations: %d passed, 0 failed" % (counted, counted),
                      result.stdout + result.stderr)
        print("replay --check of the kubelet's recording: %d records with expectations: %d "
              "passed, 0 failed" % (counted, counted), file=sys.stderr, flush=True)


def failed_calls(samples):
    return {labels: v for (name, labels), v in samples.items()
            if name == "crisp_calls_total" and dict(labels).get("code") != "OK" and v}


def calls_by_method(samples):
    out = {}
    for (name, labels), v in samples.items():
        if name == "crisp_calls_total" and v:
            method = dict(labels).get("method")
            out[method] = out.get(method, 0) + int(v)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    unittest.main()
