"""A real kubelet in standalone mode for the tests: no API server, static
pods from a manifest folder, everything it owns in a temporary folder (its
--root-dir, config, manifests, certificates), pointed at a CRI endpoint.

The configuration is the one ../shared/design/real-clients.md found to work
here (cgroupfs, no QoS cgroups, no swap check, loopback-only ports,
anonymous and AlwaysAllow on its own server so the test can call
/containerLogs and /exec, image GC and eviction effectively off). The
endpoint comes from the deploy files, as on a kubeadm node (see
endpoint_args): the documented drop-in is the one tested.

Cleanup is by PID and by our own paths: the kubelet's mounts under its
root dir are unmounted deepest first, our pods' log folders under
/var/log/pods and /var/log/containers are removed by our namespace.
"""

import glob
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse

import cri_streaming
import host_cleanup

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(REPO, "deploy", "kubelet")
NODE = "crisp-kubelet-node"
NAMESPACE = "crisp-kubelet-e2e"
DOCUMENTED_SOCKET = "unix:///run/crisp/crisp.sock"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
POLL_S = 0.2


def wait_until(cond, what, timeout=120):
    """Polls `cond` until it returns something true; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(POLL_S)  # poll interval of a bounded wait, not a synchronisation


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- the deploy files ---------------------------------------------------------------------
def drop_in_environment_file():
    """The EnvironmentFile= the documented drop-in (20-crisp.conf) reads."""
    with open(os.path.join(DEPLOY, "20-crisp.conf")) as f:
        for line in f:
            m = re.match(r"\s*EnvironmentFile=-?(\S+)\s*$", line)
            if m:
                return m.group(1)
    raise AssertionError("deploy/kubelet/20-crisp.conf has no EnvironmentFile=")


def extra_args_from_env_file():
    """KUBELET_EXTRA_ARGS of deploy/kubelet/kubelet.env, split as systemd
    splits $KUBELET_EXTRA_ARGS (on whitespace)."""
    with open(os.path.join(DEPLOY, "kubelet.env")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("KUBELET_EXTRA_ARGS="):
                return shlex.split(line.split("=", 1)[1])
    raise AssertionError("deploy/kubelet/kubelet.env sets no KUBELET_EXTRA_ARGS")


def endpoint_args(runtime_socket, crisp_socket=None):
    """The kubelet's endpoint flags as on a kubeadm node:
    `kubelet ... $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS`, where
    kubeadm-flags.env names the runtime's socket and, with crisp, the
    drop-in's kubelet.env comes last (the kubelet takes the last of a
    repeated flag). The documented socket path is replaced by the test's."""
    kubeadm = ["--container-runtime-endpoint=unix://" + runtime_socket]
    if crisp_socket is None:
        return kubeadm
    extra = extra_args_from_env_file()
    flag = "--container-runtime-endpoint=" + DOCUMENTED_SOCKET
    if extra.count(flag) != 1:
        raise AssertionError("kubelet.env's KUBELET_EXTRA_ARGS lacks %s: %s" % (flag, extra))
    return kubeadm + [a.replace(DOCUMENTED_SOCKET, "unix://" + crisp_socket) for a in extra]


# -- pods ---------------------------------------------------------------------------------
def container(name, command, image, seccomp=None, **more):
    c = {"name": name, "image": image, "imagePullPolicy": "Never", "command": command}
    if seccomp:
        c["securityContext"] = {"seccompProfile": {"type": seccomp}}
    c.update(more)
    return c


def pod(name, containers, init_containers=(), seccomp=None):
    spec = {"containers": list(containers), "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 2, "enableServiceLinks": False}
    if init_containers:
        spec["initContainers"] = list(init_containers)
    if seccomp:
        spec["securityContext"] = {"seccompProfile": {"type": seccomp}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}


def seccomp_then_sleep():
    return ["sh", "-c", "grep Seccomp: /proc/self/status; exec sleep 100000"]


def seccomp_then_exit():
    return ["sh", "-c", "grep Seccomp: /proc/self/status"]


# -- the kubelet ------------------------------------------------------------------------------
class Kubelet:
    def __init__(self, binary, args, seccomp_default=False):
        self.binary, self.args, self.seccomp_default = binary, list(args), seccomp_default
        self.tmp = self.proc = None
        self.port = self.healthz_port = None

    def _config(self):
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "staticPodPath": self.manifests, "fileCheckFrequency": "1s",
            "syncFrequency": "5s", "failSwapOn": False, "cgroupDriver": "cgroupfs",
            "cgroupsPerQOS": False, "enforceNodeAllocatable": [],
            "address": "127.0.0.1", "port": self.port,
            "healthzBindAddress": "127.0.0.1", "healthzPort": self.healthz_port,
            "readOnlyPort": 0,
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "1%", "nodefs.available": "1%",
                             "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
            "seccompDefault": self.seccomp_default,
            "podPidsLimit": -1, "serializeImagePulls": False,
        }

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="crisp-kubelet-")
        self.manifests = os.path.join(self.tmp, "manifests")
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.manifests)
        os.makedirs(self.root)
        self.port, self.healthz_port = free_port(), free_port()
        config = os.path.join(self.tmp, "kubelet-config.json")
        with open(config, "w") as f:
            json.dump(self._config(), f, indent=1)
        self.log_path = os.path.join(self.tmp, "kubelet.log")
        cmd = ["setpriv", "--pdeathsig", "TERM", self.binary, "--config", config,
               "--root-dir", self.root, "--cert-dir", os.path.join(self.tmp, "pki"),
               "--hostname-override", NODE, "--v=2"] + self.args
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        try:
            wait_until(self._healthy, "the kubelet's /healthz", START_TIMEOUT_S)
        except AssertionError as err:
            raise AssertionError("%s; kubelet log:\n%s" % (err, self.log()[-6000:]))
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("the kubelet exited %s; its log:\n%s"
                                 % (self.proc.returncode, self.log()[-6000:]))
        try:
            with socket.create_connection(("127.0.0.1", self.healthz_port), timeout=2) as s:
                s.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return b"\r\n\r\nok" in s.recv(4096)
        except OSError:
            return False

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return "(no log)"

    def add(self, manifest):
        name = manifest["metadata"]["name"] + ".json"
        # Written under a hidden name first (the kubelet's file source skips
        # dot-files) and renamed: the kubelet never sees half a file, nor the
        # temporary one as a pod of the same name (which it would start, then
        # kill when the file is renamed).
        tmp = os.path.join(self.manifests, "." + name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(manifest, f)
        os.rename(tmp, os.path.join(self.manifests, name))

    def remove(self, name):
        os.unlink(os.path.join(self.manifests, name + ".json"))

    def stop(self):
        errors = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                errors.append("the kubelet ignored SIGTERM; killed")
                self.proc.kill()
                self.proc.wait()
        if self.tmp is not None:
            for point in host_cleanup.mounts_under(self.tmp):
                if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                    subprocess.run(["umount", "-l", point], capture_output=True)
            left = host_cleanup.mounts_under(self.tmp)
            if left:
                errors.append("mounts left, %s not removed: %s" % (self.tmp, left))
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        remove_pod_logs()
        return errors

    # -- the kubelet's own server -----------------------------------------------------------
    def _tls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # its self-signed certificate, on loopback
        return ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=30))

    def get(self, path):
        """(status, body) of a GET on the kubelet's HTTPS server."""
        with self._tls() as s:
            s.sendall(("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode(errors="replace")

    def pod_status(self, name):
        """The kubelet's own view of static pod `name` (its /pods list)."""
        status, body = self.get("/pods")
        if status != 200:
            return None
        for item in json.loads(body).get("items", []):
            if item["metadata"]["name"] == name + "-" + NODE:
                return item
        return None

    def exec(self, pod_name, container_name, command):
        """/exec over a WebSocket (channel.k8s.io): the kubelet asks the
        runtime for a streaming URL (CRI Exec, through crisp) and proxies
        this connection to it. Returns (stdout, stderr)."""
        query = "&".join(["command=" + urllib.parse.quote(c) for c in command]
                         + ["output=1", "error=1"])
        path = "/exec/%s/%s-%s/%s?%s" % (NAMESPACE, pod_name, NODE, container_name, query)
        with self._tls() as s:
            reader = cri_streaming.upgrade(s, "127.0.0.1:%d" % self.port, path, cri_streaming.V1)
            out = {1: b"", 2: b"", 3: b""}
            while True:
                opcode, payload = cri_streaming.read_frame(reader)
                if opcode is None or opcode == 8:
                    break
                if opcode in (1, 2) and payload:
                    out.setdefault(payload[0], b"")
                    out[payload[0]] += payload[1:]
            if out[3]:
                raise AssertionError("/exec error channel: %r" % out[3])
            return out[1].decode(errors="replace"), out[2].decode(errors="replace")


# -- what the kubelet leaves on the host ----------------------------------------------------
def pod_log_dirs(pod_name=None):
    pattern = "%s_%s_*" % (NAMESPACE, (pod_name + "-" + NODE) if pod_name else "*")
    return glob.glob(os.path.join("/var/log/pods", pattern))


def remove_pod_logs():
    """Our pods' logs: the kubelet writes them to the fixed /var/log/pods
    (and links in /var/log/containers); ours are the ones of our namespace."""
    for d in pod_log_dirs():
        shutil.rmtree(d, ignore_errors=True)
    for link in glob.glob("/var/log/containers/*_%s_*.log" % NAMESPACE):
        try:
            os.unlink(link)
        except OSError:
            pass


def seccomp_in_log(pod_name, container_name, attempt=0):
    """The `Seccomp:` value the container printed in attempt `attempt`, from
    the CRI log file the kubelet had the runtime write; None if not yet."""
    for d in pod_log_dirs(pod_name):
        path = os.path.join(d, container_name, "%d.log" % attempt)
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    m = re.search(r"Seccomp:\s+(\d+)", line)
                    if m:
                        return int(m.group(1))
        except OSError:
            continue
    return None
