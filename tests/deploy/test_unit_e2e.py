"""End to end with the unit's command line: crisp started exactly as
crisp.service's ExecStart says (binary path aside), on the unit's socket
paths, in front of a real containerd at the path the unit names, creates a
pod with no seccomp profile that runs with a filter (Seccomp: 2).

The paths are the real ones (/run/crisp/crisp.sock,
/run/containerd/containerd.sock) inside a private mount namespace with its
own /run (unit_e2e_inner.py), so no system containerd or /run is touched.
Needs root, unshare, containerd, runc and busybox-static; fails without them.
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402
import containerd  # noqa: E402

INNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit_e2e_inner.py")
TIMEOUT_S = 600


class UnitEndToEnd(unittest.TestCase):
    def test_unit_command_line_defaults_seccomp(self):
        containerd.check_prerequisites()
        unshare = deploylib.require_tool("unshare")
        proc = subprocess.run([unshare, "--mount", "--propagation", "private", "--",
                               sys.executable, INNER], capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, "inner run failed:\n%s\n%s"
                         % (proc.stdout, proc.stderr))
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        unit = deploylib.Unit(deploylib.UNIT)
        # Exactly the unit's command line, with only the binary replaced.
        self.assertEqual(result["unit_argv"], unit.exec_start(unit.environment("/")))
        self.assertEqual(result["argv"][1:], result["unit_argv"][1:])
        self.assertEqual(result["argv"][0], deploylib.crisp_binary())
        self.assertEqual(result["seccomp"], 2, result["log"])
        self.assertIn("seccomp defaulted", result["log"])
        self.assertIn("listen=/run/crisp/crisp.sock", result["log"])
        self.assertIn("runtime-endpoint=/run/containerd/containerd.sock", result["log"])
        self.assertEqual(result["socket_mode"], "0o660")
        self.assertEqual(result["exit"], 0, result["log"])
        self.assertFalse(result["socket_left"])


if __name__ == "__main__":
    unittest.main()
