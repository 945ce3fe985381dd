"""issue 22: every path crisp writes or reads, on a machine where its folder
is missing and where it is not writable.

crisp creates the folders of what it writes (the socket, a unix metrics
socket, the recording, complainDir in complain mode) with their parents and
documented modes, or refuses to start with one error line and exit 1; a
reload into complain mode does the same or keeps the old config. What it
only reads (a Localhost defaultProfile, the runtime's socket) it never
creates. The pod-spec source's kubeconfig and static pod folder are in
tests/podspec/test_degraded.py.

"Not writable" is real for root: the folder is a read-only bind mount of
itself, in a private mount namespace of crisp's own (crisp.read_only), so
the machine's mounts never change. Needs root (unshare, mount).
"""

import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import operatelib  # noqa: E402
from operatelib import http_get, metric, scrape  # noqa: E402
import grpc  # noqa: E402
from crisp import Crisp, crisp_binary, read_only  # noqa: E402
from fake_runtime import FakeRuntime  # noqa: E402
from protos import crisp_api  # noqa: E402

CREATE = "/runtime.v1.RuntimeService/CreateContainer"
ROFS = "Read-only file system"
EXIT_TIMEOUT_S = 60


def tree(top):
    """Every path under `top`, relative, with its mode: what a refused start
    must leave as it found it."""
    out = {}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, top)] = os.lstat(path).st_mode
    return out


def mode(path):
    return oct(os.stat(path).st_mode & 0o7777)


class StartupPaths(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.fail("needs root: read-only bind mounts in a private mount namespace")
        tmp = tempfile.TemporaryDirectory(prefix="crisp-paths-", dir="/tmp")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        # As /var/lib is: others may search it (complainDir's rule).
        os.chmod(self.dir, 0o755)
        self.ro = self.path("ro")
        os.mkdir(self.ro)
        # Nothing answers there: crisp serves anyway (calls get UNAVAILABLE).
        self.runtime = self.path("runtime", "containerd.sock")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    # -- helpers ---------------------------------------------------------------------
    def start(self, args=(), listen=None, wrapper=()):
        """crisp, serving; stopped (exit 0 checked) at cleanup."""
        crisp = Crisp(self.runtime, listen=listen or self.path("crisp.sock"), args=list(args),
                      wrapper=wrapper)
        crisp.__enter__()
        self.addCleanup(crisp.__exit__, None, None, None)
        return crisp

    def refused(self, args=(), listen=None, wrapper=()):
        """Starts crisp where it must refuse: exit 1, one error line, the
        last, and the folder as it was. Returns that line's message."""
        before = tree(self.dir)
        cmd = list(wrapper) + [crisp_binary(), "--listen", listen or self.path("crisp.sock"),
                               "--runtime-endpoint", self.runtime] + list(args)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=EXIT_TIMEOUT_S)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.splitlines()
        errors = [line for line in lines if " error " in line]
        self.assertEqual(len(errors), 1, proc.stderr)
        self.assertEqual(errors[0], lines[-1], proc.stderr)
        self.assertEqual(tree(self.dir), before, "a refused start changed the folder")
        return errors[0].split(" error ", 1)[1].strip()

    # -- listen --------------------------------------------------------------------
    def test_listen_folder_missing_is_created(self):
        listen = self.path("run", "crisp", "crisp.sock")
        crisp = self.start(listen=listen)
        self.assertEqual(mode(self.path("run")), "0o755")
        self.assertEqual(mode(self.path("run", "crisp")), "0o750")
        self.assertEqual(mode(listen), "0o660")
        crisp.wait_for_log("created folder path=%s mode=0750 for=listen"
                           % self.path("run", "crisp"))

    def test_listen_folder_not_writable_refuses(self):
        listen = os.path.join(self.ro, "crisp.sock")
        self.assertEqual(self.refused(listen=listen, wrapper=read_only(self.ro)),
                         "cannot start: listen %s: cannot write in the folder %s: %s (under "
                         "crisp.service only /run/crisp is writable)" % (listen, self.ro, ROFS))

    def test_listen_folder_missing_under_a_read_only_one_refuses(self):
        listen = os.path.join(self.ro, "crisp", "crisp.sock")
        self.assertIn("cannot start: listen %s: cannot create the folder %s: %s"
                      % (listen, os.path.join(self.ro, "crisp"), ROFS),
                      self.refused(listen=listen, wrapper=read_only(self.ro)))

    def test_listen_folder_that_is_a_file_refuses(self):
        with open(self.path("file"), "w"):
            pass
        listen = self.path("file", "crisp.sock")
        self.assertEqual(self.refused(listen=listen),
                         "cannot start: listen %s: %s exists and is not a folder"
                         % (listen, self.path("file")))

    # -- metrics.listen (a unix path) ----------------------------------------------
    def test_metrics_folder_missing_is_created(self):
        metrics = self.path("m", "metrics.sock")
        crisp = self.start(["--metrics-listen", metrics])
        self.assertEqual(mode(self.path("m")), "0o750")
        self.assertEqual(http_get(metrics, "/healthz")[0], 200)
        crisp.wait_for_log("created folder path=%s mode=0750 for=metrics.listen"
                           % self.path("m"))

    def test_metrics_folder_not_writable_refuses(self):
        metrics = "unix://" + os.path.join(self.ro, "metrics.sock")
        self.assertEqual(self.refused(["--metrics-listen", metrics], wrapper=read_only(self.ro)),
                         "cannot start: metrics.listen %s: cannot write in the folder %s: %s "
                         "(under crisp.service only /run/crisp is writable)"
                         % (metrics, self.ro, ROFS))

    # -- record ----------------------------------------------------------------------
    def test_record_folder_missing_is_created(self):
        record = self.path("log", "crisp", "cri.jsonl")
        crisp = self.start(["--record", record])
        self.assertEqual(mode(self.path("log")), "0o755")
        self.assertEqual(mode(self.path("log", "crisp")), "0o750")
        self.assertEqual(mode(record), "0o600")
        crisp.wait_for_log("created folder path=%s mode=0750 for=record.path"
                           % self.path("log", "crisp"))

    def test_record_folder_not_writable_refuses(self):
        record = os.path.join(self.ro, "cri.jsonl")
        self.assertEqual(self.refused(["--record", record], wrapper=read_only(self.ro)),
                         "cannot start: record.path %s: cannot write in the folder %s: %s (under "
                         "crisp.service only /var/log/crisp is writable; for another folder add "
                         "ReadWritePaths= in a drop-in)" % (record, self.ro, ROFS))

    # -- complainDir -----------------------------------------------------------------
    def test_complain_dir_missing_is_created(self):
        twins = self.path("lib", "crisp", "complain")
        crisp = self.start(["--mode", "complain", "--complain-dir", twins])
        for folder in ("lib", "lib/crisp", "lib/crisp/complain"):
            self.assertEqual(mode(self.path(folder)), "0o755", folder)
            crisp.wait_for_log("created folder path=%s mode=0755 for=complainDir"
                               % self.path(folder))

    def test_complain_dir_not_writable_refuses(self):
        self.assertEqual(
            self.refused(["--mode", "complain", "--complain-dir", self.ro],
                         wrapper=read_only(self.ro)),
            "cannot start: complainDir %s: cannot write in the folder %s: %s (under "
            "crisp.service, complain mode needs the drop-in 40-complain.conf, which makes "
            "/var/lib/crisp writable)" % (self.ro, self.ro, ROFS))

    def test_complain_dir_the_runtime_could_not_read_refuses(self):
        closed = self.path("closed")
        os.mkdir(closed, 0o700)
        os.chmod(closed, 0o700)
        twins = os.path.join(closed, "complain")
        self.assertEqual(
            self.refused(["--mode", "complain", "--complain-dir", twins]),
            "cannot start: complainDir %s: the runtime could not read the twins in it: %s is "
            "mode 0700: others may not search it (chmod o+x that folder, or choose another "
            "complainDir)" % (twins, closed))

    def test_complain_dir_is_left_alone_outside_complain_mode(self):
        # Under crisp.service /var/lib is read-only without 40-complain.conf:
        # enforce and audit must not need it.
        for mode_ in ("enforce", "audit", "off"):
            with self.subTest(mode=mode_):
                crisp = self.start(["--mode", mode_, "--complain-dir",
                                    os.path.join(self.ro, "missing")],
                                   listen=self.path("crisp-%s.sock" % mode_),
                                   wrapper=read_only(self.ro))
                self.assertEqual(os.listdir(self.ro), [])
                self.assertEqual(crisp.count_log("created folder"), 0)

    # -- what crisp only reads -------------------------------------------------------
    def profile_config(self, profile):
        return operatelib.write(self.path("crisp.yaml"), "defaultProfile:\n  type: Localhost\n"
                                "  path: %s\n" % profile)

    def test_default_profile_in_a_missing_folder_refuses(self):
        profile = self.path("profiles", "default.json")
        self.assertEqual(self.refused(["--config", self.profile_config(profile)]),
                         "cannot start: seccomp profile %s: cannot read it: No such file or "
                         "directory" % profile)
        self.assertFalse(os.path.exists(self.path("profiles")))  # never created

    def test_default_profile_in_a_read_only_folder_is_fine(self):
        # crisp and the runtime only read it.
        profile = operatelib.write(os.path.join(self.ro, "default.json"),
                                   operatelib.MKDIR_DENIED_PROFILE)
        crisp = self.start(["--config", self.profile_config(profile)], wrapper=read_only(self.ro))
        crisp.wait_for_log("default-profile=%s" % profile)

    def test_runtime_socket_in_a_missing_folder_is_waited_for(self):
        # The runtime's socket is the runtime's: crisp serves (calls get
        # UNAVAILABLE until it is there) and never creates its folder.
        crisp = self.start()
        crisp.wait_for_log("serving listen=")
        self.assertFalse(os.path.exists(self.path("runtime")))


class ReloadIntoComplain(unittest.TestCase):
    """A reload into complain mode prepares complainDir as a start would, or
    is refused and the running config stays in force."""

    def setUp(self):
        if os.geteuid() != 0:
            self.fail("needs root: read-only bind mounts in a private mount namespace")
        tmp = tempfile.TemporaryDirectory(prefix="crisp-paths-rl-", dir="/tmp")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        os.chmod(self.dir, 0o755)
        self.ro = os.path.join(self.dir, "ro")
        os.mkdir(self.ro)
        self.runtime_socket = os.path.join(self.dir, "runtime.sock")
        self.fake = FakeRuntime(self.runtime_socket).start()  # echoes requests back
        self.addCleanup(lambda: self.fake.stop())
        self.config = os.path.join(self.dir, "crisp.yaml")
        self.metrics = os.path.join(self.dir, "metrics.sock")
        self.api = crisp_api()

    def start(self, complain_dir):
        operatelib.write(self.config, "mode: enforce\ncomplainDir: %s\n" % complain_dir)
        self.crisp = Crisp(self.runtime_socket, listen=os.path.join(self.dir, "crisp.sock"),
                           args=["--config", self.config, "--metrics-listen", self.metrics],
                           wrapper=read_only(self.ro))
        self.crisp.__enter__()
        self.addCleanup(self.crisp.__exit__, None, None, None)
        self.channel = grpc.insecure_channel("unix:" + self.crisp.listen)
        self.addCleanup(self.channel.close)

    def reload(self, text, expect):
        before = self.crisp.count_log(expect)
        operatelib.write(self.config, text)
        self.crisp.signal(signal.SIGHUP)
        return self.crisp.wait_for_log_count(expect, before + 1)

    def container_profile(self):
        """The container context's localhost_ref and profile_type the runtime
        got for a CreateContainer with nothing set."""
        req = self.api.CreateContainerRequest()
        req.config.metadata.name = b"app"
        req.config.linux.SetInParent()
        req.sandbox_config.linux.SetInParent()
        echoed = self.channel.unary_unary(CREATE)(req.SerializeToString(), timeout=30)
        got = self.api.CreateContainerRequest.FromString(echoed)
        seccomp = got.config.linux.security_context.seccomp
        return seccomp.localhost_ref.decode(), seccomp.profile_type

    def test_reload_creates_complain_dir(self):
        twins = os.path.join(self.dir, "lib", "crisp", "complain")
        self.start(twins)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "lib")))  # enforce: untouched
        self.reload("mode: complain\ncomplainDir: %s\n" % twins, "config reloaded")
        self.crisp.wait_for_log("created folder path=%s mode=0755 for=complainDir" % twins)
        self.assertEqual(mode(twins), "0o755")
        ref, _ = self.container_profile()
        self.assertEqual(os.path.dirname(ref), twins)  # the twin, in that folder
        self.assertTrue(os.path.isfile(ref))

    def test_reload_refused_when_complain_dir_cannot_be_made(self):
        twins = os.path.join(self.ro, "complain")
        self.start(twins)
        runtime_default = self.container_profile()
        self.assertEqual(runtime_default, ("", 0))  # RuntimeDefault: type 0, no file
        self.reload("mode: complain\ncomplainDir: %s\n" % twins,
                    "reload failed; the running config stays in force")
        line = [ln for ln in self.crisp.log_lines() if "reload failed" in ln][-1]
        self.assertTrue(line.endswith(
            "reload failed; the running config stays in force: complainDir %s: cannot create "
            "the folder %s: %s (under crisp.service, complain mode needs the drop-in "
            "40-complain.conf, which makes /var/lib/crisp writable)" % (twins, twins, ROFS)),
            line)
        self.assertEqual(metric(scrape(self.metrics), "crisp_config_reloads_total",
                                result="failure"), 1)
        # Still enforce: never a per-container fallback.
        self.assertEqual(self.container_profile(), runtime_default)
        self.assertEqual(self.crisp.count_log("no twin for"), 0)

    def test_a_changed_complain_dir_waits_for_a_restart(self):
        twins = os.path.join(self.dir, "twins")
        self.start(twins)
        self.reload("mode: complain\ncomplainDir: %s\n" % os.path.join(self.dir, "other"),
                    "config reloaded")
        self.crisp.wait_for_log("complainDir changed; it takes effect only when crisp restarts")
        ref, _ = self.container_profile()
        self.assertEqual(os.path.dirname(ref), twins)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "other")))


if __name__ == "__main__":
    unittest.main()
