"""Reload, metrics and readiness against a fake runtime: the config swapped
under load (each call sees one policy), a broken config keeps the old one,
/metrics counts what was done, /readyz follows the runtime."""

import concurrent.futures
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import operatelib  # noqa: E402
from operatelib import http_get, metric, scrape, wait_for_metric, wait_until  # noqa: E402
import grpc  # noqa: E402
from crisp import Crisp  # noqa: E402
from fake_runtime import FakeRuntime  # noqa: E402
from protos import crisp_api  # noqa: E402

CREATE = "/runtime.v1.RuntimeService/CreateContainer"
N_CALLS = 200
N_SWAPS = 50


def config_for(profile):
    return "defaultProfile:\n  type: Localhost\n  path: %s\n" % profile


class Reload(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="crisp-rl-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.runtime_socket = os.path.join(self.dir, "runtime.sock")
        self.fake = FakeRuntime(self.runtime_socket).start()  # echoes requests back
        self.addCleanup(lambda: self.fake.stop())
        self.profiles = [operatelib.write(os.path.join(self.dir, "p%d.json" % i),
                                          operatelib.MKDIR_DENIED_PROFILE) for i in (0, 1)]
        self.config = operatelib.write(os.path.join(self.dir, "crisp.yaml"),
                                       config_for(self.profiles[0]))
        self.metrics = os.path.join(self.dir, "metrics.sock")
        self.crisp = Crisp(self.runtime_socket, listen=os.path.join(self.dir, "crisp.sock"),
                           args=["--config", self.config, "--metrics-listen", self.metrics])
        self.crisp.__enter__()
        self.addCleanup(self.crisp.__exit__, None, None, None)
        self.channel = grpc.insecure_channel("unix:" + self.crisp.listen)
        self.addCleanup(self.channel.close)
        self.api = crisp_api()

    def create_container(self):
        """One CreateContainer with nothing set; returns the profile the
        runtime got for the container and for the sandbox config."""
        req = self.api.CreateContainerRequest()
        req.config.linux.SetInParent()
        req.sandbox_config.linux.SetInParent()
        echoed = self.channel.unary_unary(CREATE)(req.SerializeToString(), timeout=30)
        got = self.api.CreateContainerRequest.FromString(echoed)
        return (got.config.linux.security_context.seccomp.localhost_ref.decode(),
                got.sandbox_config.linux.security_context.seccomp.localhost_ref.decode())

    def reload(self, text, expect="config reloaded"):
        before = self.crisp.count_log(expect)
        operatelib.write(self.config, text)
        self.crisp.signal(signal.SIGHUP)
        self.crisp.wait_for_log_count(expect, before + 1)

    def test_config_swapped_under_load(self):
        calls = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            # Calls are started between every two swaps, so they overlap them.
            for i in range(N_SWAPS):
                calls += [pool.submit(self.create_container)
                          for _ in range(N_CALLS // N_SWAPS)]
                self.reload(config_for(self.profiles[(i + 1) % 2]))
            results = [c.result(timeout=60) for c in calls]
        self.assertEqual(len(results), N_CALLS)
        for container, sandbox in results:
            # One call, one policy: both contexts got the same profile.
            self.assertEqual(container, sandbox)
            self.assertIn(container, self.profiles)
        samples = scrape(self.metrics)
        wait_for_metric(self.metrics, N_CALLS, "crisp_calls_total", method="CreateContainer",
                        code="OK")
        self.assertEqual(metric(samples, "crisp_seccomp_rewrites_total", mode="enforce",
                                to="Localhost"), 2 * N_CALLS)
        self.assertGreaterEqual(metric(samples, "crisp_config_reloads_total", result="success"),
                                N_SWAPS)
        self.assertEqual(metric(samples, "crisp_config_reloads_total", result="failure"), 0)
        self.assertEqual(metric(samples, "crisp_calls_in_flight"), 0)

    def test_broken_config_keeps_the_old_one(self):
        self.reload(config_for(self.profiles[1]))
        hash_before = [ls for (n, ls) in scrape(self.metrics) if n == "crisp_config_info"]
        for broken in ("mode: enforcing\n", "defaultProfile:\n  type: Localhost\n  path: %s\n"
                       % os.path.join(self.dir, "missing.json"), "exemptions: [\n"):
            self.reload(broken, expect="reload failed; the running config stays in force")
            self.assertEqual(self.create_container(), (self.profiles[1], self.profiles[1]))
        samples = scrape(self.metrics)
        self.assertGreaterEqual(metric(samples, "crisp_config_reloads_total", result="failure"), 3)
        self.assertEqual([ls for (n, ls) in samples if n == "crisp_config_info"], hash_before)
        self.assertIn("mode: 'enforcing' is not enforce, audit, complain or off", self.crisp.log())

    def test_file_change_alone_reloads(self):
        before = self.crisp.count_log("the config file changed: reloading")
        operatelib.write(self.config, "mode: \"off\"\n")
        self.crisp.wait_for_log_count("the config file changed: reloading", before + 1)
        wait_until(lambda: self.create_container() == ("", ""), "mode off in force")

    def test_restart_only_setting_is_kept_and_logged(self):
        self.reload(config_for(self.profiles[0]) + "maxMessageSize: 1048576\n")
        self.crisp.wait_for_log(
            "maxMessageSize changed; it takes effect only when crisp restarts")

    def test_readyz_follows_the_runtime(self):
        self.assertEqual(http_get(self.metrics, "/healthz")[0], 200)
        wait_until(lambda: http_get(self.metrics, "/readyz")[0] == 200, "/readyz ready")
        self.fake.stop()
        wait_until(lambda: http_get(self.metrics, "/readyz")[0] == 503, "/readyz unready")
        self.assertEqual(http_get(self.metrics, "/healthz")[0], 200)  # crisp itself is alive
        self.assertEqual(metric(scrape(self.metrics), "crisp_runtime_ready"), 0)
        self.fake = FakeRuntime(self.runtime_socket).start()
        wait_until(lambda: http_get(self.metrics, "/readyz")[0] == 200, "/readyz ready again")
        self.assertEqual(http_get(self.metrics, "/nope")[0], 404)


if __name__ == "__main__":
    unittest.main()
