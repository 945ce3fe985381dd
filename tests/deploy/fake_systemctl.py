"""A fake systemctl for the installer tests: logs every call and models the
little of systemd the installer relies on, under a temporary root.

Environment:
  FAKE_ROOT      the node's root file system (the installer's HOST_ROOT)
  FAKE_STATE     a JSON file holding the fake's state between calls
  FAKE_LOG       every call is appended here, one line: the arguments
  FAKE_PROC      where the kubelet's /proc/<pid>/cmdline is written
  FAKE_CRISP_FAILS=1              crisp.service fails to start
  FAKE_KUBELET_BROKEN_ENDPOINT=E  the kubelet crash-loops on endpoint E

What it models:
  - daemon-reload snapshots the unit files and drop-ins (systemd reads them
    only then); a start or restart whose files changed on disk since the last
    daemon-reload is logged as a VIOLATION, as is starting the kubelet on
    crisp's endpoint while crisp is not active.
  - restart/start kubelet.service computes the kubelet's command line from
    the loaded kubelet.service and drop-ins with the environment files read
    at that moment (as systemd does), and writes it to FAKE_PROC/<pid>/cmdline.
Unknown commands exit 1, so an installer that starts using another one fails
its tests until the fake learns it.
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

ROOT = os.environ["FAKE_ROOT"]
STATE = os.environ["FAKE_STATE"]
UNIT_DIRS = ["etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"]
CRISP_ENDPOINTS = ("unix:///run/crisp/crisp.sock", "unix:///run/crisp/run/crio/crio.sock")


def load_state():
    try:
        with open(STATE) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"loaded": {}, "active": {}, "enabled": {}, "next_pid": 4000, "main_pid": {}}


def save_state(state):
    with open(STATE, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)


def log(line):
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(line + "\n")


def unit_files(name):
    """{relative path: content} of the unit and its drop-ins under ROOT,
    and the ordered list (unit first, drop-ins by file name)."""
    main = None
    for d in UNIT_DIRS:
        path = os.path.join(ROOT, d, name)
        if os.path.isfile(path):
            main = path
            break
    if main is None:
        return {}, []
    dropins = {}
    for d in reversed(UNIT_DIRS):  # /etc last: it overrides same-named ones
        for path in glob.glob(os.path.join(ROOT, d, name + ".d", "*.conf")):
            dropins[os.path.basename(path)] = path
    ordered = [main] + [dropins[k] for k in sorted(dropins)]
    return {os.path.relpath(p, ROOT): deploylib.read(p) for p in ordered}, ordered


def name_of(arg):
    return arg if "." in arg else arg + ".service"


def check_fresh(state, name):
    files, _ = unit_files(name)
    if files != state["loaded"].get(name, {}).get("files"):
        log("VIOLATION: %s started with unit files changed since daemon-reload" % name)


def start(state, name):
    check_fresh(state, name)
    loaded = state["loaded"].get(name)
    if not loaded or not loaded["order"]:
        log("VIOLATION: start of %s, which is not loaded" % name)
        return 5
    unit = deploylib.Unit(loaded["order"][0], loaded["order"][1:])
    env = unit.environment(ROOT)
    argv = unit.exec_start(env)
    binary = os.path.join(ROOT, argv[0].lstrip("/"))
    if name == "crisp.service":
        ok = os.access(binary, os.X_OK) and not os.environ.get("FAKE_CRISP_FAILS")
        state["active"][name] = ok
        state["crisp_argv"] = argv
        return 0 if ok else 1
    if name == "kubelet.service":
        endpoint = deploylib.flag(argv, "container-runtime-endpoint")
        if endpoint in CRISP_ENDPOINTS and not state["active"].get("crisp.service"):
            log("VIOLATION: kubelet started on crisp's endpoint while crisp is not active")
        pid = state["next_pid"]
        state["next_pid"] += 1
        state["main_pid"][name] = pid
        os.makedirs(os.path.join(os.environ["FAKE_PROC"], str(pid)), exist_ok=True)
        with open(os.path.join(os.environ["FAKE_PROC"], str(pid), "cmdline"), "wb") as f:
            f.write(b"".join(a.encode() + b"\0" for a in argv))
        broken = os.environ.get("FAKE_KUBELET_BROKEN_ENDPOINT")
        state["active"][name] = endpoint != broken
        state["kubelet_argv"] = argv
        return 0
    log("VIOLATION: start of unexpected unit %s" % name)
    return 1


def main(args):
    log(" ".join(args))
    state = load_state()
    rc = 0
    quiet = "--quiet" in args
    args = [a for a in args if a != "--quiet"]
    cmd, rest = args[0], args[1:]
    if cmd == "daemon-reload":
        for name in ("crisp.service", "kubelet.service"):
            files, order = unit_files(name)
            state["loaded"][name] = {"files": files, "order": order}
    elif cmd in ("start", "restart"):
        rc = start(state, name_of(rest[0]))
    elif cmd == "enable":
        now = "--now" in rest
        name = name_of([a for a in rest if a != "--now"][0])
        if not state["loaded"].get(name, {}).get("order"):
            log("VIOLATION: enable of %s, which is not loaded" % name)
            rc = 1
        else:
            state["enabled"][name] = True
            if now and not state["active"].get(name):
                rc = start(state, name)
    elif cmd == "disable":
        now = "--now" in rest
        name = name_of([a for a in rest if a != "--now"][0])
        state["enabled"][name] = False
        if now:
            state["active"][name] = False
    elif cmd == "stop":
        state["active"][name_of(rest[0])] = False
    elif cmd == "is-active":
        active = state["active"].get(name_of(rest[0]), False)
        if not quiet:
            print("active" if active else "inactive")
        rc = 0 if active else 3
    elif cmd == "show" and rest[:3] == ["--property", "MainPID", "--value"]:
        print(state["main_pid"].get(name_of(rest[3]), 0))
    else:
        print("fake systemctl: unsupported: %s" % " ".join(args), file=sys.stderr)
        rc = 1
    save_state(state)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
