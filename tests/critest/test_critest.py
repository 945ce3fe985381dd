"""critest, the CRI validation suite, three times against one private
containerd: directly, through crisp, and through `crisp --no-default`
(issue 15). Through crisp exactly one spec may differ from the direct run,
the by-design one (an empty seccomp profile no longer means unconfined);
through --no-default nothing may differ. The direct run itself must fail
only the spec that cannot pass offline, so a broken set-up (CNI, images,
registry mapping) fails here instead of hiding behind equal lists.

Needs CRITEST and CRICTL, binaries the user supplies (hack/critest.sh sets
them, or unpacks CRI_TOOLS_TARBALL); without them the test prints one line
saying it skipped and how to run it (docs/supplied-binaries.md).
About 3.5 minutes: three serial runs of ~65 s, and the set-up.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import containerd  # noqa: E402
import critestlib  # noqa: E402
import registry  # noqa: E402
import supplied  # noqa: E402
from crisp import Crisp  # noqa: E402


class CritestThreeWays(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        tools = supplied.binaries("critest", ("CRITEST", "CRICTL"),
                                  "CRITEST and CRICTL, or CRI_TOOLS_TARBALL with hack/critest.sh",
                                  "docs/critest.md")
        cls.critest, cls.crictl = tools["CRITEST"], tools["CRICTL"]
        containerd.check_prerequisites()
        cls.addClassCleanup(critestlib.host_lock())
        problems = critestlib.missing_prerequisites()
        if problems:
            raise RuntimeError("cannot run critest:\n  - " + "\n  - ".join(problems)
                               + "\n(run hack/install-deps.sh as root)")
        cls.workdir = os.path.join(os.environ.get("CRISP_CLIENTS_OUT") or
                                   os.path.join(os.getcwd(), "build", "clients-out"), "critest")
        cls.focus = os.environ.get("CRISP_CRITEST_FOCUS") or None
        cls.registry = registry.Registry().start()
        cls.addClassCleanup(cls.registry.stop)
        critestlib.push_images(cls.registry)
        cls.ctrd = containerd.PrivateContainerd(
            configure=critestlib.configure(cls.registry.address))
        cls.addClassCleanup(critestlib.remove_bridge)
        cls.addClassCleanup(critestlib.portmap_cleanup())
        cls.ctrd.start()
        cls.addClassCleanup(cls.ctrd.stop)
        critestlib.check_mapping(cls.crictl, cls.ctrd.socket, cls.registry)
        cls.runs = {}

    def run_critest(self, label, endpoint):
        # A pod left by an earlier run (or an aborted one) makes specs fail.
        self.ctrd._remove_all_pods()
        shm_before = critestlib.shm_ids()
        try:
            lists, output = critestlib.run_critest(self.critest, endpoint, self.workdir, label,
                                                   self.focus)
        finally:
            # The HostIpc specs leave 1 MiB segments (ipcmk) behind.
            critestlib.remove_shm(critestlib.shm_ids() - shm_before)
        self.runs[label] = lists
        return lists, output

    def through_crisp(self, label, args=()):
        with Crisp(self.ctrd.socket, args=list(args)) as crisp:
            lists, output = self.run_critest(label, crisp.listen)
            log = crisp.log()
        return lists, output, log

    def test_three_ways(self):
        direct, out = self.run_critest("direct", self.ctrd.socket)
        if self.focus is None:
            self.assertEqual(direct["failed"], critestlib.OFFLINE_FAILURES,
                             "direct against containerd only the offline spec may fail; "
                             "the set-up is broken:\n"
                             + critestlib.failure_excerpt(out, direct["failed"]))
            self.assertTrue(all("benchmark" in n.lower() for n in direct["skipped"]),
                            sorted(direct["skipped"]))

        crisp, out, log = self.through_crisp("crisp")
        diff = critestlib.differences(direct, crisp)
        want = {critestlib.BY_DESIGN: ("passed", "failed")}
        if self.focus is None or critestlib.BY_DESIGN in diff:
            self.assertEqual(diff, want, critestlib.failure_excerpt(out, diff))
        else:
            self.assertEqual(diff, {}, critestlib.failure_excerpt(out, diff))
        self.assertIn("seccomp defaulted", log)

        nodefault, out, log = self.through_crisp("crisp-no-default", ["--no-default"])
        diff = critestlib.differences(direct, nodefault)
        self.assertEqual(diff, {}, critestlib.failure_excerpt(out, diff))
        self.assertNotIn("seccomp defaulted", log)

        table = ["| run | passed | failed | skipped |", "|---|---|---|---|"]
        for label, lists in self.runs.items():
            table.append("| %s | %d | %d | %d |" % (label, len(lists["passed"]),
                                                    len(lists["failed"]), len(lists["skipped"])))
        print("\n".join(table), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
