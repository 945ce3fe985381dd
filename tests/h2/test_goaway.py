"""GOAWAY from every side: the client's (crisp finishes the calls in flight),
the runtime's (the calls it took finish on the old connection, new calls go
to a new one, the ones it refused are refused to the client so that it may
retry), crisp's own on SIGTERM (it drains, then exits), and the runtime
breaking the protocol (a connection error: its calls fail, crisp connects
again)."""

import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_runtime import FakeRuntime, Script  # noqa: E402
from h2lib import (  # noqa: E402
    DATA, GOAWAY, NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, RST_STREAM,
    SETTINGS, WINDOW_UPDATE, H2TestCase, frame, goaway_frame, grpc_request_headers,
    headers_frame)

HELD = "/crisp.test.Goaway/Held"
FIRST = "/crisp.test.Goaway/First"
SECOND = "/crisp.test.Goaway/Second"
UNAVAILABLE = 14


class TestClientGoaway(H2TestCase):

    def test_client_goaway_lets_calls_in_flight_finish(self):
        """After the client's GOAWAY, crisp still answers every call the client had open."""
        self.fake.script(HELD, Script(responses=[b"finally"], hold=True))
        c = self.client()
        sids = [self.call(c, HELD, [b"request %d" % i]) for i in range(3)]
        self.fake.wait_for_calls(3, HELD)
        c.send(goaway_frame(0, NO_ERROR, b"client leaving"))
        c.assert_no_error(c.ping())  # crisp took the GOAWAY and goes on
        self.fake.release()
        for sid in sids:
            resp = c.read_response(sid)
            self.assertEqual((resp.status, resp.messages), (0, [b"finally"]))
        for call in self.fake.calls(HELD):
            self.fake.wait_ended(call)
            self.assertFalse(call.cancelled, call)


class TestRuntimeGoaway(H2TestCase):

    runtime = "raw"
    raw_behaviour = "hold"

    def test_runtime_goaway_new_calls_use_a_new_connection(self):
        """The runtime's GOAWAY: its call finishes there, the next goes to a new connection."""
        c = self.client()
        first = self.call(c, FIRST, [b"first"])
        [st1] = self.raw.wait_streams(1, FIRST)
        old = st1.conn
        self.raw.goaway(old, NO_ERROR, last_stream_id=st1.id)
        self.raw.ping(old)  # crisp has read the GOAWAY
        second = self.call(c, SECOND, [b"second"])
        [st2] = self.raw.wait_streams(1, SECOND)
        self.assertIsNot(st2.conn, old, "a new call went to a connection that said GOAWAY")
        self.raw.respond(st2, [b"second answer"])
        resp = c.read_response(second)
        self.assertEqual((resp.status, resp.messages), (0, [b"second answer"]))
        self.raw.respond(st1, [b"first answer"])
        resp = c.read_response(first)
        self.assertEqual((resp.status, resp.messages), (0, [b"first answer"]))
        # Its last call over, crisp closes the old connection.
        self.raw.wait_for(lambda: old.closed, "crisp to close the connection that said GOAWAY")

    def test_runtime_goaway_refusing_a_call_lets_the_client_retry(self):
        """A call above the runtime's GOAWAY last-stream-id is reset REFUSED_STREAM to the client.

        The runtime never processed it, so the client may send it again
        (RFC 9113 §8.7; gRPC clients do so transparently). Its other call
        finishes."""
        c = self.client()
        first = self.call(c, FIRST, [b"first"])
        second = self.call(c, SECOND, [b"second"])
        [st1] = self.raw.wait_streams(1, FIRST)
        [st2] = self.raw.wait_streams(1, SECOND)
        self.assertIs(st1.conn, st2.conn)
        self.raw.goaway(st1.conn, NO_ERROR, last_stream_id=st1.id)  # the second is not taken
        c.expect_stream_error(second, REFUSED_STREAM, no_response=True)
        self.raw.respond(st1, [b"first answer"])
        resp = c.read_response(first)
        self.assertEqual((resp.status, resp.messages), (0, [b"first answer"]))

    def test_runtime_protocol_error_fails_its_calls_then_crisp_reconnects(self):
        """A runtime breaking the protocol: GOAWAY, its calls end UNAVAILABLE, new calls work."""
        c = self.client()
        first = self.call(c, FIRST, [b"first"])
        [st1] = self.raw.wait_streams(1, FIRST)
        self.raw.send_raw(st1.conn, frame(DATA, 0, 0, b"not on stream 0"))
        resp = c.read_response(first)
        self.assertEqual(resp.status, UNAVAILABLE, repr(resp.frames))
        self.raw.wait_for(lambda: st1.conn.closed, "crisp to close the broken connection")
        self.assertEqual(st1.conn.goaway_received, PROTOCOL_ERROR)
        second = self.call(c, SECOND, [b"second"])
        [st2] = self.raw.wait_streams(1, SECOND)
        self.raw.respond(st2, [b"second answer"])
        resp = c.read_response(second)
        self.assertEqual((resp.status, resp.messages), (0, [b"second answer"]))


class TestRuntimeStopping(H2TestCase):

    def test_runtime_stopping_gracefully(self):
        """The gRPC runtime stops gracefully: its call finishes, new calls reach the next."""
        old = self.fake
        old.script(HELD, Script(responses=[b"old answer"], hold=True))
        c = self.client()
        first = self.call(c, HELD, [b"first"])
        [call] = old.wait_for_calls(1, HELD)
        stopped = old.stop_gracefully(60)  # GOAWAY; the call in flight may finish
        self.crisp.wait_for_log("the runtime sent GOAWAY")
        self.fake = FakeRuntime(self.runtime_socket).start()  # the next runtime, same socket
        second = self.call(c, SECOND, [b"second"])
        resp = c.read_response(second)
        self.assertEqual((resp.status, resp.messages), (0, [b"second"]))
        self.assertEqual(len(self.fake.calls(SECOND)), 1)
        old.release()
        resp = c.read_response(first)
        self.assertEqual((resp.status, resp.messages), (0, [b"old answer"]))
        self.assertTrue(stopped.wait(60), "the old runtime did not finish stopping")
        self.assertFalse(call.cancelled, call)


class TestCrispGoaway(H2TestCase):

    def test_sigterm_goaway_then_drain(self):
        """SIGTERM: GOAWAY NO_ERROR, no new stream taken, the open one finished, exit 0."""
        self.fake.script(HELD, Script(responses=[b"drained"], hold=True))
        c = self.client()
        sid = self.call(c, HELD, [b"in flight"])
        self.fake.wait_for_calls(1, HELD)
        self.expect_exit = True
        self.crisp.signal(signal.SIGTERM)
        g = c.expect_frame(GOAWAY, ignore=(WINDOW_UPDATE, SETTINGS))
        self.assertEqual(g.error_code, NO_ERROR, repr(g))
        self.assertGreaterEqual(g.last_stream_id, sid)
        # A stream opened after the GOAWAY is not processed (nothing reaches the runtime).
        late = sid + 2
        c.send(headers_frame(late, c.encode(grpc_request_headers(HELD + "Late")),
                             end_stream=True))
        before = c.ping()
        self.assertEqual([f for f in before if f.stream_id == late and f.type != RST_STREAM], [])
        self.fake.release()
        resp = c.read_response(sid)
        self.assertEqual((resp.status, resp.messages), (0, [b"drained"]))
        c.expect_closed()
        self.assertEqual(self.crisp.wait_exit(), 0, self.crisp.log())
        self.assertEqual(self.fake.calls(HELD + "Late"), [])


if __name__ == "__main__":
    unittest.main()
