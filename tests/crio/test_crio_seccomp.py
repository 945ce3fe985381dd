"""crisp in front of a real CRI-O: the seccomp cases (issue 21).

Five security contexts (the same on pod and container), each run as a pod
and a container in CRI-O three ways: directly, through crisp, and through
`crisp --no-default`; under both values of CRI-O's
`seccomp_use_default_when_empty` (true, CRI-O 1.26's default; false, what
CRI-O's own critest CI sets). The mode the container really runs with is
read three times and must agree: the container's first process prints its
own `Seccomp:` line to its log, an ExecSync'd process reads
/proc/self/status (runc gives it the container's filter), and the host reads
/proc/PID/status of the first process. (Not /proc/1 inside: a pod shares its
PID namespace by default, and PID 1 is then the pod's pause process.)
2 = filter (RuntimeDefault), 0 = none. The whole table must equal EXPECTED
(issue 21, ../shared/design/real-crio.md).

The crisp leg runs with --record; the recording gets the expectations of
crisp's rule and passes `crisp replay --check` (10 of 10), and it is replayed
against CRI-O through a new crisp: every status and every ExecSync answer
(the Seccomp lines) must come out the same.

Needs CRIO (and PINNS, default: beside crio); without them it says it
skipped, in CI too (docs/crio.md).
"""

import json
import os
import re
import subprocess
import sys
import time
import unittest
import uuid

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "critest")):
    sys.path.insert(0, os.path.abspath(_path))

import criolib  # noqa: E402
import cri_client  # noqa: E402
import registry  # noqa: E402
from crisp import Crisp, crisp_binary  # noqa: E402

pb = cri_client.pb
_PT = pb.SecurityProfile.ProfileType
NAMESPACE = "crisp-crio-e2e"

# (label, seccomp on pod and container; None = no security context at all)
CASES = [
    ("no security context", None),
    ("no field, path ''", cri_client.NOTHING),
    ("field Unconfined, path ''", cri_client.UNCONFINED_FIELD),
    ("field Unconfined, path unconfined",
     cri_client.Seccomp("F=Unconfined, P=unconfined", path="unconfined",
                        profile_type=_PT.Value("Unconfined"))),
    ("field RuntimeDefault", cri_client.RUNTIME_DEFAULT),
]
LEGS = ("direct", "crisp", "crisp --no-default")
# case -> {seccomp_use_default_when_empty: (direct, crisp, --no-default)}
EXPECTED = {
    "no security context": {True: (2, 2, 2), False: (2, 2, 2)},
    "no field, path ''": {True: (2, 2, 2), False: (0, 2, 0)},
    "field Unconfined, path ''": {True: (0, 2, 0), False: (0, 2, 0)},
    "field Unconfined, path unconfined": {True: (0, 0, 0), False: (0, 0, 0)},
    "field RuntimeDefault": {True: (2, 2, 2), False: (2, 2, 2)},
}
# crisp's rule, as `crisp replay --check` expectations, per case
RUNTIME_DEFAULT = {"profile_type": 0, "localhost_ref": "", "path": "runtime/default"}
DEFAULTED = ({"sandbox": RUNTIME_DEFAULT},
             {"container": RUNTIME_DEFAULT, "sandbox_config": RUNTIME_DEFAULT})
UNCHANGED = ({"unchanged": True}, {"unchanged": True})
RULE = {"no security context": DEFAULTED, "no field, path ''": DEFAULTED,
        "field Unconfined, path ''": DEFAULTED,
        "field Unconfined, path unconfined": UNCHANGED, "field RuntimeDefault": UNCHANGED}


def pod_config(case, seccomp, log_root=None):
    suffix = uuid.uuid4().hex[:10]
    config = pb.PodSandboxConfig()
    config.metadata.name = "seccomp-" + re.sub(r"[^a-z0-9]+", "-", case.lower()).strip("-")
    config.metadata.uid = suffix
    config.metadata.namespace = NAMESPACE
    if log_root:
        config.log_directory = os.path.join(log_root, suffix)
    if seccomp is None:
        config.linux.SetInParent()  # "linux": {} -- and so the pod network (CNI)
    else:
        sc = config.linux.security_context
        sc.namespace_options.network = pb.NODE
        seccomp.apply(sc)
    return config


def container_config(seccomp):
    """busybox that prints its own Seccomp line to its log, then sleeps."""
    config = pb.ContainerConfig()
    config.metadata.name = "probe"
    config.image.image = criolib.BUSYBOX
    config.command.extend(["sh", "-c", "grep Seccomp: /proc/self/status; exec sleep 3600"])
    config.log_path = "probe.log"
    if seccomp is None:
        config.linux.SetInParent()
    else:
        seccomp.apply(config.linux.security_context)
    return config


def host_seccomp(info):
    """Seccomp of the container's first process as the host sees it, from
    CRI-O's verbose ContainerStatus (info["info"] is JSON with its pid)."""
    pid = json.loads(info.get("info", "{}")).get("pid")
    if not pid:
        raise AssertionError("CRI-O's verbose ContainerStatus has no pid: %r" % dict(info))
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Seccomp:\s*(\d+)", f.read(), re.M).group(1))


def logged_seccomp(path, timeout=60):
    """The Seccomp value the container's first process wrote to its log
    (the CRI log format: TIME STREAM TAG TEXT)."""
    def seen():
        try:
            with open(path, errors="replace") as f:
                m = re.search(r"Seccomp:\s*(\d+)", f.read())
        except OSError:
            return None
        return m and int(m.group(1))
    deadline = time.monotonic() + timeout
    while seen() is None:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)  # poll interval of a bounded wait, not a synchronisation
    return seen()


def seccomp_of_new_container(socket_path, case, seccomp, log_root):
    """Runs the case's pod and container through `socket_path`; returns the
    one seccomp mode all three readings agree on: what the container's first
    process logged, what an ExecSync'd process reads in
    /proc/self/status, and the first process's status on the host.
    Everything created is stopped and removed whatever happens."""
    with cri_client.CriClient(socket_path) as cri:
        pod = pod_config(case, seccomp, log_root)
        created = {}
        try:
            created["pod"] = cri.call("RunPodSandbox", config=pod).pod_sandbox_id
            created["container"] = cri.call(
                "CreateContainer", pod_sandbox_id=created["pod"], sandbox_config=pod,
                config=container_config(seccomp)).container_id
            cri.call("StartContainer", container_id=created["container"])
            logged = logged_seccomp(os.path.join(pod.log_directory, "probe.log"))
            out = cri.call("ExecSync", container_id=created["container"],
                           timeout=cri_client.EXEC_TIMEOUT_S,
                           cmd=["grep", "Seccomp:", "/proc/self/status"])
            exec_value = re.search(r"^Seccomp:\s*(\d+)", out.stdout.decode(errors="replace"),
                                   re.M)
            host = host_seccomp(cri.call("ContainerStatus", container_id=created["container"],
                                         verbose=True).info)
            readings = {"logged by the container": logged,
                        "ExecSync /proc/self/status": exec_value and int(exec_value.group(1)),
                        "host /proc/PID/status": host}
            values = set(readings.values())
            if out.exit_code != 0 or None in values or len(values) != 1:
                raise AssertionError("%s: the readings disagree or are missing: %r (exec exit "
                                     "%d, stderr %r)" % (case, readings, out.exit_code,
                                                         out.stderr))
        except BaseException:
            cri_client._cleanup(cri, created, raise_errors=False)
            raise
        cri_client._cleanup(cri, created, raise_errors=True)
        return values.pop()


class SeccompOnCrio(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.crio_bin, cls.pinns = criolib.need_crio()
        criolib.check_prerequisites()
        cls.out = os.path.join(os.environ.get("CRISP_CLIENTS_OUT") or
                               os.path.join(os.getcwd(), "build", "clients-out"), "crio")
        os.makedirs(cls.out, exist_ok=True)
        cls.registry = registry.Registry(preferred_port=0).start()
        cls.addClassCleanup(cls.registry.stop)
        criolib.push_all(cls.registry)
        cls.crio = criolib.PrivateCrio(cls.crio_bin, cls.pinns, cls.registry.address,
                                       out_dir=os.path.join(cls.out, "seccomp-logs"))
        cls.crio.start()
        cls.addClassCleanup(cls.crio.stop)
        print("CRI-O %s (%s), crisp %s" % (cls.crio.version, cls.crio_bin, crisp_binary()),
              file=sys.stderr, flush=True)
        cls.crio.pull(criolib.BUSYBOX)
        cls.logs = cls.crio.path("pod-logs")  # removed with CRI-O's folder
        cls.measured = {}

    @classmethod
    def tearDownClass(cls):
        if cls.measured:
            print(table(cls.measured), file=sys.stderr, flush=True)

    def run_cases(self, setting):
        if self.crio.default_when_empty != setting:
            self.crio.restart(setting)
        name = "true" if setting else "false"
        recording = os.path.join(self.out, "seccomp-%s.jsonl" % name)
        if os.path.exists(recording):
            os.unlink(recording)
        got, pods = {}, {}
        for leg, args in zip(LEGS, ([], ["--record", recording], ["--no-default"])):
            if leg == "direct":
                for case, seccomp in CASES:
                    got.setdefault(case, [None] * 3)[0] = seccomp_of_new_container(
                        self.crio.socket, case, seccomp, self.logs)
                continue
            with Crisp(self.crio.socket, args=args) as crisp:
                for case, seccomp in CASES:
                    got[case][LEGS.index(leg)] = seccomp_of_new_container(
                        crisp.listen, case, seccomp, self.logs)
                log = crisp.log()
            self.assertEqual(criolib.crisp_problems(log), [], "crisp (%s) logged problems" % leg)
            defaulted = log.count("seccomp defaulted")
            if leg == "crisp":
                # three contexts (sandbox, container, sandbox_config) per defaulted case
                self.assertEqual(defaulted, 3 * sum(r is DEFAULTED for r in RULE.values()), log)
            else:
                self.assertEqual(defaulted, 0, log)
        for case in got:
            self.measured.setdefault(case, {})[setting] = tuple(got[case])
        self.assertEqual({c: tuple(v) for c, v in got.items()},
                         {c: e[setting] for c, e in EXPECTED.items()},
                         "seccomp_use_default_when_empty = %s:\n%s" % (name, table(self.measured)))
        self.replay(recording, name)

    def test_1_stock_default_when_empty_true(self):
        self.run_cases(True)

    def test_2_default_when_empty_false(self):
        self.run_cases(False)

    def replay(self, recording, name):
        """The crisp leg's recording: `crisp replay --check` with the rule's
        expectations, then replayed against CRI-O through a new crisp."""
        fixture = os.path.join(self.out, "seccomp-%s-fixture.jsonl" % name)
        by_pod = {pod_config(case, None).metadata.name: RULE[case] for case, _ in CASES}
        counted = 0
        with open(recording) as f, open(fixture, "w") as out:
            for line in f:
                record = json.loads(line)
                method = record["method"].rsplit("/", 1)[-1]
                rule = by_pod.get((record.get("pod") or {}).get("name"))
                if rule and method in ("RunPodSandbox", "CreateContainer"):
                    record["expect"] = rule[0] if method == "RunPodSandbox" else rule[1]
                    counted += 1
                out.write(json.dumps(record) + "\n")
        self.assertEqual(counted, 2 * len(CASES))
        result = subprocess.run([crisp_binary(), "replay", fixture, "--check"],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("%d records with expectations: %d passed, 0 failed" % (counted, counted),
                      result.stdout + result.stderr)
        print("replay --check of %s: %d records with expectations: %d passed, 0 failed"
              % (os.path.basename(fixture), counted, counted), file=sys.stderr, flush=True)
        # Against CRI-O, through a new crisp: new ids are followed; only the
        # verbose ContainerStatus (pids, times) may differ.
        with Crisp(self.crio.socket) as crisp:
            result = subprocess.run([crisp_binary(), "replay", recording, "--runtime-endpoint",
                                     crisp.listen, "--ignore", "ContainerStatus"],
                                    capture_output=True, text=True, timeout=900)
        with open(os.path.join(self.out, "seccomp-%s-replay.txt" % name), "w") as f:
            f.write(result.stdout + result.stderr)
        self.assertEqual(result.returncode, 0, (result.stdout + result.stderr)[-6000:])
        print("replay of %s: %s" % (os.path.basename(recording),
                                    (result.stdout + result.stderr).strip().splitlines()[-1]),
              file=sys.stderr, flush=True)


def table(measured):
    lines = ["| case | true: direct / crisp / --no-default | false: direct / crisp / "
             "--no-default |", "|---|---|---|"]
    for case, _ in CASES:
        row = measured.get(case, {})
        cells = [" / ".join(str(v) for v in row[s]) if s in row else "-" for s in (True, False)]
        lines.append("| %s | %s | %s |" % (case, cells[0], cells[1]))
    return "\n".join(lines)


if __name__ == "__main__":
    unittest.main()
