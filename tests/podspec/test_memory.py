"""Memory of the pod cache (issue 8): 5,000 pods' worth of watch events
(about 3 KB of JSON each, as a real pod) go through crisp's cache; its
anonymous memory is measured before, with all of them cached, and after
they are deleted again. The numbers are printed for the README (see
docs/podspec.md); the test fails if the cache costs more than a generous
bound per pod, or if crisp keeps growing once the pods are gone."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_apiserver as fa  # noqa: E402
from crisp import really_freeing_env  # noqa: E402
from podspeclib import PodSpecTestCase  # noqa: E402

PODS = 5000
# What crisp keeps per pod is its uid, name, namespace, version and each
# container's name and type: a few hundred bytes. The bound leaves room for
# the allocator and the ASan build's redzones.
MAX_KIB_PER_POD = 4


def anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon for pid %d" % pid)


class FiveThousandPods(PodSpecTestCase):

    def start_crisp(self, args=None):
        # In the sanitizer build, the JSON of 5,000 pods would fill ASan's
        # quarantine and be counted as the cache's.
        return super().start_crisp(args, env=really_freeing_env())

    def test_cache_memory(self):
        self.wait_synced()
        self.api.wait_for_watches(1)
        pid = self.crisp.proc.pid
        before = anon_kib(pid)

        pods = [fa.pod("pod-%05d" % i, uid="uid-%05d" % i,
                       containers=[("app", None), ("sidecar", "RuntimeDefault")])
                for i in range(PODS)]
        self.api.add_pods(pods)
        self.wait_metric(PODS, "crisp_podspec_cache_pods")
        full = anon_kib(pid)

        for i in range(PODS):
            self.api.delete_pod("uid-%05d" % i)
        self.wait_metric(0, "crisp_podspec_cache_pods")
        after = anon_kib(pid)

        # And once more: what the first round freed is used again.
        self.api.add_pods([fa.pod("again-%05d" % i, uid="again-%05d" % i,
                                  containers=[("app", None), ("sidecar", "RuntimeDefault")])
                           for i in range(PODS)])
        self.wait_metric(PODS, "crisp_podspec_cache_pods")
        again = anon_kib(pid)

        print("\npod cache, %d pods: anon before %d KiB, with the pods %d KiB (+%d KiB, "
              "%.0f bytes per pod), after deleting them %d KiB, %d pods again %d KiB"
              % (PODS, before, full, full - before, (full - before) * 1024.0 / PODS, after,
                 PODS, again), file=sys.stderr)
        if os.environ.get("CRISP_UNDER_VALGRIND") == "1":
            return  # memcheck's allocator, not crisp's, would be judged (hack/valgrind.sh)
        self.assertLess(full - before, PODS * MAX_KIB_PER_POD)
        # The second round fits in what the first left: no growth per round.
        self.assertLess(again - full, PODS * MAX_KIB_PER_POD // 4)


if __name__ == "__main__":
    unittest.main()
