"""Helpers for the kind tests (tests/kind, docs/kind.md): the inputs the user
supplies, clusters that are deleted whatever fails, kubectl with a private
kubeconfig, commands in a node, crisp's /metrics read inside a node, and the
timing of each step.

Inputs (hack/kind-e2e.sh sets them; docs/supplied-binaries.md):
  KIND              the kind binary
  KIND_NODE_IMAGE   a node image in the local docker: kindest/node:vX.Y.Z
                    (online) or one of hack/kind-node-image.sh (offline)
  KIND_CONFIG_EXTRA YAML merged into every cluster's config
                    (hack/kind-node/cluster-extra.yaml for an offline image)
  KIND_POD_ARCHIVE  the pod image archive (hack/kind-node-image.sh)
  KIND_BASE_IMAGE   a local base image for the installer image
  KUBECTL           a kubectl within one minor of the nodes
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

import supplied

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
KIND_UP = os.path.join(REPO, "hack", "kind-up.sh")
DOC = "docs/kind.md"
HOW = "KIND and KIND_NODE_IMAGE, or KIND, K8S_BIN_DIR and KIND_SRC (hack/kind-e2e.sh)"
POLL_S = 1.0
CRISP_SOCKET = "/run/crisp/crisp.sock"
METRICS_SOCKET = "/run/crisp/metrics.sock"


def wait_until(cond, what, timeout=180):
    """Polls `cond` until it returns something true; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(POLL_S)  # poll interval of a bounded wait, not a synchronisation


class Inputs:
    """What the user gave, checked: none given skips (one line); something
    given must work."""

    def __init__(self, test):
        names = ("KIND", "KIND_NODE_IMAGE", "K8S_BIN_DIR", "KIND_SRC")
        if not any(os.environ.get(n) for n in names):
            supplied.skip(test, "no kind given", HOW, DOC)
        self.kind = os.environ.get("KIND", "")
        self.node_image = os.environ.get("KIND_NODE_IMAGE", "")
        self.config_extra = os.environ.get("KIND_CONFIG_EXTRA", "")
        self.pod_archive = os.environ.get("KIND_POD_ARCHIVE", "")
        self.base_image = os.environ.get("KIND_BASE_IMAGE", "")
        self.kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl") or ""
        problems = []
        if not (os.path.isfile(self.kind) and os.access(self.kind, os.X_OK)):
            problems.append("KIND=%r is not an executable file" % self.kind)
        if not self.node_image:
            problems.append("KIND_NODE_IMAGE is not set (hack/kind-e2e.sh builds one from "
                            "K8S_BIN_DIR and KIND_SRC)")
        if not (self.pod_archive and os.path.isfile(self.pod_archive)):
            problems.append("KIND_POD_ARCHIVE=%r is not a file (hack/kind-e2e.sh makes one)"
                            % self.pod_archive)
        if not (os.path.isfile(self.kubectl) and os.access(self.kubectl, os.X_OK)):
            problems.append("no kubectl: set KUBECTL")
        if self.config_extra and not os.path.isfile(self.config_extra):
            problems.append("KIND_CONFIG_EXTRA=%r is not a file" % self.config_extra)
        if shutil.which("docker") is None:
            problems.append("no docker (apt-get install docker.io)")
        elif subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
            problems.append("docker does not answer: start dockerd (docs/kind.md)")
        elif self.node_image and subprocess.run(["docker", "image", "inspect", self.node_image],
                                                capture_output=True).returncode != 0:
            problems.append("KIND_NODE_IMAGE=%s is not in the local docker" % self.node_image)
        if problems:
            raise RuntimeError("%s: %s (see %s)" % (test, "; ".join(problems), DOC))
        self.pod_image = archive_tag(self.pod_archive)

    def env(self, kubeconfig):
        """The environment for kind, kubectl and hack/kind-up.sh: the
        user's kind and kubectl first on PATH, a private kubeconfig."""
        bindir = tempfile.mkdtemp(prefix="crisp-kind-bin-")
        for name, path in (("kind", self.kind), ("kubectl", self.kubectl)):
            os.symlink(os.path.abspath(path), os.path.join(bindir, name))
        env = dict(os.environ, KUBECONFIG=kubeconfig,
                   PATH=bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        return env, bindir


def archive_tag(path):
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    return manifest[0]["RepoTags"][0]


def out_dir(name):
    base = os.environ.get("CRISP_CLIENTS_OUT") or os.path.join(REPO, "build", "clients-out")
    path = os.path.join(base, "kind", name)
    os.makedirs(path, exist_ok=True)
    return path


class Timings:
    """The time of each step, printed and kept in OUT/timings.txt."""

    def __init__(self, out):
        self.path = os.path.join(out, "timings.txt")
        self.rows = []

    def __call__(self, what):
        return _Timed(self, what)

    def add(self, what, seconds, ok):
        self.rows.append((what, seconds, ok))
        line = "timing: %-55s %6.1f s%s" % (what, seconds, "" if ok else "  (failed)")
        print(line, flush=True)
        with open(self.path, "a") as f:
            f.write(line + "\n")


class _Timed:
    def __init__(self, timings, what):
        self.timings, self.what = timings, what

    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, kind, value, tb):
        self.timings.add(self.what, time.monotonic() - self.start, kind is None)
        return False


class Cluster:
    """A kind cluster of this test, by name; delete() removes it whatever
    state it is in (kind delete cluster is idempotent)."""

    def __init__(self, name, env, out):
        self.name, self.env, self.out = name, env, out
        self.context = "kind-" + name

    def run(self, cmd, check=True, timeout=600, **kwargs):
        result = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                                timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), result.returncode,
                                                         result.stdout[-4000:],
                                                         result.stderr[-4000:]))
        return result

    def kubectl(self, *args, check=True, timeout=300, **kwargs):
        return self.run(["kubectl", "--context", self.context] + list(args), check=check,
                        timeout=timeout, **kwargs)

    def nodes(self):
        out = self.run(["kind", "get", "nodes", "--name", self.name]).stdout.split()
        return sorted(out)

    def node(self, role):
        return "%s-%s" % (self.name, role)

    def exec(self, node, *cmd, check=True, timeout=120):
        return self.run(["docker", "exec", node] + list(cmd), check=check, timeout=timeout)

    def delete(self):
        """Deletes the cluster; returns a list of problems (empty when gone)."""
        self.save_journals()
        result = subprocess.run(["kind", "delete", "cluster", "--name", self.name],
                                env=self.env, capture_output=True, text=True, timeout=300)
        problems = []
        if result.returncode != 0:
            problems.append("kind delete cluster --name %s: %s" % (self.name, result.stderr))
        left = subprocess.run(["docker", "ps", "-aq", "--filter",
                               "label=io.x-k8s.kind.cluster=" + self.name],
                              capture_output=True, text=True).stdout.split()
        if left:
            problems.append("containers left: %s" % left)
        return problems

    def save_journals(self):
        """crisp's and the kubelet's journals of every node, for the record."""
        try:
            nodes = self.nodes()
        except (AssertionError, subprocess.SubprocessError, OSError):
            return
        for node in nodes:
            for unit in ("crisp", "kubelet", "containerd"):
                result = subprocess.run(["docker", "exec", node, "journalctl", "-u",
                                         unit + ".service", "--no-pager", "-o",
                                         "short-precise"], capture_output=True, text=True,
                                        timeout=120)
                with open(os.path.join(self.out, "%s.%s.log" % (node, unit)), "w") as f:
                    f.write(result.stdout + result.stderr)

    # -- pods -------------------------------------------------------------------------
    def apply(self, manifest):
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def pod(self, name, namespace="default"):
        result = self.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def wait_ready(self, name, namespace="default", timeout=180):
        result = self.kubectl("wait", "--for=condition=Ready", "pod/" + name, "-n", namespace,
                              "--timeout=%ds" % timeout, check=False, timeout=timeout + 30)
        if result.returncode != 0:
            described = self.kubectl("describe", "pod", name, "-n", namespace, check=False)
            raise AssertionError("pod %s not Ready:\n%s\n%s" % (name, result.stderr,
                                                               described.stdout[-5000:]))

    def seccomp(self, pod, container=None, namespace="default"):
        """`Seccomp:` of PID 1 in the container, by kubectl exec."""
        args = ["exec", pod, "-n", namespace]
        if container:
            args += ["-c", container]
        out = self.kubectl(*args, "--", "grep", "Seccomp:", "/proc/1/status").stdout
        return int(re.search(r"Seccomp:\s+(\d+)", out).group(1))

    # -- crisp in a node ----------------------------------------------------------------
    def metrics(self, node):
        """{(name, ((label, value), ...)): value} of crisp's /metrics in `node`."""
        text = self.exec(node, "curl", "-sS", "--max-time", "10", "--unix-socket",
                         METRICS_SOCKET, "http://crisp/metrics").stdout
        samples = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$", line)
            if not m:
                continue
            labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or "")))
            samples[(m.group(1), labels)] = float(m.group(4))
        return samples

    def allowed_failures(self, node):
        """Non-OK answers that are the node's runtime's own: RuntimeConfig
        on containerd 1.6 (see RUNTIME_CONFIG_UNIMPLEMENTED)."""
        version = self.exec(node, "containerd", "--version").stdout
        return (RUNTIME_CONFIG_UNIMPLEMENTED,) if re.search(r" v?1\.6\.", version) else ()

    def removed_then_asked(self, node):
        """How many ContainerStatus calls the node's containerd answered
        NotFound for a container it had already removed at the kubelet's
        request (RemoveContainer ... returns successfully, earlier in its
        journal). The kubelet removes a restarted container's dead
        predecessor and may ask for its status once more: containerd's
        answer, through crisp as without it, and the kubelet moves on."""
        removed, explained = set(), 0
        for line in self.journal(node, "containerd.service").splitlines():
            m = re.search(r'RemoveContainer for \\?"([0-9a-f]{64})\\?" returns successfully',
                          line)
            if m:
                removed.add(m.group(1))
                continue
            m = re.search(r'ContainerStatus for \\?"([0-9a-f]{64})\\?" failed', line)
            if m and "NotFound" in line and m.group(1) in removed:
                explained += 1
        return explained

    def unexplained_failures(self, node, samples):
        """crisp's non-OK calls on `node` that are not the runtime's own
        expected answers (allowed_failures, removed_then_asked)."""
        failed = failed_calls(samples, self.allowed_failures(node))
        key = (("code", "NOT_FOUND"), ("method", "ContainerStatus"))
        if key in failed and failed[key] <= self.removed_then_asked(node):
            del failed[key]
        return failed

    def journal(self, node, unit="crisp.service"):
        return self.exec(node, "journalctl", "-u", unit, "--no-pager", "-o", "cat").stdout


def metric(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


# A kubelet >= 1.28 asks its runtime for RuntimeConfig (the cgroup driver)
# at each start; containerd 1.6 predates the method and answers
# UNIMPLEMENTED, to crisp as to anyone (tests/kubelet/test_kubelet_131.py
# asks containerd 1.6.20 directly), and the kubelet uses its configured
# driver. That answer is the runtime's own, not a failed call.
RUNTIME_CONFIG_UNIMPLEMENTED = (("code", "UNIMPLEMENTED"), ("method", "RuntimeConfig"))


def failed_calls(samples, allowed=()):
    return {labels: v for (name, labels), v in samples.items()
            if name == "crisp_calls_total" and dict(labels).get("code") != "OK" and v
            and tuple(sorted(labels)) not in allowed}


# -- pods ---------------------------------------------------------------------------------
def container(name, image, command, seccomp=None, **more):
    c = {"name": name, "image": image, "imagePullPolicy": "Never", "command": command}
    if seccomp:
        c["securityContext"] = {"seccompProfile": {"type": seccomp}}
    c.update(more)
    return c


def pod(name, containers, node=None, init_containers=(), seccomp=None,
        restart_policy="Always", namespace="default"):
    spec = {"containers": list(containers), "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": 0, "enableServiceLinks": False,
            "automountServiceAccountToken": False}
    if node:
        spec["nodeName"] = node
        # control-plane nodes are tainted
        spec["tolerations"] = [{"operator": "Exists"}]
    if init_containers:
        spec["initContainers"] = list(init_containers)
    if seccomp:
        spec["securityContext"] = {"seccompProfile": {"type": seccomp}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


SLEEP = ["sh", "-c", "grep Seccomp: /proc/self/status; exec sleep 100000"]
PRINT = ["sh", "-c", "grep Seccomp: /proc/self/status"]


def kind_up(args, env, log_path, timeout=1500):
    """hack/kind-up.sh ARGS; returns its output (also written to log_path)."""
    result = subprocess.run(["bash", KIND_UP] + list(args), env=env, capture_output=True,
                            text=True, timeout=timeout, cwd=REPO)
    output = result.stdout + result.stderr
    with open(log_path, "w") as f:
        f.write(output)
    if result.returncode != 0:
        raise AssertionError("hack/kind-up.sh %s exited %d:\n%s"
                             % (" ".join(args), result.returncode, output[-8000:]))
    return output


def printed_seccomp(output, pod_name):
    """The `POD: Seccomp: N` line hack/kind-up.sh prints."""
    m = re.search(r"^%s: Seccomp:\s+(\d+)$" % re.escape(pod_name), output, re.M)
    if not m:
        raise AssertionError("kind-up.sh printed no Seccomp line for %s" % pod_name)
    return int(m.group(1))


def log(msg):
    print(msg, flush=True)
    sys.stdout.flush()


class KindTestCase(unittest.TestCase):
    """One cluster per test class, created in setUpClass by create_cluster(),
    deleted by a class cleanup registered before creation."""

    name = None  # the test's name in the skip line and the output folder

    @classmethod
    def setUpClass(cls):
        cls.inputs = Inputs("kind")
        if os.geteuid() != 0:
            raise RuntimeError("the kind tests need root (docker)")
        cls.out = out_dir(cls.name)
        for f in os.listdir(cls.out):  # the last run's files
            path = os.path.join(cls.out, f)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        cls.timings = Timings(cls.out)
        cls.kubeconfig = os.path.join(cls.out, "kubeconfig")
        cls.env, bindir = cls.inputs.env(cls.kubeconfig)
        cls.addClassCleanup(shutil.rmtree, bindir, True)
        cls.minor = None

    @classmethod
    def track(cls, cluster):
        """Deleted at the end of the class, whatever happened."""
        def delete():
            with cls.timings("teardown of cluster %s" % cluster.name):
                problems = cluster.delete()
            if problems:
                raise AssertionError("teardown: %s" % problems)
        cls.addClassCleanup(delete)
        return cluster

    @classmethod
    def kubelet_minor(cls, cluster):
        version = cluster.kubectl("get", "nodes", "-o",
                                  "jsonpath={.items[0].status.nodeInfo.kubeletVersion}").stdout
        return int(re.match(r"v1\.(\d+)\.", version).group(1)), version
