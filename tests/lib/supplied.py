"""Binaries the user supplies: the one convention for the tests that need a
program of another project that Debian does not package (critest and
crictl, a kubelet, CRI-O, kind and a node image). docs/supplied-binaries.md
describes it; hack/clients-lib.sh is its shell half.

- Nothing given (every variable unset): the test prints ONE line,
      TEST: SKIPPED: WHAT; to run it, set HOW (see DOC)
  and is skipped, in CI as well. tests/CMakeLists.txt turns the line into a
  ctest "skipped" (SKIP_REGULAR_EXPRESSION); hack/test.sh lists it in its
  summary (the line is appended to $CRISP_SKIPPED_FILE when that is set).
- Something given: the user meant to run the test, so a variable that names
  no executable file, or one that is missing beside the others, fails it.
- Root, containerd and the other Debian packages are not "supplied": a test
  that lacks them fails (containerd.check_prerequisites), it never skips.
"""

import os
import unittest


def skip(test, what, how, doc):
    """Print the one skip line, record it for hack/test.sh, and skip."""
    line = "%s: SKIPPED: %s; to run it, set %s (see %s)" % (test, what, how, doc)
    print(line, flush=True)
    summary = os.environ.get("CRISP_SKIPPED_FILE")
    if summary:
        with open(summary, "a") as f:
            f.write(line + "\n")
    raise unittest.SkipTest(line)


def binaries(test, names, how, doc):
    """{NAME: path} of the executables named by the environment variables
    `names` (e.g. ("CRITEST", "CRICTL")). None set: skip (see skip()). Some
    set: each must be set and name an executable file, else RuntimeError."""
    given = {name: os.environ.get(name, "") for name in names}
    if not any(given.values()):
        skip(test, "no %s given" % " or ".join(names), how, doc)
    problems = []
    for name, path in given.items():
        if not path:
            problems.append("%s is not set" % name)
        elif not (os.path.isfile(path) and os.access(path, os.X_OK)):
            problems.append("%s=%s is not an executable file" % (name, path))
    if problems:
        raise RuntimeError("%s: %s (set %s; see %s)" % (test, "; ".join(problems), how, doc))
    return given
