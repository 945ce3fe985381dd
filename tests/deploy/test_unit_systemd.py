"""crisp.service run by a real systemd, sandboxing and all, in front of a
real containerd (unit_systemd_inner.py explains the setup and the few
test-only settings): `systemctl start` returns once crisp is ready
(Type=notify) and its socket accepts at once; the sandbox is in force on the
running process; a pod with no seccomp profile runs filtered; a killed crisp
is restarted and serves again; a stop is clean (exit 0, /run/crisp removed).

Needs root, systemd (the package, not as PID 1), unshare, containerd, runc
and busybox-static, and proxy/main.c calling crisp_notify_ready(). On a host
booted with systemd the run is wrapped in `systemd-run --scope -p
Delegate=yes` so the private manager gets a delegated cgroup (not exercised
on the machines this was written on, which have no systemd as PID 1).
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402
import containerd  # noqa: E402

INNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit_systemd_inner.py")
TIMEOUT_S = 600


class UnitUnderSystemd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        containerd.check_prerequisites()
        deploylib.require_tool("systemctl")
        if not any(os.access(p, os.X_OK) for p in ("/lib/systemd/systemd",
                                                   "/usr/lib/systemd/systemd")):
            raise RuntimeError("no systemd binary: apt-get install systemd")
        cmd = [deploylib.require_tool("unshare"), "--mount", "--propagation", "private", "--",
               sys.executable, INNER]
        if os.path.isdir("/run/systemd/system"):
            cmd = [deploylib.require_tool("systemd-run"), "--scope", "--quiet", "--collect",
                   "--property=Delegate=yes", "--"] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        lines = proc.stdout.strip().splitlines()
        try:
            cls.result = json.loads(lines[-1])
        except (IndexError, ValueError):
            cls.result = None
        cls.failure = None if proc.returncode == 0 else (
            "the run under systemd failed (exit %d):\n%s\n%s"
            % (proc.returncode, proc.stdout[-8000:], proc.stderr[-8000:]))

    def setUp(self):
        if self.failure:
            self.fail(self.failure)

    def test_runs_the_units_command_line(self):
        unit = deploylib.Unit(deploylib.UNIT)
        lines = unit.get("Service", "ExecStart")
        self.assertEqual(self.result["exec_line"], "ExecStart=" + lines[0])
        log = self.result["crisp_log"]
        self.assertIn("serving listen=/run/crisp/crisp.sock "
                      "runtime-endpoint=/run/containerd/containerd.sock", log)

    def test_start_returns_once_ready(self):
        self.assertEqual(self.result["start"], [0, ""])
        started = self.result["started"]
        self.assertEqual((started["ActiveState"], started["SubState"]), ("active", "running"))

    def test_sandbox_is_in_force(self):
        status = self.result["status"]
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(status["Seccomp"], "2")  # SystemCallFilter=
        self.assertEqual(int(status["CapBnd"], 16), 0)  # CapabilityBoundingSet=
        self.assertEqual(int(status["CapEff"], 16), 0)
        self.assertTrue(self.result["own_netns"])  # PrivateNetwork=
        self.assertEqual(self.result["runtime_dir_mode"], "0o750")
        self.assertEqual(self.result["socket_mode"], "0o660")

    def test_pod_without_profile_is_filtered(self):
        self.assertEqual(self.result["seccomp_first"], 2, self.result["crisp_log"])
        self.assertIn("seccomp defaulted", self.result["crisp_log"])

    def test_restarted_after_a_crash(self):
        restarted = self.result["restarted"]
        self.assertEqual(restarted["NRestarts"], "1")
        self.assertEqual(self.result["seccomp_after_restart"], 2)

    def test_stops_cleanly(self):
        stopped = self.result["stopped"]
        self.assertEqual((stopped["ActiveState"], stopped["Result"], stopped["ExecMainStatus"]),
                         ("inactive", "success", "0"), self.result["crisp_log"])
        self.assertFalse(self.result["runtime_dir_left"])
        self.assertTrue(self.result["crisp_log"].rstrip().endswith("stopped"))
        self.assertEqual(self.result["cgroups_left"], [])

    def test_podspec_dropin_reaches_the_api_server(self):
        # With deploy/systemd/30-podspec.conf the sandboxed crisp talks HTTPS
        # to the API server and an explicit Unconfined pod runs unconfined.
        self.assertEqual(self.result["podspec_seccomp"], 0, self.result["crisp_log"])
        self.assertIn("source=spec", self.result["crisp_log"])
        self.assertEqual(self.result["podspec_stopped"],
                         {"Result": "success", "ExecMainStatus": "0"})


if __name__ == "__main__":
    unittest.main()
