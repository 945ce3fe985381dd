"""Per-call behaviour: deadlines and cancellation reach the runtime, and calls
are independent of each other."""

import queue
import unittest

import grpc

from fake_runtime import Script, payload
from testbed import CALL_TIMEOUT_S, RelayTestCase

HELD = "/runtime.v1.RuntimeService/ExecSync"
QUICK = "/runtime.v1.RuntimeService/Version"
# Far beyond every wait below: in the cancellation tests the runtime's call
# must end because the cancel reached it, not because the deadline passed.
NO_DEADLINE_SOON_S = 600


class TestDeadlines(RelayTestCase):

    def test_client_deadline_reaches_the_runtime(self):
        self.fake.script(HELD, hold=True)
        future = self.unary(HELD).future(b"", timeout=CALL_TIMEOUT_S)
        self.addCleanup(future.cancel)
        [call] = self.fake.wait_for_calls(1, HELD)
        # With no deadline the runtime would see an effectively infinite one.
        # gRPC sends the deadline as a grpc-timeout header rounded *up* to a
        # coarse unit (30 s arrives as up to 30.1 s even with no proxy between),
        # and crisp's hop re-encodes it: allow 1% per hop.
        self.assertIsNotNone(call.time_remaining)
        self.assertGreater(call.time_remaining, 0)
        self.assertLessEqual(call.time_remaining, CALL_TIMEOUT_S * 1.02)

    def test_expired_deadline_ends_the_runtime_call(self):
        self.fake.script(HELD, hold=True)
        future = self.unary(HELD).future(b"", timeout=5)
        [call] = self.fake.wait_for_calls(1, HELD)
        with self.assertRaises(grpc.RpcError) as caught:
            future.result(timeout=CALL_TIMEOUT_S)
        self.assertCode(caught.exception, grpc.StatusCode.DEADLINE_EXCEEDED)
        self.fake.wait_ended(call)
        self.assertTrue(call.cancelled)


class TestCancellation(RelayTestCase):

    def test_unary_cancel_reaches_the_runtime(self):
        self.fake.script(HELD, hold=True)
        future = self.unary(HELD).future(b"", timeout=NO_DEADLINE_SOON_S)
        [call] = self.fake.wait_for_calls(1, HELD)
        self.assertFalse(call.ended)
        self.assertTrue(future.cancel())
        self.fake.wait_ended(call)
        self.assertTrue(call.cancelled, "%r; crisp log:\n%s" % (call, self.crisp.log()))

    def test_bidi_cancel_reaches_the_runtime(self):
        # A stream: not a CRI name, since the CRI's unary methods take crisp's
        # unary fast path (GetContainerEvents, its one stream, only sends).
        method = "/crisp.test.Terminal/Attach"
        outbox = queue.Queue()

        def requests():
            while True:
                item = outbox.get()
                if item is None:
                    return
                yield item

        # Echo, then hold after the request stream ends: the runtime never
        # finishes the call itself, so it ends only if a cancel reaches it. (A
        # cancel turned into a mere half-close would leave it held: failure.)
        self.fake.script(method, Script(echo=True, hold=True))
        self.addCleanup(outbox.put, None)
        responses = self.bidi(method)(requests(), timeout=NO_DEADLINE_SOON_S)
        outbox.put(b"first")
        self.assertEqual(next(responses), b"first")
        [call] = self.fake.calls(method)
        self.assertFalse(call.ended)
        responses.cancel()
        self.fake.wait_ended(call)
        self.assertTrue(call.cancelled, "%r; crisp log:\n%s" % (call, self.crisp.log()))


class TestIndependentCalls(RelayTestCase):

    def test_held_call_does_not_delay_others(self):
        self.fake.script(HELD, Script(responses=[b"finally"], hold=True))
        held = self.unary(HELD).future(b"", timeout=CALL_TIMEOUT_S * 2)
        self.addCleanup(held.cancel)
        self.fake.wait_for_calls(1, HELD)
        for i in range(20):
            request = b"quick-%d" % i
            self.assertEqual(self.unary(QUICK)(request, timeout=CALL_TIMEOUT_S), request)
        self.assertFalse(held.done(), "the held call ended early")
        self.fake.release()
        self.assertEqual(held.result(timeout=CALL_TIMEOUT_S), b"finally")

    def test_concurrent_calls_do_not_mix(self):
        call = self.unary(QUICK)
        sent = [payload(1000 + i, 300 + i) for i in range(50)]
        futures = [call.future(message, timeout=CALL_TIMEOUT_S) for message in sent]
        for message, future in zip(sent, futures):
            self.assertEqual(future.result(), message)
        self.assertEqual(sorted(c.requests[0] for c in self.fake.calls(QUICK)), sorted(sent))


if __name__ == "__main__":
    unittest.main()
