"""A pod's whole CRI lifecycle against the real containerd: directly, through
crisp and through `crisp --no-default`, compared (issue 18).

What critest and the kubelet test check of crisp with binaries the user
supplies, this checks in CI with the project's own client
(docs/critest.md has the mapping): one script, run three times against one
private containerd, notes every answer in a transcript (cri_transcript.py
normalises ids, times, tokens, pids and usage numbers):

- Version, Status (verbose); images: list, status (verbose), fs info, a
  pull from a local registry (with a sandbox config), a pull that fails,
  remove;
- RunPodSandbox with labels, annotations, a log folder, a cgroup parent
  and a sysctl; PodSandboxStatus (verbose); ListPodSandbox by id, state,
  label;
- an init container that runs to completion, then the main container,
  with a read-only volume and a security context whose other fields sit
  beside the seccomp one crisp rewrites (run as user, read-only root,
  no_new_privs, dropped capabilities, masked and read-only paths);
- ExecSync: stdout, stderr and exit code, the seccomp probe, the identity,
  sysctl, volume and read-only root seen inside, a timeout;
- Exec, Attach and PortForward: the URLs the runtime returns, each used
  (a WebSocket exec with its exit code, one with a tty and stdin, attach
  with stdin, a port-forward to a TCP echo server on the host network);
- ContainerStatus (verbose: the OCI spec), ListContainers by pod, state,
  id and label; ContainerStats, ListContainerStats by pod and label,
  ListPodSandboxStats;
- UpdateContainerResources (seen in status and spec), ReopenContainerLog
  (the log file rotated: the runtime writes a new one), and on an exited
  container (an error);
- a restarted container: the same name with attempt 1, as the kubelet
  creates it after the first exits;
- RemoveContainer of a created and of a running container; Stop and
  Remove of each, twice (idempotent), and the NOT_FOUND answers after.

Each run checks its own answers (codes, outputs, states), so equal
transcripts of a broken set-up fail. Then: through `--no-default` the
transcript equals the direct one exactly; through crisp, every difference
is a seccomp one, and the expected ones are there (Seccomp 0 -> 2 in each
container, the profile in each OCI spec and in the configs containerd
echoes back).

Needs root, containerd, runc, busybox-static and docker-registry (the
Debian packages hack/install-deps.sh installs); a missing one fails.
"""

import hashlib
import io
import json
import os
import shutil
import socket
import sys
import tarfile
import threading
import time
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "lib")):
    if os.path.abspath(_path) not in map(os.path.abspath, sys.path):
        sys.path.insert(0, os.path.abspath(_path))

import grpc  # noqa: E402

import cri_client  # noqa: E402
import cri_streaming  # noqa: E402
import cri_transcript  # noqa: E402
import host_cleanup  # noqa: E402
import oci_image  # noqa: E402
import registry  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402
from crisp import Crisp  # noqa: E402
from cri_transcript import Transcript  # noqa: E402

pb = cri_client.pb
UNCONFINED, FILTER = 0, 2
DEFAULTED = "seccomp defaulted"
WAIT_S = 60
POLL_S = 0.1

# The image a run pulls, from a local registry (containerd maps the host
# crisp-pull.test to it through certs.d), and one that is not there.
PULL_HOST = "crisp-pull.test"
PULL_IMAGE = PULL_HOST + "/lifecycle/pulled:v1"
MISSING_IMAGE = PULL_HOST + "/lifecycle/pulled:missing"
# Of this process: two test runs on one machine must not share it.
CGROUP_PARENT = "/crisp-lifecycle-e2e-%d" % os.getpid()
# A namespaced sysctl (the pod has its own IPC namespace) and a volume.
SYSCTL = ("kernel.shm_rmid_forced", "1")
VOLUME_TEXT = "a host folder, mounted read-only\n"
RUN_AS_USER = 1234
POD_LABELS = {"app": "lifecycle", "tier": "e2e"}
POD_ANNOTATIONS = {"crisp.test/note": "a lifecycle run"}
RUNNING, EXITED = 1, 2
SANDBOX_READY, SANDBOX_NOTREADY = 0, 1

# Through crisp (defaulting on), each of these must differ from the direct
# run; and nothing may differ whose path does not name seccomp.
SECCOMP_DIFFERENCES = (
    "init/log seccomp", "app/exec-sync seccomp/stdout", "app/exec stream seccomp/stdout",
    "once/log seccomp 0", "once/log seccomp 1",
    "pod/status verbose/info/info/runtimeSpec/linux/seccomp",
    "pod/status verbose/info/info/config/linux/security_context/seccomp",
    "app/status verbose/info/info/runtimeSpec/linux/seccomp",
    "app/status verbose/info/info/config/linux/security_context/seccomp",
)


def wait_until(cond, what, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(POLL_S)  # poll interval of a bounded wait, not a synchronisation


def tiny_image():
    """(config, manifest, [layer]) of a one-file image; pulling it needs no
    more, and nothing runs it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = b"pulled through the CRI\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
    layer = buf.getvalue()
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": oci_image.arch(), "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [digest]}},
                        sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest, "size": len(layer)}]}, sort_keys=True).encode()
    return config, manifest, [layer]


class EchoServer:
    """One TCP connection on 127.0.0.1 answered with b"pong:" + what came;
    the pod is on the host network, so a port-forward reaches it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(WAIT_S)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(WAIT_S)
                conn.sendall(b"pong:" + conn.recv(1024))
        except OSError:
            pass

    def close(self):
        self.sock.close()
        self.thread.join(timeout=WAIT_S)


class LifecycleRun:
    """The script, against one CRI endpoint; `seccomp` is the mode its
    containers must run in (0 direct, 2 through crisp)."""

    def __init__(self, test, endpoint, ctrd, seccomp):
        self.test, self.endpoint, self.ctrd, self.seccomp = test, endpoint, ctrd, seccomp
        self.t = Transcript()
        self.logs = os.path.join(ctrd.log_dir, "lifecycle")
        self.volume = os.path.join(ctrd.tmp, "lifecycle-volume")

    # -- calls, noted --------------------------------------------------------------------
    def call(self, step, method, **fields):
        try:
            answer = self.cri.call(method, **fields)
        except grpc.RpcError as err:
            raise AssertionError("%s: %s failed: %s %s" % (step, method, err.code().name,
                                                          err.details()))
        self.t.note(step, answer)
        return answer

    def fails(self, step, method, code, **fields):
        try:
            answer = self.cri.call(method, **fields)
        except grpc.RpcError as err:
            self.t.note(step, {"code": err.code().name, "details": err.details()})
            self.test.assertEqual(err.code(), code, "%s: %s" % (step, err.details()))
            return err
        raise AssertionError("%s: %s answered %r, expected %s" % (step, method, answer, code))

    def check(self, cond, what, got=None):
        if not cond:
            raise AssertionError("%s (%s)%s" % (what, self.endpoint,
                                                "" if got is None else ": %r" % (got,)))

    # -- configs -------------------------------------------------------------------------
    def pod_config(self):
        config = pb.PodSandboxConfig()
        config.metadata.name = "crisp-lifecycle"
        config.metadata.uid = "crisp-lifecycle-uid"
        config.metadata.namespace = "crisp-e2e"
        config.log_directory = self.logs
        config.labels.update(POD_LABELS)
        config.annotations.update(POD_ANNOTATIONS)
        config.linux.cgroup_parent = CGROUP_PARENT
        config.linux.sysctls[SYSCTL[0]] = SYSCTL[1]
        config.linux.security_context.namespace_options.network = pb.NODE
        return config

    @staticmethod
    def container_config(name, script, attempt=0, stdin=False):
        config = pb.ContainerConfig()
        config.metadata.name = name
        config.metadata.attempt = attempt
        config.image.image = cri_client.E2E_IMAGE
        config.command.extend(["sh", "-c", script])
        config.envs.add(key="CRISP_CONTAINER", value=name)
        config.labels["role"] = name
        config.annotations["crisp.test/attempt"] = str(attempt)
        config.log_path = "%s/%d.log" % (name, attempt)
        config.stdin = stdin
        ns = config.linux.security_context.namespace_options
        ns.network, ns.pid = pb.NODE, pb.CONTAINER
        return config

    def app_config(self):
        """The main container: stdin for attach, a read-only volume, and a
        security context whose every other field sits beside the seccomp
        one crisp rewrites (each must reach the runtime as sent)."""
        config = self.container_config(
            "app", "echo started; read line; echo got:$line; exec sleep 100000", stdin=True)
        config.mounts.add(container_path="/volume", host_path=self.volume, readonly=True)
        sc = config.linux.security_context
        sc.run_as_user.value = RUN_AS_USER
        sc.readonly_rootfs = True
        sc.no_new_privs = True
        sc.capabilities.drop_capabilities.extend(["NET_RAW", "MKNOD"])
        sc.masked_paths.extend(["/proc/kcore", "/proc/timer_list"])
        sc.readonly_paths.extend(["/proc/sys"])
        return config

    # -- helpers -------------------------------------------------------------------------
    def wait_exited(self, step, container_id):
        def exited():
            status = self.cri.call("ContainerStatus", container_id=container_id).status
            return status if status.state == EXITED else None
        status = wait_until(exited, "%s to exit" % step)
        self.t.note(step, status)
        return status

    def read_log(self, relative, needle):
        path = os.path.join(self.logs, relative)

        def text():
            try:
                with open(path, errors="replace") as f:
                    content = f.read()
            except OSError:
                return None
            return content if needle in content else None
        return wait_until(text, "%r in %s" % (needle, path))

    def seccomp_line(self):
        return "Seccomp:\t%d" % self.seccomp

    def check_seccomp_spec(self, step, info):
        """The OCI spec containerd made (verbose info) carries a seccomp
        profile exactly when the container must run confined."""
        spec = json.loads(info["info"])["runtimeSpec"]
        has = "seccomp" in spec.get("linux", {})
        self.check(has == (self.seccomp == FILTER), "%s: seccomp in the OCI spec: %s"
                   % (step, has))
        return spec

    # -- the script ----------------------------------------------------------------------
    def run(self):
        shutil.rmtree(self.logs, ignore_errors=True)
        os.makedirs(self.logs)
        with cri_client.CriClient(self.endpoint) as self.cri:
            self.runtime_and_images()
            pod_id, pod = self.pod()
            self.containers(pod_id, pod)
        return self.t

    def runtime_and_images(self):
        version = self.call("version", "Version", version="v1")
        self.check(version.runtime_name == "containerd" and version.runtime_api_version == "v1",
                   "Version", version)
        status = self.call("status", "Status", verbose=True)
        ready = {c.type: c.status for c in status.status.conditions}
        self.check(ready.get("RuntimeReady") is True, "RuntimeReady", ready)
        self.check(status.info, "Status verbose has info")

        images = self.call("images/list", "ListImages")
        self.check(any(cri_client.E2E_IMAGE in i.repo_tags for i in images.images),
                   "the e2e image listed", images)
        e2e = self.call("images/status e2e", "ImageStatus",
                        image=pb.ImageSpec(image=cri_client.E2E_IMAGE), verbose=True)
        self.check(e2e.image.id.startswith("sha256:") and e2e.image.size > 0 and e2e.info,
                   "ImageStatus of the e2e image", e2e)
        fs = self.call("images/fs info", "ImageFsInfo")
        self.check(len(fs.image_filesystems) == 1, "ImageFsInfo", fs)

        spec = pb.ImageSpec(image=PULL_IMAGE)
        pulled = self.call("images/pull", "PullImage", image=spec,
                           sandbox_config=self.pod_config())
        self.check(pulled.image_ref.startswith("sha256:"), "PullImage image_ref", pulled)
        status = self.call("images/status pulled", "ImageStatus", image=spec, verbose=True)
        self.check(status.image.id == pulled.image_ref and
                   list(status.image.repo_tags) == [PULL_IMAGE] and status.image.repo_digests,
                   "ImageStatus of the pulled image", status)
        # containerd 1.6 ignores ListImages' filter (the kubelet sets none).
        by_id = self.call("images/status by id", "ImageStatus",
                          image=pb.ImageSpec(image=pulled.image_ref))
        by_digest = self.call("images/status by digest", "ImageStatus",
                              image=pb.ImageSpec(image=status.image.repo_digests[0]))
        self.check(by_id.image.id == by_digest.image.id == pulled.image_ref,
                   "ImageStatus by id and by digest", (by_id, by_digest))
        listed = self.call("images/list pulled", "ListImages",
                           filter=pb.ImageFilter(image=spec))
        self.check(pulled.image_ref in [i.id for i in listed.images], "ListImages", listed)
        self.fails("images/pull missing", "PullImage", grpc.StatusCode.NOT_FOUND,
                   image=pb.ImageSpec(image=MISSING_IMAGE))
        self.call("images/remove", "RemoveImage", image=spec)
        gone = self.call("images/status removed", "ImageStatus", image=spec)
        self.check(not gone.image.id, "ImageStatus after RemoveImage", gone)
        self.call("images/remove again", "RemoveImage", image=spec)

    def pod(self):
        pod = self.pod_config()
        pod_id = self.call("pod/run", "RunPodSandbox", config=pod).pod_sandbox_id
        status = self.call("pod/status verbose", "PodSandboxStatus", pod_sandbox_id=pod_id,
                           verbose=True)
        self.check(status.status.state == SANDBOX_READY and
                   dict(status.status.labels) == POD_LABELS and
                   dict(status.status.annotations) == POD_ANNOTATIONS, "PodSandboxStatus",
                   status.status)
        self.check_seccomp_spec("pod/status verbose", status.info)

        def listed(step, **filter_fields):
            answer = self.call(step, "ListPodSandbox",
                               filter=pb.PodSandboxFilter(**filter_fields))
            return [p.id for p in answer.items]
        self.check(listed("pod/list by id", id=pod_id) == [pod_id], "ListPodSandbox by id")
        self.check(listed("pod/list by label", label_selector={"app": "lifecycle"}) == [pod_id],
                   "ListPodSandbox by label")
        self.check(listed("pod/list ready", state=pb.PodSandboxStateValue(state=SANDBOX_READY))
                   == [pod_id], "ListPodSandbox ready")
        self.check(listed("pod/list other label", label_selector={"app": "other"}) == [],
                   "ListPodSandbox by another label")
        return pod_id, pod

    def create(self, step, pod_id, pod, config):
        container_id = self.call(step + " create", "CreateContainer", pod_sandbox_id=pod_id,
                                 sandbox_config=pod, config=config).container_id
        self.call(step + " start", "StartContainer", container_id=container_id)
        return container_id

    def containers(self, pod_id, pod):
        probe = "grep Seccomp: /proc/self/status"
        # An init container runs to completion before the main one starts.
        init_id = self.create("init", pod_id, pod, self.container_config("init", probe))
        init = self.wait_exited("init/status exited", init_id)
        self.check(init.exit_code == 0 and init.reason == "Completed", "init exited 0", init)
        self.t.note_log("init/log seccomp", self.read_log("init/0.log", "Seccomp:"))
        self.check(self.seccomp_line() in self.read_log("init/0.log", "Seccomp:"),
                   "init's Seccomp line")

        app_id = self.create("app", pod_id, pod, self.app_config())
        self.app(pod_id, app_id)
        self.lists_and_stats(pod_id, init_id, app_id)
        self.update_and_reopen(app_id, init_id)
        once_ids = self.restarted(pod_id, pod, probe)
        self.removed_without_stop(pod_id, pod)
        self.teardown(pod_id, [init_id, app_id] + once_ids, app_id)

    def app(self, pod_id, app_id):
        status = self.call("app/status verbose", "ContainerStatus", container_id=app_id,
                           verbose=True)
        self.check(status.status.state == RUNNING and dict(status.status.labels) ==
                   {"role": "app"}, "app running", status.status)
        self.check_seccomp_spec("app/status verbose", status.info)

        out = self.call("app/exec-sync output", "ExecSync", container_id=app_id, timeout=30,
                        cmd=["sh", "-c", "echo out:$CRISP_CONTAINER; echo err >&2; exit 3"])
        self.check((out.stdout, out.stderr, out.exit_code) == (b"out:app\n", b"err\n", 3),
                   "ExecSync stdout, stderr, exit code", out)
        out = self.call("app/exec-sync seccomp", "ExecSync", container_id=app_id, timeout=30,
                        cmd=["grep", "Seccomp:", "/proc/self/status"])
        self.check(out.exit_code == 0 and out.stdout.decode().strip() == self.seccomp_line(),
                   "ExecSync's Seccomp", out)
        out = self.call("app/exec-sync identity", "ExecSync", container_id=app_id, timeout=30,
                        cmd=["grep", "-E", "^(Uid|NoNewPrivs|CapBnd):", "/proc/self/status"])
        fields = dict(line.split(":", 1) for line in out.stdout.decode().splitlines())
        self.check(fields["Uid"].split()[0] == str(RUN_AS_USER) and
                   fields["NoNewPrivs"].strip() == "1", "the security context applied", fields)
        out = self.call("app/exec-sync sysctl and volume", "ExecSync", container_id=app_id,
                        timeout=30, cmd=["cat", "/proc/sys/" + SYSCTL[0].replace(".", "/"),
                                         "/volume/hello.txt"])
        self.check(out.stdout.decode() == SYSCTL[1] + "\n" + VOLUME_TEXT,
                   "the sysctl and the volume", out)
        out = self.call("app/exec-sync read-only rootfs", "ExecSync", container_id=app_id,
                        timeout=30, cmd=["sh", "-c", "echo x >/written"])
        self.check(out.exit_code != 0 and b"Read-only file system" in out.stderr,
                   "a read-only root", out)
        # ExecSync's own timeout (1 s) ends the command (it would sleep 100 s).
        self.fails("app/exec-sync timeout", "ExecSync", grpc.StatusCode.DEADLINE_EXCEEDED,
                   container_id=app_id, timeout=1, cmd=["sleep", "100"])

        # The streaming calls: the URL each returns, used.
        url = self.call("app/exec url", "Exec", container_id=app_id, stdout=True, stderr=True,
                        cmd=["grep", "Seccomp:", "/proc/self/status"]).url
        self.check(url.startswith("http://127.0.0.1:") and "/exec/" in url, "Exec URL", url)
        stdout, stderr, code = cri_streaming.run_exec(url)
        self.t.note("app/exec stream seccomp", {"stdout": stdout, "stderr": stderr,
                                                "exit_code": code})
        self.check(code == 0 and stdout.decode().strip() == self.seccomp_line(),
                   "exec stream's Seccomp", (stdout, stderr, code))
        url = self.call("app/exec url exit 3", "Exec", container_id=app_id, stdout=True,
                        cmd=["sh", "-c", "exit 3"]).url
        code = cri_streaming.run_exec(url)[2]
        self.t.note("app/exec stream exit 3", {"exit_code": code})
        self.check(code == 3, "exec stream's exit code", code)

        url = self.call("app/exec url tty stdin", "Exec", container_id=app_id, stdin=True,
                        stdout=True, tty=True, cmd=["sh", "-c", "read l; echo got:$l"]).url
        with cri_streaming.Stream(url) as stream:
            stream.send(0, b"tty-in\n")
            out = stream.collect()
        self.t.note("app/exec stream tty stdin", {str(k): v for k, v in out.items()})
        self.check(b"got:tty-in" in out.get(1, b"") and
                   cri_streaming.exit_code_of(out.get(3)) == 0, "exec with a tty and stdin", out)

        url = self.call("app/attach url", "Attach", container_id=app_id, stdin=True,
                        stdout=True, stderr=True).url
        got = cri_streaming.attach_roundtrip(url, b"hello\n", b"got:hello")
        self.t.note("app/attach stream", {"stdout": got})

        echo = EchoServer()
        try:
            url = self.call("pod/port-forward url", "PortForward", pod_sandbox_id=pod_id,
                            port=[echo.port]).url
            got = cri_streaming.port_forward_roundtrip(url, echo.port, b"ping", b"pong:ping")
        finally:
            echo.close()
        self.t.note("pod/port-forward stream", {"data": got})
        self.check(got == b"pong:ping", "port-forward echo", got)

    def lists_and_stats(self, pod_id, init_id, app_id):
        def listed(step, **filter_fields):
            answer = self.call(step, "ListContainers", filter=pb.ContainerFilter(**filter_fields))
            return sorted(c.id for c in answer.containers)
        self.check(listed("containers/list by pod", pod_sandbox_id=pod_id) ==
                   sorted([init_id, app_id]), "ListContainers by pod")
        self.check(listed("containers/list running", pod_sandbox_id=pod_id,
                          state=pb.ContainerStateValue(state=RUNNING)) == [app_id],
                   "ListContainers running")
        self.check(listed("containers/list by id", id=app_id) == [app_id], "ListContainers by id")
        self.check(listed("containers/list by label", label_selector={"role": "init"}) ==
                   [init_id], "ListContainers by label")

        stats = self.call("app/stats", "ContainerStats", container_id=app_id).stats
        self.check(stats.attributes.id == app_id and stats.HasField("cpu") and
                   stats.HasField("memory") and stats.memory.working_set_bytes.value > 0,
                   "ContainerStats", stats)
        for step, filt in (("containers/stats by pod", {"pod_sandbox_id": pod_id}),
                           ("containers/stats by label", {"label_selector": {"role": "app"}})):
            answer = self.call(step, "ListContainerStats",
                               filter=pb.ContainerStatsFilter(**filt))
            self.check(app_id in [s.attributes.id for s in answer.stats], step, answer)
        answer = self.call("pod/stats", "ListPodSandboxStats",
                           filter=pb.PodSandboxStatsFilter(id=pod_id))
        self.check([s.attributes.id for s in answer.stats] == [pod_id] and
                   app_id in [c.attributes.id for c in answer.stats[0].linux.containers],
                   "ListPodSandboxStats", answer)

    def update_and_reopen(self, app_id, init_id):
        limit = 64 * 1024 * 1024
        self.call("app/update resources", "UpdateContainerResources", container_id=app_id,
                  linux=pb.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=limit))
        status = self.call("app/status updated", "ContainerStatus", container_id=app_id,
                           verbose=True)
        resources = status.status.resources.linux
        self.check((resources.cpu_shares, resources.memory_limit_in_bytes) == (512, limit),
                   "resources in ContainerStatus", resources)
        spec = self.check_seccomp_spec("app/status updated", status.info)
        self.check(spec["linux"]["resources"]["memory"]["limit"] == limit,
                   "the memory limit in the OCI spec", spec["linux"]["resources"])

        # Log rotation as the kubelet does it: rename, then ReopenContainerLog;
        # what the container writes next goes to a new file.
        log = os.path.join(self.logs, "app", "0.log")
        self.read_log("app/0.log", "got:hello")
        os.rename(log, log + ".rotated")
        self.call("app/reopen log", "ReopenContainerLog", container_id=app_id)
        self.call("app/exec-sync write log", "ExecSync", container_id=app_id, timeout=30,
                  cmd=["sh", "-c", "echo after-reopen >/proc/1/fd/1"])
        self.t.note_log("app/log after reopen", self.read_log("app/0.log", "after-reopen"))
        self.t.note_log("app/log rotated", self.read_log("app/0.log.rotated", "got:hello"))
        self.fails("init/reopen log exited", "ReopenContainerLog", grpc.StatusCode.UNKNOWN,
                   container_id=init_id)

    def restarted(self, pod_id, pod, probe):
        """A container that exits and is created again with attempt 1, as
        the kubelet restarts it: the second CreateContainer is a new one."""
        ids = []
        for attempt in (0, 1):
            container_id = self.create("once/%d" % attempt, pod_id, pod,
                                       self.container_config("once", probe, attempt))
            status = self.wait_exited("once/status exited %d" % attempt, container_id)
            self.check(status.exit_code == 0 and status.metadata.attempt == attempt,
                       "once attempt %d exited 0" % attempt, status)
            text = self.read_log("once/%d.log" % attempt, "Seccomp:")
            self.t.note_log("once/log seccomp %d" % attempt, text)
            self.check(self.seccomp_line() in text, "once attempt %d's Seccomp" % attempt, text)
            ids.append(container_id)
        answer = self.call("once/list", "ListContainers", filter=pb.ContainerFilter(
            pod_sandbox_id=pod_id, label_selector={"role": "once"}))
        self.check(sorted(c.metadata.attempt for c in answer.containers) == [0, 1],
                   "both attempts listed", answer)
        return ids

    def removed_without_stop(self, pod_id, pod):
        """RemoveContainer of a created and of a running container."""
        config = self.container_config("spare", "exec sleep 100000")
        created = self.call("spare/create", "CreateContainer", pod_sandbox_id=pod_id,
                            sandbox_config=pod, config=config).container_id
        self.call("spare/remove created", "RemoveContainer", container_id=created)
        config = self.container_config("spare", "exec sleep 100000", attempt=1)
        running = self.create("spare/1", pod_id, pod, config)
        status = self.call("spare/status running", "ContainerStatus", container_id=running)
        self.check(status.status.state == RUNNING, "spare running", status.status)
        self.call("spare/remove running", "RemoveContainer", container_id=running)
        for container_id in (created, running):
            self.fails("spare/status removed %d" % (container_id == running), "ContainerStatus",
                       grpc.StatusCode.NOT_FOUND, container_id=container_id)

    def teardown(self, pod_id, container_ids, app_id):
        self.call("app/stop", "StopContainer", container_id=app_id, timeout=0)
        status = self.call("app/status stopped", "ContainerStatus", container_id=app_id)
        self.check(status.status.state == EXITED and status.status.exit_code == 137,
                   "app stopped (SIGKILL)", status.status)
        self.call("app/stop again", "StopContainer", container_id=app_id, timeout=0)
        for i, container_id in enumerate(container_ids):
            self.call("containers/remove %d" % i, "RemoveContainer", container_id=container_id)
        self.fails("app/status removed", "ContainerStatus", grpc.StatusCode.NOT_FOUND,
                   container_id=app_id)
        self.call("app/remove again", "RemoveContainer", container_id=app_id)
        self.call("pod/stop", "StopPodSandbox", pod_sandbox_id=pod_id)
        status = self.call("pod/status stopped", "PodSandboxStatus", pod_sandbox_id=pod_id)
        self.check(status.status.state == SANDBOX_NOTREADY, "pod stopped", status.status)
        self.call("pod/stop again", "StopPodSandbox", pod_sandbox_id=pod_id)
        self.call("pod/remove", "RemovePodSandbox", pod_sandbox_id=pod_id)
        self.fails("pod/status removed", "PodSandboxStatus", grpc.StatusCode.NOT_FOUND,
                   pod_sandbox_id=pod_id)
        answer = self.call("pod/list removed", "ListPodSandbox",
                           filter=pb.PodSandboxFilter(id=pod_id))
        self.check(not answer.items, "no pod after RemovePodSandbox", answer)
        self.call("pod/remove again", "RemovePodSandbox", pod_sandbox_id=pod_id)


def show(diff):
    return "\n".join("  %s: %r -> %r" % (p, a, b) for p, (a, b) in diff.items())


class CriLifecycle(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.registry = registry.Registry().start()
        cls.addClassCleanup(cls.registry.stop)
        config, manifest, layers = tiny_image()
        repo, tag = PULL_IMAGE.split("/", 1)[1].rsplit(":", 1)
        for blob in layers + [config]:
            cls.registry.push_blob(repo, blob)
        cls.registry.push_manifest(repo, tag, manifest,
                                   "application/vnd.oci.image.manifest.v1+json")

        def configure(tmp):
            certs = os.path.join(tmp, "certs.d")
            registry.map_hosts(certs, [PULL_HOST], cls.registry.address)
            return {('plugins."io.containerd.grpc.v1.cri".registry', "config_path"): certs}
        cls.ctrd = PrivateContainerd(configure=configure).start()
        cls.addClassCleanup(host_cleanup.remove_cgroups, [CGROUP_PARENT])
        cls.addClassCleanup(cls.ctrd.stop)
        # containerd adds its User-Agent to the registry config it reports
        # (Status, verbose) at its first pull: pull once before the runs,
        # so that each starts from the same state.
        with cri_client.CriClient(cls.ctrd.socket) as cri:
            cri.call("PullImage", image=pb.ImageSpec(image=PULL_IMAGE))
            cri.call("RemoveImage", image=pb.ImageSpec(image=PULL_IMAGE))
        volume = os.path.join(cls.ctrd.tmp, "lifecycle-volume")
        os.makedirs(volume)
        with open(os.path.join(volume, "hello.txt"), "w") as f:
            f.write(VOLUME_TEXT)
        cls.runs, cls.logs = {}, {}

    def transcript(self, label):
        """The run `label` (direct, crisp, no-default), made once."""
        if label not in self.runs:
            seccomp = FILTER if label == "crisp" else UNCONFINED
            try:
                if label == "direct":
                    self.runs[label] = LifecycleRun(self, self.ctrd.socket, self.ctrd,
                                                    seccomp).run()
                else:
                    args = ["--no-default"] if label == "no-default" else []
                    with Crisp(self.ctrd.socket, args=args) as crisp:
                        self.runs[label] = LifecycleRun(self, crisp.listen, self.ctrd,
                                                        seccomp).run()
                    self.logs[label] = crisp.log_lines()
            finally:
                # A failed run leaves its pod: the next run's names must be free.
                self.ctrd._remove_all_pods()
        return self.runs[label]

    def test_direct(self):
        self.assertGreater(len(self.transcript("direct").steps), 60)

    def test_no_default_is_the_direct_run(self):
        diff = cri_transcript.differences(self.transcript("direct"),
                                          self.transcript("no-default"))
        self.assertEqual(diff, {}, "differences from the direct run:\n" + show(diff))
        self.assertFalse([line for line in self.logs["no-default"] if DEFAULTED in line])

    def test_crisp_changes_seccomp_only(self):
        diff = cri_transcript.differences(self.transcript("direct"), self.transcript("crisp"))
        other = {p: v for p, v in diff.items() if "seccomp" not in p.lower()}
        self.assertEqual(other, {}, "differences other than seccomp:\n" + show(other))
        for prefix in SECCOMP_DIFFERENCES:
            self.assertTrue(any(p.startswith(prefix) for p in diff),
                            "no difference at %s; all: %s" % (prefix, sorted(diff)))
        # One decision line per context defaulted: the pod's, and each of
        # the six CreateContainers' container and sandbox_config.
        contexts = [line.split("context=")[1].split()[0]
                    for line in self.logs["crisp"] if DEFAULTED in line]
        self.assertEqual(sorted(contexts), ["container"] * 6 + ["sandbox"] +
                         ["sandbox_config"] * 6, "\n".join(self.logs["crisp"]))


class TranscriptComparison(unittest.TestCase):
    """The comparison can fail: what it normalises, and what it does not."""

    def run_of(self, *answers):
        t = Transcript()
        for i, answer in enumerate(answers):
            t.note("step %d" % i, answer)
        return t

    def test_ids_times_tokens_and_usage_are_normalised(self):
        a = self.run_of({"id": "a" * 64, "created_at": "17", "url": "http://h:1/exec/AbC-12_x",
                         "cpu": {"usage_nano_cores": {"value": "5"}}, "pid": 12,
                         "path": "/proc/77/ns/net"})
        b = self.run_of({"id": "b" * 64, "created_at": "99", "url": "http://h:1/exec/zzzzzzzz",
                         "cpu": {"usage_nano_cores": {}}, "pid": 13,
                         "path": "/proc/78/ns/net"})
        self.assertEqual(cri_transcript.differences(a, b), {})

    def test_ids_are_matched_by_order(self):
        # The same id in two places in one run, two ids in the other.
        a = self.run_of({"x": "a" * 64, "y": "a" * 64})
        b = self.run_of({"x": "b" * 64, "y": "c" * 64})
        self.assertEqual(cri_transcript.differences(a, b), {"step 0/y": ("<id1>", "<id2>")})

    def test_digests_values_and_absent_fields_differ(self):
        a = self.run_of({"ref": "sha256:" + "a" * 64, "exit_code": 3, "labels": {"k": "v"}})
        b = self.run_of({"ref": "sha256:" + "b" * 64, "exit_code": 0})
        self.assertEqual(sorted(cri_transcript.differences(a, b)),
                         ["step 0/exit_code", "step 0/labels/k", "step 0/ref"])

    def test_info_json_is_compared_inside(self):
        a = self.run_of({"info": {"info": '{"runtimeSpec": {"linux": {"seccomp": {"x": 1}}}}'}})
        b = self.run_of({"info": {"info": '{"runtimeSpec": {"linux": {}}}'}})
        self.assertEqual(list(cri_transcript.differences(a, b)),
                         ["step 0/info/info/runtimeSpec/linux",
                          "step 0/info/info/runtimeSpec/linux/seccomp/x"])


if __name__ == "__main__":
    unittest.main()
