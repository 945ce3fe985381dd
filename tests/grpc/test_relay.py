"""crisp relays unary calls as opaque bytes: messages, metadata and status,
and refuses undecodable requests on the two methods it rewrites."""

import unittest

import grpc

from fake_runtime import payload
from protos import crisp_api
from testbed import CALL_TIMEOUT_S, RelayTestCase

UNKNOWN = "/crisp.test.NoSuchService/Frobnicate"
# A CRI method crisp does not rewrite: it takes the unary fast path, while
# UNKNOWN takes the generic one. What a client sees must not differ.
CRI_UNARY = "/runtime.v1.RuntimeService/ContainerStatus"
BOTH_PATHS = (UNKNOWN, CRI_UNARY)


class TestUnaryRelay(RelayTestCase):

    def test_any_method_is_relayed_byte_for_byte_both_ways(self):
        # Methods crisp has never heard of, CRI methods it does not rewrite, and
        # empty messages (e.g. a VersionRequest with no fields) all pass as-is.
        cases = [
            (UNKNOWN, bytes(range(256)) * 3 + payload(5000, 11), payload(7000, 12)),
            ("/runtime.v1.RuntimeService/UpdatePodSandboxResources", b"\x0a\x03abc", b"\x08\x01"),
            ("/runtime.v1alpha2.RuntimeService/Version", b"", b"\x0a\x050.1.0"),
            ("/runtime.v1.ImageService/PullImage", b"\xff\x00\xff", b""),
        ]
        for method, request, response in cases:
            with self.subTest(method=method):
                self.fake.script(method, responses=[response])
                got = self.unary(method)(request, timeout=CALL_TIMEOUT_S)
                self.assertEqual(got, response)
                [call] = self.fake.calls(method)
                self.assertEqual(call.requests, [request])

    def test_request_metadata_reaches_the_runtime(self):
        sent = [("x-crisp-ascii", "hello world"),
                ("x-crisp-multi", "first"),
                ("x-crisp-multi", "second"),
                # not valid UTF-8 on purpose: -bin values are opaque bytes
                ("x-crisp-test-bin", b"\x00\xff\xfe\x80\xc3\x28binary")]
        for method in BOTH_PATHS:
            with self.subTest(method=method):
                self.unary(method)(b"req", metadata=sent, timeout=CALL_TIMEOUT_S)
                [call] = self.fake.calls(method)
                received = [(k, v) for k, v in call.metadata if k.startswith("x-crisp-")]
                # Repeated keys keep their order; nothing is dropped or duplicated.
                self.assertEqual(received, sent)

    def test_response_metadata_reach_the_client(self):
        initial = (("x-runtime-initial", "i-value"), ("x-runtime-initial-bin", b"\x01\x00\xff"))
        trailing = (("x-runtime-trailing", "t-value"), ("x-runtime-trailing-bin", b"\xfe\x00\x80"))
        for method in BOTH_PATHS:
            with self.subTest(method=method):
                self.fake.script(method, responses=[b"resp"], initial_metadata=initial,
                                 trailing_metadata=trailing)
                response, call = self.unary(method).with_call(b"req", timeout=CALL_TIMEOUT_S)
                self.assertEqual(response, b"resp")
                self.assertEqual(call.code(), grpc.StatusCode.OK)
                self.assertEqual(_custom(call.initial_metadata()), list(initial))
                self.assertEqual(_custom(call.trailing_metadata()), list(trailing))

    def test_error_status_details_and_metadata_reach_the_client(self):
        # Non-ASCII details travel percent-encoded in grpc-message; a relay
        # must hand them on unmangled.
        details = 'pod sandbox "web-0" not found: ünïcødé ✓ 100%'
        initial = (("x-runtime-initial", "before-error"),)
        trailing = (("x-runtime-trailing", "with-error"), ("x-why-bin", b"\x00\x01\xff"))
        for method in BOTH_PATHS:
            with self.subTest(method=method):
                self.fake.script(method, code=grpc.StatusCode.NOT_FOUND, details=details,
                                 initial_metadata=initial, trailing_metadata=trailing)
                with self.assertRaises(grpc.RpcError) as caught:
                    self.unary(method)(b"req", timeout=CALL_TIMEOUT_S)
                err = caught.exception
                self.assertCode(err, grpc.StatusCode.NOT_FOUND)
                self.assertEqual(err.details(), details)
                self.assertEqual(_custom(err.initial_metadata()), list(initial))
                self.assertEqual(_custom(err.trailing_metadata()), list(trailing))

    def test_every_status_code_is_relayed(self):
        for code in grpc.StatusCode:
            if code == grpc.StatusCode.OK:
                continue
            with self.subTest(code=code):
                method = "/crisp.test.Status/" + code.name
                self.fake.script(method, code=code, details="runtime says " + code.name)
                with self.assertRaises(grpc.RpcError) as caught:
                    self.unary(method)(b"", timeout=CALL_TIMEOUT_S)
                self.assertCode(caught.exception, code)
                self.assertEqual(caught.exception.details(), "runtime says " + code.name)
                # The same code on the unary fast path (one CRI method, scripted anew).
                self.fake.script(CRI_UNARY, code=code, details="runtime says " + code.name)
                with self.assertRaises(grpc.RpcError) as caught:
                    self.unary(CRI_UNARY)(b"", timeout=CALL_TIMEOUT_S)
                self.assertCode(caught.exception, code)
                self.assertEqual(caught.exception.details(), "runtime says " + code.name)


class TestUndecodableRewriteRequests(RelayTestCase):
    """RunPodSandbox/CreateContainer bodies crisp cannot decode are refused
    with INVALID_ARGUMENT and never reach the runtime."""

    MALFORMED = {
        # field 1 (config) claims 16 bytes, 3 follow
        "RunPodSandbox": [b"\x0a\x10abc",
                          # config -> linux (field 8) claims 5 bytes, 1 follows
                          b"\x0a\x03\x42\x05x",
                          # wire type 7 does not exist
                          b"\x0f\x00"],
        # field 2 (config) claims 32 bytes, 2 follow
        "CreateContainer": [b"\x12\x20ab",
                            # field 4 (unknown to crisp): its varint never terminates
                            b"\x0a\x02id\x20\xff\xff\xff",
                            # config -> linux (field 15) -> security_context truncated
                            b"\x12\x05\x7a\x03\x12\x09x"],
    }

    def test_malformed_requests_are_refused_and_not_forwarded(self):
        api = crisp_api()
        decoders = {"RunPodSandbox": api.RunPodSandboxRequest,
                    "CreateContainer": api.CreateContainerRequest}
        for version in ("runtime.v1", "runtime.v1alpha2"):
            for name, bodies in self.MALFORMED.items():
                method = "/%s.RuntimeService/%s" % (version, name)
                # If crisp forwarded it anyway, the client would see OK.
                self.fake.script(method, responses=[b""])
                for i, body in enumerate(bodies):
                    with self.subTest(method=method, body=body):
                        # The premise: a protobuf parser rejects these bytes.
                        with self.assertRaises(Exception):
                            decoders[name].FromString(body)
                        with self.assertRaises(grpc.RpcError) as caught:
                            self.unary(method)(body, timeout=CALL_TIMEOUT_S)
                        self.assertCode(caught.exception, grpc.StatusCode.INVALID_ARGUMENT)
                        self.assertIn(name, caught.exception.details())
        # Barrier: a call made after all the refusals has reached the runtime,
        # so a forwarded malformed request would have been recorded by now.
        barrier = "/crisp.test.Barrier/AfterMalformed"
        self.unary(barrier)(b"", timeout=CALL_TIMEOUT_S)
        self.fake.wait_for_calls(1, barrier)
        self.assertEqual([c.method for c in self.fake.calls()], [barrier])


def _custom(metadata):
    """The test's own keys, in order (gRPC may add others, e.g. user-agent)."""
    return [(m.key, m.value) for m in metadata or () if m.key.startswith("x-")]


if __name__ == "__main__":
    unittest.main()
