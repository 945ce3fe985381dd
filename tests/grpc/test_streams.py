"""crisp relays every streaming shape, message by message, in order."""

import queue
import unittest

import grpc

from fake_runtime import Script, payload
from testbed import CALL_TIMEOUT_S, RelayTestCase

METHOD = "/runtime.v1.RuntimeService/GetContainerEvents"


class TestStreams(RelayTestCase):

    def test_server_streaming_keeps_order(self):
        # Varying sizes, and an empty message, which is still a message.
        sent = [payload(10 * i, i) for i in range(40)]
        trailing = (("x-stream-trailing", "done"),)
        self.fake.script(METHOD, responses=sent, trailing_metadata=trailing)
        responses = self.server_stream(METHOD)(b"\x0a\x00", timeout=CALL_TIMEOUT_S)
        self.assertEqual(list(responses), sent)
        self.assertEqual(responses.code(), grpc.StatusCode.OK)
        self.assertIn(("x-stream-trailing", "done"),
                      [(m.key, m.value) for m in responses.trailing_metadata()])
        [call] = self.fake.calls(METHOD)
        self.assertEqual(call.requests, [b"\x0a\x00"])

    def test_server_streaming_then_error(self):
        # Messages already sent are delivered, then the error status.
        self.fake.script(METHOD, Script.stream(3, code=grpc.StatusCode.ABORTED,
                                               details="stream broke"))
        responses = self.server_stream(METHOD)(b"", timeout=CALL_TIMEOUT_S)
        got = []
        with self.assertRaises(grpc.RpcError) as caught:
            for response in responses:
                got.append(response)
        self.assertEqual(got, [b"msg-0", b"msg-1", b"msg-2"])
        self.assertCode(caught.exception, grpc.StatusCode.ABORTED)
        self.assertEqual(caught.exception.details(), "stream broke")

    def test_server_streaming_16_mib_in_many_messages(self):
        # More than any flow-control window: crisp must relay with backpressure.
        sent = [payload(256 * 1024, i) for i in range(64)]
        self.fake.script(METHOD, responses=sent)
        responses = self.server_stream(METHOD)(b"", timeout=CALL_TIMEOUT_S * 2)
        got = list(responses)
        self.assertEqual(len(got), len(sent))
        self.assertTrue(got == sent, "stream content differs")

    def test_client_streaming_keeps_order(self):
        method = "/crisp.test.Upload/Chunks"
        sent = [payload(i * 7, 100 + i) for i in range(30)]
        self.fake.script(method, responses=[b"got it"])
        response = self.client_stream(method)(iter(sent), timeout=CALL_TIMEOUT_S)
        self.assertEqual(response, b"got it")
        [call] = self.fake.calls(method)
        self.assertEqual(call.requests, sent)

    def test_client_streaming_16_mib_in_many_messages(self):
        method = "/crisp.test.Upload/Big"
        sent = [payload(256 * 1024, 1000 + i) for i in range(64)]
        self.fake.script(method, responses=[b"ok"])
        response = self.client_stream(method)(iter(sent), timeout=CALL_TIMEOUT_S * 2)
        self.assertEqual(response, b"ok")
        [call] = self.fake.calls(method)
        self.assertEqual(len(call.requests), len(sent))
        self.assertTrue(call.requests == sent, "stream content differs")

    def test_bidi_interleaved(self):
        # The client sends message k+1 only after it got the reply to message k.
        # A relay that waited for the client to half-close (or buffered more
        # than a message) would deadlock here until the call's deadline.
        outbox = queue.Queue()

        def requests():
            while True:
                item = outbox.get()
                if item is None:
                    return
                yield item

        self.fake.script(METHOD, Script(echo=True,
                                        initial_metadata=(("x-bidi-initial", "hi"),)))
        responses = self.bidi(METHOD)(requests(), timeout=CALL_TIMEOUT_S)
        self.addCleanup(responses.cancel)
        self.addCleanup(outbox.put, None)
        sent = []
        for i in range(10):
            message = payload(50 + i, 200 + i)
            sent.append(message)
            outbox.put(message)
            self.assertEqual(next(responses), message, "reply %d" % i)
            # The runtime has seen exactly the messages sent so far.
            [call] = self.fake.calls(METHOD)
            self.assertEqual(call.requests, sent)
        outbox.put(None)
        self.assertEqual(list(responses), [])
        self.assertEqual(responses.code(), grpc.StatusCode.OK)
        self.assertIn(("x-bidi-initial", "hi"),
                      [(m.key, m.value) for m in responses.initial_metadata()])


if __name__ == "__main__":
    unittest.main()
