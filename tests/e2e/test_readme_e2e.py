"""End to end (issue 22): the README's own commands on a bare machine.

A new user on a fresh node has no crisp unit, no /run/crisp and no
/var/lib/crisp. readme_e2e_inner.py runs, in a private mount namespace with
fresh /run and /var/lib (the machine's are never touched; checked here
before and after), in front of a real containerd at the README's path:

- the quick start's demo: Seccomp 0 directly, 2 through crisp;
- the "Running crisp" command, exactly as the README prints it;
- that command with --mode complain (before issue 22 every container fell
  back to enforce's profile: /var/lib/crisp did not exist);
- `crisp --config deploy/crisp.yaml` (before: "cannot listen on
  /run/crisp/crisp.sock: No such file or directory"), and the same with each
  --mode, and with `mode: complain` in the file.

Each mode gives what the README promises, read inside the container
(`Seccomp:` of /proc/self/status) and in the OCI spec containerd built:
enforce 2 (RuntimeDefault, ERRNO by default), audit 0 (forwarded as it
came), complain 2 under a logging twin (LOG by default, nothing blocked)
written to /var/lib/crisp/complain, off 0. crisp creates /run/crisp 0750
and, in complain mode only, /var/lib/crisp and its complain folder 0755,
logs each, and exits 0.

Needs root, unshare, containerd, runc and busybox-static; fails without them.
"""

import json
import os
import subprocess
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "lib")):
    if os.path.abspath(_path) not in map(os.path.abspath, sys.path):
        sys.path.insert(0, os.path.abspath(_path))

import containerd  # noqa: E402

INNER = os.path.join(_HERE, "readme_e2e_inner.py")
TIMEOUT_S = 800
STATE = ("/run/crisp", "/var/lib/crisp")

# What each mode promises (README, "Running crisp" and "Configuration"):
# Seccomp: inside the container, the OCI spec's defaultAction, and what the
# log must and must not say.
PROMISE = {
    "enforce": (2, "SCMP_ACT_ERRNO",
                ('seccomp defaulted', 'after="RuntimeDefault'),
                ("would be defaulted", "complain: watching")),
    "audit": (0, None,
              ("audit: seccomp would be defaulted",),
              ("seccomp defaulted", "complain: watching")),
    "complain": (2, "SCMP_ACT_LOG",
                 ('after="Localhost:/var/lib/crisp/complain/twin-', "complain: watching pod="),
                 ('after="RuntimeDefault', "would be defaulted", "no twin for")),
    "off": (0, None,
            (),
            ("seccomp defaulted", "would be defaulted", "complain: watching")),
}
MODE_OF_RUN = {
    "running": "enforce",
    "running --mode complain": "complain",
    "config example": "enforce",
    "config example --mode enforce": "enforce",
    "config example --mode audit": "audit",
    "config example --mode complain": "complain",
    "config example --mode off": "off",
    "config mode: complain": "complain",
}


def host_state():
    return {path: os.path.lexists(path) for path in STATE}


class ReadmeOnABareMachine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        containerd.check_prerequisites()
        before = host_state()
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "--",
                               sys.executable, INNER], capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        cls.host_before, cls.host_after = before, host_state()
        if proc.returncode != 0:
            raise AssertionError("inner run failed (%d):\n%s\n%s"
                                 % (proc.returncode, proc.stdout, proc.stderr))
        cls.result = json.loads(proc.stdout.strip().splitlines()[-1])
        cls.runs = {run["name"]: run for run in cls.result["runs"]}

    def test_the_machine_is_untouched_and_the_namespace_was_bare(self):
        self.assertEqual(self.host_after, self.host_before)
        self.assertEqual(self.result["bare"], {path: False for path in STATE})

    def test_quick_start_demo(self):
        demo = self.result["demo"]
        self.assertEqual(demo["exit"], 0, demo["out"])
        self.assertIn("direct to containerd:  Seccomp: 0", demo["out"])
        self.assertIn("through crisp:         Seccomp: 2", demo["out"])

    def test_the_running_command_is_the_readmes(self):
        self.assertEqual(self.result["running_argv"],
                         ["crisp", "--listen", "/run/crisp/crisp.sock", "--runtime-endpoint",
                          "unix:///run/containerd/containerd.sock"])
        self.assertEqual(set(self.runs), set(MODE_OF_RUN))

    def test_each_run_gives_what_its_mode_promises(self):
        for name, mode in MODE_OF_RUN.items():
            run = self.runs[name]
            seccomp, action, said, unsaid = PROMISE[mode]
            with self.subTest(run=name, mode=mode):
                log = run["log"]
                self.assertNotIn("error", run, log)
                self.assertEqual(run["exit"], 0, log)
                self.assertEqual((run["seccomp"], run["default_action"]), (seccomp, action), log)
                self.assertIn(" mode=%s " % mode, log)
                for text in said:
                    self.assertIn(text, log)
                for text in unsaid + (" error ",):
                    self.assertNotIn(text, log)

    def test_crisp_creates_its_folders_and_says_so(self):
        for name, mode in MODE_OF_RUN.items():
            run = self.runs[name]
            with self.subTest(run=name):
                self.assertEqual(run["modes"]["/run/crisp"], "0o750")
                self.assertIn("created folder path=/run/crisp mode=0750 for=listen", run["log"])
                if mode != "complain":
                    # Only complain mode writes there.
                    self.assertNotIn("/var/lib/crisp", run["modes"])
                    continue
                for folder in ("/var/lib/crisp", "/var/lib/crisp/complain"):
                    self.assertEqual(run["modes"][folder], "0o755")
                    self.assertIn("created folder path=%s mode=0755 for=complainDir" % folder,
                                  run["log"])
                ref = run["localhost_ref"]
                self.assertEqual(os.path.dirname(ref), "/var/lib/crisp/complain", run["log"])
                self.assertRegex(os.path.basename(ref), r"^twin-[0-9a-f]{16}\.json$")
                self.assertEqual(run["modes"][ref], "0o644")


if __name__ == "__main__":
    unittest.main()
