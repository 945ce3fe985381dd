"""Operating crisp through a real containerd: audit mode, exemptions and a
custom default profile, checked by what the containers really run with, by
crisp's log and by /metrics.

Needs root, containerd, runc and busybox-static (hack/install-deps.sh); the
private containerd harness (tests/e2e/containerd.py) fails loudly without them.
"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import operatelib  # noqa: E402
from operatelib import metric, run_in_new_container, scrape, wait_for_metric  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402
from crisp import Crisp  # noqa: E402

UNCONFINED, FILTER = 0, 2
# The image links only sh, sleep, grep and cat; busybox runs the rest.
MKDIR = ["/bin/busybox", "mkdir", "/crisp-operate-probe"]


class PolicyEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.containerd = PrivateContainerd().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="crisp-op-")
        cls.profile = operatelib.write(os.path.join(cls.tmp.name, "mkdir-denied.json"),
                                       operatelib.MKDIR_DENIED_PROFILE)

    @classmethod
    def tearDownClass(cls):
        cls.containerd.stop()
        cls.tmp.cleanup()

    def crisp(self, config):
        d = tempfile.mkdtemp(prefix="c-", dir=self.tmp.name)
        path = operatelib.write(os.path.join(d, "crisp.yaml"), config)
        self.metrics = os.path.join(d, "metrics.sock")
        return Crisp(self.containerd.socket, listen=os.path.join(d, "crisp.sock"),
                     args=["--config", path, "--metrics-listen", self.metrics])

    def run_container(self, crisp, command=("/bin/busybox", "true"), **kw):
        return run_in_new_container(crisp.listen, list(command),
                                    log_directory=self.containerd.log_dir, **kw)

    def test_audit_leaves_the_container_unconfined_and_reports_the_decision(self):
        with self.crisp("mode: audit\nlog:\n  format: json\n") as crisp:
            mode, _, _ = self.run_container(crisp)
            self.assertEqual(mode, UNCONFINED, crisp.log())
            samples = scrape(self.metrics)
            # RunPodSandbox's sandbox context, CreateContainer's container
            # and sandbox_config contexts: what enforce would have defaulted.
            self.assertEqual(metric(samples, "crisp_seccomp_rewrites_total", mode="audit"), 3)
            self.assertEqual(metric(samples, "crisp_seccomp_rewrites_total", mode="enforce"), 0)
            self.assertEqual(metric(samples, "crisp_audit_decisions_total"), 3)
            wait_for_metric(self.metrics, 1, "crisp_calls_total", method="RunPodSandbox",
                            code="OK")
            wait_for_metric(self.metrics, 1, "crisp_calls_total", method="CreateContainer",
                            code="OK")
        decisions = [json.loads(line) for line in crisp.log_lines()
                     if line.startswith("{") and "would be defaulted" in line]
        self.assertEqual(len(decisions), 3, crisp.log())
        container = [d for d in decisions if d.get("context") == "container"][0]
        self.assertEqual(container["msg"], "audit: seccomp would be defaulted")
        self.assertEqual(container["mode"], "audit")
        self.assertEqual(container["container"], "probe")
        self.assertTrue(container["pod"].startswith("crisp-e2e/crisp-e2e-"), container)
        self.assertTrue(container["uid"])
        self.assertIn("absent", container["before"])
        self.assertIn("RuntimeDefault", container["after"])
        self.assertNotIn("seccomp defaulted", crisp.log())

    def test_exempt_namespace_and_label_stay_unconfined_neighbour_is_defaulted(self):
        config = ("exemptions:\n  namespaces: [crisp-exempt]\n"
                  "  podLabels:\n    crisp.io/exempt: \"true\"\n")
        with self.crisp(config) as crisp:
            self.assertEqual(self.run_container(crisp, namespace="crisp-exempt")[0], UNCONFINED)
            self.assertEqual(self.run_container(
                crisp, labels={"app": "x", "crisp.io/exempt": "true"})[0], UNCONFINED)
            # The neighbour: same node, neither namespace nor label.
            self.assertEqual(self.run_container(
                crisp, labels={"crisp.io/exempt": "false"})[0], FILTER)
            crisp.wait_for_log("exemption=namespace:crisp-exempt")
            crisp.wait_for_log("exemption=podLabel:crisp.io/exempt=true")
            samples = scrape(self.metrics)
            self.assertEqual(metric(samples, "crisp_exemptions_total", kind="namespace"), 2)
            self.assertEqual(metric(samples, "crisp_exemptions_total", kind="podLabel"), 2)
            self.assertEqual(metric(samples, "crisp_seccomp_rewrites_total", mode="enforce"), 3)

    def test_custom_default_profile_applies_to_defaulted_containers_only(self):
        config = ("defaultProfile:\n  type: Localhost\n  path: %s\n"
                  "exemptions:\n  namespaces: [crisp-exempt]\n" % self.profile)
        with self.crisp(config) as crisp:
            mode, code, out = self.run_container(crisp, MKDIR)
            self.assertEqual(mode, FILTER, crisp.log())
            self.assertNotEqual(code, 0, "mkdir worked under the mkdir-denied profile: " + out)
            self.assertIn("Permission denied", out)
            mode, code, out = self.run_container(crisp, MKDIR, namespace="crisp-exempt")
            self.assertEqual(mode, UNCONFINED)
            self.assertEqual(code, 0, "mkdir failed in an exempt container: " + out)
            crisp.wait_for_log("after=\"Localhost:%s" % self.profile)
            samples = scrape(self.metrics)
            self.assertEqual(metric(samples, "crisp_seccomp_rewrites_total", to="Localhost"), 3)


if __name__ == "__main__":
    unittest.main()
