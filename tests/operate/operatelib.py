"""Helpers for the operate tests: config files, scraping crisp's HTTP
endpoints over its unix socket, parsing the Prometheus text format, and
running a container through a CRI socket with a namespace and labels of the
test's choosing (for exemptions)."""

import http.client
import os
import socket
import sys
import time
import uuid

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (os.path.join(_HERE, "..", "lib"), os.path.join(_HERE, "..", "e2e")):
    if os.path.abspath(_path) not in map(os.path.abspath, sys.path):
        sys.path.insert(0, os.path.abspath(_path))

WAIT_TIMEOUT_S = 30

# A seccomp profile that lets everything through but mkdir: that fails with
# EACCES (13). Harmless, and visible from a shell inside the container.
MKDIR_DENIED_PROFILE = """{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
  ]
}
"""


def write(path, text):
    """Replace `path` atomically (a rename), as a config manager would."""
    tmp = path + ".tmp-" + uuid.uuid4().hex[:8]
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)
    return path


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def http_get(unix_path, url):
    """(status, body text) of GET `url` on crisp's metrics socket."""
    conn = _UnixHTTPConnection(unix_path)
    try:
        conn.request("GET", url)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def parse_metrics(text):
    """{(name, frozenset of (label, value))): float} from Prometheus text."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = frozenset()
        if "{" in head:
            name, rest = head.split("{", 1)
            pairs = []
            for part in rest.rstrip("}").split('",'):
                if not part:
                    continue
                k, v = part.split("=", 1)
                pairs.append((k, v.strip('"')))
            labels = frozenset(pairs)
        else:
            name = head
        samples[(name, labels)] = float(value)
    return samples


def metric(samples, name, **labels):
    """The sum of `name` over the samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def scrape(unix_path):
    status, body = http_get(unix_path, "/metrics")
    if status != 200:
        raise AssertionError("/metrics answered %d: %s" % (status, body))
    return parse_metrics(body)


def wait_for_metric(unix_path, want, name, **labels):
    """Wait (bounded) until `name` over `labels` sums to exactly `want`.

    For counters crisp updates when it releases a call (crisp_calls_total),
    which may be just after the client already has its answer: /metrics is
    eventually consistent, so the test waits for the count instead of reading
    it once. A value past `want` never matches, so the check stays exact.
    Returns the last scrape's samples."""
    seen = {}

    def reached():
        seen["samples"] = scrape(unix_path)
        return metric(seen["samples"], name, **labels) == want

    try:
        wait_until(reached, "%s%s == %s" % (name, labels, want))
    except AssertionError:
        raise AssertionError("%s%s is %s, expected %s" % (
            name, labels, metric(seen["samples"], name, **labels), want))
    return seen["samples"]


def wait_until(predicate, what, timeout=WAIT_TIMEOUT_S):
    """Poll `predicate` (in short slices) until true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def label_bytes(labels):
    """PodSandboxConfig.labels (field 6, a map<string,string>) on the wire."""
    return b"".join(_field(6, _field(1, k.encode()) + _field(2, v.encode()))
                    for k, v in labels.items())


def run_in_new_container(socket_path, command, namespace="crisp-e2e", labels=None,
                         log_directory=None):
    """Run a pod (in `namespace`, with `labels`) and a busybox container with
    nothing set for seccomp through `socket_path`; exec `command` in it and
    return (seccomp mode, exit code, output). Everything is removed after."""
    import cri_client
    pb = cri_client.pb
    with cri_client.CriClient(socket_path) as cri:
        pod = cri_client.pod_config(cri_client.NOTHING, log_directory)
        pod.metadata.namespace = namespace
        if labels:
            pod = pb.PodSandboxConfig.FromString(pod.SerializeToString() + label_bytes(labels))
        created = {}
        try:
            created["pod"] = cri.call("RunPodSandbox", config=pod).pod_sandbox_id
            created["container"] = cri.call(
                "CreateContainer", pod_sandbox_id=created["pod"], sandbox_config=pod,
                config=cri_client.container_config(cri_client.NOTHING, log=bool(log_directory)),
            ).container_id
            cri.call("StartContainer", container_id=created["container"])
            status = cri.call("ExecSync", container_id=created["container"],
                              timeout=cri_client.EXEC_TIMEOUT_S,
                              cmd=["grep", "Seccomp:", "/proc/self/status"])
            match = cri_client._SECCOMP_LINE.search(status.stdout.decode(errors="replace"))
            if status.exit_code != 0 or match is None:
                raise AssertionError("cannot read Seccomp: in the container: %r" % (status,))
            out = cri.call("ExecSync", container_id=created["container"],
                           timeout=cri_client.EXEC_TIMEOUT_S, cmd=command)
        except BaseException:
            cri_client._cleanup(cri, created, raise_errors=False)
            raise
        cri_client._cleanup(cri, created, raise_errors=True)
        text = (out.stdout + out.stderr).decode(errors="replace")
        return int(match.group(1)), out.exit_code, text
