#!/usr/bin/python3 -IS
"""runc, made to fit a machine whose bounding set lacks capabilities.

CRI-O's `runtime_path` for the tests, written into the private instance's
folder (criolib.PrivateCrio) only where the machine needs it: some machines
(these test machines) have CAP_SYS_RESOURCE in no process's bounding set,
PID 1 included. CRI-O 1.26 then fails in two ways that containerd does not
(../shared/design/real-crio.md, pitfalls 1 and 2):

- every infra (pause) container gets `oomScoreAdj: -998`, which needs
  CAP_SYS_RESOURCE to set (`nsexec: failed to update /proc/self/oom_score_adj:
  Permission denied`); containerd has `restrict_oom_score_adj`, CRI-O 1.26
  has no such setting;
- privileged containers and `add: ["ALL"]` get every capability CRI-O knows,
  at create and in the process.json of every exec (`unable to apply caps:
  operation not permitted`); containerd grants only its own.

- the kernel knows the hugetlb cgroup controller (/proc/cgroups) but no
  hierarchy of it is mounted (cgroup v1 here): CRI-O 1.26 asks only the
  kernel, passes the kubelet's `hugepageLimits` on, and runc fails (`cannot
  set hugetlb limit: container could not join or create cgroup`);
  containerd tolerates a missing hugetlb controller by default.

So before `runc create|run` this raises a lower `process.oomScoreAdj` in the
bundle's config.json to this process's own value and, where no hugetlb
hierarchy is mounted, drops `linux.resources.hugepageLimits`; before `runc
create|run|exec` it drops from config.json / `--process FILE` the
capabilities missing from its own bounding set; then it execs the real runc
with the same arguments. Nothing else changes. criolib writes a copy with
RUNC set to the real runc.
"""

import json
import os
import sys

RUNC = "/usr/sbin/runc"

# Capability names by bit (linux/capability.h).
CAPS = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
        "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
        "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
        "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]

# runc's global flags that take a value (runc --help).
GLOBAL_WITH_VALUE = {"--root", "--log", "--log-format", "--criu", "--rootless"}


def bounding_set():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                bits = int(line.split()[1], 16)
                return {"CAP_" + name for i, name in enumerate(CAPS) if bits >> i & 1}
    return None


def own_oom_score_adj():
    with open("/proc/self/oom_score_adj") as f:
        return int(f.read())


def hugetlb_unmounted():
    """True when cgroups are v1 (/sys/fs/cgroup is no cgroup2 mount) and no
    mounted v1 hierarchy carries the hugetlb controller."""
    v1_hugetlb = unified_root = False
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rest = left.split(), right.split()
            if len(fields) < 5 or len(rest) < 3:
                continue
            if rest[0] == "cgroup2" and fields[4] == "/sys/fs/cgroup":
                unified_root = True
            if rest[0] == "cgroup" and "hugetlb" in rest[2].split(","):
                v1_hugetlb = True
    return not unified_root and not v1_hugetlb


def drop_hugepage_limits(doc):
    resources = (doc.get("linux") or {}).get("resources") or {}
    if resources.get("hugepageLimits"):
        del resources["hugepageLimits"]
        return True
    return False


def split(args):
    """(subcommand, its arguments) of a runc command line."""
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            return arg, args[i + 1:]
        if arg in GLOBAL_WITH_VALUE:
            i += 1
        i += 1
    return None, []


def option(args, names):
    """The value of the first of `names` (`--x V`, `--x=V`, `-x V`), or None."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def fit_process(process, allowed, oom_floor):
    """Edits an OCI `process` object in place; True when it changed."""
    changed = False
    caps = process.get("capabilities") or {}
    for kind, names in caps.items():
        if isinstance(names, list):
            kept = [n for n in names if n in allowed]
            if kept != names:
                caps[kind] = kept
                changed = True
    if oom_floor is not None and isinstance(process.get("oomScoreAdj"), int) and \
            process["oomScoreAdj"] < oom_floor:
        process["oomScoreAdj"] = oom_floor
        changed = True
    return changed


def rewrite(path, edit):
    with open(path) as f:
        doc = json.load(f)
    if edit(doc):
        tmp = path + ".runc-wrap"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, path)


def main(args):
    sub, rest = split(args)
    allowed = bounding_set()
    if allowed is not None and sub in ("create", "run"):
        bundle = option(rest, ("--bundle", "-b")) or "."
        floor = own_oom_score_adj()
        no_hugetlb = hugetlb_unmounted()
        rewrite(os.path.join(bundle, "config.json"),
                lambda doc: fit_process(doc.setdefault("process", {}), allowed, floor) |
                (no_hugetlb and drop_hugepage_limits(doc)))
    elif allowed is not None and sub == "exec":
        process = option(rest, ("--process", "-p"))
        if process:
            rewrite(process, lambda doc: fit_process(doc, allowed, None))
    os.execv(RUNC, [RUNC] + args)


if __name__ == "__main__":
    main(sys.argv[1:])
