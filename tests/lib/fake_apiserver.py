"""A scriptable fake Kubernetes API server for crisp's pod-spec source (issue 8).

It serves, over HTTPS (HTTP/1.1, keep-alive) from a thread of the test
process, the one resource crisp reads: pods, listed with paging and watched
as a chunked stream of JSON lines, with Kubernetes' semantics for
resourceVersion, limit/continue, bookmarks and 410 Gone. Tests script the
state and the failures and observe what the client asked.

    import certs, fake_apiserver as fa
    pki = certs.make_pki(tmpdir)
    cc = certs.client_cert(pki, "node1")
    with fa.FakeApiServer(pki) as api:                   # client cert required
        certs.kubeconfig(kc_path, api.url, pki.ca, cert=cc.cert, key=cc.key)
        api.add_pod(fa.pod("web", seccomp="RuntimeDefault"))
        ... start crisp with the kubeconfig ...
        api.wait_for_watches(1)                          # crisp listed, then watches
        api.modify_pod("default/web", lambda p: p["metadata"]["labels"].update(x="y"))
        api.delete_pod("web", namespace="default")
        api.send_bookmark(); api.send_gone(); api.drop_watches()
        api.expire(); api.fail_next("watch", 410); api.set_delay(2); api.set_down(True)
        reqs = api.wait_for_requests("list", 2)          # Request: path, query, cn, serial...

Endpoints: GET /api/v1/pods (list, or watch with watch=1), GET
/api/v1/namespaces/NS/pods (the same, one namespace) and GET
/api/v1/namespaces/NS/pods/NAME. Anything else is a 404 Status.

Semantics kept from the real server:
- one global resourceVersion, bumped by every add/modify/delete; list
  items and event objects carry the pod's own resourceVersion;
- list pages (limit/continue) are a consistent snapshot at the first
  page's resourceVersion; a continue token older than expire() is 410;
- a watch from resourceVersion RV replays the recorded events after RV,
  then streams live ones; without RV (or RV "0") it starts with synthetic
  ADDED events for the current pods; a watch from an expired RV gets 410
  (as an ERROR event on a 200 stream, as the real server does, or as an
  HTTP 410 answer: selectable); it ends cleanly after timeoutSeconds;
- fieldSelector on spec.nodeName, metadata.name, metadata.namespace,
  status.phase (=, ==, !=); other fields are a 400, as in Kubernetes.
- watch objects carry kind/apiVersion, list items do not.

Waits are condition-variable waits with a timeout (AssertionError when it
passes); nothing here sleeps to synchronise. stop() closes every connection,
watches included, and joins every thread it started.
"""

import base64
import copy
import datetime
import http.server
import itertools
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

WAIT_TIMEOUT_S = 30
DEFAULT_WATCH_TIMEOUT_S = 1800   # the real server picks 1800..3600 when none is asked
HANDSHAKE_TIMEOUT_S = 10
FIRST_RV = 1000

_EXPIRED_MESSAGE = "too old resource version"
_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue "
    "token in this response to retrieve the remainder of the results. Continuing with "
    "the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may "
    "show up in the list.")

_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 410: "Expired", 429: "TooManyRequests",
    500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


def status(code, message=None, reason=None):
    """A v1 Status object, as the API server sends with an error."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message if message is not None else _REASONS.get(code, "error").lower(),
            "reason": reason or _REASONS.get(code, ""), "code": code}


def gone_status(message=_EXPIRED_MESSAGE):
    return status(410, message, "Expired")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- pods ------------------------------------------------------------------------

def _seccomp_profile(seccomp):
    """"RuntimeDefault" / "Unconfined" / "Localhost" / ("Localhost", "path") /
    any other string (kept verbatim) -> a seccompProfile dict, or None."""
    if seccomp is None:
        return None
    if isinstance(seccomp, tuple):
        return {"type": seccomp[0], "localhostProfile": seccomp[1]}
    if seccomp == "Localhost":
        return {"type": "Localhost", "localhostProfile": "profiles/audit.json"}
    return {"type": seccomp}


def _container(name, seccomp, i, kind):
    c = {
        "name": name,
        "image": "registry.k8s.io/e2e-test-images/agnhost:2.%d" % (40 + i),
        "command": ["/agnhost"],
        "args": ["netexec", "--http-port=%d" % (8080 + i)],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                            "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                      "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    if kind == "containers":
        c["ports"] = [{"name": "http", "containerPort": 8080 + i, "protocol": "TCP"}]
    if kind == "ephemeralContainers":
        c["targetContainerName"] = "c"
    profile = _seccomp_profile(seccomp)
    if profile is not None:
        c["securityContext"] = {"seccompProfile": profile}
    return c


def pod(name, namespace="default", uid=None, node="node1", seccomp=None,
        containers=(("c", None),), init_containers=(), ephemeral_containers=(),
        phase="Running", labels=None):
    """A realistic v1 Pod (about 2.5 KB of JSON with one container).

    seccomp (pod level, and each container's in the (name, seccomp) pairs):
    None (no seccompProfile), "RuntimeDefault", "Unconfined", "Localhost"
    (with localhostProfile "profiles/audit.json"), ("Localhost", path), or any
    other string, kept as the type verbatim."""
    uid = uid or str(uuid.uuid4())
    app = name.rsplit("-", 1)[0]
    sc = {}
    profile = _seccomp_profile(seccomp)
    if profile is not None:
        sc["seccompProfile"] = profile
    spec = {
        "volumes": [{"name": "kube-api-access", "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt",
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
            "defaultMode": 420}}],
        "containers": [_container(n, s, i, "containers") for i, (n, s) in enumerate(containers)],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "nodeName": node,
        "securityContext": sc,
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300}],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    if init_containers:
        spec["initContainers"] = [_container(n, s, i, "initContainers")
                                  for i, (n, s) in enumerate(init_containers)]
    if ephemeral_containers:
        spec["ephemeralContainers"] = [_container(n, s, i, "ephemeralContainers")
                                       for i, (n, s) in enumerate(ephemeral_containers)]
    started = _now()
    return {
        "metadata": {
            "name": name,
            "generateName": app + "-",
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": "0",
            "creationTimestamp": started,
            "labels": labels if labels is not None else {"app": app,
                                                         "pod-template-hash": "5d8f7c9b6d"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": app + "-5d8f7c9b6d",
                                 "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, app)),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": spec,
        "status": {
            "phase": phase,
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": started}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "hostIP": "10.0.0.11",
            "podIP": "10.244.1.23",
            "podIPs": [{"ip": "10.244.1.23"}],
            "startTime": started,
            "containerStatuses": [{
                "name": n, "state": {"running": {"startedAt": started}}, "ready": True,
                "restartCount": 0, "image": "registry.k8s.io/e2e-test-images/agnhost:2.40",
                "imageID": "registry.k8s.io/e2e-test-images/agnhost@sha256:" + "ab" * 32,
                "containerID": "containerd://" + uuid.uuid5(uuid.NAMESPACE_URL, uid + n).hex * 2,
                "started": True} for n, _ in containers],
            "qosClass": "Burstable",
        },
    }


def _field(p, name):
    if name == "spec.nodeName":
        return p.get("spec", {}).get("nodeName", "")
    if name == "metadata.name":
        return p["metadata"].get("name", "")
    if name == "metadata.namespace":
        return p["metadata"].get("namespace", "")
    if name == "status.phase":
        return p.get("status", {}).get("phase", "")
    raise ValueError('field label not supported: "%s"' % name)


def _parse_selector(sel):
    """fieldSelector -> [(field, want_equal, value)]; ValueError if bad."""
    terms = []
    for clause in filter(None, (sel or "").split(",")):
        for op, eq in (("!=", False), ("==", True), ("=", True)):
            if op in clause:
                f, v = clause.split(op, 1)
                _field({"metadata": {}}, f)  # rejects unknown fields
                terms.append((f, eq, v))
                break
        else:
            raise ValueError("invalid field selector: %r" % clause)
    return terms


def _matches(terms, p):
    return all((_field(p, f) == v) == eq for f, eq, v in terms)


class _Stored:
    """A pod as the server holds it: the dict and its JSON (no kind/apiVersion)."""
    __slots__ = ("pod", "item", "key")

    def __init__(self, p):
        self.pod = p
        self.item = json.dumps(p, separators=(",", ":")).encode()
        self.key = (p["metadata"].get("namespace", ""), p["metadata"]["name"])


def _event_line(etype, item):
    return (b'{"type":"' + etype.encode() + b'","object":{"kind":"Pod","apiVersion":"v1",'
            + item[1:] + b'}\n')


def _object_line(etype, obj):
    return json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"


# -- records -------------------------------------------------------------------

@dataclass
class Request:
    """One HTTP request the server read."""
    kind: str                 # "list", "watch", "get" or "other"
    method: str
    path: str                 # without the query
    query: dict               # name -> value (the last one if repeated)
    headers: dict             # as sent (names as the client spelt them)
    authorization: str        # the Authorization header, or None
    cn: str                   # client certificate subject CN, or None
    organizations: list       # its O values
    serial: str               # its serial (upper-case hex), or None
    connection: int           # which TLS connection (to see keep-alive reuse)
    time: float = field(default_factory=time.monotonic)
    status: int = None        # the HTTP status answered (None while pending / dropped)
    events_sent: int = 0      # watch: lines written
    ended: str = None         # watch: "timeout", "closed" (gone/end), "dropped", "client", "stop"


@dataclass
class Connection:
    """One accepted TCP connection."""
    id: int
    peer: tuple
    refused: bool = False                 # closed at once: the server was down
    handshake_error: str = None           # the TLS handshake failed (e.g. no client cert)
    cn: str = None
    organizations: list = field(default_factory=list)
    serial: str = None
    tls_version: str = None


class _Watch:
    def __init__(self, request, terms, bookmarks, sock):
        self.request = request
        self.terms = terms
        self.bookmarks = bookmarks
        self.sock = sock
        self.queue = []
        self.closing = None   # None, "end" (clean end after the queue), "drop" (abrupt)


class _Snapshot:
    def __init__(self, rv, items):
        self.rv = rv
        self.items = items


# -- the server ---------------------------------------------------------------------

class FakeApiServer:
    def __init__(self, pki, require_client_cert=True, token=None, host="127.0.0.1",
                 tls_version=None, watch_timeout=DEFAULT_WATCH_TIMEOUT_S):
        """pki: a certs.Pki. token: a bearer token every request must carry.
        host: the address bound and used in .url ("127.0.0.1" or "localhost").
        tls_version: an ssl.TLSVersion to pin (both min and max), or None."""
        self.pki = pki
        self.host = host
        self._require_cert = require_client_cert
        self._token = token
        self._tls_version = tls_version
        self._watch_timeout = watch_timeout
        self._cond = threading.Condition()
        self._stop_evt = threading.Event()
        self._rv = FIRST_RV
        self._compacted = 0          # watches/continues from an RV below this are 410
        self._expire_as_event = True
        self._pods = {}              # uid -> _Stored, insertion order
        self._history = []           # (rv, _Stored of the event, line)
        self._watches = set()
        self._snapshots = {}
        self._snap_ids = itertools.count(1)
        self._conn_ids = itertools.count(1)
        self._requests = []
        self._connections = []
        self._live = {}              # connection id -> TLS socket (for stop)
        self._threads = []
        self._fail = []              # [kind, code, count, as_event, retry_after, message]
        self._delay = 0.0
        self._delay_kinds = ("list", "watch", "get")
        self._down = None            # None, "close" or "503"
        self._split = None
        self._coalesce = False
        self._server = None
        self._serve_thread = None
        self.port = None

    # -- lifecycle -------------------------------------------------------------
    @property
    def url(self):
        return "https://%s:%d" % (self.host, self.port)

    def start(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        ctx.load_verify_locations(self.pki.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if self._require_cert else ssl.CERT_OPTIONAL
        if self._tls_version is not None:
            ctx.minimum_version = ctx.maximum_version = self._tls_version
        self._ctx = ctx
        self._server = _Server((self.host, 0), self)
        self.port = self._server.server_address[1]
        self._serve_thread = threading.Thread(target=self._server.serve_forever,
                                              kwargs={"poll_interval": 0.2},
                                              name="fake-apiserver", daemon=True)
        self._serve_thread.start()
        return self

    def stop(self, timeout=10):
        """Close every connection (watches end abruptly), stop accepting, and
        join every thread. Raises AssertionError if a thread does not end."""
        if self._server is None:
            return
        self._stop_evt.set()
        with self._cond:
            for w in self._watches:
                w.closing = w.closing or "drop"
            for sock in self._live.values():
                _hard_shutdown(sock)
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._serve_thread.join(timeout)
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._server = None
        if alive:
            raise AssertionError("fake apiserver: %d threads still running" % len(alive))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- state -------------------------------------------------------------------
    @property
    def resource_version(self):
        with self._cond:
            return self._rv

    def pods(self):
        """Deep copies of the current pods."""
        with self._cond:
            return [copy.deepcopy(s.pod) for s in self._pods.values()]

    def _find(self, key, namespace=None):
        """uid, "ns/name", name with namespace=, or a pod dict -> uid."""
        if isinstance(key, dict):
            uid = key["metadata"].get("uid")
            if uid in self._pods:
                return uid
            key, namespace = key["metadata"]["name"], key["metadata"].get("namespace", "default")
        elif namespace is None and key in self._pods:
            return key
        elif namespace is None and "/" in key:
            namespace, key = key.split("/", 1)
        for uid, s in self._pods.items():
            if s.key == (namespace or "default", key):
                return uid
        raise KeyError("fake apiserver: no pod %r in %r" % (key, namespace))

    def _record(self, etype, stored):
        """Under the lock: remember the event and hand it to matching watches."""
        line = _event_line(etype, stored.item)
        self._history.append((self._rv, stored, line))
        for w in self._watches:
            if w.closing is None and _matches(w.terms, stored.pod):
                w.queue.append(line)

    def _put(self, etype, p):
        self._rv += 1
        p["metadata"]["resourceVersion"] = str(self._rv)
        s = _Stored(p)
        if etype == "DELETED":
            del self._pods[p["metadata"]["uid"]]
        else:
            self._pods[p["metadata"]["uid"]] = s
        self._record(etype, s)
        return p

    def add_pod(self, p):
        """Create a pod (a dict, e.g. from pod()): ADDED. Returns the stored copy."""
        return self.add_pods([p])[0]

    def add_pods(self, pods):
        """Create many pods under one lock (one wake-up for the watches)."""
        out = []
        with self._cond:
            for p in pods:
                p = copy.deepcopy(p)
                md = p.setdefault("metadata", {})
                md.setdefault("uid", str(uuid.uuid4()))
                md.setdefault("namespace", "default")
                md.setdefault("creationTimestamp", _now())
                if md["uid"] in self._pods:
                    raise ValueError("fake apiserver: uid %s exists" % md["uid"])
                out.append(copy.deepcopy(self._put("ADDED", p)))
            self._cond.notify_all()
        return out

    def modify_pod(self, key, mutate=None, namespace=None):
        """MODIFIED. key: a whole pod dict (replaces the stored one with the
        same uid, else namespace/name), or a uid / "ns/name" / name with
        namespace=, with mutate(pod_dict) changing a copy in place."""
        with self._cond:
            uid = self._find(key, namespace)
            if mutate is None:
                if not isinstance(key, dict):
                    raise ValueError("modify_pod: give a pod dict or a mutate function")
                p = copy.deepcopy(key)
                p["metadata"]["uid"] = uid
            else:
                p = copy.deepcopy(self._pods[uid].pod)
                mutate(p)
            out = copy.deepcopy(self._put("MODIFIED", p))
            self._cond.notify_all()
        return out

    def delete_pod(self, key, namespace=None):
        """DELETED (the object is the pod's last state, at a new resourceVersion).
        key: uid, "ns/name", name with namespace=, or a pod dict."""
        with self._cond:
            uid = self._find(key, namespace)
            out = copy.deepcopy(self._put("DELETED", copy.deepcopy(self._pods[uid].pod)))
            self._cond.notify_all()
        return out

    # -- scripting the watches -------------------------------------------------------
    def _broadcast(self, line, only_bookmarks=False, then=None):
        with self._cond:
            n = 0
            for w in self._watches:
                if w.closing is None and (w.bookmarks or not only_bookmarks):
                    if line is not None:
                        w.queue.append(line)
                    if then:
                        w.closing = then
                        if then == "drop":
                            _hard_shutdown(w.sock)
                    n += 1
            self._cond.notify_all()
        return n

    def send_bookmark(self, rv=None, force=False):
        """A BOOKMARK at `rv` (default: the current resourceVersion) on the open
        watches that asked for bookmarks (all of them with force=True).
        Returns how many watches got it."""
        with self._cond:
            rv = self._rv if rv is None else rv
        obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}}
        return self._broadcast(_object_line("BOOKMARK", obj), only_bookmarks=not force)

    def send_gone(self, message=_EXPIRED_MESSAGE):
        """On every open watch: an ERROR event with a 410 Expired Status, then
        the end of the stream (as the real server does). Returns the count."""
        return self._broadcast(_object_line("ERROR", gone_status(message)), then="end")

    def send_error(self, st):
        """An ERROR event carrying Status `st` (see status()) on every open
        watch, then the end of the stream."""
        return self._broadcast(_object_line("ERROR", st), then="end")

    def send_raw(self, data):
        """Bytes written as they are (one chunk) on every open watch: for
        malformed-stream tests."""
        return self._broadcast(bytes(data))

    def end_watches(self):
        """End every open watch cleanly (the terminating chunk), as at timeoutSeconds."""
        return self._broadcast(None, then="end")

    def drop_watches(self):
        """Close every open watch connection abruptly: no terminating chunk,
        no TLS close_notify. Returns how many."""
        return self._broadcast(None, then="drop")

    def expire(self, rv=None, as_event=True):
        """Compact history: a watch from a resourceVersion below `rv` (default:
        the current one) is answered 410 from now on: with as_event, a 200
        stream carrying one ERROR event (what the real server does), else an
        HTTP 410 with a Status body. Continue tokens from before `rv` are 410."""
        with self._cond:
            self._compacted = self._rv if rv is None else rv
            self._expire_as_event = as_event
            self._history = [h for h in self._history if h[0] > self._compacted]

    def fail_next(self, kind, code=410, count=1, as_event=False, retry_after=None,
                  message=None):
        """Answer the next `count` requests of `kind` ("list", "watch", "get")
        with HTTP `code` and a Status body (Retry-After if given). For a
        watch, as_event=True instead sends a 200 stream with one ERROR event."""
        with self._cond:
            self._fail.append([kind, code, count, as_event, retry_after, message])

    def set_delay(self, seconds, kinds=("list", "watch", "get")):
        """Wait `seconds` before answering each request of these kinds."""
        with self._cond:
            self._delay = seconds
            self._delay_kinds = tuple(kinds)

    def set_down(self, down=True, how="close", drop=True):
        """Refuse service: how="close" closes each new connection at once
        (before TLS), how="503" answers every request 503. drop: also drop the
        open watches. set_down(False) serves again."""
        if how not in ("close", "503"):
            raise ValueError(how)
        with self._cond:
            self._down = how if down else None
        if down and drop:
            self.drop_watches()

    def set_token(self, token):
        """The bearer token required from now on (None: none)."""
        with self._cond:
            self._token = token

    def set_chunking(self, split=None, coalesce=False):
        """How watch events map onto HTTP chunks: split=N cuts each write into
        chunks of at most N bytes; coalesce=True writes all pending events in
        one chunk. Default: one chunk per event."""
        with self._cond:
            self._split = split
            self._coalesce = coalesce

    # -- observation ------------------------------------------------------------------
    @property
    def requests(self):
        with self._cond:
            return list(self._requests)

    @property
    def connections(self):
        with self._cond:
            return list(self._connections)

    def open_watches(self):
        """The Requests of the watches open now."""
        with self._cond:
            return [w.request for w in self._watches if w.closing is None]

    def wait_for(self, predicate, timeout=WAIT_TIMEOUT_S, what="condition"):
        """Block until predicate() (evaluated under the lock) is true."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout=timeout):
                raise AssertionError("fake apiserver: no %s within %ss; requests: %r"
                                     % (what, timeout, self._requests))

    def wait_for_requests(self, kind=None, count=1, timeout=WAIT_TIMEOUT_S):
        """Block until `count` requests of `kind` (None: any) arrived; return
        all of that kind, in order."""
        def seen():
            return [r for r in self._requests if kind is None or r.kind == kind]
        self.wait_for(lambda: len(seen()) >= count, timeout, "%d %s requests" % (count, kind))
        with self._cond:
            return seen()

    def wait_for_watches(self, count=1, timeout=WAIT_TIMEOUT_S):
        """Block until `count` watches are open (events sent now reach them)."""
        self.wait_for(lambda: sum(w.closing is None for w in self._watches) >= count,
                      timeout, "%d open watches" % count)
        return self.open_watches()

    def wait_for_connections(self, count=1, timeout=WAIT_TIMEOUT_S, pred=None):
        """Block until `count` connections (matching pred, if given) were accepted."""
        def seen():
            return [c for c in self._connections if pred is None or pred(c)]
        self.wait_for(lambda: len(seen()) >= count, timeout, "%d connections" % count)
        with self._cond:
            return seen()

    def wait_for_handshake_failures(self, count=1, timeout=WAIT_TIMEOUT_S):
        return self.wait_for_connections(count, timeout, lambda c: c.handshake_error)

    # -- serving (called from the connection threads) ------------------------------------
    def _connection(self, sock, peer):
        conn = Connection(id=next(self._conn_ids), peer=peer)
        with self._cond:
            self._connections.append(conn)
            conn.refused = self._down == "close" or self._stop_evt.is_set()
            self._cond.notify_all()
        if conn.refused:
            _hard_shutdown(sock)
            sock.close()
            return
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            # wrap first, handshake after: the TLS socket now owns the
            # descriptor, and stop() must be able to wake a stalled handshake
            tls = self._ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            with self._cond:
                self._live[conn.id] = tls
                if self._stop_evt.is_set():
                    _hard_shutdown(tls)
            tls.do_handshake()
        except (OSError, ValueError) as e:   # ssl.SSLError is an OSError
            with self._cond:
                self._live.pop(conn.id, None)
                conn.handshake_error = str(e) or type(e).__name__
                self._cond.notify_all()
            sock.close()
            if "tls" in locals():
                tls.close()
            return
        tls.settimeout(None)
        cert = tls.getpeercert() or {}
        subject = [kv for rdn in cert.get("subject", ()) for kv in rdn]
        with self._cond:
            conn.cn = next((v for k, v in subject if k == "commonName"), None)
            conn.serial = cert.get("serialNumber")
            conn.tls_version = tls.version()
            conn.organizations = [v for k, v in subject if k == "organizationName"]
            self._cond.notify_all()
        try:
            _Handler(tls, peer, self._server, self, conn)
        except (OSError, ValueError):
            pass  # the client went away (BrokenPipe, reset, TLS EOF) or we dropped it
        finally:
            with self._cond:
                self._live.pop(conn.id, None)
            try:
                tls.close()
            except OSError:
                pass

    def _take_failure(self, kind):
        with self._cond:
            for f in self._fail:
                if f[0] == kind and f[2] > 0:
                    f[2] -= 1
                    if f[2] == 0:
                        self._fail.remove(f)
                    return f
        return None


def _hard_shutdown(sock):
    """shutdown(2) on the descriptor, from any thread: wakes a blocked reader
    or writer with EOF/EPIPE. Bypasses SSLSocket.shutdown (not thread-safe,
    and it would send nothing anyway). Never closes: the owner does."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _Server(socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, api):
        self.api = api
        super().__init__(addr, None)

    def process_request(self, sock, peer):
        api = self.api
        api._threads = [t for t in api._threads if t.is_alive()]
        t = threading.Thread(target=api._connection, args=(sock, peer),
                             name="fake-apiserver-conn", daemon=True)
        api._threads.append(t)
        t.start()

    def shutdown_request(self, sock):
        pass  # the connection thread owns the socket


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"
    sys_version = ""
    disable_nagle_algorithm = True   # each event leaves at once

    def __init__(self, sock, peer, server, api, conn):
        self.api = api
        self.conn = conn
        super().__init__(sock, peer, server)

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    # -- answers --------------------------------------------------------------
    def _send_body(self, code, body, ctype="application/json", headers=()):
        # Recorded before the answer leaves: a client that has it must find
        # it in `requests` (tests read the status right after their call).
        self.req.status = code
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_status(self, code, message=None, reason=None, headers=()):
        body = json.dumps(status(code, message, reason)).encode()
        self._send_body(code, body, headers=headers)

    def _chunk(self, data):
        split = self.api._split
        step = split or len(data) or 1
        for i in range(0, len(data), step):
            part = data[i:i + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.flush()

    # -- requests -------------------------------------------------------------------
    def do_GET(self):
        api = self.api
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = url.path.rstrip("/").split("/")
        namespace = name = None
        kind = "other"
        if parts[:3] == ["", "api", "v1"]:
            rest = parts[3:]
            if rest == ["pods"]:
                kind = "list"
            elif len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "pods":
                kind, namespace = "list", rest[1]
            elif len(rest) == 4 and rest[0] == "namespaces" and rest[2] == "pods":
                kind, namespace, name = "get", rest[1], rest[3]
        if kind == "list" and query.get("watch") in ("1", "true"):
            kind = "watch"
        auth = self.headers.get("Authorization")
        self.req = Request(kind=kind, method=self.command, path=url.path, query=query,
                           headers=dict(self.headers.items()), authorization=auth,
                           cn=self.conn.cn, organizations=self.conn.organizations,
                           serial=self.conn.serial, connection=self.conn.id)
        with api._cond:
            api._requests.append(self.req)
            api._cond.notify_all()
            delay = api._delay if kind in api._delay_kinds else 0
            down, token = api._down, api._token
        if delay and api._stop_evt.wait(delay):
            self.close_connection = True
            return
        if down == "503":
            return self._send_status(503, "the server is down (fake)", headers=[("Retry-After", "1")])
        if token is not None and auth != "Bearer " + token:
            return self._send_status(401, "Unauthorized")
        fail = api._take_failure(kind)
        if fail is not None:
            _, code, _, as_event, retry_after, message = fail
            if kind == "watch" and as_event:
                return self._stream_one_error(status(code, message))
            headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return self._send_status(code, message, headers=headers)
        if kind == "other":
            return self._send_status(404, "the server could not find the requested resource")
        try:
            terms = _parse_selector(query.get("fieldSelector"))
        except ValueError as e:
            return self._send_status(400, str(e))
        if namespace is not None:
            terms.append(("metadata.namespace", True, namespace))
        if kind == "get":
            return self._get(namespace, name)
        if kind == "list":
            return self._list(terms, query)
        return self._watch(terms, query)

    def do_POST(self):
        self.req = Request(kind="other", method=self.command, path=self.path, query={},
                           headers=dict(self.headers.items()),
                           authorization=self.headers.get("Authorization"), cn=self.conn.cn,
                           organizations=[], serial=self.conn.serial, connection=self.conn.id)
        with self.api._cond:
            self.api._requests.append(self.req)
            self.api._cond.notify_all()
        self.close_connection = True  # the body was not read
        self._send_status(405, "fake apiserver: GET only")

    do_PUT = do_PATCH = do_DELETE = do_POST

    def _get(self, namespace, name):
        api = self.api
        with api._cond:
            s = next((s for s in api._pods.values() if s.key == (namespace, name)), None)
            body = (b'{"kind":"Pod","apiVersion":"v1",' + s.item[1:]) if s else None
        if body is None:
            return self._send_status(404, 'pods "%s" not found' % name, "NotFound")
        self._send_body(200, body)

    def _list(self, terms, query):
        api = self.api
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            return self._send_status(400, "invalid limit")
        token = query.get("continue")
        with api._cond:
            if token:
                try:
                    c = json.loads(base64.urlsafe_b64decode(token.encode()))
                    snap_id, start, rv = int(c["id"]), int(c["start"]), int(c["rv"])
                except (ValueError, KeyError, TypeError):
                    return self._send_status(400, "invalid continue token")
                snap = api._snapshots.get(snap_id)
                if rv < api._compacted:
                    api._snapshots.pop(snap_id, None)
                    return self._send_status(410, _CONTINUE_EXPIRED, "Expired")
                if snap is None:
                    return self._send_status(400, "unknown continue token")
            else:
                items = sorted((s for s in api._pods.values() if _matches(terms, s.pod)),
                               key=lambda s: s.key)
                snap_id, start = next(api._snap_ids), 0
                snap = _Snapshot(api._rv, [s.item for s in items])
            end = start + limit if limit > 0 else len(snap.items)
            page = snap.items[start:end]
            meta = {"resourceVersion": str(snap.rv)}
            if end < len(snap.items):
                api._snapshots[snap_id] = snap
                meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"id": snap_id, "start": end, "rv": snap.rv}).encode()).decode()
            else:
                api._snapshots.pop(snap_id, None)
        body = b"".join([b'{"kind":"PodList","apiVersion":"v1","metadata":',
                         json.dumps(meta).encode(), b',"items":[', b",".join(page), b"]}"])
        self._send_body(200, body)

    def _start_stream(self):
        self.req.status = 200  # before the headers leave, as in _send_body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def _stream_one_error(self, st):
        self._start_stream()
        self._chunk(_object_line("ERROR", st))
        self.req.events_sent = 1
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.req.ended = "closed"

    def _watch(self, terms, query):
        api = self.api
        rv_param = query.get("resourceVersion", "")
        try:
            timeout = float(query.get("timeoutSeconds") or api._watch_timeout)
            rv = int(rv_param) if rv_param not in ("", "0") else None
        except ValueError:
            return self._send_status(400, "invalid resourceVersion or timeoutSeconds")
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        with api._cond:
            if rv is not None and rv < api._compacted:
                as_event = api._expire_as_event
                msg = "too old resource version: %d (%d)" % (rv, api._compacted)
                w = None
            else:
                w = _Watch(self.req, terms, bookmarks, self.connection)
                if rv is None:
                    w.queue = [_event_line("ADDED", s.item) for s in api._pods.values()
                               if _matches(terms, s.pod)]
                else:
                    w.queue = [line for hrv, s, line in api._history
                               if hrv > rv and _matches(terms, s.pod)]
                api._watches.add(w)
            api._cond.notify_all()
        if w is None:
            if as_event:
                return self._stream_one_error(gone_status(msg))
            return self._send_status(410, msg, "Expired")
        ended = "client"
        try:
            self._start_stream()
            deadline = time.monotonic() + timeout
            while True:
                with api._cond:
                    while not (w.queue or w.closing or api._stop_evt.is_set()):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        api._cond.wait(left)
                    lines, w.queue = w.queue, []
                    closing = "drop" if api._stop_evt.is_set() else w.closing
                    coalesce = api._coalesce
                if closing == "drop":
                    ended = "dropped" if not api._stop_evt.is_set() else "stop"
                    _hard_shutdown(self.connection)
                    self.close_connection = True
                    return
                if lines:
                    for data in ([b"".join(lines)] if coalesce else lines):
                        self._chunk(data)
                    with api._cond:
                        self.req.events_sent += len(lines)
                if closing == "end" or (not lines and time.monotonic() >= deadline):
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    ended = "closed" if closing == "end" else "timeout"
                    return
        except (OSError, ValueError):
            self.close_connection = True
            if w.closing == "drop" or api._stop_evt.is_set():
                ended = "dropped" if not api._stop_evt.is_set() else "stop"
        finally:
            with api._cond:
                api._watches.discard(w)
                self.req.ended = ended
                api._cond.notify_all()
