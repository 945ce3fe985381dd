"""RST_STREAM both ways: a client's reset cancels the runtime's call (with
any error code, before or after the request ended), a runtime's reset
resets the client's stream with the same code (before or in the middle of
the response), and the other streams of both connections go on."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_runtime import Script  # noqa: E402
from h2lib import (  # noqa: E402
    CANCEL, CLOSED, DATA, END_STREAM, ENHANCE_YOUR_CALM, HEADERS, INTERNAL_ERROR, NO_ERROR,
    REFUSED_STREAM, RST_STREAM, H2TestCase, grpc_message, rst_stream_frame)

HELD = "/crisp.test.Reset/Held"
STREAMING = "/crisp.test.Reset/Streaming"
OTHER = "/crisp.test.Reset/Other"


class TestClientReset(H2TestCase):

    def setUp(self):
        super().setUp()
        self.fake.script(HELD, Script(responses=[b"never"], hold=True))
        # Echoes as requests come and never ends by itself.
        self.fake.script(STREAMING, Script(echo=True, hold=True))

    def test_client_reset_cancels_the_runtime_call(self):
        """A client's RST_STREAM cancels the runtime's call; another call goes on."""
        for code in (CANCEL, NO_ERROR, INTERNAL_ERROR, 0xff):
            with self.subTest(code=code):
                c = self.client()
                sid = self.call(c, HELD, [b"held"])
                other = self.call(c, OTHER, [b"other"])
                self.fake.wait_for(lambda: any(not k.ended for k in self.fake.calls(HELD)),
                                   what="the call")
                [call] = [k for k in self.fake.calls(HELD) if not k.ended]
                self.fake.wait_for(lambda: call.half_closed, what="the request's end")
                c.send(rst_stream_frame(sid, code))
                self.fake.wait_ended(call)
                self.assertTrue(call.cancelled, call)
                resp = c.read_response(other)
                self.assertEqual((resp.status, resp.messages), (0, [b"other"]))
                # Nothing more on the reset stream, no error on the connection.
                before = c.ping()
                c.assert_no_error(before)
                self.assertEqual([f for f in before if f.stream_id == sid], [])

    def test_client_reset_mid_request_cancels_the_runtime_call(self):
        """A reset while the client still sends (a streaming call) cancels the runtime's call."""
        c = self.client()
        sid = self.call(c, STREAMING, [b"one", b"two"], end=False)
        got = bytearray()
        while len(got) < len(grpc_message(b"one") + grpc_message(b"two")):
            f = c.expect_frame(DATA, sid, ignore=(HEADERS,))
            got += f.data
        [call] = self.fake.calls(STREAMING)
        self.assertEqual(call.requests, [b"one", b"two"])
        c.send(rst_stream_frame(sid, CANCEL))
        # A reset passed on as a mere end of request would leave the call
        # held (its script holds after the requests end): it must end, cancelled.
        self.fake.wait_ended(call)
        self.assertTrue(call.cancelled, call)
        c.assert_no_error(c.ping())


class TestRuntimeReset(H2TestCase):

    runtime = "raw"
    raw_behaviour = "hold"

    def test_runtime_reset_resets_the_client_stream_with_its_code(self):
        """The runtime's RST_STREAM reaches the client as RST_STREAM with the same code."""
        c = self.client()
        for code in (CANCEL, INTERNAL_ERROR, REFUSED_STREAM, ENHANCE_YOUR_CALM):
            with self.subTest(code=code):
                before = len(self.raw.streams)
                sid = self.call(c, HELD, [b"to be reset"])
                st = self.raw.wait_streams(before + 1)[-1]
                self.raw.reset(st, code)
                f = c.expect_stream_error(sid, code, no_response=True)
                self.assertEqual(f.type, RST_STREAM, repr(f))

    def test_runtime_reset_in_the_middle_of_a_response(self):
        """A runtime reset mid-answer: the client gets that part, then the reset, not an end."""
        c = self.client()
        sid = self.call(c, HELD, [b"request"])
        other = self.call(c, OTHER, [b"other"])
        st, st_other = self.raw.wait_streams(2)
        if st.path != HELD:
            st, st_other = st_other, st
        self.raw.respond(st, [b"part of the answer"], end=False)
        got = bytearray()
        while len(got) < len(grpc_message(b"part of the answer")):
            f = c.expect_frame(DATA, sid, ignore=(HEADERS,))
            got += f.data
        self.raw.reset(st, INTERNAL_ERROR)
        for f in c.frames():
            if f is CLOSED:
                raise c.error("RST_STREAM on stream %d" % sid, "the connection closed")
            if f.stream_id == sid:
                self.assertFalse(f.type in (DATA, HEADERS) and f.flags & END_STREAM,
                                 "a reset answer ended as if complete: %r" % f)
                if f.type == RST_STREAM:
                    self.assertEqual(f.error_code, INTERNAL_ERROR, repr(f))
                    break
            c.assert_no_error([f])
        # The other call on the same two connections is untouched.
        self.raw.respond(st_other, [b"other answer"])
        resp = c.read_response(other)
        self.assertEqual((resp.status, resp.messages), (0, [b"other answer"]))


if __name__ == "__main__":
    unittest.main()
