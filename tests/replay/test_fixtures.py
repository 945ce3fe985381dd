"""Replay every recorded CRI call (tests/fixtures/*.jsonl) through crisp to a
fake runtime that answers what the real runtime answered.

- Records without `expect`, or with `expect: {unchanged: true}`: the runtime
  gets the request bytes exactly as recorded.
- Records naming security contexts: each named context carries the expected
  seccomp values, and everything else (including fields crisp's schema does not
  know) is unchanged.
- Wherever responses/status were recorded, the client gets them byte for byte.
"""

import base64
import glob
import json
import os
import subprocess
import unittest

import grpc

import cri_client
from crisp import Crisp, crisp_binary
from fake_runtime import FakeRuntime
from protos import REPO, crisp_api
from testbed import CALL_TIMEOUT_S, channel, short_tempdir

FIXTURES = sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "*.jsonl")))
# The kubelet's voice: a real kubelet's traffic through crisp, recorded.
KUBELET = os.path.join(REPO, "tests", "fixtures", "kubelet-1.26.5-containerd-1.6.20.jsonl")
STATUS = {code.value[0]: code for code in grpc.StatusCode}
REWRITE_LOG = "seccomp defaulted"

# Where each named security context sits: the field-number path from the
# request to the context, then the numbers of its seccomp and
# seccomp_profile_path fields (design/seccomp-defaulting.md, "Wire facts").
CONTEXTS = {
    "sandbox": ("RunPodSandbox", ("config", "linux", "security_context"), (1, 8, 2), 9, 7),
    "container": ("CreateContainer", ("config", "linux", "security_context"), (2, 15, 2), 15, 10),
    "sandbox_config": ("CreateContainer", ("sandbox_config", "linux", "security_context"),
                       (3, 8, 2), 9, 7),
}


def load_records():
    records = []
    for path in FIXTURES:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    record = json.loads(line)
                    label = "%s:%d %s" % (os.path.basename(path), lineno,
                                          record.get("name", record["method"]))
                    records.append((label, record))
    return records


# -- protobuf helpers --------------------------------------------------------

def request_type(method):
    api = crisp_api()
    name = method.rsplit("/", 1)[1]
    return {"RunPodSandbox": api.RunPodSandboxRequest,
            "CreateContainer": api.CreateContainerRequest}[name]


def context_of(message, fields):
    """The sub-message at `fields`, or None if any step is absent."""
    for field in fields:
        if not message.HasField(field):
            return None
        message = getattr(message, field)
    return message


def as_field(value, like):
    """A fixture's string in the type of the schema's field (api/cri.proto
    declares the strings crisp reads as `bytes`)."""
    return value.encode() if isinstance(like, bytes) and isinstance(value, str) else value


def without_seccomp(method, data, context_names):
    """`data` re-serialized canonically with the named contexts' seccomp and
    seccomp_profile_path cleared. Unknown fields are kept and serialized, so
    two requests compare equal exactly when all else is the same."""
    message = request_type(method).FromString(data)
    for name in context_names:
        context = context_of(message, CONTEXTS[name][1])
        if context is not None:
            context.ClearField("seccomp")
            context.ClearField("seccomp_profile_path")
    return message.SerializeToString(deterministic=True)


def _varint(buf, i):
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def wire_fields(buf):
    """(number, value) of each field of one message level, in wire order."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire_type = key & 7
        if wire_type == 0:
            value, i = _varint(buf, i)
        elif wire_type == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, i = buf[i:i + size], i + size
        else:
            raise ValueError("wire type %d" % wire_type)
        yield key >> 3, value


def occurrences(buf, path):
    """Raw values of every occurrence of the field at `path` (numbers), through
    every occurrence of each parent. A parser merges repeats; this does not."""
    level = [buf]
    for number in path:
        level = [v for b in level for n, v in wire_fields(b) if n == number]
    return level


class TestReplay(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        tmp = short_tempdir()
        cls.addClassCleanup(tmp.cleanup)
        runtime_socket = os.path.join(tmp.name, "runtime.sock")
        cls.fake = FakeRuntime(runtime_socket).start()
        cls.addClassCleanup(cls.fake.stop)
        cls.crisp = Crisp(runtime_socket, listen=os.path.join(tmp.name, "crisp.sock"))
        cls.crisp.__enter__()
        cls.addClassCleanup(cls.crisp.__exit__, None, None, None)
        cls.channel = channel(cls.crisp.listen)
        cls.addClassCleanup(cls.channel.close)

    def test_fixtures_are_there(self):
        names = sorted(os.path.basename(p) for p in FIXTURES)
        self.assertIn("crictl-containerd-1.6.20.jsonl", names)
        self.assertIn("kubelet-eras.jsonl", names)
        self.assertIn(os.path.basename(KUBELET), names)
        self.assertGreater(len(load_records()), 200)

    def test_replay_every_record(self):
        for label, record in load_records():
            with self.subTest(record=label):
                self.replay(record)

    def test_replay_handles_streams_and_errors(self):
        # Today's fixtures are all unary and OK; recorded streams and error
        # statuses must replay too when they are added.
        def b64(*messages):
            return [base64.b64encode(m).decode() for m in messages]
        records = [
            {"method": "/runtime.v1.RuntimeService/GetContainerEvents", "requests": b64(b""),
             "responses": b64(b"\x0a\x01a", b"", b"\x0a\x01c"), "code": 0, "details": ""},
            {"method": "/crisp.test.Upload/Chunks", "requests": b64(b"1", b"", b"3"),
             "responses": b64(b"done"), "code": 0, "details": ""},
            {"method": "/runtime.v1.RuntimeService/ContainerStatus", "requests": b64(b"\x0a\x01x"),
             "responses": [], "code": 5, "details": 'container "x" not found'},
            # a bidi stream: made up, since the CRI's own methods are unary
            {"method": "/crisp.test.Terminal/Attach", "requests": b64(b"in-1", b"in-2"),
             "responses": b64(b"out-1", b"out-2"), "code": 10, "details": "stream aborted"},
        ]
        for record in records:
            with self.subTest(method=record["method"]):
                self.replay(record)

    def replay(self, record):
        method = record["method"]
        requests = [base64.b64decode(r) for r in record["requests"]]
        recorded = [base64.b64decode(r) for r in record.get("responses", [])]
        code = STATUS[record.get("code", 0)]
        details = record.get("details", "")
        # Where no answer was recorded, the runtime answers a unary call with
        # one empty message (every such record is a unary CRI call).
        answer = recorded if "responses" in record else [b""]
        self.fake.script(method, responses=answer, code=code, details=details)
        expect = record.get("expect") or {"unchanged": True}
        rewrites = {k: v for k, v in expect.items() if k != "unchanged"}
        seen_before = len(self.fake.calls(method))
        logs_before = self.crisp.count_log(REWRITE_LOG)

        got, got_code, got_details = self.invoke(method, requests, len(answer))

        call = self.fake.wait_for_calls(seen_before + 1, method)[seen_before]
        self.fake.wait_ended(call)
        self.assertEqual(len(call.requests), len(requests))
        if rewrites:
            self.check_rewrite(method, requests[0], call.requests[0], rewrites)
            self.assertEqual(call.requests[1:], requests[1:])
            self.crisp.wait_for_log_count(REWRITE_LOG, logs_before + 1)
        else:
            self.assertEqual(call.requests, requests)
        self.assertEqual(got_code, code, "details: %r" % got_details)
        if "code" in record:
            self.assertEqual(got_details, details)
        if "responses" in record:
            self.assertEqual(got, recorded)

    def invoke(self, method, requests, n_responses):
        """Make the call in the shape the record has; return (responses, code, details)."""
        if len(requests) == 1 and n_responses == 1:
            try:
                response, call = self.channel.unary_unary(method).with_call(
                    requests[0], timeout=CALL_TIMEOUT_S)
                return [response], call.code(), call.details() or ""
            except grpc.RpcError as err:
                return [], err.code(), err.details() or ""
        call = self.channel.stream_stream(method)(iter(requests), timeout=CALL_TIMEOUT_S)
        got = []
        try:
            for response in call:
                got.append(response)
        except grpc.RpcError:
            pass
        return got, call.code(), call.details() or ""

    def check_rewrite(self, method, original, forwarded, rewrites):
        message = request_type(method).FromString(forwarded)
        for name, want in rewrites.items():
            kind, fields, wire_path, seccomp_no, path_no = CONTEXTS[name]
            self.assertTrue(method.endswith("/" + kind), "fixture names %s for %s" % (name, method))
            context = context_of(message, fields)
            self.assertIsNotNone(context, "%s missing from the forwarded request" % name)
            self.assertTrue(context.HasField("seccomp"), "%s.seccomp absent" % name)
            self.assertEqual(context.seccomp.profile_type, want["profile_type"], name)
            self.assertEqual(context.seccomp.localhost_ref,
                             as_field(want["localhost_ref"], context.seccomp.localhost_ref), name)
            self.assertEqual(context.seccomp_profile_path,
                             as_field(want["path"], context.seccomp_profile_path), name)
            # Replaced, not appended: parsers would merge a second occurrence.
            self.assertEqual(len(occurrences(forwarded, wire_path + (seccomp_no,))), 1,
                             "%s: seccomp must occur exactly once on the wire" % name)
            self.assertLessEqual(len(occurrences(forwarded, wire_path + (path_no,))), 1,
                                 "%s: seccomp_profile_path occurs more than once" % name)
        self.assertEqual(without_seccomp(method, forwarded, rewrites),
                         without_seccomp(method, original, rewrites),
                         "fields other than the named contexts' seccomp changed")


class TestKubeletRecording(unittest.TestCase):
    """The recording of a real kubelet v1.26.5 through crisp
    (tests/fixtures/README.md): what is in it, and `crisp replay --check`
    on it. TestReplay above replays each of its records too."""

    @classmethod
    def setUpClass(cls):
        with open(KUBELET) as f:
            cls.records = [json.loads(line) for line in f if line.strip()]

    def named(self, method):
        return [r for r in self.records if r["method"].endswith("/" + method)]

    def test_it_holds_the_kubelets_pods_and_their_restarts(self):
        pods = sorted(r["pod"]["name"] for r in self.named("RunPodSandbox"))
        self.assertEqual(pods, ["nothing-crisp-kubelet-node", "unconfined-ctr-crisp-kubelet-node",
                                "unconfined-pod-crisp-kubelet-node"])
        pb = cri_client.pb
        created = [pb.CreateContainerRequest.FromString(base64.b64decode(r["requests"][0]))
                   for r in self.named("CreateContainer")]
        names = {(c.sandbox_config.metadata.name, c.config.metadata.name) for c in created}
        self.assertEqual(names, {("nothing-crisp-kubelet-node", "init"),
                                 ("nothing-crisp-kubelet-node", "app"),
                                 ("nothing-crisp-kubelet-node", "once"),
                                 ("unconfined-pod-crisp-kubelet-node", "app"),
                                 ("unconfined-ctr-crisp-kubelet-node", "app")})
        # "once" exits and the kubelet creates it again: attempts 0, 1, ...
        attempts = sorted(c.config.metadata.attempt for c in created
                          if c.config.metadata.name == "once")
        self.assertEqual(attempts[:2], [0, 1])
        # Every RunPodSandbox and CreateContainer carries what crisp must forward.
        for record in self.named("RunPodSandbox") + self.named("CreateContainer"):
            self.assertIn("expect", record)
        # And the rest of what a kubelet says: relists, statuses, probes, stats.
        methods = {r["method"].rsplit("/", 1)[1] for r in self.records}
        self.assertLessEqual({"Version", "Status", "ListPodSandbox", "ListContainers",
                              "PodSandboxStatus", "ContainerStatus", "ExecSync", "Exec",
                              "ListContainerStats", "ImageStatus", "ImageFsInfo",
                              "StartContainer", "StopPodSandbox"}, methods)

    def test_crisp_replay_check_passes(self):
        n = sum("expect" in r for r in self.records)
        result = subprocess.run([crisp_binary(), "replay", KUBELET, "--check"],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("check: %s: %d records with expectations: %d passed, 0 failed"
                      % (KUBELET, n, n), result.stdout)


class TestComparison(unittest.TestCase):
    """The replay's "everything else unchanged" check can actually fail."""

    METHOD = "/runtime.v1.RuntimeService/CreateContainer"

    @classmethod
    def setUpClass(cls):
        record = next(r for _, r in load_records()
                      if r.get("name") == "k1.31/nothing/CreateContainer")
        cls.original = base64.b64decode(record["requests"][0])

    def same(self, a, b, names=("container",)):
        return without_seccomp(self.METHOD, a, names) == without_seccomp(self.METHOD, b, names)

    def mutate(self, old, new):
        self.assertEqual(len(old), len(new))
        self.assertEqual(self.original.count(old), 1, "fixture changed: %r" % old)
        return self.original.replace(old, new)

    def test_schema_leaves_the_mutated_fields_unknown(self):
        # The image, env and labels are not in api/cri.proto: python keeps
        # them as unknown fields, which is what the mutations below change.
        message = request_type(self.METHOD).FromString(self.original)
        self.assertIn(b"registry.example/app", message.SerializeToString())
        message.DiscardUnknownFields()
        for needle in (b"registry.example/app", b"KUBERNETES_SERVICE_HOST",
                       b"io.kubernetes.pod.namespace"):
            self.assertNotIn(needle, message.SerializeToString())

    def test_identical_requests_compare_equal(self):
        self.assertTrue(self.same(self.original, bytes(self.original)))

    def test_named_context_seccomp_change_is_ignored(self):
        message = request_type(self.METHOD).FromString(self.original)
        context = message.config.linux.security_context
        context.seccomp.profile_type = 0
        context.seccomp_profile_path = as_field("runtime/default", context.seccomp_profile_path)
        self.assertTrue(self.same(self.original, message.SerializeToString()))

    def test_unnamed_context_seccomp_change_is_detected(self):
        message = request_type(self.METHOD).FromString(self.original)
        message.sandbox_config.linux.security_context.seccomp.profile_type = 1
        self.assertFalse(self.same(self.original, message.SerializeToString()))

    def test_changed_unknown_field_is_detected(self):
        self.assertFalse(self.same(self.original,
                                   self.mutate(b"registry.example/app", b"registry.exbmple/app")))

    def test_changed_unknown_field_deep_inside_is_detected(self):
        # ContainerConfig.envs[].key and a label key: unknown fields nested
        # inside unknown fields.
        for old, new in ((b"KUBERNETES_SERVICE_HOST", b"KUBERNETES_SERVICE_HOSU"),
                         (b"io.kubernetes.pod.namespace", b"io.kubernetes.pod.nbmespace")):
            with self.subTest(field=old):
                self.assertFalse(self.same(self.original, self.mutate(old, new)))

    def test_added_unknown_field_is_detected(self):
        # field 100, length 1: an unknown top-level field appended
        self.assertFalse(self.same(self.original, self.original + b"\xa2\x06\x01x"))

    def test_wire_occurrences_count_repeats(self):
        path = CONTEXTS["container"][2] + (CONTEXTS["container"][3],)
        before = len(occurrences(self.original, path))
        # Appending another config.linux.security_context.seccomp = {Unconfined}
        # merges in a parser but must count as a second occurrence.
        extra = b"\x12\x08\x7a\x06\x12\x04\x7a\x02\x08\x01"
        self.assertEqual(len(occurrences(self.original + extra, path)), before + 1)


if __name__ == "__main__":
    unittest.main()
