"""crisp exact on a modern kubelet in kind, against a real API server
(issue 20): hack/kind-up.sh --pod-spec, i.e. deploy/kind/kind-config.yaml
plus the optional pod-spec drop-in (deploy/kind/31-podspec-kind.conf with
deploy/systemd/30-podspec.conf, a crisp built with the pod-spec source and
its libraries), mounted when the cluster is created.

- crisp starts at boot, before kubeadm has written the kubelet's kubeconfig;
  on the worker that file appears only after the kubelet's TLS bootstrap:
  crisp's journal says it could not read it, then that it listed the node's
  pods, and /metrics says the cache is in sync;
- explicit Unconfined on the pod -> Seccomp 0 (settled from the spec, on a
  kubelet that sends it like "nothing set"); no profile -> 2; Unconfined on
  the container only -> 0; pod Unconfined but container RuntimeDefault -> 2;
- crisp's /metrics: lookups answered from the spec, no failed call.
The cluster is deleted at the end, whatever failed.
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kindlib as kl  # noqa: E402

CLUSTER = "crisp-e2e-podspec"


class PodSpecInKind(kl.KindTestCase):
    name = "podspec"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # hack/kind-up.sh --pod-spec takes the normal build's crisp (it has
        # libcurl) and collects its libraries beside it.
        build = os.path.join(cls.out, "podspec-build")
        os.makedirs(build, exist_ok=True)
        shutil.copy(os.environ["CRISP_BIN"], os.path.join(build, "crisp"))
        cls.cluster = cls.track(kl.Cluster(CLUSTER, cls.env, cls.out))
        args = ["--name", CLUSTER, "--image", cls.inputs.node_image, "--build-dir", build,
                "--no-build", "--pod-spec", "--pod-archive", cls.inputs.pod_archive,
                "--crisp-opts", "--metrics-listen=" + kl.METRICS_SOCKET]
        if cls.inputs.config_extra:
            args += ["--config-extra", cls.inputs.config_extra]
        with cls.timings("hack/kind-up.sh --pod-spec (create, 2 nodes, the two pods)"):
            cls.kind_up_output = kl.kind_up(args, cls.env, os.path.join(cls.out, "kind-up.log"))
        cls.minor, cls.version = cls.kubelet_minor(cls.cluster)
        cls.worker = cls.cluster.node("worker")
        cls.control_plane = cls.cluster.node("control-plane")
        cls.image = cls.inputs.pod_image

    def test_1_kubeconfig_appeared_after_crisp_started(self):
        journal = self.cluster.journal(self.worker)
        lines = journal.splitlines()
        started = [i for i, line in enumerate(lines) if "pod-spec: on kubeconfig=" in line]
        missing = [i for i, line in enumerate(lines) if "cannot read the kubeconfig" in line]
        listed = [i for i, line in enumerate(lines) if "pod-spec: listed pods" in line]
        self.assertTrue(started and listed, journal[-4000:])
        # On the worker crisp ran before the kubelet's TLS bootstrap wrote
        # /etc/kubernetes/kubelet.conf, and picked the file up later.
        self.assertTrue(missing and missing[0] < listed[0], journal[-4000:])
        for node in (self.control_plane, self.worker):
            samples = self.cluster.metrics(node)
            self.assertEqual(kl.metric(samples, "crisp_podspec_cache_synced"), 1, node)

    def test_2_kind_up_seccomp(self):
        out = self.kind_up_output
        self.assertEqual(kl.printed_seccomp(out, "crisp-default"), 2)
        self.assertEqual(kl.printed_seccomp(out, "crisp-unconfined"), 0)
        kl.log("kubelet %s with the pod spec: no profile -> 2, explicit Unconfined -> 0"
               % self.version)
        self.assertRegex(out, r"pod-spec: decided .*source=spec")

    def test_3_container_and_pod_settings(self):
        cases = [  # name, pod's type, container's type, expected
            ("ctr-unconfined", None, "Unconfined", 0),
            ("pod-unconfined-ctr-default", "Unconfined", "RuntimeDefault", 2),
            ("nothing-set", None, None, 2),
        ]
        for name, pod_type, ctr_type, _ in cases:
            self.cluster.apply(kl.pod(name, [kl.container("app", self.image, kl.SLEEP,
                                                          seccomp=ctr_type)],
                                      node=self.worker, seccomp=pod_type))
        with self.timings("three pods with pod/container settings Ready"):
            for name, _, _, _ in cases:
                self.cluster.wait_ready(name)
        for name, pod_type, ctr_type, expected in cases:
            got = self.cluster.seccomp(name)
            kl.log("pod %s (pod %s, container %s): Seccomp %d" % (name, pod_type, ctr_type, got))
            self.assertEqual(got, expected, name)

    def test_9_metrics(self):
        spec_lookups = 0
        for node in (self.control_plane, self.worker):
            samples = self.cluster.metrics(node)
            spec_lookups += kl.metric(samples, "crisp_podspec_lookups_total", result="spec")
            self.assertEqual(self.cluster.unexplained_failures(node, samples), {},
                             "failed calls through crisp on %s" % node)
            self.assertEqual(kl.metric(samples, "crisp_decode_failures_total"), 0, node)
        self.assertGreaterEqual(spec_lookups, 2)


if __name__ == "__main__":
    unittest.main()
