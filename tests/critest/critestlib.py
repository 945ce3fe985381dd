"""critest (cri-tools' CRI validation suite) against a private containerd.

The set-up follows ../shared/design/real-clients.md and docs/critest.md:
- a private containerd (tests/e2e/containerd.py) with CNI from Debian's
  containernetworking-plugins (bridge + portmap, a conf dir of its own) and
  `registry.config_path` pointing at a certs.d/ folder that maps every
  registry critest names to a local docker-registry (tests/lib/registry.py);
- the stand-in images (standin_images.py) pushed there;
- a check that the mapping works before critest runs: a mapping containerd
  ignores would silently fall back to the real registry (a DNS lookup off
  the machine).
Each run's spec lists (passed / failed / skipped) come from critest's JSON
report. Host leftovers are cleaned by our own paths and ids: the SysV shm
segments the HostIpc specs create, our pods, our CNI bridge.
"""

import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import containerd
import registry
import standin_images
import supplied

CNI_BIN_DIR = "/usr/lib/cni"
CNI_PLUGINS = ("bridge", "portmap", "host-local", "loopback")
BRIDGE = "crispcri0"
SUBNET = "10.231.0.0/16"
MAPPED_HOSTS = ("registry.k8s.io", "gcr.io", "k8s.gcr.io", "docker.io", "localhost:5000")
CHECK_IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
RUN_TIMEOUT_S = 1200
HOST_LOCK = "/run/lock/crisp-real-clients.lock"

# The one spec that must differ through crisp: it expects an empty profile to
# mean unconfined, which is exactly what crisp changes.
BY_DESIGN = ("[k8s.io] Security Context SeccompProfilePath should support seccomp default "
             "which is unconfined on the container")
# Direct against containerd, offline: pins a digest of an upstream manifest
# list, which no local registry can serve.
OFFLINE_FAILURES = {"[k8s.io] Image Manager public image with digest should be pulled and "
                    "removed [Conformance]"}


def need_tools(*names):
    """Paths of the tools named by environment variables; the older form of
    supplied.binaries(), kept for tests written against it: none given, the
    test skips with one line (in CI too); some given, they must work."""
    return supplied.binaries("/".join(n.lower() for n in names), names,
                             " and ".join(names), "docs/supplied-binaries.md")


def missing_prerequisites():
    problems = standin_images.missing_prerequisites()
    for plugin in CNI_PLUGINS:
        if not os.access(os.path.join(CNI_BIN_DIR, plugin), os.X_OK):
            problems.append("%s/%s missing (install containernetworking-plugins)"
                            % (CNI_BIN_DIR, plugin))
    if not os.access(registry.BINARY, os.X_OK):
        problems.append("%s missing (install docker-registry)" % registry.BINARY)
    for tool in ("ip", "iptables", "ipcrm"):
        if shutil.which(tool, path=containerd._PATH) is None:
            problems.append("%s not found" % tool)
    return problems


# -- containerd with CNI and the registry mapping ------------------------------------------
def cni_conflist(tmp):
    return json.dumps({
        "cniVersion": "1.0.0", "name": "crisp-critest",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET}]],
                      "routes": [{"dst": "0.0.0.0/0"}],
                      "dataDir": os.path.join(tmp, "cni-ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ]}, indent=1)


def configure(address):
    """PrivateContainerd's configure hook: CNI and (for a registry at
    `address`; None: no mapping) certs.d, in its folder."""
    def hook(tmp):
        conf_dir = os.path.join(tmp, "cni-conf")
        os.makedirs(conf_dir)
        with open(os.path.join(conf_dir, "10-crisp-critest.conflist"), "w") as f:
            f.write(cni_conflist(tmp))
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        edits = {(cri + ".cni", "bin_dir"): CNI_BIN_DIR, (cri + ".cni", "conf_dir"): conf_dir}
        if address is None:
            return edits
        certs = os.path.join(tmp, "certs.d")
        registry.map_hosts(certs, MAPPED_HOSTS, address)
        edits[(cri + ".registry", "config_path")] = certs
        return edits
    return hook


def push_images(reg):
    """Builds the stand-ins and pushes each under every name it has; a blob
    already in another repository is mounted from there, not sent again."""
    images = standin_images.build_all()
    where = {}  # blob digest -> a repository that has it
    for img in images:
        config, manifest, layers = standin_images.manifest_of(img)
        for name in img.names:
            host_repo, tag = name.rsplit(":", 1)
            repo = host_repo.split("/", 1)[1]
            for blob in layers + [config]:
                digest = standin_images.digest(blob)
                reg.push_blob(repo, blob, mount_from=where.get(digest))
                where.setdefault(digest, repo)
            reg.push_manifest(repo, tag, manifest, "application/vnd.oci.image.manifest.v1+json")
    return images


def check_mapping(crictl, socket, reg):
    """Pull one mapped name through the CRI and see our registry serve it."""
    before = reg.log().count("/v2/e2e-test-images/busybox/manifests/1.29-2")
    run = [crictl, "--runtime-endpoint", "unix://" + socket, "--image-endpoint",
           "unix://" + socket, "--timeout", "60s"]
    result = subprocess.run(run + ["pull", CHECK_IMAGE], capture_output=True, text=True,
                            timeout=120)
    served = reg.log().count("/v2/e2e-test-images/busybox/manifests/1.29-2") > before
    if result.returncode != 0 or not served:
        raise RuntimeError("the registry mapping does not work (pull rc=%d, served by %s: %s):"
                           "\n%s%s" % (result.returncode, reg.address, served, result.stdout,
                                       result.stderr))
    subprocess.run(run + ["rmi", CHECK_IMAGE], capture_output=True, timeout=60)


# -- host leftovers --------------------------------------------------------------------------
def shm_ids():
    ids = set()
    with open("/proc/sysvipc/shm") as f:
        next(f)
        for line in f:
            ids.add(int(line.split()[1]))
    return ids


def remove_shm(ids):
    for shmid in sorted(ids):
        subprocess.run(["ipcrm", "-m", str(shmid)], capture_output=True)


def host_lock():
    """Held (by the test class) while a real-client test runs. critest and
    the kubelet test use fixed names on the host: the CNI bridge and its
    subnet, and /var/log/pods/crisp-kubelet-e2e_* with static pods whose
    uids depend only on their manifests. Two runs on one machine would
    remove each other's bridge and logs and read each other's files: the
    second waits here for the first instead. Returns the release."""
    fd = os.open(HOST_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for another real-client test on this machine (%s)" % HOST_LOCK,
              file=sys.stderr, flush=True)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return lambda: os.close(fd)


def remove_bridge():
    if os.path.exists("/sys/class/net/" + BRIDGE):
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


def nat_rules():
    result = subprocess.run(["iptables", "-w", "-t", "nat", "-S"], capture_output=True,
                            text=True, env=dict(os.environ, PATH=containerd._PATH))
    return result.stdout.splitlines() if result.returncode == 0 else []


def portmap_cleanup():
    """portmap tears down each pod's own rules, but leaves the chains it
    creates on first use (CNI-HOSTPORT-*) and the jumps to them in the nat
    table. Returns a cleanup that removes the CNI rules and chains that were
    not there when it was made, and nothing else."""
    before = set(nat_rules())

    def cleanup():
        new = [r for r in nat_rules() if r not in before and "CNI" in r]
        iptables = ["iptables", "-w", "-t", "nat"]
        env = dict(os.environ, PATH=containerd._PATH)
        for rule in reversed([r for r in new if r.startswith("-A ")]):
            subprocess.run(iptables + ["-D"] + shlex.split(rule)[1:], capture_output=True,
                           env=env)
        for rule in new:
            if rule.startswith("-N "):
                chain = rule.split()[1]
                subprocess.run(iptables + ["-F", chain], capture_output=True, env=env)
                subprocess.run(iptables + ["-X", chain], capture_output=True, env=env)
    return cleanup


# -- running critest --------------------------------------------------------------------------
def spec_lists(report_path):
    """{"passed": set, "failed": set, "skipped": set} of the It specs."""
    with open(report_path) as f:
        suites = json.load(f)
    out = {"passed": set(), "failed": set(), "skipped": set()}
    for suite in suites:
        for spec in suite.get("SpecReports") or []:
            if spec.get("LeafNodeType") != "It":
                continue
            name = " ".join([t for t in spec.get("ContainerHierarchyTexts") or []]
                            + [spec.get("LeafNodeText", "")])
            state = spec.get("State")
            out["passed" if state == "passed" else "skipped" if state in ("skipped", "pending")
                else "failed"].add(name)
    return out


def run_critest(critest, endpoint, workdir, label, focus=None):
    """Runs critest against `endpoint` (a socket path); returns the lists and
    the path of its output."""
    os.makedirs(workdir, exist_ok=True)
    report = os.path.join(workdir, label + ".json")
    output = os.path.join(workdir, label + ".log")
    tmpdir = tempfile.mkdtemp(prefix="critest-", dir="/tmp")
    cmd = [critest, "-runtime-endpoint", "unix://" + endpoint, "-image-endpoint",
           "unix://" + endpoint, "-ginkgo.seed=1", "-ginkgo.no-color",
           "-ginkgo.timeout=%ds" % (RUN_TIMEOUT_S - 60), "-ginkgo.json-report=" + report,
           "-ginkgo.junit-report=" + os.path.join(workdir, label + ".xml")]
    if focus:
        cmd.append("-ginkgo.focus=" + focus)
    start = time.monotonic()
    try:
        with open(output, "w") as out:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                           cwd=workdir, env=dict(os.environ, TMPDIR=tmpdir,
                                                 PATH=containerd._PATH),
                           timeout=RUN_TIMEOUT_S)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if not os.path.exists(report):
        with open(output, errors="replace") as f:
            raise RuntimeError("critest (%s) wrote no report; its output:\n%s"
                               % (label, f.read()[-6000:]))
    lists = spec_lists(report)
    print("critest %s: %d passed, %d failed, %d skipped in %.0f s (output: %s)"
          % (label, len(lists["passed"]), len(lists["failed"]), len(lists["skipped"]),
             time.monotonic() - start, output), file=sys.stderr, flush=True)
    return lists, output


def differences(a, b):
    """Specs whose state differs between two runs: {name: (state_a, state_b)}."""
    def state(lists, name):
        return next((s for s, names in lists.items() if name in names), "absent")
    names = set().union(*a.values(), *b.values())
    return {n: (state(a, n), state(b, n)) for n in sorted(names) if state(a, n) != state(b, n)}


def failure_excerpt(output, names, limit=6000):
    """The failure messages critest's JSON report (beside `output`) holds
    for the specs `names`, for an assertion message."""
    report = os.path.splitext(output)[0] + ".json"
    try:
        with open(report) as f:
            suites = json.load(f)
    except (OSError, ValueError):
        return "(no report %s)" % report
    parts = []
    for suite in suites:
        for spec in suite.get("SpecReports") or []:
            name = " ".join(list(spec.get("ContainerHierarchyTexts") or [])
                            + [spec.get("LeafNodeText", "")])
            if name in names and spec.get("Failure"):
                failure = spec["Failure"]
                parts.append("%s:\n  %s\n  at %s" % (
                    name, failure.get("Message", "").strip(),
                    (failure.get("Location") or {}).get("FileName", "?")))
    return ("\n".join(parts) or "(no failure messages)")[:limit] + \
        "\n(critest output: %s)" % output
