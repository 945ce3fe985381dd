"""Self-test of the fake API server, with the standard library as the client
(http.client over ssl), not crisp.

    PYTHONPATH=tests/lib /usr/bin/python3 -m unittest -v tests/lib/test_fake_apiserver.py
"""

import base64
import http.client
import json
import shutil
import socket
import ssl
import tempfile
import threading
import unittest

import yaml

import certs
import fake_apiserver as fa

NODE_SELECTOR = "fieldSelector=spec.nodeName%3Dnode1"
IO_TIMEOUT = 10


class Base(unittest.TestCase):
    require_client_cert = True
    token = None

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fake-apiserver-")
        cls.pki = certs.make_pki(cls.dir)
        cls.cc = certs.client_cert(cls.pki, "node1")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.api = fa.FakeApiServer(self.pki, require_client_cert=self.require_client_cert,
                                    token=self.token).start()
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        self.api.stop()
        left = [t.name for t in threading.enumerate() if t.name.startswith("fake-apiserver")]
        self.assertEqual(left, [])

    # -- client side --------------------------------------------------------
    def connect(self, cc="default", headers=None):
        ctx = ssl.create_default_context(cafile=self.pki.ca)
        cc = self.cc if cc == "default" else cc
        if cc is not None:
            ctx.load_cert_chain(cc.cert, cc.key)
        c = http.client.HTTPSConnection("127.0.0.1", self.api.port, context=ctx,
                                        timeout=IO_TIMEOUT)
        self.conns.append(c)
        return c

    def get(self, path, conn=None, headers=None):
        conn = conn or self.connect()
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r.status, json.loads(body) if body else None

    def list(self, limit=None, cont=None, conn=None):
        q = "/api/v1/pods?" + NODE_SELECTOR
        if limit:
            q += "&limit=%d" % limit
        if cont:
            q += "&continue=" + cont
        return self.get(q, conn)

    def watch(self, rv=None, bookmarks=True, timeout=60, conn=None):
        conn = conn or self.connect()
        q = "/api/v1/pods?%s&watch=1&timeoutSeconds=%d" % (NODE_SELECTOR, timeout)
        if rv is not None:
            q += "&resourceVersion=%s" % rv
        if bookmarks:
            q += "&allowWatchBookmarks=true"
        conn.request("GET", q)
        r = conn.getresponse()
        return r

    def events(self, r, n):
        out = []
        for _ in range(n):
            line = r.readline()
            self.assertTrue(line.endswith(b"\n"), line)
            out.append(json.loads(line))
        return out


class TestList(Base):
    def test_paging_is_a_consistent_snapshot(self):
        for i in range(7):
            self.api.add_pod(fa.pod("p%d" % i))
        self.api.add_pod(fa.pod("other", node="node2"))
        rv = self.api.resource_version
        c = self.connect()
        st, page1 = self.list(limit=3, conn=c)
        self.assertEqual(st, 200)
        self.assertEqual((page1["kind"], page1["apiVersion"]), ("PodList", "v1"))
        self.assertEqual(page1["metadata"]["resourceVersion"], str(rv))
        self.assertIn("continue", page1["metadata"])
        self.api.add_pod(fa.pod("p9"))           # after the snapshot: not in this list
        self.api.delete_pod("p0", namespace="default")
        names = [p["metadata"]["name"] for p in page1["items"]]
        cont = page1["metadata"]["continue"]
        while cont:
            st, page = self.list(limit=3, cont=cont, conn=c)
            self.assertEqual(st, 200)
            self.assertEqual(page["metadata"]["resourceVersion"], str(rv))
            names += [p["metadata"]["name"] for p in page["items"]]
            cont = page["metadata"].get("continue")
        self.assertEqual(names, ["p%d" % i for i in range(7)])
        # items: no kind; their own resourceVersion; one keep-alive connection
        self.assertNotIn("kind", page1["items"][0])
        self.assertEqual(page1["items"][0]["spec"]["nodeName"], "node1")
        lists = self.api.wait_for_requests("list", 3)
        self.assertEqual({r.connection for r in lists}, {lists[0].connection})
        self.assertEqual(lists[1].query["limit"], "3")
        self.assertEqual(lists[0].query["fieldSelector"], "spec.nodeName=node1")
        # without limit: everything now, at the current version
        st, full = self.list()
        self.assertEqual(len(full["items"]), 7)
        self.assertEqual(full["metadata"]["resourceVersion"], str(self.api.resource_version))
        self.assertNotIn("continue", full["metadata"])

    def test_continue_after_expiry_is_410(self):
        for i in range(4):
            self.api.add_pod(fa.pod("p%d" % i))
        st, page = self.list(limit=2)
        self.api.add_pod(fa.pod("p9"))
        self.api.expire()
        st, body = self.list(limit=2, cont=page["metadata"]["continue"])
        self.assertEqual(st, 410)
        self.assertEqual((body["kind"], body["reason"], body["code"]), ("Status", "Expired", 410))

    def test_bad_selector_and_unknown_path(self):
        st, body = self.get("/api/v1/pods?fieldSelector=spec.bogus%3Dx")
        self.assertEqual((st, body["reason"]), (400, "BadRequest"))
        st, body = self.get("/api/v1/nodes")
        self.assertEqual((st, body["code"]), (404, 404))

    def test_get_one_pod(self):
        self.api.add_pod(fa.pod("web", namespace="prod"))
        st, body = self.get("/api/v1/namespaces/prod/pods/web")
        self.assertEqual((st, body["kind"], body["metadata"]["name"]), (200, "Pod", "web"))
        st, body = self.get("/api/v1/namespaces/prod/pods/nope")
        self.assertEqual(st, 404)

    def test_pod_helper(self):
        p = fa.pod("web-1", seccomp="Localhost",
                   containers=[("app", "RuntimeDefault"), ("side", None)],
                   init_containers=[("init", "Unconfined")],
                   ephemeral_containers=[("debug", ("Localhost", "my.json"))])
        self.assertEqual(p["spec"]["securityContext"]["seccompProfile"],
                         {"type": "Localhost", "localhostProfile": "profiles/audit.json"})
        cs = p["spec"]["containers"]
        self.assertEqual(cs[0]["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
        self.assertNotIn("securityContext", cs[1])
        self.assertEqual(p["spec"]["initContainers"][0]["securityContext"]["seccompProfile"],
                         {"type": "Unconfined"})
        self.assertEqual(p["spec"]["ephemeralContainers"][0]["securityContext"]
                         ["seccompProfile"]["localhostProfile"], "my.json")
        self.assertEqual(fa.pod("x")["spec"]["securityContext"], {})
        size = len(json.dumps(fa.pod("web-5d8f7c9b6d-x2k4q"), separators=(",", ":")))
        self.assertTrue(2000 <= size <= 3300, size)

    def test_five_thousand_pods(self):
        self.api.add_pods([fa.pod("p%05d" % i) for i in range(5000)])
        c = self.connect()
        st, page = self.list(limit=500, conn=c)
        n = len(page["items"])
        while page["metadata"].get("continue"):
            st, page = self.list(limit=500, cont=page["metadata"]["continue"], conn=c)
            n += len(page["items"])
        self.assertEqual(n, 5000)


class TestWatch(Base):
    def test_add_modify_delete_in_order(self):
        self.api.add_pod(fa.pod("old"))
        st, lst = self.list()
        rv = lst["metadata"]["resourceVersion"]
        r = self.watch(rv)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        self.api.wait_for_watches(1)
        added = self.api.add_pod(fa.pod("web", seccomp="RuntimeDefault"))
        self.api.add_pod(fa.pod("elsewhere", node="node2"))     # not for this node
        self.api.modify_pod("default/web",
                            lambda p: p["metadata"]["labels"].update(version="2"))
        self.api.delete_pod(added["metadata"]["uid"])
        evs = self.events(r, 3)
        self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual({e["object"]["metadata"]["name"] for e in evs}, {"web"})
        self.assertEqual(evs[0]["object"]["kind"], "Pod")
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, sorted(rvs))
        self.assertGreater(rvs[0], int(rv))
        self.assertEqual(evs[1]["object"]["metadata"]["labels"]["version"], "2")
        self.assertEqual(evs[0]["object"]["spec"]["securityContext"]["seccompProfile"]["type"],
                         "RuntimeDefault")
        w = self.api.open_watches()[0]
        self.assertEqual(w.query["resourceVersion"], rv)
        self.assertEqual(w.cn, "system:node:node1")

    def test_replay_from_rv_and_initial_adds(self):
        a = self.api.add_pod(fa.pod("a"))
        self.api.add_pod(fa.pod("b"))
        self.api.modify_pod("default/a", lambda p: p["status"].update(phase="Succeeded"))
        r = self.watch(a["metadata"]["resourceVersion"])
        evs = self.events(r, 2)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                         [("ADDED", "b"), ("MODIFIED", "a")])
        r2 = self.watch(None)       # no resourceVersion: the current state as ADDED
        evs = self.events(r2, 2)
        self.assertEqual(sorted((e["type"], e["object"]["metadata"]["name"]) for e in evs),
                         [("ADDED", "a"), ("ADDED", "b")])

    def test_bookmark(self):
        r = self.watch(self.api.resource_version)
        r2 = self.watch(self.api.resource_version, bookmarks=False)
        self.api.wait_for_watches(2)
        self.api.add_pod(fa.pod("elsewhere", node="node2"))
        self.assertEqual(self.api.send_bookmark(), 1)
        ev, = self.events(r, 1)
        self.assertEqual(ev["type"], "BOOKMARK")
        self.assertEqual(ev["object"]["metadata"]["resourceVersion"],
                         str(self.api.resource_version))
        self.assertEqual(ev["object"]["kind"], "Pod")
        self.api.add_pod(fa.pod("here"))
        ev, = self.events(r2, 1)          # the bookmark never reached r2
        self.assertEqual(ev["type"], "ADDED")

    def test_timeout_ends_cleanly(self):
        r = self.watch(self.api.resource_version, timeout=1)
        self.assertEqual(r.read(), b"")          # the terminating chunk, no error
        w, = self.api.wait_for_requests("watch", 1)
        self.api.wait_for(lambda: w.ended is not None)
        self.assertEqual(w.ended, "timeout")

    def test_gone_as_event_on_open_watch(self):
        r = self.watch(self.api.resource_version)
        self.api.wait_for_watches(1)
        self.assertEqual(self.api.send_gone(), 1)
        ev, = self.events(r, 1)
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual(ev["object"], {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "reason": "Expired", "code": 410, "message": "too old resource version"})
        self.assertEqual(r.read(), b"")          # then the stream ends

    def test_expired_rv_both_forms(self):
        self.api.add_pod(fa.pod("a"))
        old = self.api.resource_version
        self.api.add_pod(fa.pod("b"))
        self.api.expire()
        r = self.watch(old)                      # default: 200 + ERROR event
        self.assertEqual(r.status, 200)
        ev, = self.events(r, 1)
        self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
        self.assertEqual(r.read(), b"")
        self.api.expire(as_event=False)          # HTTP 410 with a Status body
        r = self.watch(old)
        self.assertEqual(r.status, 410)
        body = json.loads(r.read())
        self.assertEqual((body["kind"], body["reason"], body["code"]), ("Status", "Expired", 410))
        r = self.watch(self.api.resource_version)   # current: fine
        self.assertEqual(r.status, 200)
        r.close()

    def test_fail_next(self):
        self.api.fail_next("watch", 410)
        self.api.fail_next("list", 429, retry_after=1)
        r = self.watch(self.api.resource_version)
        self.assertEqual(r.status, 410)
        r.read()
        conn = self.connect()
        conn.request("GET", "/api/v1/pods?" + NODE_SELECTOR)
        r = conn.getresponse()
        self.assertEqual((r.status, r.getheader("Retry-After")), (429, "1"))
        r.read()
        st, _ = self.list(conn=conn)
        self.assertEqual(st, 200)
        self.api.fail_next("watch", 410, as_event=True)
        r = self.watch(self.api.resource_version)
        ev, = self.events(r, 1)
        self.assertEqual((r.status, ev["type"], ev["object"]["code"]), (200, "ERROR", 410))

    def test_drop(self):
        r = self.watch(self.api.resource_version)
        self.api.wait_for_watches(1)
        self.api.add_pod(fa.pod("a"))
        self.events(r, 1)
        self.assertEqual(self.api.drop_watches(), 1)
        with self.assertRaises((http.client.HTTPException, OSError)):
            r.read()                              # no terminating chunk
        w, = self.api.wait_for_requests("watch", 1)
        self.api.wait_for(lambda: w.ended is not None)
        self.assertEqual(w.ended, "dropped")

    def test_chunking(self):
        r = self.watch(self.api.resource_version)
        self.api.wait_for_watches(1)
        self.api.set_chunking(split=7)
        self.api.add_pod(fa.pod("a"))
        self.api.set_chunking(coalesce=True)
        self.api.add_pods([fa.pod("b"), fa.pod("c")])
        evs = self.events(r, 3)
        self.assertEqual([e["object"]["metadata"]["name"] for e in evs], ["a", "b", "c"])

    def test_stop_closes_open_watches_promptly(self):
        rs = [self.watch(self.api.resource_version) for _ in range(3)]
        self.api.wait_for_watches(3)
        idle = self.connect()
        self.list(conn=idle)                      # an idle keep-alive connection too
        mute = socket.create_connection(("127.0.0.1", self.api.port))   # never says hello
        self.addCleanup(mute.close)
        self.api.wait_for_connections(2)
        self.api.stop()                           # raises if a thread is left
        for r in rs:
            with self.assertRaises((http.client.HTTPException, OSError)):
                r.read()


class TestFaults(Base):
    def test_delay(self):
        self.api.set_delay(0.3)
        st, _ = self.list()   # answered late, but answered (timing is not asserted)
        self.assertEqual(st, 200)

    def test_down(self):
        self.api.set_down(True)
        with self.assertRaises((http.client.HTTPException, OSError)):
            self.list()
        c, = self.api.wait_for_connections(1)
        self.assertTrue(c.refused)
        self.api.set_down(True, how="503")
        st, body = self.list()
        self.assertEqual((st, body["code"]), (503, 503))
        self.api.set_down(False)
        st, _ = self.list()
        self.assertEqual(st, 200)


class TestClientCert(Base):
    def test_no_client_cert_fails_the_handshake(self):
        with self.assertRaises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            self.list(conn=self.connect(cc=None))
        c, = self.api.wait_for_handshake_failures(1)
        self.assertIn("certificate", c.handshake_error.lower())
        self.assertEqual(self.api.requests, [])

    def test_rotation(self):
        first = certs.client_cert(self.pki, "rot", cn="system:node:node1")
        c1 = self.connect(first)
        self.assertEqual(self.list(conn=c1)[0], 200)
        second = certs.client_cert(self.pki, "rot", cn="system:node:node1")  # same files
        self.assertNotEqual(first.serial, second.serial)
        self.assertEqual(self.list(conn=c1)[0], 200)    # old connection: still the old cert
        c2 = self.connect(second)
        self.assertEqual(self.list(conn=c2)[0], 200)
        reqs = self.api.wait_for_requests("list", 3)
        self.assertEqual([r.serial for r in reqs], [first.serial, first.serial, second.serial])
        self.assertEqual(reqs[2].cn, "system:node:node1")
        self.assertEqual(reqs[2].organizations, ["system:nodes"])


class TestToken(Base):
    require_client_cert = False
    token = "s3cret"

    def test_token_required(self):
        st, body = self.list(conn=self.connect(cc=None))
        self.assertEqual((st, body["reason"]), (401, "Unauthorized"))
        path = "/api/v1/pods?" + NODE_SELECTOR
        st, _ = self.get(path, self.connect(cc=None), {"Authorization": "Bearer wrong"})
        self.assertEqual(st, 401)
        st, _ = self.get(path, self.connect(cc=None), {"Authorization": "Bearer s3cret"})
        self.assertEqual(st, 200)
        self.api.set_token("rotated")
        st, _ = self.get(path, self.connect(cc=None), {"Authorization": "Bearer s3cret"})
        self.assertEqual(st, 401)
        reqs = self.api.wait_for_requests("list", 4)
        self.assertEqual([r.status for r in reqs], [401, 401, 200, 401])
        self.assertEqual(reqs[2].authorization, "Bearer s3cret")
        self.assertIsNone(reqs[2].cn)
        # with require_client_cert=False a certificate is still verified and reported
        self.get(path, self.connect(), {"Authorization": "Bearer rotated"})
        self.assertEqual(self.api.wait_for_requests("list", 5)[-1].serial, self.cc.serial)


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


class TestKubeconfig(unittest.TestCase):
    def test_files_and_embedded(self):
        d = tempfile.mkdtemp(prefix="fake-apiserver-kc-")
        try:
            pki = certs.make_pki(d)
            cc = certs.client_cert(pki, "node1")
            kc = load_yaml(certs.kubeconfig(
                d + "/kc", "https://127.0.0.1:1", pki.ca, cert=cc.cert, key=cc.key,
                token_file=d + "/token"))
            self.assertEqual(kc["current-context"], "fake")
            u = kc["users"][0]["user"]
            self.assertEqual((u["client-certificate"], u["client-key"], u["tokenFile"]),
                             (cc.cert, cc.key, d + "/token"))
            self.assertEqual(kc["clusters"][0]["cluster"]["certificate-authority"], pki.ca)
            kc = load_yaml(certs.kubeconfig(
                d + "/kc2", "https://127.0.0.1:1", pki.ca, cert=cc.cert, key=cc.key,
                embed=True))
            with open(cc.key, "rb") as f:
                key = f.read()
            self.assertEqual(base64.b64decode(kc["users"][0]["user"]["client-key-data"]), key)
            self.assertIn("certificate-authority-data", kc["clusters"][0]["cluster"])
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
