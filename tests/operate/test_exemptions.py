"""Exemptions through crisp against a fake runtime: the runtime handler is
known from RunPodSandbox and remembered for the sandbox's CreateContainer;
an unknown sandbox (e.g. created before a crisp restart) is not exempt by
handler. Also audit mode's byte-identical forwarding."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import operatelib  # noqa: E402
from operatelib import _field, metric, scrape, wait_for_metric  # noqa: E402
import grpc  # noqa: E402
from crisp import Crisp  # noqa: E402
from fake_runtime import FakeRuntime, Script  # noqa: E402
from protos import crisp_api  # noqa: E402

RUN = "/runtime.v1.RuntimeService/RunPodSandbox"
CREATE = "/runtime.v1.RuntimeService/CreateContainer"


class Exemptions(unittest.TestCase):
    def start(self, config):
        tmp = tempfile.TemporaryDirectory(prefix="crisp-ex-")
        self.addCleanup(tmp.cleanup)
        runtime = os.path.join(tmp.name, "runtime.sock")
        self.fake = FakeRuntime(runtime).start()
        self.addCleanup(self.fake.stop)
        path = operatelib.write(os.path.join(tmp.name, "crisp.yaml"), config)
        self.metrics = os.path.join(tmp.name, "metrics.sock")
        self.crisp = Crisp(runtime, listen=os.path.join(tmp.name, "crisp.sock"),
                           args=["--config", path, "--metrics-listen", self.metrics])
        self.crisp.__enter__()
        self.addCleanup(self.crisp.__exit__, None, None, None)
        self.channel = grpc.insecure_channel("unix:" + self.crisp.listen)
        self.addCleanup(self.channel.close)
        self.api = crisp_api()

    def run_pod(self, handler, sandbox_id):
        self.fake.script(RUN, Script(responses=[_field(1, sandbox_id.encode())]))
        req = self.api.RunPodSandboxRequest()
        req.config.linux.SetInParent()
        raw = req.SerializeToString() + _field(2, handler.encode())  # runtime_handler = 2
        self.channel.unary_unary(RUN)(raw, timeout=30)
        return self.fake.calls(RUN)[-1].requests[0]

    def create(self, sandbox_id):
        req = self.api.CreateContainerRequest()
        req.config.linux.SetInParent()
        raw = _field(1, sandbox_id.encode()) + req.SerializeToString()  # pod_sandbox_id = 1
        return raw, self.channel.unary_unary(CREATE)(raw, timeout=30)  # the runtime echoes

    def test_runtime_handler_is_remembered_for_the_sandbox(self):
        self.start("exemptions:\n  runtimeHandlers: [kata]\n")
        self.run_pod("runc", "sb-runc")
        self.run_pod("kata", "sb-kata")
        sent, got = self.create("sb-kata")
        self.assertEqual(got, sent)  # exempt: forwarded as it came
        sent, got = self.create("sb-runc")
        self.assertNotEqual(got, sent)  # defaulted
        sent, got = self.create("sb-unknown")
        self.assertNotEqual(got, sent)  # handler unknown: not exempt by handler
        self.assertEqual(self.crisp.count_log("exemption=runtimeHandler:kata"), 2)
        samples = scrape(self.metrics)
        self.assertEqual(metric(samples, "crisp_exemptions_total", kind="runtimeHandler"), 2)

    def test_audit_forwards_byte_identical(self):
        self.start("mode: audit\n")
        sent, got = self.create("sb")
        self.assertEqual(got, sent)
        # An undecodable request: enforce would refuse it; audit forwards it.
        junk = b"\x12\x05\x01"
        self.assertEqual(self.channel.unary_unary(CREATE)(junk, timeout=30), junk)
        self.crisp.wait_for_log("audit: enforce would reject")
        samples = scrape(self.metrics)
        # the container context only: this request has no sandbox_config
        self.assertEqual(metric(samples, "crisp_seccomp_rewrites_total", mode="audit"), 1)
        self.assertEqual(metric(samples, "crisp_decode_failures_total", method="CreateContainer"),
                         1)
        wait_for_metric(self.metrics, 2, "crisp_calls_total", method="CreateContainer", code="OK")

    def test_enforce_counts_decode_failures(self):
        self.start("mode: enforce\n")
        with self.assertRaises(grpc.RpcError) as caught:
            self.channel.unary_unary(CREATE)(b"\x12\x05\x01", timeout=30)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        samples = scrape(self.metrics)
        self.assertEqual(metric(samples, "crisp_decode_failures_total", method="CreateContainer"),
                         1)
        wait_for_metric(self.metrics, 1, "crisp_calls_total", method="CreateContainer",
                        code="INVALID_ARGUMENT")


if __name__ == "__main__":
    unittest.main()
