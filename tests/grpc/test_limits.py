"""Message size limits: crisp relays messages up to --max-message-size
(default 16 MiB, what the kubelet's CRI client allows) and refuses bigger ones.

The limit counts the message itself, not gRPC's 5-byte frame header (as gRPC's
own max_*_message_length do), so a message of exactly 16 MiB must pass.
"""

import unittest

import grpc

from fake_runtime import Script, payload
from testbed import CALL_TIMEOUT_S, MiB, RelayTestCase

METHOD = "/runtime.v1.RuntimeService/ListContainers"


class TestDefaultLimit(RelayTestCase):

    def test_16_mib_request(self):
        request = payload(16 * MiB, 21)
        self.fake.script(METHOD, responses=[b"small"])
        self.assertEqual(self.unary(METHOD)(request, timeout=CALL_TIMEOUT_S * 2), b"small")
        [call] = self.fake.calls(METHOD)
        self.assertEqual(len(call.requests), 1)
        self.assertTrue(call.requests[0] == request, "16 MiB request altered on the way")

    def test_16_mib_response(self):
        self.fake.script(METHOD, Script.big(16 * MiB, seed=22))
        response = self.unary(METHOD)(b"", timeout=CALL_TIMEOUT_S * 2)
        self.assertEqual(len(response), 16 * MiB)
        self.assertTrue(response == payload(16 * MiB, 22), "16 MiB response altered on the way")

    def test_request_over_16_mib_is_refused(self):
        self.fake.script(METHOD, responses=[b"should not get here"])
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary(METHOD)(payload(16 * MiB + 1, 23), timeout=CALL_TIMEOUT_S * 2)
        self.assertCode(caught.exception, grpc.StatusCode.RESOURCE_EXHAUSTED)
        # Whatever crisp did upstream, the runtime never got the message.
        for call in self.fake.calls(METHOD):
            self.assertEqual(call.requests, [])

    def test_response_over_16_mib_is_refused(self):
        self.fake.script(METHOD, Script.big(16 * MiB + 1, seed=24))
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary(METHOD)(b"", timeout=CALL_TIMEOUT_S * 2)
        self.assertCode(caught.exception, grpc.StatusCode.RESOURCE_EXHAUSTED)


class TestConfiguredLimit(RelayTestCase):

    crisp_args = ("--max-message-size", str(1 * MiB))

    def test_limit_applies_both_ways(self):
        self.fake.script(METHOD, Script.big(1 * MiB, seed=31))
        self.assertEqual(self.unary(METHOD)(payload(1 * MiB, 32), timeout=CALL_TIMEOUT_S),
                         payload(1 * MiB, 31))
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary(METHOD)(payload(1 * MiB + 1, 33), timeout=CALL_TIMEOUT_S)
        self.assertCode(caught.exception, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.fake.script(METHOD, Script.big(1 * MiB + 1, seed=34))
        with self.assertRaises(grpc.RpcError) as caught:
            self.unary(METHOD)(b"", timeout=CALL_TIMEOUT_S)
        self.assertCode(caught.exception, grpc.StatusCode.RESOURCE_EXHAUSTED)


class TestRaisedLimit(RelayTestCase):

    crisp_args = ("--max-message-size", str(32 * MiB))

    def test_20_mib_passes_both_ways(self):
        self.fake.script(METHOD, Script(echo=True))
        request = payload(20 * MiB, 41)
        response = self.unary(METHOD)(request, timeout=CALL_TIMEOUT_S * 2)
        self.assertTrue(response == request, "20 MiB echo altered on the way")


if __name__ == "__main__":
    unittest.main()
