"""The README demo (run by hack/demo.sh): the same pod, directly on containerd
and then through crisp, and the seccomp mode each container really got.

Exits 0 only if the container is unconfined (0) directly and filtered (2)
through crisp. Needs CRISP_BIN, root and the packages of hack/install-deps.sh.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE, os.path.join(_HERE, "..", "lib")]

from containerd import PrivateContainerd  # noqa: E402
from cri_client import seccomp_line_of_new_container  # noqa: E402
from crisp import Crisp  # noqa: E402


def _mode(line):
    return int(line.split()[-1])


def main():
    print("starting a private containerd and crisp in front of it...")
    with PrivateContainerd() as containerd:
        print("runtime: %s (private instance, %s)" % (containerd.version, containerd.tmp))
        direct = seccomp_line_of_new_container(containerd.socket)
        with Crisp(containerd.socket) as crisp:
            through = seccomp_line_of_new_container(crisp.listen)
    # crisp has exited by now, so its log is complete.
    rewrites = [line for line in crisp.log_lines() if "seccomp defaulted" in line]
    # The container's own rewrite is the one the demo is about; the pod's
    # sandbox is defaulted too and would only add noise.
    rewrites = [line for line in rewrites if "context=container" in line] or rewrites
    got = (_mode(direct), _mode(through))
    notes = ("(no profile -> unconfined)" if got[0] == 0 else "(UNEXPECTED: wanted 0)",
             "(crisp defaulted it to RuntimeDefault)" if got[1] == 2 else "(UNEXPECTED: wanted 2)")
    print()
    print("a pod + container with no seccomp profile set:")
    print("  direct to containerd:  Seccomp: %d   %s" % (got[0], notes[0]))
    print("  through crisp:         Seccomp: %d   %s" % (got[1], notes[1]))
    for line in rewrites or ["(no 'seccomp defaulted' line: UNEXPECTED)"]:
        print("  crisp's log:           %s" % line.strip())
    if got != (0, 2):
        print("\nDEMO FAILED: expected 0 directly and 2 through crisp", file=sys.stderr)
        return 1
    print("\nok: everything torn down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
