"""A private, real containerd for the end-to-end tests and the demo.

Follows the recipe in /work/shared/design/real-containerd.md: everything the
instance owns (root, state, sockets, config, pod logs) lives in one temporary
folder, the pause/busybox image is built locally (nothing can be pulled), and
cleanup is by PID and by our own paths only: a system containerd is never
touched and nothing is killed by name.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc

import cri_client
import host_cleanup
import oci_image
from crisp import wait_for_socket

START_TIMEOUT_S = 60
IMPORT_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
_POLL_S = 0.1
# runc lives in /usr/sbin, which a non-login PATH may lack.
_PATH = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin"


def check_prerequisites():
    """Fail loudly (never skip) when the machine cannot run a real containerd."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (containerd and runc need it)")
    for tool in ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "cc", "setpriv",
                 "umount"):
        if shutil.which(tool, path=_PATH) is None:
            problems.append("%s not found on PATH" % tool)
    problems += oci_image.missing_prerequisites()
    if problems:
        raise RuntimeError("cannot run the end-to-end tests:\n  - " + "\n  - ".join(problems)
                           + "\n(run hack/install-deps.sh as root)")


def _config(tmp, socket, extra=None):
    """`containerd config default`, pointed into `tmp`, with the two CRI
    settings these machines need (and `extra`, more (table, key) -> value
    edits). Each edit must hit exactly one line, so a changed default config
    fails here instead of silently using system paths."""
    text = subprocess.run(["containerd", "config", "default"], check=True,
                          capture_output=True, text=True).stdout
    wanted = {
        ("", "root"): os.path.join(tmp, "root"),
        ("", "state"): os.path.join(tmp, "state"),
        ("grpc", "address"): socket,
        ("ttrpc", "address"): socket + ".ttrpc",
        # /opt/containerd is shared with any system instance.
        ('plugins."io.containerd.internal.v1.opt"', "path"): os.path.join(tmp, "opt"),
        # This sandbox refuses to lower oom_score_adj; without this every pod
        # fails with "can't get final child's PID from pipe: EOF".
        ('plugins."io.containerd.grpc.v1.cri"', "restrict_oom_score_adj"): True,
        # Nothing can be pulled: the pause image must be the one we import.
        ('plugins."io.containerd.grpc.v1.cri"', "sandbox_image"): cri_client.E2E_IMAGE,
    }
    wanted.update(extra or {})
    done, out, table = set(), [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            table = stripped.strip("[]")
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else None
        if (table, key) in wanted:
            value = wanted[(table, key)]
            value = "true" if value is True else '"%s"' % value
            line = line[:len(line) - len(line.lstrip())] + "%s = %s" % (key, value)
            done.add((table, key))
        out.append(line)
    if done != set(wanted):
        raise RuntimeError("containerd's default config lacks %s" % sorted(set(wanted) - done))
    return "\n".join(out) + "\n"


class PrivateContainerd:
    """A containerd of our own. Use as a context manager, or start()/stop().

    Attributes once started: `socket` (CRI endpoint), `log_dir` (for pod
    logs), `version` (as the CRI reports it), `tmp`, `proc`. `log()` returns
    containerd's own output.
    """

    def __init__(self, configure=None):
        """configure(tmp), when given, runs before containerd starts, may
        write files into tmp, and returns more config edits for _config()
        (the critest and kubelet tests add CNI and a registry mapping)."""
        self.tmp = self.socket = self.log_dir = self.proc = self.version = None
        self._log_path = None
        self._configure = configure

    # -- lifecycle -------------------------------------------------------
    def start(self):
        check_prerequisites()
        image_tar = oci_image.image_tar()  # before containerd: a build failure leaves nothing
        self.tmp = tempfile.mkdtemp(prefix="crisp-ctrd-")
        try:
            self._start(image_tar)
        except BaseException:
            try:
                self.stop()
            except Exception as err:  # the start error is the one to report
                print("PrivateContainerd: cleanup after a failed start also failed: %s" % err,
                      file=sys.stderr)
            raise
        return self

    def _start(self, image_tar):
        self.socket = os.path.join(self.tmp, "containerd.sock")
        self.log_dir = os.path.join(self.tmp, "pod-logs")
        os.makedirs(self.log_dir)
        config = os.path.join(self.tmp, "config.toml")
        extra = self._configure(self.tmp) if self._configure else None
        with open(config, "w") as f:
            f.write(_config(self.tmp, self.socket, extra))
        self._log_path = os.path.join(self.tmp, "containerd.log")
        env = dict(os.environ, PATH=_PATH)
        with open(self._log_path, "w") as log:
            # setpriv --pdeathsig: if the test process dies without cleaning up
            # (e.g. killed by a ctest timeout), containerd does not outlive it.
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "TERM", "containerd", "--config", config],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait_serving()
        self._import(image_tar)

    def _fail(self, what):
        raise RuntimeError("private containerd: %s; its log (%s):\n%s"
                           % (what, self._log_path, self.log()[-6000:]))

    def _wait_serving(self):
        # Wait in short slices so that a containerd that dies at startup
        # fails the wait at once rather than at the timeout.
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                self._fail("containerd exited with %s at startup" % self.proc.returncode)
            try:
                wait_for_socket(self.socket, timeout=1)
                break
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    self._fail("socket %s not serving within %ss" % (self.socket, START_TIMEOUT_S))
        # The CRI plugin finishes initialising after gRPC starts serving and
        # answers "not initialized" until then: wait for a real answer.
        answer = self._poll("CRI Version", lambda cri: cri.call("Version", version="v1"))
        self.version = "%s %s" % (answer.runtime_name, answer.runtime_version)

    def _import(self, image_tar):
        result = subprocess.run(["ctr", "-a", self.socket, "-n", "k8s.io", "images", "import",
                                 image_tar], capture_output=True, text=True,
                                timeout=IMPORT_TIMEOUT_S)
        if result.returncode != 0:
            self._fail("ctr images import failed:\n%s%s" % (result.stdout, result.stderr))
        # The CRI plugin learns of imported images from an event; a pod run
        # before that would try (and fail) to pull its sandbox image.
        def known(cri):
            if not cri.call("ImageStatus", image=cri_client.pb.ImageSpec(
                    image=cri_client.E2E_IMAGE)).image.id:
                raise LookupError(cri_client.E2E_IMAGE + " not known to CRI yet")
        self._poll("the CRI plugin to see " + cri_client.E2E_IMAGE, known)

    def _poll(self, what, attempt, timeout=START_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        with cri_client.CriClient(self.socket, timeout=10) as cri:
            while True:
                if self.proc.poll() is not None:
                    self._fail("containerd exited with %s while waiting for %s"
                               % (self.proc.returncode, what))
                try:
                    return attempt(cri)
                except (grpc.RpcError, LookupError) as err:
                    if isinstance(err, grpc.RpcError) and \
                            err.code() == grpc.StatusCode.UNIMPLEMENTED:
                        self._fail("no CRI service (%s)" % err.details())
                    if time.monotonic() > deadline:
                        self._fail("timed out after %ss waiting for %s: %s"
                                   % (timeout, what, err))
                time.sleep(_POLL_S)  # poll interval of a bounded wait, not a synchronisation

    def stop(self):
        """Remove every pod, stop containerd, unmount and delete our folder.
        Every step runs even if an earlier one fails; failures are raised at
        the end, all together."""
        errors = []
        if self.proc is not None and self.proc.poll() is None:
            for step in (self._remove_all_pods, self._kill_leftover_tasks):
                try:
                    step()
                except Exception as err:
                    errors.append("%s: %s" % (step.__name__, err))
        if self.proc is not None:
            self._terminate(errors)
        if self.tmp is not None:
            errors += _clean_host(self.tmp, self.socket)
            if not host_cleanup.mounts_under(self.tmp):
                shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None
        if errors:
            raise RuntimeError("private containerd cleanup: " + "; ".join(errors))

    def _remove_all_pods(self):
        with cri_client.CriClient(self.socket) as cri:
            for pod in cri.call("ListPodSandbox").items:
                cri.call("StopPodSandbox", pod_sandbox_id=pod.id)
                cri.call("RemovePodSandbox", pod_sandbox_id=pod.id)

    def _kill_leftover_tasks(self):
        """A safety net under the CRI: any task still running in k8s.io (a
        pod the CRI failed to remove) is killed and deleted, and reported."""
        ctr = ["ctr", "-a", self.socket, "-n", "k8s.io"]
        tasks = subprocess.run(ctr + ["tasks", "ls", "-q"], capture_output=True, text=True,
                               check=True, timeout=STOP_TIMEOUT_S).stdout.split()
        for task in tasks:
            subprocess.run(ctr + ["tasks", "kill", "-a", "-s", "SIGKILL", task],
                           capture_output=True, timeout=STOP_TIMEOUT_S)
            subprocess.run(ctr + ["tasks", "delete", "-f", task], capture_output=True,
                           timeout=STOP_TIMEOUT_S)
        if tasks:
            raise RuntimeError("tasks left after removing all pods: %s" % tasks)

    def _terminate(self, errors):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            errors.append("containerd ignored SIGTERM for %ss; killed" % STOP_TIMEOUT_S)
            self.proc.kill()
            self.proc.wait()

    def log(self):
        try:
            with open(self._log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return "(no log)"

    # -- context manager -------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except Exception as err:
            if exc_type is None:
                raise
            # The body's own error is the one to propagate; still show this one.
            print("PrivateContainerd: %s" % err, file=sys.stderr)
        return False


def _clean_host(tmp, socket):
    """What a stopped containerd left behind; returns what went wrong."""
    errors, killed = [], []
    # Shims outlive containerd by design; ours name our socket path.
    for pid in (host_cleanup.shims_of(socket) if socket else []):
        errors.append("killed leftover shim %d: %s" % (pid, host_cleanup.cmdline(pid)))
        # Its children are the containers' processes: without a shim
        # nothing would ever stop them.
        killed += host_cleanup.children(pid) + [pid]
    cgroups = {path for pid in killed for path in host_cleanup.k8s_cgroups(pid)}
    for pid in killed:
        host_cleanup.kill(pid)
    # A dying pod's processes still pin its rootfs mount for a moment.
    host_cleanup.wait_dead(killed, STOP_TIMEOUT_S)
    # runc would have removed its containers' cgroups; it never ran.
    host_cleanup.remove_cgroups(cgroups)
    for point in host_cleanup.mounts_under(tmp):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)
    left = host_cleanup.mounts_under(tmp)
    if left:
        # Never rmtree across a mount: it would delete what is mounted.
        errors.append("mounts left, %s not removed: %s" % (tmp, left))
    return errors
