"""The client dies (SIGKILL) in the middle of a call: the runtime sees the
call cancelled, crisp lets go of the connection and keeps serving."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import WAIT_S, Proc, client_connections, wait_fds_settled  # noqa: E402
from fake_runtime import Script  # noqa: E402
from testbed import CALL_TIMEOUT_S, RelayTestCase  # noqa: E402

HELD = "/runtime.v1.RuntimeService/ExecSync"
STREAM = "/crisp.test.Terminal/Attach"  # a stream (the CRI's methods are unary)
QUICK = "/runtime.v1.RuntimeService/Version"


class ClientKilled(RelayTestCase):

    def setUp(self):
        super().setUp()
        # The runtime never ends these calls itself: they end only when a
        # cancel reaches it (a half-close instead would leave them held).
        self.fake.script(HELD, Script(hold=True))
        self.fake.script(STREAM, Script(echo=True, hold=True))
        self.pid = self.crisp.proc.pid

    def client(self, method, shape):
        proc = Proc("client_proc.py", self.crisp.listen, method, shape)
        self.addCleanup(proc.close)
        return proc

    def assertCancelledAtRuntime(self, call, client):
        self.assertFalse(call.ended)
        self.assertEqual(client_connections(self.pid, self.crisp.listen), 1)
        client.kill()
        self.fake.wait_ended(call, timeout=WAIT_S)
        self.assertTrue(call.cancelled, "%r; crisp log:\n%s" % (call, self.crisp.log()))
        # crisp closed its side of the dead client's connection...
        _, conns = wait_fds_settled(self.pid, self.crisp.listen, at_most=10**6)
        self.assertEqual(conns, 0, "crisp still holds the dead client's connection")
        # ...and serves the next client as before.
        self.assertEqual(self.unary(QUICK)(b"next", timeout=CALL_TIMEOUT_S), b"next")

    def test_unary_call_in_flight(self):
        client = self.client(HELD, "unary")
        [call] = self.fake.wait_for_calls(1, HELD)
        self.fake.wait_for(lambda: call.half_closed, what="the whole request")
        self.assertCancelledAtRuntime(call, client)

    def test_stream_in_progress(self):
        client = self.client(STREAM, "stream")
        client.wait_line("echo")  # a message went each way; the stream is open
        [call] = self.fake.calls(STREAM)
        self.assertFalse(call.half_closed)
        self.assertCancelledAtRuntime(call, client)

    def test_many_clients_killed_at_once(self):
        clients = [self.client(HELD, "unary") for _ in range(20)]
        calls = self.fake.wait_for_calls(20, HELD)
        for c in clients:
            c.kill()
        for call in calls:
            self.fake.wait_ended(call, timeout=WAIT_S)
            self.assertTrue(call.cancelled, repr(call))
        _, conns = wait_fds_settled(self.pid, self.crisp.listen, at_most=10**6)
        self.assertEqual(conns, 0)
        self.assertEqual(self.unary(QUICK)(b"next", timeout=CALL_TIMEOUT_S), b"next")


if __name__ == "__main__":
    unittest.main()
