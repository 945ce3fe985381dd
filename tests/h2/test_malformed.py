"""A client that breaks the protocol gets a connection error, and nobody else
notices: while bad prefaces and malformed frames come on other connections,
a call in flight on a good connection (and on crisp's one connection to the
runtime) goes on and completes, and the broken client's own calls are
cancelled at the runtime."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_runtime import Script  # noqa: E402
from h2lib import (  # noqa: E402
    CANCEL, COMPRESSION_ERROR, CONTINUATION, DATA, ENABLE_PUSH, FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR, GOAWAY, HEADERS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_WINDOW, PING,
    PREFACE, PRIORITY, PROTOCOL_ERROR, PUSH_PROMISE, RST_STREAM, SETTINGS, WINDOW_UPDATE,
    H2Client, H2TestCase, frame, grpc_message, ping_frame, settings_frame, window_update_frame)

HELD = "/crisp.test.Malformed/Held"
NEVER = "/crisp.test.Malformed/Never"

# Bytes that are not an HTTP/2 client preface: the connection just ends.
BAD_PREFACES = {
    "wrong magic": b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
    "HTTP/1.1 request": b"GET / HTTP/1.1\r\nHost: crisp\r\n\r\n",
    "HTTP/1.1 upgrade to h2c": (b"GET / HTTP/1.1\r\nHost: crisp\r\nConnection: Upgrade, "
                                b"HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: \r\n\r\n"),
    "TLS ClientHello": bytes.fromhex("16030100c4010000c00303") + b"\0" * 40,
    "zeros": b"\0" * 24,
}

# (what, bytes after a good handshake, the connection error's codes).
# Frame-level errors RFC 9113 makes connection errors; each gets GOAWAY.
MALFORMED = [
    ("frame longer than SETTINGS_MAX_FRAME_SIZE",
     frame(DATA, 0, 1, b"", length=0xffffff), FRAME_SIZE_ERROR),
    ("SETTINGS of 5 octets", frame(SETTINGS, 0, 0, b"\0" * 5), FRAME_SIZE_ERROR),
    ("SETTINGS ACK with a payload", frame(SETTINGS, 1, 0, b"\0" * 6), FRAME_SIZE_ERROR),
    ("SETTINGS on a stream", frame(SETTINGS, 0, 1, b""), PROTOCOL_ERROR),
    ("SETTINGS_ENABLE_PUSH 2", settings_frame([(ENABLE_PUSH, 2)]), PROTOCOL_ERROR),
    ("SETTINGS_INITIAL_WINDOW_SIZE 2^31", settings_frame([(INITIAL_WINDOW_SIZE, 2 ** 31)]),
     FLOW_CONTROL_ERROR),
    ("SETTINGS_MAX_FRAME_SIZE 2^24", settings_frame([(MAX_FRAME_SIZE, 2 ** 24)]),
     PROTOCOL_ERROR),
    ("PING of 9 octets", frame(PING, 0, 0, b"\0" * 9), FRAME_SIZE_ERROR),
    ("PING on a stream", frame(PING, 0, 5, b"\0" * 8), PROTOCOL_ERROR),
    ("GOAWAY of 7 octets", frame(GOAWAY, 0, 0, b"\0" * 7), FRAME_SIZE_ERROR),
    ("GOAWAY on a stream", frame(GOAWAY, 0, 1, b"\0" * 8), PROTOCOL_ERROR),
    ("WINDOW_UPDATE of 0", window_update_frame(0, 0), PROTOCOL_ERROR),
    ("WINDOW_UPDATE past 2^31-1", window_update_frame(0, MAX_WINDOW), FLOW_CONTROL_ERROR),
    ("WINDOW_UPDATE of 5 octets", frame(WINDOW_UPDATE, 0, 0, b"\0" * 5), FRAME_SIZE_ERROR),
    ("DATA on stream 0", frame(DATA, 0, 0, b"data"), PROTOCOL_ERROR),
    ("DATA on an idle stream", frame(DATA, 0, 7, b"data"), PROTOCOL_ERROR),
    ("HEADERS on stream 0", frame(HEADERS, 5, 0, b"\x82"), PROTOCOL_ERROR),
    ("HEADERS on an even stream", frame(HEADERS, 5, 2, b"\x82"), PROTOCOL_ERROR),
    ("HEADERS with an undecodable block", frame(HEADERS, 5, 1, b"\xff\xff\xff\xff"),
     COMPRESSION_ERROR),
    ("HEADERS whose padding is longer than the frame", frame(HEADERS, 0xd, 1, b"\x09\x82"),
     PROTOCOL_ERROR),
    ("CONTINUATION with no HEADERS", frame(CONTINUATION, 4, 1, b"\x82"), PROTOCOL_ERROR),
    ("PRIORITY on stream 0", frame(PRIORITY, 0, 0, b"\0" * 5), PROTOCOL_ERROR),
    ("PRIORITY of 6 octets", frame(PRIORITY, 0, 3, b"\0" * 6), FRAME_SIZE_ERROR),
    ("RST_STREAM on an idle stream", frame(RST_STREAM, 0, 9, struct.pack(">I", CANCEL)),
     PROTOCOL_ERROR),
    ("RST_STREAM on stream 0", frame(RST_STREAM, 0, 0, struct.pack(">I", CANCEL)),
     PROTOCOL_ERROR),
    ("PUSH_PROMISE from a client", frame(PUSH_PROMISE, 4, 1, b"\0\0\0\x02\x82"),
     PROTOCOL_ERROR),
    # read as a frame header: 'PRI' is its length, far over the limit
    ("preface sent twice", PREFACE, (FRAME_SIZE_ERROR, PROTOCOL_ERROR)),
]


class TestMalformed(H2TestCase):

    def setUp(self):
        super().setUp()
        self.fake.script(HELD, Script(responses=[b"survived"], hold=True))

    def call_in_flight(self):
        """A good client with a call the runtime holds."""
        good = self.client()
        sid = self.call(good, HELD, [b"in flight"])
        [call] = self.fake.wait_for_calls(1, HELD)
        return good, sid, call

    def assert_undisturbed(self, good, sid, call):
        """The good connection still answers, its call is still in flight,
        and, once the runtime answers, it completes."""
        good.assert_no_error(good.ping())
        self.assertFalse(call.ended, call)
        self.fake.release()
        resp = good.read_response(sid)
        self.assertEqual((resp.status, resp.messages), (0, [b"survived"]))

    def test_bad_prefaces_end_only_that_connection(self):
        """A connection not starting with the HTTP/2 preface is closed; no one else notices."""
        good, sid, call = self.call_in_flight()
        for what, data in BAD_PREFACES.items():
            with self.subTest(what):
                bad = H2Client(self.crisp.listen, log=self.crisp.log)
                self.addCleanup(bad.close)
                bad.send(data)
                bad.expect_connection_error(PROTOCOL_ERROR, allow_bare_close=True)
        with self.subTest("preface, then no SETTINGS first"):
            bad = H2Client(self.crisp.listen, log=self.crisp.log)
            self.addCleanup(bad.close)
            bad.send(PREFACE, ping_frame(b"no hello"))
            bad.expect_connection_error(PROTOCOL_ERROR)
        self.assert_undisturbed(good, sid, call)

    def test_malformed_frames_are_connection_errors_to_that_client_only(self):
        """Each malformed frame: GOAWAY with the RFC's code, the close; no one else notices."""
        good, sid, call = self.call_in_flight()
        for what, data, code in MALFORMED:
            with self.subTest(what):
                bad = self.client()
                bad.send(data)
                bad.expect_connection_error(code)
        self.assert_undisturbed(good, sid, call)

    def test_a_broken_clients_calls_are_cancelled_and_only_those(self):
        """A client breaking the protocol: its calls are cancelled at the runtime; others go on."""
        good, sid, call = self.call_in_flight()
        self.fake.script(NEVER, hold=True)
        bad = self.client()
        for i in range(3):
            self.call(bad, NEVER, [b"doomed %d" % i], end=i % 2 == 0)
        doomed = self.fake.wait_for_calls(3, NEVER)
        bad.send(frame(DATA, 0, 0, b"on stream 0"))
        bad.expect_connection_error(PROTOCOL_ERROR)
        for d in doomed:
            self.fake.wait_ended(d)
            self.assertTrue(d.cancelled, d)
        self.assert_undisturbed(good, sid, call)

    def test_client_vanishing_in_the_middle_of_a_frame(self):
        """A client closing mid-frame, a call open: its call is cancelled; others go on."""
        good, sid, call = self.call_in_flight()
        self.fake.script(NEVER, hold=True)
        bad = self.client()
        bad_sid = self.call(bad, NEVER, [b"half"], end=False)
        [doomed] = self.fake.wait_for_calls(1, NEVER)
        bad.send(frame(DATA, 0, bad_sid, grpc_message(b"cut short"))[:12])
        bad.close()
        self.fake.wait_ended(doomed)
        self.assertTrue(doomed.cancelled, doomed)
        self.assert_undisturbed(good, sid, call)


if __name__ == "__main__":
    unittest.main()
