"""Inside a private mount namespace (test_readme_e2e.py starts this under
`unshare --mount --propagation private`): the README's own commands on a
bare machine, in front of a real containerd. Prints one JSON line.

- /run and /var/lib are fresh tmpfs mounts, visible to this process and its
  children only (crisp, containerd, its shims and runc): no /run/crisp, no
  /var/lib/crisp, no systemd unit, and the machine's own are never touched.
  Before every crisp run both are removed again, so each run starts bare.
- containerd (containerd.py's PrivateContainerd, started after the mounts so
  that its shims live in them too) listens in its own temporary folder; that
  socket is bind-mounted onto /run/containerd/containerd.sock, the path the
  README and deploy/crisp.yaml name, so both are used exactly as written.
- The runs: the quick start's demo (tests/e2e/demo.py, what hack/demo.sh runs
  after installing and building), the "Running crisp" command as the README
  prints it, that command with --mode complain (issue 22's first report),
  `crisp --config deploy/crisp.yaml` from the clone's root, the same with
  --mode enforce|audit|complain|off, and a copy of the file with `mode:
  complain`. Each creates a pod and a container with no seccomp profile,
  reads `Seccomp:` from /proc/self/status inside it, and the profile
  containerd put in the OCI spec.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "lib")):
    if os.path.abspath(_path) not in map(os.path.abspath, sys.path):
        sys.path.insert(0, os.path.abspath(_path))

import cri_client  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402
from crisp import READY_TIMEOUT_S, crisp_binary, wait_for_socket  # noqa: E402

REPO = os.path.abspath(os.path.join(_HERE, "..", ".."))
README = os.path.join(REPO, "README.md")
EXAMPLE = "deploy/crisp.yaml"  # as the README names it, from the clone's root
RUNTIME = "/run/containerd/containerd.sock"
LISTEN = "/run/crisp/crisp.sock"
TMPFS = {"/run": "crisp-readme-run", "/var/lib": "crisp-readme-var-lib"}
STATE = ("/run/crisp", "/var/lib/crisp")
STOP_TIMEOUT_S = 60
DEMO_TIMEOUT_S = 300


def readme_command(heading):
    """The first command of the first ```sh block after `heading` in the
    README: continuation lines joined, comments dropped, split as sh would."""
    with open(README) as f:
        text = f.read()
    at = text.index("\n" + heading + "\n")
    block = re.search(r"```sh\n(.*?)```", text[at:], re.S).group(1)
    first = re.sub(r"\\\n", " ", block).splitlines()[0]
    return shlex.split(first, comments=True)


def our_tmpfs(point):
    """True when `point` is the tmpfs this script mounted (never remove
    anything under the machine's own)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == point and fields[sep + 1] == "tmpfs" and \
                    fields[sep + 2] == TMPFS[point]:
                return True
    return False


def make_bare():
    for path in STATE:
        parent = os.path.dirname(path)
        if not our_tmpfs(parent):
            raise RuntimeError("%s is not this test's private tmpfs: not touching %s"
                               % (parent, path))
        shutil.rmtree(path, ignore_errors=True)


def modes():
    """The mode of each folder and twin crisp may have created."""
    out = {}
    for top in STATE:
        for root, dirs, files in os.walk(top):
            for name in [""] + dirs + files:
                path = os.path.join(root, name) if name else root
                out[path] = oct(os.lstat(path).st_mode & 0o7777)
    return out


def probe(socket, log_dir):
    """A pod and a busybox container with no seccomp profile through
    `socket`: (Seccomp: of a process exec'd inside, the OCI spec's seccomp
    defaultAction or None, the container's localhost_ref)."""
    with cri_client.CriClient(socket) as cri:
        pod = cri_client.pod_config(log_directory=log_dir)
        created = {}
        try:
            created["pod"] = cri.call("RunPodSandbox", config=pod).pod_sandbox_id
            created["container"] = cri.call(
                "CreateContainer", pod_sandbox_id=created["pod"], sandbox_config=pod,
                config=cri_client.container_config()).container_id
            cri.call("StartContainer", container_id=created["container"])
            out = cri.call("ExecSync", container_id=created["container"],
                           timeout=cri_client.EXEC_TIMEOUT_S,
                           cmd=["grep", "Seccomp:", "/proc/self/status"])
            line = re.search(r"^Seccomp:\s*(\d+)\s*$", out.stdout.decode(), re.M)
            if out.exit_code != 0 or line is None:
                raise AssertionError("grep in the container: exit %d, %r, %r"
                                     % (out.exit_code, out.stdout, out.stderr))
            info = json.loads(cri.call("ContainerStatus", container_id=created["container"],
                                       verbose=True).info["info"])
            seccomp = info["runtimeSpec"]["linux"].get("seccomp")
            sc = info.get("config", {}).get("linux", {}).get("security_context", {})
            ref = sc.get("seccomp", {}).get("localhost_ref", "")
            return int(line.group(1)), seccomp["defaultAction"] if seccomp else None, ref
        finally:
            cri_client._cleanup(cri, created, raise_errors=False)


def wait_serving(crisp):
    """Until crisp serves on LISTEN, in short slices: a crisp that exits
    (refuses to start) fails at once, not at the timeout."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            return wait_for_socket(LISTEN, timeout=1)
        except grpc.FutureTimeoutError:
            if crisp.poll() is not None:
                raise RuntimeError("crisp exited %d before serving" % crisp.returncode)
            if time.monotonic() > deadline:
                raise


def run_crisp(name, argv, log_dir, env):
    """Starts crisp with `argv` (its first word replaced by the binary under
    test) from the clone's root, probes through it, stops it."""
    make_bare()
    argv = [crisp_binary()] + argv[1:]
    result = {"name": name, "argv": argv}
    with tempfile.TemporaryFile(mode="w+") as log:
        crisp = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log, env=env)
        try:
            try:
                wait_serving(crisp)
                result["seccomp"], result["default_action"], result["localhost_ref"] = \
                    probe(LISTEN, log_dir)
            except Exception as err:
                result["error"] = "%s: %s" % (type(err).__name__, err)
            result["modes"] = modes()
            crisp.send_signal(signal.SIGTERM)
            result["exit"] = crisp.wait(timeout=STOP_TIMEOUT_S)
        finally:
            if crisp.poll() is None:
                crisp.kill()
                crisp.wait()
        log.seek(0)
        result["log"] = log.read()
    return result


def main():
    for point, name in TMPFS.items():
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", name, point], check=True)
    result = {"bare": {path: os.path.lexists(path) for path in STATE}, "runs": []}
    # No systemd around crisp: nothing to notify, no unit's folders.
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "INVOCATION_ID")}

    # The quick start: the demo's own script, with its own private containerd.
    demo = subprocess.run([sys.executable, os.path.join(_HERE, "demo.py")], cwd=REPO,
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, env=env)
    result["demo"] = {"exit": demo.returncode, "out": demo.stdout + demo.stderr}

    running = readme_command("## Running crisp")
    with open(os.path.join(REPO, EXAMPLE)) as f:
        example = f.read()
    complain_yaml = os.path.join(tempfile.mkdtemp(prefix="crisp-readme-"), "crisp.yaml")
    with open(complain_yaml, "w") as f:
        f.write(re.sub(r"(?m)^mode: enforce$", "mode: complain", example, count=1))
    runs = [
        ("running", running),
        ("running --mode complain", running + ["--mode", "complain"]),
        ("config example", ["crisp", "--config", EXAMPLE]),
    ] + [("config example --mode " + m, ["crisp", "--config", EXAMPLE, "--mode", m])
         for m in ("enforce", "audit", "complain", "off")] + [
        ("config mode: complain", ["crisp", "--config", complain_yaml]),
    ]
    result["running_argv"] = running

    containerd = PrivateContainerd().start()
    try:
        os.makedirs(os.path.dirname(RUNTIME), exist_ok=True)  # its shims made it
        open(RUNTIME, "w").close()
        subprocess.run(["mount", "--bind", containerd.socket, RUNTIME], check=True)
        for name, argv in runs:
            result["runs"].append(run_crisp(name, argv, containerd.log_dir, env))
    finally:
        containerd.stop()
        shutil.rmtree(os.path.dirname(complain_yaml), ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
