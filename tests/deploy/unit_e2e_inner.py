"""Inside a private mount namespace (test_unit_e2e.py starts this under
`unshare --mount --propagation private`): crisp started with the unit's own
ExecStart command line, at the unit's own paths, in front of a real private
containerd; one defaulted pod through it. Prints one JSON line.

- /run is a fresh tmpfs, visible to this process and its children only: the
  unit's /run/crisp/crisp.sock and /run/containerd/containerd.sock are ours,
  and the machine's /run is never touched.
- containerd (containerd.py's PrivateContainerd) listens in its own
  temporary folder; that socket is bind-mounted onto
  /run/containerd/containerd.sock, the path the unit names.
- /run/crisp is created 0750 as RuntimeDirectory=crisp would.
- The command line is the unit's ExecStart with the environment systemd would
  give it (EnvironmentFile=-/etc/default/crisp; absent here, so $CRISP_OPTS
  expands to nothing). Only the binary is replaced by $CRISP_BIN.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

import cri_client  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402
from crisp import wait_for_socket  # noqa: E402

STOP_TIMEOUT_S = 60


def main():
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "crisp-test-run", "/run"],
                   check=True)
    unit = deploylib.Unit(deploylib.UNIT)
    argv = unit.exec_start(unit.environment("/"))
    unit_binary, argv[0] = argv[0], deploylib.crisp_binary()
    listen = deploylib.flag(argv, "listen")
    runtime = deploylib.endpoint_path(deploylib.flag(argv, "runtime-endpoint"))
    result = {"unit_argv": [unit_binary] + argv[1:], "argv": argv}

    containerd = PrivateContainerd().start()
    crisp = None
    try:
        os.makedirs(os.path.dirname(runtime), exist_ok=True)
        open(runtime, "w").close()
        subprocess.run(["mount", "--bind", containerd.socket, runtime], check=True)
        for directory in unit.get("Service", "RuntimeDirectory"):
            os.makedirs(os.path.join("/run", directory), mode=0o750)

        log = tempfile.NamedTemporaryFile(prefix="crisp-unit-e2e-", suffix=".log", delete=False)
        crisp = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_for_socket(listen)
        result["socket_mode"] = oct(os.stat(listen).st_mode & 0o7777)
        result["seccomp"] = cri_client.seccomp_mode_of_new_container(
            listen, log_directory=containerd.log_dir)
        crisp.send_signal(signal.SIGTERM)
        result["exit"] = crisp.wait(timeout=STOP_TIMEOUT_S)
        result["socket_left"] = os.path.exists(listen)
        with open(log.name, errors="replace") as f:
            result["log"] = f.read()
        os.unlink(log.name)
    finally:
        if crisp is not None and crisp.poll() is None:
            crisp.kill()
            crisp.wait()
        containerd.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
