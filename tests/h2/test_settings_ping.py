"""SETTINGS and PING on crisp's client connections: what crisp announces,
that every SETTINGS gets exactly one ACK, in order, that the client's
settings bind what crisp sends, and that PINGs are answered at once, even
while a stream is held back by flow control."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_runtime import Script, payload  # noqa: E402
from h2lib import (  # noqa: E402
    ACK, DATA, DEFAULT_MAX_FRAME, ENABLE_PUSH, HEADER_TABLE_SIZE, HEADERS, INITIAL_WINDOW_SIZE,
    MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, PING, SETTINGS, WINDOW_UPDATE,
    H2TestCase, grpc_message, ping_frame, settings_frame)

BIG = "/crisp.test.Settings/Big"
ECHO = "/crisp.test.Settings/Echo"
MiB = 1024 * 1024


class TestSettings(H2TestCase):

    def test_crisp_announces_its_settings_first(self):
        """crisp's first frame is its SETTINGS: a stream limit and a stream window."""
        c = self.client(handshake=False)
        c.preface()
        c.send(settings_frame())
        f = c.read()
        self.assertEqual((f.type, f.flags), (SETTINGS, 0), repr(f))
        settings = dict(f.settings())
        self.assertGreater(settings.get(MAX_CONCURRENT_STREAMS, 0), 100, settings)
        self.assertGreaterEqual(settings.get(INITIAL_WINDOW_SIZE, 65535), 65535, settings)
        # A server never pushes: it has no business announcing ENABLE_PUSH.
        self.assertNotIn(ENABLE_PUSH, settings)

    def test_every_settings_gets_one_ack_in_order(self):
        """Each client SETTINGS gets exactly one ACK, in order, before later frames' answers."""
        c = self.client()
        c.send(ping_frame(b"before-1"),
               settings_frame([(HEADER_TABLE_SIZE, 4096)]),
               settings_frame([(MAX_HEADER_LIST_SIZE, 1 << 20), (INITIAL_WINDOW_SIZE, 1 << 20)]),
               settings_frame(),
               ping_frame(b"after--3"))
        seen = []
        for f in c.frames():
            if f.type == SETTINGS:
                self.assertEqual((f.flags, f.length), (ACK, 0), repr(f))
                seen.append("ack")
            elif f.type == PING:
                seen.append(f.payload)
                if f.payload == b"after--3":
                    break
            else:
                c.assert_no_error([f])
        self.assertEqual(seen, [b"before-1", "ack", "ack", "ack", b"after--3"])

    def test_default_max_frame_size_bounds_crisp_data(self):
        """With the default SETTINGS_MAX_FRAME_SIZE, no DATA crisp sends is over 2^14 octets."""
        self.fake.script(BIG, Script.big(4 * MiB, seed=3))
        c = self.client()
        sid = self.call(c, BIG, [b""])
        resp = c.read_response(sid)
        self.assertEqual(resp.messages, [payload(4 * MiB, 3)])
        sizes = [f.length for f in resp.frames if f.type == DATA]
        self.assertLessEqual(max(sizes), DEFAULT_MAX_FRAME)

    def test_larger_max_frame_size_is_allowed_and_bounds(self):
        """With SETTINGS_MAX_FRAME_SIZE 2^16, crisp's DATA stay within it, the message whole."""
        self.fake.script(BIG, Script.big(4 * MiB, seed=4))
        c = self.client(settings=[(MAX_FRAME_SIZE, 1 << 16)])
        sid = self.call(c, BIG, [b""])
        resp = c.read_response(sid)
        self.assertEqual(resp.messages, [payload(4 * MiB, 4)])
        self.assertLessEqual(max(f.length for f in resp.frames if f.type == DATA), 1 << 16)

    def test_header_table_size_0_is_honoured(self):
        """With SETTINGS_HEADER_TABLE_SIZE 0, crisp's header blocks never use the dynamic table."""
        initial = (("x-same-every-time", "a value long enough to be worth indexing"),)
        self.fake.script(ECHO, Script(echo=True, initial_metadata=initial,
                                      trailing_metadata=(("x-trailing", "also the same"),)))
        c = self.client(handshake=False)
        # This client's decoder keeps no dynamic table: a block that refers
        # to one (or sets a size above 0) fails to decode.
        c.decoder.max_allowed_table_size = 0
        c.decoder.header_table_size = 0
        c.handshake([(HEADER_TABLE_SIZE, 0)])
        for i in range(3):
            sid = self.call(c, ECHO, [b"m%d" % i])
            resp = c.read_response(sid)
            self.assertEqual((resp.status, resp.messages), (0, [b"m%d" % i]))
            self.assertEqual(resp.header(b"x-same-every-time"),
                             b"a value long enough to be worth indexing")

    def test_small_initial_window_bounds_every_stream(self):
        """With INITIAL_WINDOW_SIZE 1000, crisp never sends past what the client gave."""
        self.fake.script(BIG, Script.big(300000, seed=5))
        c = self.client(settings=[(INITIAL_WINDOW_SIZE, 1000)], auto_window=False)
        c.check_flow = True
        c.grant(0, 10 * MiB)  # the connection is not the limit here
        sids = [self.call(c, BIG, [b""]) for _ in range(3)]
        bodies = {sid: bytearray() for sid in sids}
        done = set()
        while len(done) < len(sids):
            f = c.read()
            c.assert_no_error([f])
            if f.type == DATA:
                bodies[f.stream_id] += f.data
                # A window of 1000 at most: crisp's frames never exceed it.
                self.assertLessEqual(f.length, 1000)
                c.grant(f.stream_id, f.length)
            if f.type == HEADERS and f.flags & 0x1:
                done.add(f.stream_id)
        for sid in sids:
            self.assertEqual(bytes(bodies[sid]), grpc_message(payload(300000, 5)))


class TestPing(H2TestCase):

    def test_pings_answered_in_order_with_their_payloads(self):
        """A hundred PINGs in one write get a hundred ACKs, in order, each with its payload."""
        c = self.client()
        datas = [os.urandom(8) for _ in range(100)]
        c.send(*[ping_frame(d) for d in datas])
        got = []
        while len(got) < len(datas):
            f = c.expect_frame(PING, ignore=(WINDOW_UPDATE,))
            self.assertEqual(f.flags, ACK)
            got.append(f.payload)
        self.assertEqual(got, datas)

    def test_ping_ack_from_client_is_ignored(self):
        """A PING ACK the client sends out of the blue is ignored."""
        c = self.client()
        c.send(ping_frame(b"unasked!", ack=True))
        before = c.ping(b"the next")
        self.assertEqual([f for f in before if f.type == PING], [])
        c.assert_no_error(before)

    def test_ping_answered_while_a_stream_is_blocked(self):
        """A stream held back by flow control does not hold back PING answers."""
        self.fake.script(BIG, Script.big(1 * MiB, seed=6))
        c = self.client(settings=[(INITIAL_WINDOW_SIZE, 100)], auto_window=False)
        c.grant(0, 10 * MiB)
        sid = self.call(c, BIG, [b""])
        # The stream's first 100 octets come, then it waits for a window
        # this client never gives; PINGs are still answered.
        f = c.expect_frame(DATA, sid, ignore=(HEADERS, WINDOW_UPDATE))
        self.assertEqual(f.length, 100)
        for i in range(5):
            before = c.ping()
            self.assertEqual([f for f in before if f.type == DATA], [])
        c.grant(sid, 2 * MiB)  # more than the rest: the trailers are not held back either
        resp = c.read_response(sid)
        self.assertEqual(bytes(resp.body), grpc_message(payload(1 * MiB, 6))[100:])


if __name__ == "__main__":
    unittest.main()
