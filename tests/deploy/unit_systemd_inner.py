"""Inside a private mount namespace (test_unit_systemd.py runs this under
`unshare --mount --propagation private`): a real systemd service manager runs
crisp.service in front of a real containerd, and this script reports what
happened as one JSON line.

The manager is `systemd --user` running as root: no second PID 1 is needed,
and as root it applies the unit's sandboxing (ProtectSystem=, PrivateNetwork=,
SystemCallFilter=, CapabilityBoundingSet=...) and Type=notify as a system
manager does. Its $XDG_RUNTIME_DIR is /run, so RuntimeDirectory=crisp is
/run/crisp, the unit's own path. Private pieces:
  - /run is a fresh tmpfs (with /run/systemd/system, which a user manager
    wants to see), so the machine's /run is never touched;
  - containerd (containerd.py) runs in a temporary folder; its socket is
    bind-mounted onto /run/containerd/containerd.sock, the unit's path;
  - the manager runs in a child cgroup of this process's own, removed after.
What differs from the unit as shipped (all in a drop-in, 50-test.conf, except
the binary):
  - ExecStart's binary is a copy of $CRISP_BIN in /run/crisp-test/bin (the
    rest of the line is the unit's);
  - OOMScoreAdjust=0: this machine refuses to lower oom_score_adj;
  - stdout/stderr go to a file (no journald here);
  - TimeoutStartSec=30: a crisp that never says READY=1 fails sooner;
  - the sanitizer build's ASAN/UBSAN/LSAN options, with leak detection off
    (LeakSanitizer needs ptrace, which SystemCallFilter= rightly forbids).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

import cri_client  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402

BASE = "/run/crisp-test"
WAIT_S = 120
POLL_S = 0.1


def cgroup_dirs():
    """This process's cgroup folder in each hierarchy systemd manages:
    cgroup2, and the v1 name=systemd one on hybrid hosts."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, point, options = fields[sep + 1], fields[4], fields[sep + 3].split(",")
            if fstype == "cgroup2":
                mounts["0"] = point
            elif fstype == "cgroup" and "name=systemd" in options:
                mounts["name=systemd"] = point
    dirs = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            number, controllers, path = line.rstrip("\n").split(":", 2)
            key = "0" if number == "0" else controllers
            if key in mounts:
                dirs.append(os.path.join(mounts[key], path.lstrip("/")))
    if not dirs:
        raise RuntimeError("no cgroup2 or name=systemd hierarchy mounted")
    return dirs


def remove_cgroup_tree(path):
    """rmdir from the leaves up: only empty cgroups can be (and are) removed."""
    if not os.path.isdir(path):
        return []
    left = []
    for base, dirs, _ in os.walk(path, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(base, d))
            except OSError as err:
                left.append("%s: %s" % (os.path.join(base, d), err))
    try:
        os.rmdir(path)
    except OSError as err:
        left.append("%s: %s" % (path, err))
    return left


class Manager:
    def __init__(self, cgroups):
        self.cgroups = cgroups
        self.env = dict(os.environ, XDG_RUNTIME_DIR="/run",
                        XDG_CONFIG_HOME=os.path.join(BASE, "config"),
                        XDG_STATE_HOME=os.path.join(BASE, "state"),
                        XDG_CACHE_HOME=os.path.join(BASE, "cache"),
                        HOME=os.path.join(BASE, "home"), SYSTEMD_LOG_TARGET="console")
        self.env.pop("NOTIFY_SOCKET", None)
        self.proc = None
        self.log_path = os.path.join(BASE, "manager.log")

    def start(self):
        notify_path = os.path.join(BASE, "manager-notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(WAIT_S)
        systemd = next(p for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")
                       if os.access(p, os.X_OK))
        # Into our child cgroups first, then exec: the manager and all it
        # starts live there.
        script = 'for d in "$@"; do echo $$ > "$d/cgroup.procs"; done; exec "$SYSTEMD" --user --log-target=console'
        env = dict(self.env, NOTIFY_SOCKET=notify_path, SYSTEMD=systemd)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(["setpriv", "--pdeathsig", "KILL", "sh", "-c", script,
                                          "sh"] + self.cgroups, env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        # The manager says READY=1 once it serves systemctl.
        try:
            while True:
                if b"READY=1" in notify.recv(4096).split(b"\n"):
                    break
        except socket.timeout:
            raise RuntimeError("systemd --user not ready within %ss (exit %s):\n%s"
                               % (WAIT_S, self.proc.poll(), self.log()))
        finally:
            notify.close()

    def systemctl(self, *args, check=True):
        result = subprocess.run(["systemctl", "--user"] + list(args), env=self.env,
                                capture_output=True, text=True, timeout=WAIT_S)
        if check and result.returncode != 0:
            raise RuntimeError("systemctl --user %s: %s%s\n%s"
                               % (" ".join(args), result.stdout, result.stderr, self.status()))
        return result

    def show(self, unit, *props):
        out = self.systemctl("show", unit, "--property=" + ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def status(self):
        return self.systemctl("status", "--no-pager", "--full", "crisp.service",
                              check=False).stdout

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-6000:]
        except OSError:
            return "(none)"

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def install_unit():
    units = os.path.join(BASE, "config", "systemd", "user")
    os.makedirs(os.path.join(units, "crisp.service.d"))
    text = deploylib.read(deploylib.UNIT)
    exec_line = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert len(exec_line) == 1 and deploylib.UNIT_BINARY in exec_line[0], exec_line
    # A copy under /run: PrivateTmp= and ProtectHome= would hide a binary
    # in /tmp or /home, as they hide everything there from crisp on a node.
    binary = os.path.join(BASE, "bin", "crisp")
    os.makedirs(os.path.dirname(binary))
    shutil.copy(deploylib.crisp_binary(), binary)
    text = text.replace(exec_line[0], exec_line[0].replace(deploylib.UNIT_BINARY, binary, 1))
    with open(os.path.join(units, "crisp.service"), "w") as f:
        f.write(text)
    sanitizer = []
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if var in os.environ:
            value = os.environ[var]
            if var == "ASAN_OPTIONS":
                value = value.replace("detect_leaks=1", "detect_leaks=0")
            sanitizer.append('Environment="%s=%s"' % (var, value))
    with open(os.path.join(units, "crisp.service.d", "50-test.conf"), "w") as f:
        f.write("[Service]\nOOMScoreAdjust=0\nStandardOutput=append:%s/crisp.log\n"
                "TimeoutStartSec=30\n%s\n" % (BASE, "\n".join(sanitizer)))
    return exec_line[0], binary


def crisp_log():
    try:
        with open(os.path.join(BASE, "crisp.log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def pod_seccomp(listen, containerd):
    return cri_client.seccomp_mode_of_new_container(listen, log_directory=containerd.log_dir)


def podspec_phase(manager, listen, containerd, result):
    """The unit with the pod-spec drop-in (deploy/systemd/30-podspec.conf) and
    a kubeconfig: crisp, still sandboxed, reaches a (fake) API server over
    HTTPS and settles a kubelet-1.31-shaped request from the pod's spec: an
    explicit Unconfined pod runs unconfined."""
    import uuid

    import certs
    import fake_apiserver as fa

    pki = certs.make_pki(os.path.join(BASE, "pki"))
    client = certs.client_cert(pki, "kubelet-client")
    api = fa.FakeApiServer(pki)
    api.start()
    try:
        kubeconfig = certs.kubeconfig(os.path.join(BASE, "pki", "kubelet.conf"), api.url, pki.ca,
                                      cert=client.cert, key=client.key)
        uid = str(uuid.uuid4())
        api.add_pod(fa.pod("unconfined", uid=uid, seccomp="Unconfined",
                           containers=[("probe", None)]))
        dropins = os.path.join(BASE, "config", "systemd", "user", "crisp.service.d")
        shutil.copy(deploylib.PODSPEC_DROPIN, os.path.join(dropins, "30-podspec.conf"))
        # What an operator puts in /etc/default/crisp (the unit's EnvironmentFile=).
        with open(os.path.join(dropins, "60-test-podspec.conf"), "w") as f:
            f.write('[Service]\nEnvironment="CRISP_OPTS=--kubeconfig=%s --node-name=node1 '
                    '--pod-manifest-path= --pod-spec-wait-ms=5000"\n' % kubeconfig)
        manager.systemctl("daemon-reload")
        manager.systemctl("start", "crisp.service")
        api.wait_for_watches(1, timeout=WAIT_S)
        result["podspec_seccomp"] = cri_client.seccomp_mode_of_new_container(
            listen, pod_seccomp=cri_client.UNCONFINED_FIELD,
            container_seccomp=cri_client.UNCONFINED_FIELD, log_directory=containerd.log_dir,
            pod_uid=uid)
        manager.systemctl("stop", "crisp.service")
        result["podspec_stopped"] = manager.show("crisp.service", "Result", "ExecMainStatus")
    finally:
        api.stop()


def main():
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "crisp-test-run", "/run"],
                   check=True)
    os.makedirs("/run/systemd/system")
    os.makedirs(BASE)
    unit = deploylib.Unit(deploylib.UNIT)
    argv = unit.exec_start()
    listen = deploylib.flag(argv, "listen")
    runtime = deploylib.endpoint_path(deploylib.flag(argv, "runtime-endpoint"))
    result = {}
    result["exec_line"], result["binary"] = install_unit()

    cgroups = [os.path.join(d, "crisp-test-%d" % os.getpid()) for d in cgroup_dirs()]
    containerd = PrivateContainerd().start()
    manager = Manager(cgroups)
    try:
        os.makedirs(os.path.dirname(runtime), exist_ok=True)
        open(runtime, "w").close()
        subprocess.run(["mount", "--bind", containerd.socket, runtime], check=True)
        for path in cgroups:
            os.mkdir(path)
        manager.start()

        # Type=notify: `start` returns once crisp has said READY=1.
        start = manager.systemctl("start", "crisp.service", check=False)
        result["start"] = [start.returncode, start.stdout + start.stderr]
        props = manager.show("crisp.service", "ActiveState", "SubState", "MainPID", "Result",
                             "ExecMainCode", "ExecMainStatus")
        result["started"] = props
        if start.returncode != 0:
            hint = ""
            if props.get("Result") == "timeout":
                hint = ("no READY=1 from crisp: does proxy/main.c call crisp_notify_ready() "
                        "once the server started?\n")
            raise RuntimeError("crisp.service did not start: %s%s\n%s\ncrisp's log:\n%s"
                               % (hint, start.stderr, manager.status(), crisp_log()))
        # Ready means listening: connect at once, no waiting or retrying.
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(listen)
        pid = int(props["MainPID"])
        status = proc_status(pid)
        result["status"] = {k: status[k] for k in ("NoNewPrivs", "Seccomp", "CapBnd", "CapEff")}
        result["own_netns"] = os.readlink("/proc/%d/ns/net" % pid) != os.readlink(
            "/proc/self/ns/net")
        result["runtime_dir_mode"] = oct(os.stat(os.path.dirname(listen)).st_mode & 0o7777)
        result["socket_mode"] = oct(os.stat(listen).st_mode & 0o7777)
        result["seccomp_first"] = pod_seccomp(listen, containerd)

        # Restart=always: a crash is followed by a new crisp (after RestartSec=1).
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + WAIT_S
        while True:
            props = manager.show("crisp.service", "ActiveState", "SubState", "MainPID",
                                 "NRestarts")
            if props["SubState"] == "running" and props["MainPID"] not in ("0", str(pid)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("crisp.service not restarted after SIGKILL: %s\n%s"
                                   % (props, manager.status()))
            time.sleep(POLL_S)  # poll interval of a bounded wait on systemd's restart timer
        result["restarted"] = props
        # The restarted crisp is ready once running (Type=notify), and serves.
        result["seccomp_after_restart"] = pod_seccomp(listen, containerd)

        manager.systemctl("stop", "crisp.service")
        result["stopped"] = manager.show("crisp.service", "ActiveState", "Result",
                                         "ExecMainStatus", "ExecMainCode")
        result["runtime_dir_left"] = os.path.exists(os.path.dirname(listen))

        podspec_phase(manager, listen, containerd, result)
    finally:
        result["crisp_log"] = crisp_log()
        manager.stop()
        containerd.stop()
        left = []
        for path in cgroups:
            left += remove_cgroup_tree(path)
        result["cgroups_left"] = left
        shutil.rmtree(BASE, ignore_errors=True)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
