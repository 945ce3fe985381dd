"""The pod-spec source against a fake API server (issue 8): crisp lists and
watches the node's pods and settles the ambiguous CreateContainer from the
spec; adds, changes and deletions reach its cache; it lists again after
410 Gone (as an event and as an HTTP answer), watches again after a drop,
and picks up a rotated client certificate without a restart."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import certs  # noqa: E402
import fake_apiserver as fa  # noqa: E402
from podspeclib import (CREATE, DECIDED, NODE, RUNTIME_DEFAULT, UNCONFINED,  # noqa: E402
                        PodSpecTestCase)


class InitialList(PodSpecTestCase):

    def add_initial_state(self):
        self.api.add_pods([
            fa.pod("nothing", uid="u-nothing", containers=[("app", None)]),
            fa.pod("pod-unconfined", uid="u-pod-unc", seccomp="Unconfined",
                   containers=[("app", None)]),
            fa.pod("override", uid="u-override", seccomp="RuntimeDefault",
                   containers=[("app", "Unconfined")]),
            fa.pod("disagree", uid="u-disagree", seccomp="Unconfined",
                   containers=[("app", "RuntimeDefault")]),
            fa.pod("disagree-pod", uid="u-disagree-pod", seccomp="RuntimeDefault",
                   containers=[("app", None)]),
            fa.pod("localhost", uid="u-localhost", containers=[("app", "Localhost")]),
            fa.pod("localhost-pod", uid="u-localhost-pod", seccomp="Localhost",
                   containers=[("app", None)]),
            fa.pod("kinds", uid="u-kinds", containers=[("app", None)],
                   init_containers=[("init", "Unconfined")],
                   ephemeral_containers=[("debug", "Unconfined")]),
            fa.pod("elsewhere", uid="u-other-node", node="node2", seccomp="Unconfined",
                   containers=[("app", None)]),
        ])

    def test_the_spec_decides(self):
        self.wait_synced()
        self.assertEqual(self.metric("crisp_podspec_cache_pods"), 8)  # not node2's
        # nothing set anywhere: RuntimeDefault, as SeccompDefault would
        self.assertEqual(self.create("u-nothing"), RUNTIME_DEFAULT)
        # explicit Unconfined on the pod: left alone
        self.assertEqual(self.create("u-pod-unc"), UNCONFINED)
        # the container's own setting wins over the pod's
        self.assertEqual(self.create("u-override"), UNCONFINED)
        # the spec says RuntimeDefault (for the container, or for the pod),
        # the request says Unconfined: the confined side wins (issue 15), and
        # it is said loudly
        self.assertEqual(self.create("u-disagree"), RUNTIME_DEFAULT)
        self.crisp.wait_for_log("the spec and the request disagree")
        self.crisp.wait_for_log("reason=\"the container's spec names RuntimeDefault, "
                                "the request says Unconfined\"")
        self.assertEqual(self.create("u-disagree-pod"), RUNTIME_DEFAULT)
        # Localhost: the ambiguousUnconfined policy, RuntimeDefault by default
        self.assertEqual(self.create("u-localhost"), RUNTIME_DEFAULT)
        self.assertEqual(self.create("u-localhost-pod"), RUNTIME_DEFAULT)
        self.crisp.wait_for_log_count("the spec and the request disagree", 4)
        disagree = [line for line in self.crisp.log_lines() if "disagree method=" in line]
        self.assertTrue(all("forwarded=runtime-default" in line for line in disagree), disagree)
        # the decision line carries the spec's reason
        self.crisp.wait_for_log("reason=\"the pod's spec names Localhost, "
                                "the request says Unconfined\"")
        self.assertEqual(self.metric("crisp_podspec_lookups_total", result="disagree"), 4)
        # init and ephemeral containers are resolved from their own entries
        self.assertEqual(self.create("u-kinds", container="init"), UNCONFINED)
        self.assertEqual(self.create("u-kinds", container="debug"), UNCONFINED)
        self.assertEqual(self.create("u-kinds", container="app"), RUNTIME_DEFAULT)
        self.crisp.wait_for_log("kind=initContainer")
        self.crisp.wait_for_log("kind=ephemeralContainer")
        self.assertEqual(self.metric("crisp_podspec_lookups_total", result="spec"), 6)
        lines = [line for line in self.crisp.log_lines() if DECIDED in line]
        self.assertTrue(all("source=spec" in line for line in lines), lines)

    def test_the_list_asked_for_this_node_only(self):
        req = self.api.wait_for_requests("list", 1)[0]
        self.assertEqual(req.query.get("fieldSelector"), "spec.nodeName=" + NODE)
        self.assertEqual(req.cn, self.client.cn)  # the client certificate was sent


class DisagreeKeepPolicy(PodSpecTestCase):
    """With ambiguousUnconfined=keep a spec naming Localhost keeps the
    request; a spec naming RuntimeDefault still gets RuntimeDefault."""
    extra_args = ("--ambiguous-unconfined", "keep")

    def add_initial_state(self):
        self.api.add_pods([
            fa.pod("localhost", uid="u-localhost", containers=[("app", "Localhost")]),
            fa.pod("runtime-default", uid="u-rd", seccomp="RuntimeDefault",
                   containers=[("app", None)]),
        ])

    def test_localhost_follows_the_policy(self):
        self.wait_synced()
        self.assertEqual(self.create("u-localhost"), UNCONFINED)
        self.crisp.wait_for_log("forwarded=unchanged")
        self.assertEqual(self.create("u-rd"), RUNTIME_DEFAULT)
        self.crisp.wait_for_log("forwarded=runtime-default")
        self.assertEqual(self.metric("crisp_podspec_lookups_total", result="disagree"), 2)


class WatchEvents(PodSpecTestCase):
    wait_ms = 5000  # long enough that a missing pod is certainly waited for

    def test_add_modify_delete(self):
        self.wait_synced()
        self.api.wait_for_watches(1)
        self.api.add_pod(fa.pod("late", uid="u-late", containers=[("app", None)]))
        self.wait_metric(1, "crisp_podspec_cache_pods")
        self.assertEqual(self.create("u-late"), RUNTIME_DEFAULT)

        self.api.modify_pod("default/late",
                            lambda p: p["spec"]["securityContext"].update(
                                seccompProfile={"type": "Unconfined"}))
        self.crisp.wait_for_log("MODIFIED pod=default/late")
        self.assertEqual(self.create("u-late"), UNCONFINED)

        self.api.delete_pod("late", namespace="default")
        self.crisp.wait_for_log("DELETED pod=default/late")
        self.wait_metric(0, "crisp_podspec_cache_pods")

    def test_a_call_waits_for_the_watch_to_deliver_its_pod(self):
        self.wait_synced()
        import threading
        result = {}
        t = threading.Thread(target=lambda: result.update(got=self.create("u-coming")))
        t.start()
        self.crisp.wait_for_log("pod-spec: waiting for the pod uid=u-coming")
        self.api.add_pod(fa.pod("coming", uid="u-coming", seccomp="Unconfined",
                                containers=[("app", None)]))
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertEqual(result.get("got"), UNCONFINED)
        self.assertEqual(self.metric("crisp_podspec_lookups_total", result="spec"), 1)

    def test_a_client_that_gives_up_while_its_pod_is_awaited(self):
        self.wait_synced()
        pb = self.api_pb
        req = pb.CreateContainerRequest()
        req.config.metadata.name = b"app"
        req.config.linux.security_context.seccomp.profile_type = UNCONFINED
        req.sandbox_config.metadata.uid = b"u-never"
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary(CREATE)(req.SerializeToString(), timeout=0.5)
        self.assertCode(caught.exception, grpc.StatusCode.DEADLINE_EXCEEDED)
        # The lookup ends (the 5 s wait runs out); the call is dropped, not forwarded.
        self.crisp.wait_for_log("the client went away while its pod was looked up")
        self.assertEqual(self.fake.calls(CREATE), [])
        # crisp goes on serving.
        self.api.add_pod(fa.pod("ok", uid="u-ok", seccomp="Unconfined", containers=[("app", None)]))
        self.wait_metric(1, "crisp_podspec_cache_pods")
        self.assertEqual(self.create("u-ok"), UNCONFINED)

    def test_bookmarks_move_the_resource_version(self):
        self.wait_synced()
        self.api.wait_for_watches(1)
        self.api.add_pod(fa.pod("a", uid="u-a"))
        self.wait_metric(1, "crisp_podspec_cache_pods")
        # Changes to pods of other nodes move the version without an event
        # for crisp; only a bookmark tells it.
        self.api.add_pod(fa.pod("b", uid="u-b", node="node2"))
        rv = self.api.resource_version
        self.api.send_bookmark()
        self.crisp.wait_for_log("pod-spec: bookmark resourceVersion=%s" % rv)
        # After a drop, the watch starts again from the bookmark's version.
        self.api.drop_watches()
        watches = self.api.wait_for_requests("watch", 2)
        self.assertEqual(watches[-1].query.get("resourceVersion"), str(rv))
        self.assertEqual(len(self.api.wait_for_requests("list", 1)), 1)  # no relist


class Relist(PodSpecTestCase):

    def add_initial_state(self):
        self.api.add_pod(fa.pod("stays", uid="u-stays", seccomp="Unconfined"))
        self.api.add_pod(fa.pod("goes", uid="u-goes", seccomp="Unconfined"))

    def relist_after(self, make_gone):
        self.wait_synced()
        self.api.wait_for_watches(1)
        self.api.wait_for_requests("list", 1)
        make_gone()
        self.api.wait_for_requests("list", 2)
        self.wait_metric(1, "crisp_podspec_watch_restarts_total", reason="gone")
        self.wait_synced()

    def test_gone_as_a_watch_event(self):
        self.relist_after(self.api.send_gone)

    def test_gone_as_an_http_answer(self):
        def gone():
            self.api.fail_next("watch", 410)
            self.api.drop_watches()
        self.relist_after(gone)

    def test_a_pod_deleted_while_not_watching_is_dropped_by_the_relist(self):
        self.wait_synced()
        self.api.wait_for_watches(1)
        self.wait_metric(2, "crisp_podspec_cache_pods")
        # The deletion happens "while crisp is away": its watch then gets 410.
        self.api.set_down(True)
        self.api.delete_pod("goes", namespace="default")
        self.api.expire()
        self.api.set_down(False)
        self.api.wait_for_requests("list", 2)
        self.wait_metric(1, "crisp_podspec_cache_pods")


class Reconnect(PodSpecTestCase):

    def add_initial_state(self):
        self.api.add_pod(fa.pod("p", uid="u-p", seccomp="Unconfined", containers=[("app", None)]))

    def test_watch_again_after_a_drop(self):
        self.wait_synced()
        self.api.wait_for_watches(1)
        self.api.drop_watches()
        self.wait_metric(1, "crisp_podspec_watch_restarts_total", reason="dropped")
        self.api.wait_for_requests("watch", 2)
        self.wait_synced()
        self.assertEqual(self.create("u-p"), UNCONFINED)

    def test_a_rotated_client_certificate_is_used_without_a_restart(self):
        self.wait_synced()
        first = self.api.wait_for_requests("watch", 1)[0]
        self.assertEqual(first.serial, self.client.serial)
        # The kubelet rotates kubelet-client-current.pem in place.
        rotated = certs.client_cert(self.pki, "kubelet-client")
        self.assertNotEqual(rotated.serial, self.client.serial)
        self.api.drop_watches()
        self.api.wait_for(lambda: any(r.serial == rotated.serial for r in self.api.requests),
                          what="a request with the rotated certificate")
        self.wait_synced()


if __name__ == "__main__":
    unittest.main()
