"""A private CRI-O for the tests, from binaries the user gives (CRIO, PINNS).

Written from ../shared/design/real-crio.md (docs/crio.md says it for users):

- everything CRI-O owns lives under one work folder W that mirrors a node's
  layout (CRI-O's socket at W/run/crio/crio.sock, its storage, state, logs,
  exits, namespaces, CNI config and IPAM data, registries and storage
  configs, signature policy); the config is written in full and checked with
  `crio config` so that no path falls back to a system default;
- Debian's conmon, runc and CNI plugins (bridge + host-local + loopback on a
  bridge of its own, `crio0`, 10.97.0.0/16: apart from the containerd
  critest harness's crispcri0 / 10.231.0.0/16);
- every registry name the tests use is rewritten to a local registry
  (registries.conf `location`, not a mirror, so nothing falls back upstream)
  that serves the critest harness's stand-in images and a pause image;
- where the machine's bounding set lacks capabilities CRI-O hands out
  (CAP_SYS_RESOURCE here), or its kernel knows a hugetlb cgroup controller
  that is not mounted, runtime_path is a small runc wrapper (runc_wrap.py);
- host ports from 127.0.0.1: route_localnet on our bridge and a MASQUERADE of
  loopback sources out of it (CRI-O's own CI does this host-wide).

Cleanup, whatever failed: pods through the CRI, CRI-O by PID, then what is
left by our own paths (conmon and container processes whose command line
names W, mounts under W, empty cgroups under CRI-O's parent that were not
there before), our iptables rule and the KUBE-HOSTPORTS chain CRI-O leaves
when it was not there before, our bridge, the one file CRI-O writes outside
W (containers/image's blob-info cache) when its folder was not there before,
and W. Nothing is killed or matched by process name.
"""

import fcntl
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

import cri_client
import host_cleanup
import protos
import runc_wrap
import standin_images
import supplied

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
extra = protos.load(os.path.join(HERE, "crio_cri.proto"))
pb = cri_client.pb

PATH = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin"
CONMON = "/usr/bin/conmon"
CNI_BIN_DIR = "/usr/lib/cni"
CNI_PLUGINS = ("bridge", "host-local", "loopback")
BRIDGE = "crio0"
SUBNET = "10.97.0.0/16"
MAPPED_HOSTS = ("registry.k8s.io", "gcr.io", "k8s.gcr.io", "docker.io", "quay.io",
                "localhost:5000")
PAUSE_IMAGE = "registry.k8s.io/pause:3.6"
BUSYBOX = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60
PULL_TIMEOUT_S = 300
POLL_S = 0.2
# The one file CRI-O 1.26 writes outside its folder (containers/image's
# blob-info cache for root; CRI-O has no setting for it).
BLOB_INFO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"
# Where a CRI-O that ignored part of its config would write; none may appear.
SYSTEM_PATHS = ("/run/crio", "/var/lib/crio", "/var/log/crio", "/etc/crio", "/etc/containers",
                "/run/containers", "/var/cache/containers", "/var/lib/containers/storage",
                "/opt/cni", "/etc/cni/net.d/10-crio-bridge.conf")
_RUNTIME = "/runtime.v1.RuntimeService/"
_IMAGE = "/runtime.v1.ImageService/"


# The one line a test without CRI-O prints (docs/supplied-binaries.md);
# hack/crio-e2e.sh says the same.
CRIO_HOW = "CRIO, and PINNS unless it is beside crio (CRI-O v1.26.4)"
DOC = "docs/crio.md"


def need_crio():
    """(crio, pinns) from CRIO and PINNS, PINNS defaulting to the `pinns`
    beside `crio` (CRI-O's release bundle has both in one folder). Neither
    given: one line and a skip, CI included (supplied.py); given but not
    working: a failure."""
    if os.environ.get("CRIO") and not os.environ.get("PINNS"):
        os.environ["PINNS"] = os.path.join(os.path.dirname(os.environ["CRIO"]), "pinns")
    tools = supplied.binaries("crio", ("CRIO", "PINNS"), CRIO_HOW, DOC)
    return os.path.abspath(tools["CRIO"]), os.path.abspath(tools["PINNS"])


def need_tool(name, test, how):
    """A client to run against CRI-O (CRITEST, KUBELET): as need_crio."""
    return os.path.abspath(supplied.binaries(test, (name,), how, DOC)[name])


def crio_version(crio):
    out = subprocess.run([crio, "--version"], capture_output=True, text=True, timeout=60)
    m = re.search(r"^Version:\s*(\S+)", out.stdout, re.M) or \
        re.search(r"version\s+(\d\S*)", out.stdout + out.stderr)
    return m.group(1) if m else "unknown"


def missing_prerequisites():
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root")
    for tool in ("runc", "setpriv", "umount", "ip", "iptables", "sysctl", "ipcrm"):
        if shutil.which(tool, path=PATH) is None:
            problems.append("%s not found on PATH" % tool)
    if not os.access(CONMON, os.X_OK):
        problems.append("%s missing (install conmon)" % CONMON)
    for plugin in CNI_PLUGINS:
        if not os.access(os.path.join(CNI_BIN_DIR, plugin), os.X_OK):
            problems.append("%s/%s missing (install containernetworking-plugins)"
                            % (CNI_BIN_DIR, plugin))
    problems += standin_images.missing_prerequisites()
    return problems


def check_prerequisites():
    problems = missing_prerequisites()
    if problems:
        raise RuntimeError("cannot run CRI-O:\n  - " + "\n  - ".join(problems)
                           + "\n(run hack/install-deps.sh as root)")


# -- CRI calls beyond cri_client --------------------------------------------------------
def _stub(channel, path, req, resp):
    return channel.unary_unary(path, request_serializer=req.SerializeToString,
                               response_deserializer=resp.FromString)


def status(socket_path, timeout=10):
    with grpc.insecure_channel("unix:" + socket_path) as ch:
        return _stub(ch, _RUNTIME + "Status", extra.StatusRequest,
                     extra.StatusResponse)(extra.StatusRequest(), timeout=timeout)


def pull(socket_path, image, timeout=PULL_TIMEOUT_S):
    with grpc.insecure_channel("unix:" + socket_path) as ch:
        return _stub(ch, _IMAGE + "PullImage", extra.PullImageRequest, extra.PullImageResponse)(
            extra.PullImageRequest(image=extra.ImageSpec(image=image)), timeout=timeout).image_ref


# -- images -----------------------------------------------------------------------------
def pause_image():
    """CRI-O's pause image stand-in: tests/e2e/pause.c, static, as /pause
    (CRI-O's default pause_command), on the stand-ins' base layer."""
    workdir = tempfile.mkdtemp(prefix="crisp-crio-pause-")
    try:
        out = os.path.join(workdir, "pause")
        result = subprocess.run(["cc", "-static", "-O2", "-o", out,
                                 os.path.join(REPO, "tests", "e2e", "pause.c")],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("cannot build the pause stand-in:\n" + result.stderr)
        with open(out, "rb") as f:
            data = f.read()
    finally:
        shutil.rmtree(workdir)
    raw = standin_images._layer({"pause": (data, 0o755)})
    layer = (standin_images._gzip(raw), standin_images.digest(raw))
    return standin_images.Image([PAUSE_IMAGE], [layer],
                                {"Entrypoint": ["/pause"], "Env": ["PATH=/"]})


def push_all(reg):
    """The critest stand-ins (tests/critest) and the pause image, to `reg`."""
    import critestlib
    images = critestlib.push_images(reg)
    img = pause_image()
    config, manifest, layers = standin_images.manifest_of(img)
    for blob in layers + [config]:
        reg.push_blob("pause", blob)
    reg.push_manifest("pause", "3.6", manifest, "application/vnd.oci.image.manifest.v1+json")
    return images + [img]


# -- the host: what CRI-O may leave, found by our own names ---------------------------------
def _run(cmd, check=False, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PATH=PATH),
                          check=check, timeout=60, **kw)


def nat_rules():
    result = _run(["iptables", "-w", "-t", "nat", "-S"])
    return result.stdout.splitlines() if result.returncode == 0 else []


LOCALNET_RULE = ["POSTROUTING", "-s", "127.0.0.0/8", "-o", BRIDGE, "-j", "MASQUERADE"]


class HostState:
    """What exists before CRI-O starts, to remove only what it added."""

    def __init__(self):
        self.nat = set(nat_rules())
        self.paths = {p for p in SYSTEM_PATHS + ("/var/lib/containers",
                                                 os.path.dirname(BLOB_INFO_CACHE),
                                                 BLOB_INFO_CACHE) if os.path.lexists(p)}
        self.cgroups = set(_crio_cgroups())

    def cleanup(self):
        """Removes what CRI-O added; returns the problems (each one also a
        failure of the test: a leftover is a bug of this harness)."""
        errors = []
        # Host ports: CRI-O's KUBE-HOSTPORTS (with jumps from PREROUTING and
        # OUTPUT) outlives it; a per-pod KUBE-HP-* chain left means a pod was
        # not torn down. Remove the new rules, then the new chains.
        new = [r for r in nat_rules() if r not in self.nat and
               ("KUBE-HOSTPORTS" in r or "KUBE-HP-" in r)]
        iptables = ["iptables", "-w", "-t", "nat"]
        for rule in [r for r in new if r.startswith("-A ")]:
            _run(iptables + ["-D"] + shlex.split(rule)[1:])
        for rule in [r for r in new if r.startswith("-N ")]:
            chain = rule.split()[1]
            if chain.startswith("KUBE-HP-"):
                errors.append("CRI-O left the host-port chain %s (a pod not torn down)" % chain)
            _run(iptables + ["-F", chain])
            _run(iptables + ["-X", chain])
        # The blob-info cache, and its folders when they are ours.
        if BLOB_INFO_CACHE not in self.paths and os.path.exists(BLOB_INFO_CACHE):
            os.unlink(BLOB_INFO_CACHE)
        for d in (os.path.dirname(BLOB_INFO_CACHE), "/var/lib/containers"):
            if d not in self.paths and os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError as err:
                    errors.append("cannot remove %s: %s" % (d, err))
        for path in SYSTEM_PATHS:
            if path not in self.paths and os.path.lexists(path):
                errors.append("CRI-O wrote outside its folder: %s (left in place)" % path)
        # Empty cgroups under CRI-O's parent that were not there before.
        for path in sorted(set(_crio_cgroups()) - self.cgroups, key=len, reverse=True):
            try:
                os.rmdir(path)
            except OSError as err:
                errors.append("cgroup %s not removed: %s" % (path, err))
        return errors


CRIO_LOCK = "/run/lock/crisp-crio.lock"


def crio_lock():
    """Held from start to stop: one private CRI-O on the machine at a time
    (another worktree's run waits here), since the bridge crio0, its subnet
    and CRI-O's KUBE-HOSTPORTS chain are fixed names. Returns the release."""
    fd = os.open(CRIO_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for another private CRI-O on this machine (%s)" % CRIO_LOCK,
              file=sys.stderr, flush=True)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return lambda: os.close(fd)


def _crio_cgroups(root="/sys/fs/cgroup"):
    """cgroup folders CRI-O's cgroupfs manager makes when the pod names no
    parent (as here, and as a kubelet with cgroupsPerQOS off): crio-conmon-ID
    (conmon, with monitor_cgroup "pod") holding crio-ID (the container), at
    the top of every hierarchy, and what is below them."""
    found = []
    tops = [root] + [os.path.join(root, d) for d in os.listdir(root)
                     if os.path.isdir(os.path.join(root, d))]
    for top in tops:
        try:
            names = os.listdir(top)
        except OSError:
            continue
        for name in names:
            base = os.path.join(top, name)
            if (name == "crio" or name.startswith("crio-")) and os.path.isdir(base) and \
                    not os.path.islink(base):
                found += [dirpath for dirpath, _, _ in os.walk(base)]
    return found


def processes_naming(folder):
    """PIDs whose command line names a path under `folder` (conmon names its
    exit dir, bundle and log; the runc wrapper its root), ourselves excluded."""
    needle = (folder.rstrip("/") + "/").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if needle in f.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def caps_missing_from_bounding_set():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                bits = int(line.split()[1], 16)
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    return [i for i in range(last + 1) if not bits >> i & 1]


# -- the instance -----------------------------------------------------------------------
def _toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)  # a TOML basic string


def _table(name, settings):
    return "[%s]\n" % name + "".join("%s = %s\n" % (k, _toml(v)) for k, v in settings.items())


class PrivateCrio:
    """CRI-O of our own under one folder. start(), restart(...), stop().

    `socket` is CRI-O's CRI socket (W/run/crio/crio.sock), `root` is W.
    `default_when_empty` is `seccomp_use_default_when_empty` (CRI-O 1.26's
    default is True; CRI-O's own critest CI uses False).
    """

    def __init__(self, crio, pinns, registry_address, default_when_empty=True,
                 hostport_localnet=True, out_dir=None):
        self.crio, self.pinns = crio, pinns
        self.registry_address = registry_address
        self.default_when_empty = default_when_empty
        self.hostport_localnet = hostport_localnet
        self.out_dir = out_dir
        self.root = self.proc = self.host = None
        self.version = None
        self._bridge_made = self._rule_added = False
        self._log_path = None
        self._starts = 0
        self._release = None

    # -- paths --------------------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def socket(self):
        return self.path("run", "crio", "crio.sock")

    def config(self):
        """crio.conf: every path CRI-O would otherwise take from /var, /run
        or /etc, under W."""
        p = self.path
        return "\n".join([
            "# written by tests/crio/criolib.py",
            _table("crio", {
                "root": p("lib", "containers", "storage"),
                "runroot": p("run", "containers", "storage"),
                "storage_driver": "overlay",
                "log_dir": p("log", "crio", "pods"),
                "version_file": p("run", "crio", "version"),
                "version_file_persist": p("lib", "crio", "version"),
                "clean_shutdown_file": p("lib", "crio", "clean.shutdown"),
            }),
            _table("crio.api", {
                "listen": self.socket,
                "stream_address": "127.0.0.1",
                "stream_port": "0",
            }),
            _table("crio.runtime", {
                "default_runtime": "runc",
                "cgroup_manager": "cgroupfs",
                "conmon_cgroup": "pod",
                "seccomp_use_default_when_empty": self.default_when_empty,
                "selinux": False,
                "container_exits_dir": p("run", "crio", "exits"),
                "container_attach_socket_dir": p("run", "crio"),
                "namespaces_dir": p("run", "ns"),
                "pinns_path": self.pinns,
                "hooks_dir": [p("etc", "containers", "oci", "hooks.d")],
                "cdi_spec_dirs": [p("etc", "cdi")],
                "decryption_keys_path": p("etc", "crio", "keys"),
                "default_mounts_file": "",
                "irqbalance_config_file": p("etc", "sysconfig", "irqbalance"),
                "log_level": "info",
            }),
            _table("crio.runtime.runtimes.runc", {
                "runtime_path": self.runtime_path,
                "runtime_type": "oci",
                "runtime_root": p("run", "runc"),
                "monitor_path": CONMON,
                "monitor_cgroup": "pod",
                "monitor_env": ["PATH=" + PATH],
            }),
            _table("crio.image", {
                "pause_image": PAUSE_IMAGE,
                "signature_policy": p("etc", "containers", "policy.json"),
            }),
            _table("crio.network", {
                "network_dir": p("etc", "cni", "net.d") + "/",
                "plugin_dirs": [CNI_BIN_DIR],
            }),
            _table("crio.metrics", {"enable_metrics": False}),
            _table("crio.nri", {"enable_nri": False,
                                "nri_listen": p("run", "nri", "nri.sock"),
                                "nri_plugin_dir": p("opt", "nri", "plugins"),
                                "nri_plugin_config_dir": p("etc", "nri", "conf.d")}),
        ])

    def registries_conf(self):
        text = ["# written by tests/crio/criolib.py: every name the tests use, to the",
                "# local registry; `location` rewrites, so nothing falls back upstream.",
                "unqualified-search-registries = []", ""]
        for host in MAPPED_HOSTS:
            text += ["[[registry]]", 'prefix = "%s"' % host,
                     'location = "%s"' % self.registry_address, "insecure = true", ""]
        return "\n".join(text)

    def storage_conf(self):
        return ('[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n'
                % (self.path("run", "containers", "storage"),
                   self.path("lib", "containers", "storage")))

    def cni_conflist(self):
        return json.dumps({
            "cniVersion": "1.0.0", "name": "crisp-crio",
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
                 "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET}]],
                          "routes": [{"dst": "0.0.0.0/0"}],
                          "dataDir": self.path("lib", "cni", "networks")}},
            ]}, indent=1)

    def _write(self, rel, text, mode=0o644):
        path = self.path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _write_files(self):
        for d in (("etc", "crio", "crio.conf.d"), ("etc", "containers", "registries.conf.d"),
                  ("etc", "containers", "oci", "hooks.d"), ("etc", "cdi"),
                  ("etc", "crio", "keys"), ("log", "crio", "pods"), ("lib", "crio"),
                  ("run", "crio", "exits")):
            os.makedirs(self.path(*d), exist_ok=True)
        self._write("etc/crio/crio.conf", self.config())
        self._write("etc/containers/registries.conf", self.registries_conf())
        self._write("etc/containers/storage.conf", self.storage_conf())
        self._write("etc/containers/policy.json",
                    json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        self._write("etc/cni/net.d/10-crisp-crio.conflist", self.cni_conflist())

    def _command(self, *args):
        return [self.crio, "--config", self.path("etc", "crio", "crio.conf"),
                "--config-dir", self.path("etc", "crio", "crio.conf.d"),
                "--registries-conf", self.path("etc", "containers", "registries.conf"),
                "--registries-conf-dir", self.path("etc", "containers", "registries.conf.d")
                ] + list(args)

    def _env(self):
        return dict(os.environ, PATH=PATH,
                    CONTAINERS_STORAGE_CONF=self.path("etc", "containers", "storage.conf"),
                    CONTAINERS_REGISTRIES_CONF=self.path("etc", "containers", "registries.conf"),
                    CONTAINERS_REGISTRIES_CONF_DIR=self.path("etc", "containers",
                                                             "registries.conf.d"))

    def check_config(self):
        """`crio config` prints the configuration CRI-O would run with: every
        absolute path in it must be under W or a read-only tool path."""
        result = subprocess.run(self._command("config"), capture_output=True, text=True,
                                env=self._env(), timeout=120)
        if result.returncode != 0:
            raise RuntimeError("crio config failed:\n%s%s" % (result.stdout, result.stderr))
        allowed = (self.root + "/", CNI_BIN_DIR, CONMON, self.pinns, self.crio,
                   os.path.dirname(self.runtime_path) + "/", "/usr/share/containers/oci/hooks.d",
                   "/proc/", "/dev/", "/sys/", "/etc/hosts", "/etc/resolv.conf")
        bad = []
        for line in result.stdout.splitlines():
            if line.lstrip().startswith("#") or "=" not in line:
                continue
            key, value = [s.strip() for s in line.split("=", 1)]
            for path in re.findall(r'"(/[^"]*)"', value):
                if not any(path == a.rstrip("/") or path.startswith(a) for a in allowed):
                    bad.append("%s = %s" % (key, path))
        return bad, result.stdout

    # -- lifecycle --------------------------------------------------------------------------
    def start(self):
        check_prerequisites()
        self._release = crio_lock()
        if os.path.exists("/sys/class/net/" + BRIDGE):
            self._release()
            self._release = None
            raise RuntimeError("the bridge %s exists, left by a CRI-O test that did not clean "
                               "up (ip link del %s)" % (BRIDGE, BRIDGE))
        self.host = HostState()
        self.root = tempfile.mkdtemp(prefix="crisp-crio-")
        try:
            self.runtime_path = self._runtime()
            self._write_files()
            bad, _ = self.check_config()
            if bad:
                raise RuntimeError("CRI-O's effective config names paths outside %s: %s"
                                   % (self.root, bad))
            self._network()
            self._start_crio()
        except BaseException:
            try:
                self.stop()
            except Exception as err:  # the start error is the one to report
                print("PrivateCrio: cleanup after a failed start also failed: %s" % err,
                      file=sys.stderr)
            raise
        return self

    def restart(self, default_when_empty):
        """Stop CRI-O (pods removed first), change the seccomp setting, start
        it again on the same folder: its images stay."""
        self._stop_crio([])
        self.default_when_empty = default_when_empty
        self._write("etc/crio/crio.conf", self.config())
        self._start_crio()

    def _runtime(self):
        runc = shutil.which("runc", path=PATH)
        if not caps_missing_from_bounding_set() and not runc_wrap.hugetlb_unmounted():
            return runc
        with open(os.path.join(HERE, "runc_wrap.py")) as f:
            source = f.read()
        source, n = re.subn(r'^RUNC = ".*"$', "RUNC = %s" % json.dumps(runc), source, flags=re.M)
        assert n == 1, "runc_wrap.py: no RUNC line"
        return self._write("bin/runc-wrap", source, 0o755)

    def _network(self):
        """Our bridge before CRI-O (the CNI bridge plugin takes it as it is),
        so that host ports answer on 127.0.0.1 (real-crio.md, pitfall 5)."""
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        self._bridge_made = True
        _run(["ip", "link", "set", BRIDGE, "up"], check=True)
        if self.hostport_localnet:
            _run(["sysctl", "-q", "-w", "net.ipv4.conf.%s.route_localnet=1" % BRIDGE], check=True)
            _run(["iptables", "-w", "-t", "nat", "-I"] + LOCALNET_RULE, check=True)
            self._rule_added = True

    def _start_crio(self):
        self._starts += 1
        self._log_path = self.path("crio-%d.log" % self._starts)
        with open(self._log_path, "w") as log:
            # setpriv --pdeathsig: CRI-O does not outlive a test process that
            # dies without cleaning up (a ctest timeout).
            self.proc = subprocess.Popen(["setpriv", "--pdeathsig", "TERM"] + self._command(),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self._env())
        deadline = time.monotonic() + START_TIMEOUT_S
        last = None
        while True:
            if self.proc.poll() is not None:
                self._fail("crio exited %s at start" % self.proc.returncode)
            if os.path.exists(self.socket):
                try:
                    conditions = {c.type: c.status for c in status(self.socket).status.conditions}
                    if conditions.get("RuntimeReady") and conditions.get("NetworkReady"):
                        break
                    last = conditions
                except grpc.RpcError as err:
                    last = err.details()
            if time.monotonic() > deadline:
                self._fail("not ready within %ss (last: %s)" % (START_TIMEOUT_S, last))
            time.sleep(POLL_S)  # poll interval of a bounded wait, not a synchronisation
        with cri_client.CriClient(self.socket) as cri:
            answer = cri.call("Version", version="v1")
        self.version = "%s %s" % (answer.runtime_name, answer.runtime_version)

    def _fail(self, what):
        raise RuntimeError("private CRI-O: %s; its log (%s):\n%s"
                           % (what, self._log_path, self.log()[-6000:]))

    def log(self):
        try:
            with open(self._log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return "(no log)"

    def pull(self, *images):
        for image in images:
            pull(self.socket, image)

    def remove_all_pods(self):
        """Stops and removes every pod (and so its containers) through the
        CRI; returns the errors."""
        errors = []
        with cri_client.CriClient(self.socket) as cri:
            for pod in cri.call("ListPodSandbox").items:
                for method in ("StopPodSandbox", "RemovePodSandbox"):
                    try:
                        cri.call(method, pod_sandbox_id=pod.id)
                    except grpc.RpcError as err:
                        errors.append("%s %s: %s" % (method, pod.id, err.details()))
        return errors

    def _stop_crio(self, errors):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                errors += self.remove_all_pods()
            except grpc.RpcError as err:
                errors.append("listing pods: %s" % err.details())
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            errors.append("crio ignored SIGTERM for %ss; killed" % STOP_TIMEOUT_S)
            self.proc.kill()
            self.proc.wait()
        if self.out_dir and self._log_path and os.path.exists(self._log_path):
            os.makedirs(self.out_dir, exist_ok=True)
            shutil.copy(self._log_path, os.path.join(self.out_dir,
                                                     os.path.basename(self._log_path)))
        self.proc = None

    def stop(self):
        """Everything, each step attempted whatever failed before; the
        problems are raised together at the end."""
        errors = []
        try:
            self._stop_crio(errors)
        except Exception as err:
            errors.append("stopping crio: %s" % err)
        if self.root is not None:
            errors += self._leftover_processes()
            for point in host_cleanup.mounts_under(self.root):
                if _run(["umount", point]).returncode != 0:
                    _run(["umount", "-l", point])
            left = host_cleanup.mounts_under(self.root)
            if left:
                errors.append("mounts left, %s not removed: %s" % (self.root, left))
        if self._rule_added:
            if _run(["iptables", "-w", "-t", "nat", "-D"] + LOCALNET_RULE).returncode != 0:
                errors.append("could not delete the nat rule %s" % " ".join(LOCALNET_RULE))
            self._rule_added = False
        if self._bridge_made and os.path.exists("/sys/class/net/" + BRIDGE):
            _run(["ip", "link", "del", BRIDGE])
            self._bridge_made = False
        if self.host is not None:
            errors += self.host.cleanup()
        if self.root is not None and not host_cleanup.mounts_under(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        if self._release is not None:
            self._release()
            self._release = None
        if errors:
            raise RuntimeError("private CRI-O cleanup: " + "; ".join(errors))

    def _leftover_processes(self):
        """conmon (and the containers under it) still running after CRI-O
        stopped, found by our folder in their command line."""
        errors, killed = [], []
        for pid in processes_naming(self.root):
            errors.append("killed leftover process %d: %s" % (pid, host_cleanup.cmdline(pid)))
            killed += host_cleanup.children(pid) + [pid]
        for pid in killed:
            host_cleanup.kill(pid)
        host_cleanup.wait_dead(killed, STOP_TIMEOUT_S)
        return errors

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except Exception as err:
            if exc_type is None:
                raise
            print("PrivateCrio: %s" % err, file=sys.stderr)
        return False


def crisp_problems(log):
    """crisp's warn and error lines (there must be none)."""
    return [line for line in log.splitlines() if re.match(r"^\S+\s+(warn|error)\b", line)]


# -- the node layout of deploy/crio/ ------------------------------------------------------
DEPLOY = os.path.join(REPO, "deploy", "crio")


def unit_exec_start():
    """crisp's --listen and --runtime-endpoint from deploy/crio/10-crio.conf
    (its last ExecStart=, as systemd takes it), as absolute node paths."""
    line = None
    with open(os.path.join(DEPLOY, "10-crio.conf")) as f:
        for raw in f:
            if raw.startswith("ExecStart=") and raw.strip() != "ExecStart=":
                line = raw.split("=", 1)[1]
    if line is None:
        raise AssertionError("deploy/crio/10-crio.conf has no ExecStart=")
    args = shlex.split(line)

    def value(flag):
        if flag not in args or args.index(flag) + 1 >= len(args):
            raise AssertionError("10-crio.conf's ExecStart lacks %s: %s" % (flag, line))
        return args[args.index(flag) + 1]
    return _socket_path(value("--listen")), _socket_path(value("--runtime-endpoint"))


def kubelet_endpoint():
    """The kubelet's --container-runtime-endpoint from deploy/crio/kubelet.env."""
    with open(os.path.join(DEPLOY, "kubelet.env")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("KUBELET_EXTRA_ARGS="):
                for arg in shlex.split(line.split("=", 1)[1]):
                    if arg.startswith("--container-runtime-endpoint="):
                        return _socket_path(arg.split("=", 1)[1])
    raise AssertionError("deploy/crio/kubelet.env sets no --container-runtime-endpoint")


def _socket_path(endpoint):
    path = endpoint[len("unix://"):] if endpoint.startswith("unix://") else endpoint
    if not path.startswith("/"):
        raise AssertionError("not an absolute unix socket: %r" % endpoint)
    return path


def under(root, node_path):
    """A node path (/run/crio/crio.sock) inside a test's root folder."""
    return os.path.join(root, node_path.lstrip("/"))
