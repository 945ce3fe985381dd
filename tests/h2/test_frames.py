"""Frames a relay must take as they come and pass on intact: header blocks
over CONTINUATION (both ways), padding on HEADERS and DATA (counted in flow
control and given back, both ways), PRIORITY frames anywhere, frames of
unknown types anywhere, Trailers-Only answers (the runtime's and crisp's
own), and metadata octet for octet: -bin values with every byte value both
ways, and plain values with every octet a field value may hold."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from fake_runtime import FakeRuntime, Script, payload  # noqa: E402
from h2lib import (  # noqa: E402
    CONTINUATION, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, FRAME_SIZE_ERROR, HEADERS,
    INITIAL_WINDOW_SIZE, NO_ERROR, PROTOCOL_ERROR, RST_STREAM, WINDOW_UPDATE, H2TestCase,
    b64_bin, continuation_frame, data_frame, frame, grpc_message, grpc_request_headers,
    headers_frame, priority_frame, unb64_bin)

ECHO = "/crisp.test.Frames/Echo"
FAILS = "/crisp.test.Frames/Fails"
CREATE = "/runtime.v1.RuntimeService/CreateContainer"
MiB = 1024 * 1024
ALL_BYTES = bytes(range(256))


def data_frames(sid, data, end_stream=False):
    """`data` in DATA frames of at most 2^14 octets (within one window)."""
    pieces = [data[i:i + 16384] for i in range(0, len(data), 16384)]
    return [data_frame(sid, p, end_stream and i == len(pieces) - 1)
            for i, p in enumerate(pieces)]


def metadata(n, size, prefix=b"x-meta"):
    return [(b"%s-%03d" % (prefix, i), (b"%03d" % i) * (size // 3)) for i in range(n)]


class TestContinuation(H2TestCase):

    def test_request_header_block_in_continuations(self):
        """A request's header block in HEADERS and 8 CONTINUATIONs, 1 octet up: arrives whole."""
        c = self.client()
        extra = metadata(20, 90)
        block = c.encode(grpc_request_headers(ECHO, extra=extra))
        # 1, 1, 2, 3, 5, 8, 13 octets, then the rest: nghttp2 takes at
        # most 8 CONTINUATIONs per block (its CVE-2024-28182 limit).
        cuts = [1, 2, 3, 5, 8, 13, 21, 34]
        frames = [headers_frame(1, block[:1], end_headers=False)]
        for a, b in zip(cuts, cuts[1:] + [len(block)]):
            frames.append(continuation_frame(1, block[a:b], b == len(block)))
        self.assertEqual(len(frames), 9)
        c.send(*frames)
        c.send(data_frame(1, grpc_message(b"after the block"), end_stream=True))
        resp = c.read_response(1)
        self.assertEqual((resp.status, resp.messages), (0, [b"after the block"]))
        [call] = self.fake.calls(ECHO)
        self.assertEqual([(k.encode(), v.encode()) for k, v in call.metadata
                          if k.startswith("x-meta-")], extra)


    def test_too_many_continuations_is_a_connection_error(self):
        """A header block in more CONTINUATIONs than crisp takes: GOAWAY, then the close."""
        c = self.client()
        block = c.encode(grpc_request_headers(ECHO, extra=metadata(20, 90)))
        frames = [headers_frame(1, block[:1], end_headers=False)]
        frames += [continuation_frame(1, block[i:i + 1], i + 1 == len(block))
                   for i in range(1, len(block))]
        c.send(*frames)
        c.expect_connection_error((ENHANCE_YOUR_CALM, PROTOCOL_ERROR))


class TestLargeHeaderBlocks(H2TestCase):

    runtime = "raw"
    raw_behaviour = "hold"

    def test_large_header_blocks_both_ways(self):
        """40 KiB header blocks each way (HEADERS + CONTINUATION frames): every field, in order."""
        c = self.client()
        request_extra = metadata(40, 1000, b"x-request")
        block = c.encode(grpc_request_headers(ECHO, extra=request_extra), huffman=False)
        self.assertGreater(len(block), 2 * 16384)
        c.send(headers_frame(1, block[:16384], end_headers=False),
               continuation_frame(1, block[16384:32768], end_headers=False),
               continuation_frame(1, block[32768:]),
               data_frame(1, grpc_message(b"m"), end_stream=True))
        [st] = self.raw.wait_streams(1, ECHO)
        self.raw.wait_for(lambda: st.ended, "the request")
        self.assertEqual([(k, v) for k, v in st.headers if k.startswith(b"x-request")],
                         request_extra)
        initial = metadata(40, 1000, b"x-initial")
        trailing = metadata(30, 1000, b"x-trailing")
        self.raw.respond(st, [b"answer"], initial=initial, trailing=trailing)
        resp = c.read_response(1)
        self.assertEqual((resp.status, resp.messages), (0, [b"answer"]))
        self.assertEqual([(k, v) for k, v in resp.headers if k.startswith(b"x-initial")], initial)
        self.assertEqual([(k, v) for k, v in resp.trailers if k.startswith(b"x-trailing")],
                         trailing)
        self.assertIn(CONTINUATION, [f.type for f in resp.frames])


class TestPadding(H2TestCase):

    def test_padded_headers_and_data(self):
        """HEADERS and DATA with padding of 0 to 255 octets: the padding goes, the rest arrives."""
        c = self.client()
        extra = [(b"x-padded", b"yes")]
        body = grpc_message(payload(3000, 9))
        for sid, pad in ((1, 0), (3, 1), (5, 255)):
            block = c.encode(grpc_request_headers(ECHO, extra=extra))
            c.send(headers_frame(sid, block, pad=pad, priority=(0, 16, False)))
            pieces = [body[i:i + 1000] for i in range(0, len(body), 1000)]
            for k, piece in enumerate(pieces):
                c.send(data_frame(sid, piece, end_stream=k == len(pieces) - 1,
                                  pad=(pad + 100 * k) % 256))
        for sid in (1, 3, 5):
            resp = c.read_response(sid)
            self.assertEqual((resp.status, resp.messages), (0, [payload(3000, 9)]))
        for call in self.fake.calls(ECHO):
            self.assertIn(("x-padded", "yes"), call.metadata)

    def test_request_padding_is_counted_and_given_back(self):
        """2000 DATA frames of 1 octet and 255 of padding: crisp gives the window back."""
        c = self.client()
        message = payload(2000 - 5, 10)
        body = grpc_message(message)
        sid = c.new_stream_id()
        c.send(headers_frame(sid, c.encode(grpc_request_headers(ECHO))))
        c.send_data(sid, body, end_stream=True, max_frame=257, pad=255)
        self.assertGreater(len(body) * 257, 1.9 * c.server_settings[INITIAL_WINDOW_SIZE])
        resp = c.read_response(sid)
        self.assertEqual((resp.status, resp.messages), (0, [message]))


class TestRuntimePadding(H2TestCase):

    runtime = "raw"
    raw_behaviour = "hold"

    def test_response_padding_is_counted_and_given_back(self):
        """The runtime's answer in 2000 DATA frames of 1 octet and 255 of padding arrives."""
        c = self.client()
        sid = self.call(c, ECHO, [b"pad your answer"])
        [st] = self.raw.wait_streams(1, ECHO)
        self.raw.wait_for(lambda: st.ended, "the request")
        message = payload(2000 - 5, 11)
        self.raw.respond(st, [message], pad=255, chunk=1)
        resp = c.read_response(sid)
        self.assertEqual((resp.status, resp.messages), (0, [message]))


class TestPriority(H2TestCase):

    def test_priority_frames_anywhere_change_nothing(self):
        """PRIORITY on idle, open and closed streams, dependent and exclusive: calls unchanged."""
        c = self.client()
        body = grpc_message(payload(40000, 12))
        c.send(priority_frame(101, 0, 200),
               priority_frame(1, 101, 1, exclusive=True),
               headers_frame(1, c.encode(grpc_request_headers(ECHO)), priority=(101, 256, True)),
               *data_frames(1, body[:20000]),
               priority_frame(1, 3, 1),
               priority_frame(3, 1, 77),
               *data_frames(1, body[20000:], end_stream=True),
               headers_frame(3, c.encode(grpc_request_headers(ECHO)), priority=(1, 5, False)),
               *data_frames(3, body, end_stream=True),
               priority_frame(5, 3, 16, exclusive=True))
        for sid in (1, 3):
            resp = c.read_response(sid)
            self.assertEqual((resp.status, resp.messages), (0, [payload(40000, 12)]))
        c.send(priority_frame(1, 0, 256), priority_frame(3, 0, 1, exclusive=True))
        c.assert_no_error(c.ping())


class TestUnknownFrames(H2TestCase):

    def test_unknown_frame_types_are_ignored_anywhere(self):
        """Frames of unknown types, any flags and sizes, on any stream, mid-call: ignored."""
        c = self.client()
        body = grpc_message(payload(50000, 13))
        unknown = [frame(t, flags, sid, payload(size, t))
                   for t, flags, sid, size in ((0x20, 0x00, 0, 0), (0x7f, 0xff, 0, 1),
                                               (0xff, 0x01, 1, 100), (0x42, 0x04, 99, 16384))]
        c.send(unknown[0],
               headers_frame(1, c.encode(grpc_request_headers(ECHO))),
               unknown[1], unknown[2],
               *data_frames(1, body[:30000]),
               unknown[3], unknown[2],
               *data_frames(1, body[30000:], end_stream=True),
               unknown[1])
        resp = c.read_response(1)
        self.assertEqual((resp.status, resp.messages), (0, [payload(50000, 13)]))
        c.send(unknown[2], unknown[0])  # on a stream that is closed now
        c.assert_no_error(c.ping())

    def test_unknown_frame_over_max_frame_size(self):
        """An unknown frame over SETTINGS_MAX_FRAME_SIZE: connection FRAME_SIZE_ERROR (§4.2)."""
        c = self.client()
        c.send(frame(0x42, 0, 0, b"\0" * 16385))
        c.expect_connection_error(FRAME_SIZE_ERROR)


class TestTrailersOnly(H2TestCase):

    def only_frame(self, c, sid):
        """The stream's one frame: a HEADERS ending both the block and the stream."""
        resp = c.read_response(sid)
        self.assertEqual(len(resp.frames), 1, repr(resp.frames))
        f = resp.frames[0]
        self.assertEqual((f.type, f.flags & (END_STREAM | END_HEADERS)),
                         (HEADERS, END_STREAM | END_HEADERS), repr(f))
        h = f.header_dict()
        self.assertEqual((h.get(b":status"), h.get(b"content-type")),
                         (b"200", b"application/grpc"), repr(f))
        return h

    def test_runtime_error_passes_as_trailers_only(self):
        """The runtime's Trailers-Only error reaches the client as one HEADERS frame, intact."""
        self.fake.script(FAILS, code=grpc.StatusCode.NOT_FOUND, details="no such pod",
                         trailing_metadata=(("x-why", "gone"),))
        c = self.client()
        h = self.only_frame(c, self.call(c, FAILS, [b"req"]))
        self.assertEqual((h.get(b"grpc-status"), h.get(b"grpc-message"), h.get(b"x-why")),
                         (b"5", b"no such pod", b"gone"))

    def test_crisp_refusal_is_trailers_only(self):
        """crisp's refusal of an undecodable CreateContainer: one HEADERS, INVALID_ARGUMENT."""
        c = self.client()
        h = self.only_frame(c, self.call(c, CREATE, [b"\x12\x20ab"]))
        self.assertEqual(h.get(b"grpc-status"), b"3")
        self.assertTrue(h.get(b"grpc-message"))
        self.assert_crisp_serves()
        self.assertEqual(self.fake.calls(CREATE), [])

    def test_runtime_down_is_trailers_only(self):
        """With the runtime down, crisp answers UNAVAILABLE as one HEADERS frame."""
        self.fake.stop()
        c = self.client()
        h = self.only_frame(c, self.call(c, ECHO, [b"anyone?"]))
        self.assertEqual(h.get(b"grpc-status"), b"14")
        self.fake = FakeRuntime(self.runtime_socket).start()  # for the check after the test

    def test_request_over_the_limit_is_trailers_only(self):
        """A request over 16 MiB: RESOURCE_EXHAUSTED as one HEADERS, then RST_STREAM NO_ERROR."""
        c = self.client()
        sid = c.new_stream_id()
        prefix = b"\0" + (16 * MiB + 1).to_bytes(4, "big")
        c.send(headers_frame(sid, c.encode(grpc_request_headers(ECHO))),
               data_frame(sid, prefix + payload(1000, 14)))
        f = c.expect_frame(HEADERS, sid, ignore=(WINDOW_UPDATE,))
        self.assertEqual(f.flags & END_STREAM, END_STREAM, repr(f))
        self.assertEqual(f.header_dict().get(b"grpc-status"), b"8", repr(f))
        # The client was still sending: the stream is closed for it as well.
        r = c.expect_frame(RST_STREAM, sid, ignore=(WINDOW_UPDATE,))
        self.assertEqual(r.error_code, NO_ERROR, repr(r))
        self.assert_crisp_serves()
        self.assertEqual([k.requests for k in self.fake.calls(ECHO)], [[]] *
                         len(self.fake.calls(ECHO)))


class TestBinaryMetadata(H2TestCase):

    def test_bin_metadata_with_every_byte_value_both_ways(self):
        """-bin metadata with every byte value, padded or not, reach the runtime and come back."""
        back = ALL_BYTES[::-1]
        self.fake.script(ECHO, Script(echo=True, initial_metadata=(("x-initial-bin", ALL_BYTES),),
                                      trailing_metadata=(("x-trailing-bin", back),
                                                         ("x-empty-bin", b""))))
        c = self.client()
        sid = self.call(c, ECHO, [b"m"], extra=[
            (b"x-all-bin", b64_bin(ALL_BYTES)),
            (b"x-padded-bin", b64_bin(back) + b"=" * (-len(b64_bin(back)) % 4)),
            (b"x-twice-bin", b64_bin(ALL_BYTES * 2)),
            (b"x-empty-bin", b""),
        ])
        resp = c.read_response(sid)
        self.assertEqual((resp.status, resp.messages), (0, [b"m"]))
        [call] = self.fake.calls(ECHO)
        got = {k: v for k, v in call.metadata if k.endswith("-bin")}
        self.assertEqual(got, {"x-all-bin": ALL_BYTES, "x-padded-bin": back,
                               "x-twice-bin": ALL_BYTES * 2, "x-empty-bin": b""})
        self.assertEqual(unb64_bin(resp.header(b"x-initial-bin")), ALL_BYTES)
        self.assertEqual(unb64_bin(resp.header(b"x-trailing-bin", resp.trailers)), back)
        self.assertEqual(unb64_bin(resp.header(b"x-empty-bin", resp.trailers)), b"")


class TestOctets(H2TestCase):

    runtime = "raw"
    raw_behaviour = "hold"

    def test_field_values_pass_octet_for_octet(self):
        """Plain field values with every octet a field value holds: unchanged, both ways."""
        # RFC 9110 §5.5: visible ASCII, obs-text (0x80-0xff), and SP and
        # HTAB inside (RFC 9113 §8.2.1: not at either end).
        inner = bytes([0x09, 0x20]) + bytes(range(0x21, 0x7f)) + bytes(range(0x80, 0x100))
        value = b"<" + inner + b">"
        c = self.client()
        sid = self.call(c, ECHO, [b"m"], extra=[(b"x-octets", value), (b"x-empty", b"")])
        [st] = self.raw.wait_streams(1, ECHO)
        self.raw.wait_for(lambda: st.ended, "the request")
        self.assertEqual((st.header(b"x-octets"), st.header(b"x-empty")), (value, b""))
        self.raw.respond(st, [b"m"], initial=[(b"x-octets", value)],
                         trailing=[(b"x-octets-too", value)])
        resp = c.read_response(sid)
        self.assertEqual(resp.header(b"x-octets"), value)
        self.assertEqual(resp.header(b"x-octets-too", resp.trailers), value)


if __name__ == "__main__":
    unittest.main()
