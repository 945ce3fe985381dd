"""A real kubelet (standalone, static pods, no API server) in front of a
private containerd, directly and through crisp (issue 15).

- no profile: Seccomp 0 directly, 2 with the kubelet's own seccompDefault
  (the reference crisp copies), 2 through crisp, 0 through --no-default;
- through crisp: an init container and a container the kubelet restarts
  after it exits (its second CreateContainer is defaulted too); explicit
  Unconfined on the pod and on the container stay 0; ExecSync readiness
  probes; the kubelet's /containerLogs and /exec (crisp relays Exec and the
  runtime's streaming URL); a pod removed from the manifest folder is torn
  down; over the kubelet's steady traffic (PLEG relists, status, stats)
  crisp's metrics show no failed call; the traffic recorded with --record
  is replayed with `crisp replay --check`.
The kubelet is pointed at crisp with deploy/kubelet/kubelet.env, the file
the documented drop-in reads (kubeletlib.endpoint_args).

Needs KUBELET, a binary the user supplies (hack/kubelet-e2e.sh sets it, or
unpacks KUBELET_XZ); without it the test prints one line saying it skipped
and how to run it (docs/supplied-binaries.md). About 2.5 minutes.
"""

import base64
import datetime
import json
import os
import subprocess
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "critest"), os.path.join(_HERE, "..", "operate")):
    sys.path.insert(0, os.path.abspath(_path))

import containerd  # noqa: E402
import critestlib  # noqa: E402
import cri_client  # noqa: E402
import kubeletlib as kl  # noqa: E402
import supplied  # noqa: E402
from crisp import Crisp, crisp_binary  # noqa: E402
from operatelib import metric, scrape  # noqa: E402

IMAGE = cri_client.E2E_IMAGE
# Enough steady kubelet traffic to see relists, status and stats calls many
# times over: about 100 s at the ~10 calls/s of these three pods (a
# condition to wait for, not a time).
STEADY_CALLS = 1000
STEADY_STATS_CALLS = 8
RUNTIME_DEFAULT = {"profile_type": 0, "localhost_ref": "", "path": "runtime/default"}


def simple_pod(name="nothing", seccomp=None, container_seccomp=None):
    return kl.pod(name, [kl.container("app", kl.seccomp_then_sleep(), IMAGE,
                                      seccomp=container_seccomp)], seccomp=seccomp)


class KubeletThroughCrisp(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.kubelet_bin = supplied.binaries(
            "kubelet", ("KUBELET",), "KUBELET, or KUBELET_XZ with hack/kubelet-e2e.sh",
            "docs/kubelet-e2e.md")["KUBELET"]
        containerd.check_prerequisites()
        cls.addClassCleanup(critestlib.host_lock())
        cls.out = os.path.join(os.environ.get("CRISP_CLIENTS_OUT") or
                               os.path.join(os.getcwd(), "build", "clients-out"), "kubelet")
        os.makedirs(cls.out, exist_ok=True)
        kl.remove_pod_logs()
        cls.ctrd = containerd.PrivateContainerd(configure=critestlib.configure(None))
        cls.addClassCleanup(critestlib.remove_bridge)
        cls.addClassCleanup(critestlib.portmap_cleanup())
        cls.ctrd.start()
        cls.addClassCleanup(cls.ctrd.stop)

    def setUp(self):
        self.kubelet = None

    def tearDown(self):
        errors = []
        if self.kubelet is not None:
            errors += self.kubelet.stop()
        # The kubelet leaves its pods running when it stops: remove ours.
        self.ctrd._remove_all_pods()
        kl.remove_pod_logs()
        self.assertEqual(errors, [])

    def start_kubelet(self, args, seccomp_default=False):
        self.kubelet = kl.Kubelet(self.kubelet_bin, args, seccomp_default).start()
        return self.kubelet

    def wait_seccomp(self, pod, container, attempt=0, timeout=120):
        def seen():
            return kl.seccomp_in_log(pod, container, attempt)
        try:
            return kl.wait_until(lambda: seen() is not None,
                                 "%s/%s attempt %d to log its Seccomp" % (pod, container, attempt),
                                 timeout) and seen()
        except AssertionError as err:
            raise AssertionError("%s; kubelet log:\n%s" % (err, self.kubelet.log()[-5000:]))

    # -- the references, without crisp ----------------------------------------------------
    def test_direct_no_profile_is_unconfined(self):
        kubelet = self.start_kubelet(kl.endpoint_args(self.ctrd.socket))
        kubelet.add(simple_pod())
        self.assertEqual(self.wait_seccomp("nothing", "app"), 0)

    def test_direct_seccomp_default_is_the_reference(self):
        kubelet = self.start_kubelet(kl.endpoint_args(self.ctrd.socket), seccomp_default=True)
        kubelet.add(simple_pod())
        self.assertEqual(self.wait_seccomp("nothing", "app"), 2)

    # -- through crisp --------------------------------------------------------------------
    def test_no_default_relays_only(self):
        with Crisp(self.ctrd.socket, args=["--no-default"]) as crisp:
            kubelet = self.start_kubelet(kl.endpoint_args(self.ctrd.socket, crisp.listen))
            kubelet.add(simple_pod())
            self.assertEqual(self.wait_seccomp("nothing", "app"), 0)
            kubelet.stop()
            self.kubelet = None
            self.assertEqual(crisp.count_log("seccomp defaulted"), 0)

    def test_through_crisp(self):
        metrics = os.path.join(self.out, "metrics.sock")
        recording = os.path.join(self.out, "kubelet.jsonl")
        for path in (metrics, recording):
            if os.path.exists(path):
                os.unlink(path)
        with Crisp(self.ctrd.socket, args=["--metrics-listen", metrics,
                                           "--record", recording]) as crisp:
            kubelet = self.start_kubelet(kl.endpoint_args(self.ctrd.socket, crisp.listen))
            probe = {"exec": {"command": ["cat", "/proc/self/status"]},
                     "periodSeconds": 1, "timeoutSeconds": 10}
            kubelet.add(kl.pod("nothing", [
                kl.container("app", kl.seccomp_then_sleep(), IMAGE, readinessProbe=probe),
                kl.container("once", kl.seccomp_then_exit(), IMAGE),
            ], init_containers=[kl.container("init", kl.seccomp_then_exit(), IMAGE)]))
            kubelet.add(simple_pod("unconfined-pod", seccomp="Unconfined"))
            kubelet.add(simple_pod("unconfined-ctr", container_seccomp="Unconfined"))

            # No profile anywhere: defaulted, init container included.
            self.assertEqual(self.wait_seccomp("nothing", "init"), 2)
            self.assertEqual(self.wait_seccomp("nothing", "app"), 2)
            self.assertEqual(self.wait_seccomp("nothing", "once", 0), 2)
            # The kubelet restarts "once" after it exits (back-off 10 s):
            # a second CreateContainer, defaulted too.
            self.assertEqual(self.wait_seccomp("nothing", "once", 1, timeout=180), 2)
            once = [line for line in crisp.log_lines()
                    if "seccomp defaulted" in line and "container=once" in line
                    and "context=container" in line]
            self.assertGreaterEqual(len(once), 2, once)
            # Explicit Unconfined, on the pod and on the container: kept.
            self.assertEqual(self.wait_seccomp("unconfined-pod", "app"), 0)
            self.assertEqual(self.wait_seccomp("unconfined-ctr", "app"), 0)

            # ExecSync readiness probes: the kubelet sees "app" ready.
            def app_ready():
                status = kubelet.pod_status("nothing") or {}
                return any(c["name"] == "app" and c.get("ready")
                           for c in status.get("status", {}).get("containerStatuses", []))
            kl.wait_until(app_ready, "the readiness probe of nothing/app to pass")
            self.wait_calls(metrics, "ExecSync")

            # The kubelet's own endpoints, through crisp.
            status, body = kubelet.get("/containerLogs/%s/nothing-%s/app"
                                       % (kl.NAMESPACE, kl.NODE))
            self.assertEqual(status, 200, body)
            self.assertRegex(body, r"Seccomp:\s+2")
            stdout, _ = kubelet.exec("nothing", "app", ["grep", "Seccomp:", "/proc/self/status"])
            self.assertRegex(stdout, r"Seccomp:\s+2")
            self.wait_calls(metrics, "Exec")

            # The kubelet's stats, from the runtime's stats calls through crisp.
            status, body = kubelet.get("/stats/summary")
            self.assertEqual(status, 200, body[:2000])
            self.assertIn("nothing-" + kl.NODE, body)

            # Steady traffic: relists, status, stats; none of it may fail.
            def steady():
                samples = scrape(metrics)
                return (metric(samples, "crisp_calls_total") >= STEADY_CALLS and
                        metric(samples, "crisp_calls_total",
                               method="ListContainerStats") >= STEADY_STATS_CALLS)
            kl.wait_until(steady, "%d CRI calls from the kubelet, %d of them ListContainerStats"
                          % (STEADY_CALLS, STEADY_STATS_CALLS), timeout=400)

            samples = scrape(metrics)
            self.assertEqual(self.failed_calls(samples), {},
                             "failed calls through crisp over the steady traffic")
            self.assertEqual(metric(samples, "crisp_decode_failures_total"), 0)

            # A pod deleted from the manifest folder is torn down.
            removed_at = datetime.datetime.now(datetime.timezone.utc)
            kubelet.remove("nothing")
            kl.wait_until(lambda: kubelet.pod_status("nothing") is None,
                          "the kubelet to drop pod nothing")
            kl.wait_until(lambda: self.sandboxes("nothing") and
                          all(s.state == 1 for s in self.sandboxes("nothing")),
                          "the sandbox of pod nothing to be stopped")
            self.wait_calls(metrics, "StopPodSandbox")
            self.assertEqual(metric(scrape(metrics), "crisp_decode_failures_total"), 0)
            kubelet_log = kubelet.log()
            self.assertEqual(kubelet.stop(), [])
            self.kubelet = None
        with open(os.path.join(self.out, "kubelet.log"), "w") as f:
            f.write(kubelet_log)
        self.check_teardown_errors(recording, removed_at)
        self.replay_check(recording)

    @staticmethod
    def failed_calls(samples):
        return {labels: v for (name, labels), v in samples.items()
                if name == "crisp_calls_total" and dict(labels).get("code") != "OK" and v}

    def check_teardown_errors(self, recording, removed_at):
        """While a pod is torn down, an exec probe the kubelet started can
        meet a container being stopped; containerd answers that ExecSync
        with an error (UNKNOWN), directly as through crisp. Only those may
        fail: ExecSync calls started after the manifest was removed."""
        with open(recording) as f:
            records = [json.loads(line) for line in f]
        for record in records:
            if record.get("code", 0) == 0:
                continue
            started = datetime.datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
            self.assertTrue(record["method"].endswith("/ExecSync") and started >= removed_at,
                            "a failed call other than a teardown exec probe: %s %s code=%s %r"
                            % (record["time"], record["method"], record.get("code"),
                               record.get("details")))

    @staticmethod
    def wait_calls(metrics, method):
        """crisp counts a call when it releases it, which may be just after
        the client has its answer: wait (bounded) for the count."""
        kl.wait_until(lambda: metric(scrape(metrics), "crisp_calls_total", method=method,
                                     code="OK") > 0,
                      "crisp to count an OK %s call" % method, timeout=30)

    def sandboxes(self, pod_name):
        with cri_client.CriClient(self.ctrd.socket) as cri:
            return [s for s in cri.call("ListPodSandbox").items
                    if s.metadata.name == pod_name + "-" + kl.NODE]

    def replay_check(self, recording):
        """The recording a user would make, with the expectations this test
        knows added, replayed through an in-process crisp. An expectation
        names the contexts crisp must change, with what they must carry
        (tests/fixtures/README.md): those the pod must end up with
        RuntimeDefault in and that the kubelet did not send so (which ones
        depends on the kubelet's version); a request with none is
        {"unchanged": true}."""
        defaulted = {
            # pod name -> contexts that must reach the runtime as RuntimeDefault
            "nothing": {"sandbox", "container", "sandbox_config"},
            "unconfined-pod": set(),
            "unconfined-ctr": {"sandbox", "sandbox_config"},
        }
        fixture = os.path.join(self.out, "kubelet-fixture.jsonl")
        counted = named = 0
        with open(recording) as f, open(fixture, "w") as out:
            for line in f:
                record = json.loads(line)
                method = record["method"].rsplit("/", 1)[-1]
                name = (record.get("pod") or {}).get("name", "")
                for pod, contexts in defaulted.items():
                    if name == pod + "-" + kl.NODE and method in ("RunPodSandbox",
                                                                   "CreateContainer"):
                        sent = sent_seccomp(method, record["requests"][0])
                        expect = {c: RUNTIME_DEFAULT for c in sorted(contexts)
                                  if c in sent and sent[c] != RUNTIME_DEFAULT}
                        record["expect"] = expect or {"unchanged": True}
                        counted += 1
                        named += bool(expect)
                out.write(json.dumps(record) + "\n")
        # three sandboxes, five containers at least (once twice); every
        # CreateContainer of "nothing" changed, whatever the kubelet's version
        self.assertGreaterEqual(counted, 3 + 6)
        self.assertGreaterEqual(named, 4)
        result = subprocess.run([crisp_binary(), "replay", fixture, "--check"],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("%d records with expectations: %d passed, 0 failed" % (counted, counted),
                      result.stdout + result.stderr)


def sent_seccomp(method, request_b64):
    """{context: {profile_type, localhost_ref, path}} of each security
    context a RunPodSandbox or CreateContainer request carries, as sent
    (profile_type None: the seccomp field is absent)."""
    pb = cri_client.pb
    if method == "RunPodSandbox":
        request = pb.RunPodSandboxRequest.FromString(base64.b64decode(request_b64))
        paths = {"sandbox": request.config}
    else:
        request = pb.CreateContainerRequest.FromString(base64.b64decode(request_b64))
        paths = {"container": request.config, "sandbox_config": request.sandbox_config}
    out = {}
    for context, config in paths.items():
        sc = config.linux.security_context
        out[context] = {"profile_type": sc.seccomp.profile_type if sc.HasField("seccomp")
                        else None,
                        "localhost_ref": sc.seccomp.localhost_ref, "path": sc.seccomp_profile_path}
    return out


if __name__ == "__main__":
    unittest.main()
