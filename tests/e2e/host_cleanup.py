"""Last-resort cleanup of what a private containerd leaves on the host.

Used by containerd.py after containerd has stopped: its shims (and their
containers) when the CRI could not remove a pod, the mounts under its
folder, and cgroups runc never got to delete. Everything is found by our own
socket path, folder or PIDs: nothing is matched by process name.
"""

import os
import signal
import time

POLL_S = 0.1


def mounts_under(path):
    """Mount points at or below `path`, deepest first (from mountinfo)."""
    prefix = path.rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # Field 5 is the mount point, with space/tab/newline/backslash octal-escaped.
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(prefix):
                found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def shims_of(socket):
    """PIDs of the shims serving containerd at `socket`: each carries
    `-address <socket>` in its arguments (a system containerd's never do)."""
    needle = b"\0-address\0" + socket.encode() + b"\0"
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if needle in f.read():
                    pids.append(int(entry))
        except OSError:
            continue  # it exited while we looked
    return pids


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                # The field after the parenthesised command name is the state,
                # then the parent PID; the name itself may hold spaces.
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return kids


def wait_dead(pids, timeout):
    """Wait (bounded) until every pid is gone or a zombie."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                        break
            except OSError:
                break
            time.sleep(POLL_S)  # poll interval of a bounded wait


def k8s_cgroups(pid):
    """The CRI-made cgroup paths (/k8s.io/<id>) a process is in."""
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            paths = {line.rstrip("\n").split(":", 2)[2] for line in f}
    except OSError:
        return set()
    return {p for p in paths if p.startswith("/k8s.io/") and ".." not in p}


def remove_cgroups(paths, root="/sys/fs/cgroup"):
    hierarchies = [root] + [os.path.join(root, d) for d in os.listdir(root)]
    for path in paths:
        for hierarchy in hierarchies:
            try:
                os.rmdir(hierarchy + path)  # rmdir: only ever removes an empty cgroup
            except OSError:
                pass


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
