"""HTTP/2 conformance of crisp's front side: h2spec 2.6.0's "http2" group,
one test per case, named after its id (http2/<section>/<n>: the docstring's
first line), each sending the frames that case sends and judging crisp's
answer as the RFC says (../shared/design/h2spec.md lists the cases the old
relay failed and why).

Where these tests differ from h2spec on purpose:

- Requests are gRPC-shaped (POST, content-type application/grpc) instead of
  h2spec's `GET /`, so that they reach the fake runtime's handler: a
  malformed request crisp forwarded anyway would show there, and a test can
  choose the runtime's answer. Frame by frame, the sequence under test is
  h2spec's.
- Where h2spec's verdict depends on the upstream not answering before the
  client's next frame arrives (h2spec.md's flaky rows), the request goes to
  a method the runtime holds, so the verdict cannot race.
- The cases h2spec skips for want of a DATA answer (6.5.3/1, 6.9.1/1,
  6.9.2/1, 6.9.2/2) run here: the runtime answers with a gRPC message.
- A connection error must come as GOAWAY with the right code and then the
  close (h2spec also accepts a bare close, or a GOAWAY with another code
  followed by the close).
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from h2lib import (  # noqa: E402
    ACK, CANCEL, CLOSED, COMPRESSION_ERROR, DATA, DEFAULT_MAX_FRAME, END_HEADERS, END_STREAM,
    ENABLE_PUSH, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY, HEADERS, INITIAL_WINDOW_SIZE,
    MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_WINDOW, PING, PRIORITY, PROTOCOL_ERROR,
    REFUSED_STREAM, RST_STREAM, SETTINGS, STREAM_CLOSED, WINDOW_UPDATE, H2TestCase,
    continuation_frame, data_frame, frame, goaway_frame, grpc_message, grpc_request_headers,
    headers_frame, ping_frame, priority_frame, push_promise_frame, rst_stream_frame,
    settings_frame, window_update_frame)

PROBE = "/crisp.test.H2spec/Probe"      # echoed
HELD = "/crisp.test.H2spec/Held"        # never answered while the test runs
ANSWERED = "/crisp.test.H2spec/Answer"  # answered with one message (DATA)
MALFORMED = "/crisp.test.H2spec/Malformed"  # must never reach the runtime
CREATE = "/runtime.v1.RuntimeService/CreateContainer"
ANSWER = b"the runtime's answer, a gRPC message of some length"
# h2spec's filler header value length (its --max-header-length default).
DUMMY_LEN = 4000


def dummy_headers(n, start=0):
    return [(b"x-dummy%d" % i, b"x" * DUMMY_LEN) for i in range(start, start + n)]


class Http2Case(H2TestCase):

    def setUp(self):
        super().setUp()
        self.fake.script(HELD, hold=True)
        self.fake.script(ANSWERED, responses=[ANSWER])

    def block(self, c, method=PROBE, extra=(), drop=(), replace=None):
        """A request's header block: gRPC-shaped, with fields added, dropped
        or replaced as a case needs."""
        fields = [(k, v) for k, v in grpc_request_headers(method) if k not in drop]
        if replace:
            fields = [(k, replace.get(k, v)) for k, v in fields]
        return c.encode(fields + list(extra))

    def assert_not_forwarded(self, method=MALFORMED):
        """The malformed request never reached the runtime: a later call
        through crisp (over the same runtime connection) was answered, and
        the runtime saw no call to `method`."""
        self.assert_crisp_serves()
        self.assertEqual(self.fake.calls(method), [], "crisp forwarded a malformed request")


# ---- 3.5 HTTP/2 Connection Preface -------------------------------------------------

class TestConnectionPreface(Http2Case):

    def test_http2_3_5_1_client_preface(self):
        """http2/3.5/1: preface and SETTINGS: crisp's first frame is SETTINGS (not an ACK)."""
        c = self.client(handshake=False)
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", settings_frame([(INITIAL_WINDOW_SIZE, 65535)]))
        f = c.read()
        self.assertEqual((f.type, f.flags & ACK), (SETTINGS, 0), repr(f))

    def test_http2_3_5_2_invalid_preface(self):
        """http2/3.5/2: an invalid connection preface ends the connection."""
        c = self.client(handshake=False)
        c.send(b"INVALID CONNECTION PREFACE\r\n\r\n")
        c.expect_connection_error(PROTOCOL_ERROR, allow_bare_close=True)


# ---- 4.1 Frame Format, 4.2 Frame Size, 4.3 Header Compression ----------------------

class TestFrameFormat(Http2Case):

    def test_http2_4_1_1_unknown_frame_type(self):
        """http2/4.1/1: a frame of unknown type (0x16) is ignored: the next PING is answered."""
        c = self.client()
        c.send(frame(0x16, 0, 0, b"\0" * 8))
        c.assert_no_error(c.ping(b"\0" * 8))

    def test_http2_4_1_2_undefined_flags(self):
        """http2/4.1/2: a PING with undefined flags (0x16, ACK clear) is answered."""
        c = self.client()
        c.send(frame(PING, 0x16, 0, b"\0" * 8))
        f = c.expect_frame(PING, ignore=(WINDOW_UPDATE, SETTINGS))
        self.assertEqual((f.flags, f.payload), (ACK, b"\0" * 8))

    def test_http2_4_1_3_reserved_bit(self):
        """http2/4.1/3: a PING with the reserved stream-id bit set is answered."""
        c = self.client()
        c.send(frame(PING, 0x16, 0x80000000, b"\0" * 8))
        f = c.expect_frame(PING, ignore=(WINDOW_UPDATE, SETTINGS))
        self.assertEqual((f.flags, f.payload), (ACK, b"\0" * 8))


class TestFrameSize(Http2Case):

    def test_http2_4_2_1_data_of_max_frame_size(self):
        """http2/4.2/1: a DATA frame of 2^14 octets is taken (and relayed whole)."""
        c = self.client()
        message = bytes(range(256)) * 63 + b"\x01" * (DEFAULT_MAX_FRAME - 5 - 256 * 63)
        body = grpc_message(message)
        self.assertEqual(len(body), DEFAULT_MAX_FRAME)
        c.send(headers_frame(1, self.block(c)), data_frame(1, body, end_stream=True))
        resp = c.read_response(1)
        self.assertEqual((resp.status, resp.messages), (0, [message]))

    def test_http2_4_2_2_data_over_max_frame_size(self):
        """http2/4.2/2: a DATA frame over SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)),
               frame(DATA, END_STREAM, 1, b"x" * (DEFAULT_MAX_FRAME + 1)))
        c.expect_stream_error(1, FRAME_SIZE_ERROR)

    def test_http2_4_2_3_headers_over_max_frame_size(self):
        """http2/4.2/3: HEADERS over SETTINGS_MAX_FRAME_SIZE: connection FRAME_SIZE_ERROR."""
        c = self.client()
        block = c.encode(grpc_request_headers(MALFORMED) + dummy_headers(5), huffman=False)
        self.assertGreater(len(block), DEFAULT_MAX_FRAME)
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        c.expect_connection_error(FRAME_SIZE_ERROR)
        self.assert_not_forwarded()


class TestHeaderCompression(Http2Case):

    def test_http2_4_3_1_invalid_header_block(self):
        """http2/4.3/1: an undecodable header block is a connection COMPRESSION_ERROR."""
        c = self.client()
        # A literal with incremental indexing and a new name, cut after its first octet.
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x40"))
        c.expect_connection_error(COMPRESSION_ERROR)

    def test_http2_4_3_2_priority_inside_header_block(self):
        """http2/4.3/2: PRIORITY between HEADERS and CONTINUATION: connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_headers=False),
               priority_frame(1, 0, 256),
               continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_4_3_3_headers_of_another_stream_inside_header_block(self):
        """http2/4.3/3: HEADERS of stream 3 in stream 1's header block: PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_headers=False),
               headers_frame(3, self.block(c, MALFORMED), end_stream=True),
               continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()


# ---- 5.1 Stream States ----------------------------------------------------------------

class TestStreamStates(Http2Case):

    def test_http2_5_1_1_idle_data(self):
        """http2/5.1/1: idle: DATA is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(data_frame(1, b"test", end_stream=True))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_5_1_2_idle_rst_stream(self):
        """http2/5.1/2: idle: RST_STREAM is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(rst_stream_frame(1, CANCEL))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_5_1_3_idle_window_update(self):
        """http2/5.1/3: idle: WINDOW_UPDATE is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(window_update_frame(1, 100))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_5_1_4_idle_continuation(self):
        """http2/5.1/4: idle: CONTINUATION is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(continuation_frame(1, self.block(c, MALFORMED)))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_5_1_5_half_closed_remote_data(self):
        """http2/5.1/5: half closed (remote): DATA is a STREAM_CLOSED error."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD), end_stream=True),
               data_frame(1, b"test", end_stream=True))
        c.expect_stream_error(1, STREAM_CLOSED)

    def test_http2_5_1_6_half_closed_remote_headers(self):
        """http2/5.1/6: half closed (remote): HEADERS is a STREAM_CLOSED error."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD), end_stream=True),
               headers_frame(1, self.block(c, HELD), end_stream=True))
        c.expect_stream_error(1, STREAM_CLOSED)

    def test_http2_5_1_7_half_closed_remote_continuation(self):
        """http2/5.1/7: half closed (remote): CONTINUATION: STREAM_CLOSED or PROTOCOL_ERROR."""
        c = self.client()
        block = self.block(c, HELD)
        c.send(headers_frame(1, block, end_stream=True), continuation_frame(1, block))
        c.expect_stream_error(1, (STREAM_CLOSED, PROTOCOL_ERROR))

    def test_http2_5_1_8_closed_data_after_rst_stream(self):
        """http2/5.1/8: closed: DATA after the client's RST_STREAM is a STREAM_CLOSED error."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)), rst_stream_frame(1, CANCEL),
               data_frame(1, b"test", end_stream=True))
        c.expect_stream_error(1, STREAM_CLOSED)

    def test_http2_5_1_9_closed_headers_after_rst_stream(self):
        """http2/5.1/9: closed: HEADERS after the client's RST_STREAM is a STREAM_CLOSED error."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)), rst_stream_frame(1, CANCEL),
               headers_frame(1, self.block(c, HELD), end_stream=True))
        c.expect_stream_error(1, STREAM_CLOSED)

    def test_http2_5_1_10_closed_continuation_after_rst_stream(self):
        """http2/5.1/10: closed: CONTINUATION after RST_STREAM: STREAM_CLOSED or PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)), rst_stream_frame(1, CANCEL),
               continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_stream_error(1, (STREAM_CLOSED, PROTOCOL_ERROR))

    def test_http2_5_1_11_closed_data(self):
        """http2/5.1/11: closed: DATA on a stream that ended both ways is a STREAM_CLOSED error."""
        c = self.client()
        c.send(headers_frame(1, self.block(c), end_stream=True))
        c.read_response(1)
        c.send(data_frame(1, b"test", end_stream=True))
        c.expect_stream_error(1, STREAM_CLOSED)

    def test_http2_5_1_12_closed_headers(self):
        """http2/5.1/12: closed: HEADERS on a finished stream: connection STREAM_CLOSED."""
        c = self.client()
        c.send(headers_frame(1, self.block(c), end_stream=True))
        c.read_response(1)
        c.send(headers_frame(1, self.block(c), end_stream=True))
        c.expect_connection_error(STREAM_CLOSED)

    def test_http2_5_1_13_closed_continuation(self):
        """http2/5.1/13: closed: CONTINUATION on a finished stream is a connection error."""
        c = self.client()
        c.send(headers_frame(1, self.block(c), end_stream=True))
        c.read_response(1)
        c.send(continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_connection_error((STREAM_CLOSED, PROTOCOL_ERROR))


class TestStreamIdentifiers(Http2Case):

    def test_http2_5_1_1_1_even_stream_id(self):
        """http2/5.1.1/1: a client stream with an even id is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(2, self.block(c, MALFORMED), end_stream=True))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_5_1_1_2_smaller_stream_id(self):
        """http2/5.1.1/2: a new stream numbered below a previous one: connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(5, self.block(c, HELD), end_stream=True),
               headers_frame(3, self.block(c, MALFORMED), end_stream=True))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()


class TestStreamConcurrency(Http2Case):

    def test_http2_5_1_2_1_concurrent_stream_limit(self):
        """http2/5.1.2/1: a stream over the advertised SETTINGS_MAX_CONCURRENT_STREAMS is refused.

        The streams are CreateContainer calls without their message: crisp
        holds each (and forwards none) until its first message, so all of
        them stay open however fast the runtime is (h2spec's GET / streams
        race the upstream's instant answer)."""
        c = self.client()
        limit = c.server_settings.get(MAX_CONCURRENT_STREAMS)
        self.assertIsNotNone(limit, "crisp advertises no SETTINGS_MAX_CONCURRENT_STREAMS")
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 0)]))
        block = self.block(c, CREATE)
        frames = [headers_frame(1 + 2 * i, block) for i in range(limit + 1)]
        for i in range(0, len(frames), 512):
            c.send(*frames[i:i + 512])
        c.expect_stream_error(1 + 2 * limit, (PROTOCOL_ERROR, REFUSED_STREAM))


class TestStreamDependencies(Http2Case):

    def test_http2_5_3_1_1_headers_depends_on_itself(self):
        """http2/5.3.1/1: a HEADERS that depends on its own stream is a PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_stream=True,
                             priority=(1, 256, False)))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)
        self.assert_not_forwarded()

    def test_http2_5_3_1_2_priority_depends_on_itself(self):
        """http2/5.3.1/2: a PRIORITY that depends on its own stream is a PROTOCOL_ERROR."""
        c = self.client()
        c.send(priority_frame(1, 1, 256))
        c.expect_stream_error(1, PROTOCOL_ERROR)


class TestErrorHandling(Http2Case):

    def test_http2_5_4_1_1_invalid_ping_closes(self):
        """http2/5.4.1/1 (and strict 5.4.1/2): a connection error: GOAWAY, then the close."""
        c = self.client()
        c.send(frame(PING, 0, 3, b"\0" * 8))
        c.expect_connection_error(PROTOCOL_ERROR)


class TestExtendingHttp2(Http2Case):

    def test_http2_5_5_1_unknown_extension_frame(self):
        """http2/5.5/1: an unknown extension frame is ignored: the PING after it is answered."""
        c = self.client()
        c.send(frame(0x16, 0, 0, b"\0" * 8))
        c.assert_no_error(c.ping(b"\0" * 8))

    def test_http2_5_5_2_unknown_frame_inside_header_block(self):
        """http2/5.5/2: an unknown frame inside a header block is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_stream=True, end_headers=False),
               frame(0x16, 0, 0, b"\0" * 8))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()


# ---- 6.1 DATA, 6.2 HEADERS, 6.3 PRIORITY, 6.4 RST_STREAM ---------------------------------

class TestData(Http2Case):

    def test_http2_6_1_1_data_on_stream_0(self):
        """http2/6.1/1: DATA on stream 0 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(frame(DATA, END_STREAM, 0, b"test"))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_1_2_data_on_half_closed_stream(self):
        """http2/6.1/2: DATA on a stream not open or half-closed (local): STREAM_CLOSED."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD), end_stream=True),
               data_frame(1, b"test", end_stream=True))
        c.expect_stream_error(1, STREAM_CLOSED)

    def test_http2_6_1_3_data_invalid_pad_length(self):
        """http2/6.1/3: DATA with a pad length past its payload: connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD, extra=[(b"content-length", b"4")])),
               frame(DATA, END_STREAM | 0x8, 1, b"\x06Test"))
        c.expect_connection_error(PROTOCOL_ERROR)


class TestHeaders(Http2Case):

    def test_http2_6_2_1_priority_inside_header_block(self):
        """http2/6.2/1: HEADERS without END_HEADERS, then PRIORITY: connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_headers=False),
               priority_frame(1, 0, 256),
               continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_6_2_2_headers_of_another_stream_inside_header_block(self):
        """http2/6.2/2: HEADERS without END_HEADERS, then another stream's: PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_headers=False),
               headers_frame(3, self.block(c, MALFORMED), end_stream=True),
               continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_6_2_3_headers_on_stream_0(self):
        """http2/6.2/3: HEADERS on stream 0 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 0, self.block(c, MALFORMED)))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_6_2_4_headers_invalid_pad_length(self):
        """http2/6.2/4: HEADERS whose pad length exceeds its payload is a PROTOCOL_ERROR."""
        c = self.client()
        block = self.block(c, MALFORMED)
        c.send(frame(HEADERS, END_STREAM | END_HEADERS | 0x8, 1,
                     bytes([len(block) + 2]) + block))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)
        self.assert_not_forwarded()


class TestPriority(Http2Case):

    def test_http2_6_3_1_priority_on_stream_0(self):
        """http2/6.3/1: PRIORITY on stream 0 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(frame(PRIORITY, 0, 0, struct.pack(">IB", 0, 255)))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_3_2_priority_of_wrong_length(self):
        """http2/6.3/2: a PRIORITY of 4 octets is a FRAME_SIZE_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD), end_stream=True),
               frame(PRIORITY, 0, 1, b"\x80\x00\x00\x01"))
        c.expect_stream_error(1, FRAME_SIZE_ERROR)


class TestRstStream(Http2Case):

    def test_http2_6_4_1_rst_stream_on_stream_0(self):
        """http2/6.4/1: RST_STREAM on stream 0 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(frame(RST_STREAM, 0, 0, struct.pack(">I", CANCEL)))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_4_2_rst_stream_on_idle_stream(self):
        """http2/6.4/2: RST_STREAM on an idle stream is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(rst_stream_frame(1, CANCEL))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_4_3_rst_stream_of_wrong_length(self):
        """http2/6.4/3: a RST_STREAM of 3 octets is a FRAME_SIZE_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD), end_stream=True),
               frame(RST_STREAM, 0, 1, b"\0\0\0"))
        c.expect_stream_error(1, FRAME_SIZE_ERROR)


# ---- 6.5 SETTINGS --------------------------------------------------------------------------

class TestSettings(Http2Case):

    def test_http2_6_5_1_ack_with_payload(self):
        """http2/6.5/1: a SETTINGS ACK with a payload is a connection FRAME_SIZE_ERROR."""
        c = self.client()
        c.send(frame(SETTINGS, ACK, 0, b"\0"))
        c.expect_connection_error(FRAME_SIZE_ERROR)

    def test_http2_6_5_2_settings_on_a_stream(self):
        """http2/6.5/2: SETTINGS on stream 1 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(frame(SETTINGS, 0, 1, struct.pack(">HI", MAX_CONCURRENT_STREAMS, 100)))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_5_3_settings_of_wrong_length(self):
        """http2/6.5/3: SETTINGS of a length not a multiple of 6: connection FRAME_SIZE_ERROR."""
        c = self.client()
        c.send(frame(SETTINGS, 0, 0, b"\x00\x03\x00"))
        c.expect_connection_error((FRAME_SIZE_ERROR, PROTOCOL_ERROR))

    def test_http2_6_5_2_1_enable_push_out_of_range(self):
        """http2/6.5.2/1: SETTINGS_ENABLE_PUSH of 2 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(settings_frame([(ENABLE_PUSH, 2)]))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_5_2_2_initial_window_size_too_large(self):
        """http2/6.5.2/2: SETTINGS_INITIAL_WINDOW_SIZE 2^31: connection FLOW_CONTROL_ERROR."""
        c = self.client()
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 2 ** 31)]))
        c.expect_connection_error(FLOW_CONTROL_ERROR)

    def test_http2_6_5_2_3_max_frame_size_too_small(self):
        """http2/6.5.2/3: SETTINGS_MAX_FRAME_SIZE of 16383 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(settings_frame([(MAX_FRAME_SIZE, 16383)]))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_5_2_4_max_frame_size_too_large(self):
        """http2/6.5.2/4: SETTINGS_MAX_FRAME_SIZE of 2^24 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(settings_frame([(MAX_FRAME_SIZE, 2 ** 24)]))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_5_2_5_unknown_setting(self):
        """http2/6.5.2/5: an unknown setting (0xFF) is ignored: the PING after it is answered."""
        c = self.client()
        c.send(settings_frame([(0xFF, 1)]))
        c.assert_no_error(c.ping(b"\0" * 8))

    def test_http2_6_5_3_1_settings_values_in_order(self):
        """http2/6.5.3/1: two INITIAL_WINDOW_SIZE values in one SETTINGS: the last (1) holds."""
        c = self.client(auto_window=False)
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1)]))
        c.expect_frame(SETTINGS, flags=ACK, ignore=(WINDOW_UPDATE,))
        c.send(headers_frame(1, self.block(c, ANSWERED), end_stream=True))
        f = c.expect_frame(DATA, 1, ignore=(HEADERS, WINDOW_UPDATE))
        self.assertEqual(f.length, 1)

    def test_http2_6_5_3_2_settings_ack(self):
        """http2/6.5.3/2: a SETTINGS frame is acknowledged."""
        c = self.client()
        c.send(settings_frame([(ENABLE_PUSH, 0)]))
        c.expect_frame(SETTINGS, flags=ACK, ignore=(WINDOW_UPDATE,))


# ---- 6.7 PING, 6.8 GOAWAY -------------------------------------------------------------------

class TestPing(Http2Case):

    def test_http2_6_7_1_ping(self):
        """http2/6.7/1: a PING is answered with an ACK carrying the same payload."""
        c = self.client()
        c.send(ping_frame(b"h2spec\0\0"))
        f = c.expect_frame(PING, ignore=(WINDOW_UPDATE,))
        self.assertEqual((f.flags, f.payload), (ACK, b"h2spec\0\0"))

    def test_http2_6_7_2_ping_ack_is_not_answered(self):
        """http2/6.7/2: a PING with ACK gets no answer: crisp's first PING answers the next."""
        c = self.client()
        c.send(ping_frame(b"invalid\0", ack=True), ping_frame(b"h2spec\0\0"))
        f = c.expect_frame(PING, ignore=(WINDOW_UPDATE,))
        self.assertEqual((f.flags, f.payload), (ACK, b"h2spec\0\0"))

    def test_http2_6_7_3_ping_on_a_stream(self):
        """http2/6.7/3: PING on stream 1 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(frame(PING, 0, 1, b"\0" * 8))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_7_4_ping_of_wrong_length(self):
        """http2/6.7/4: a PING of 6 octets is a connection FRAME_SIZE_ERROR."""
        c = self.client()
        c.send(frame(PING, 0, 0, b"\0" * 6))
        c.expect_connection_error(FRAME_SIZE_ERROR)


class TestGoaway(Http2Case):

    def test_http2_6_8_1_goaway_on_a_stream(self):
        """http2/6.8/1: GOAWAY on stream 1 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(frame(GOAWAY, 0, 1, b"\0" * 8))
        c.expect_connection_error(PROTOCOL_ERROR)


# ---- 6.9 WINDOW_UPDATE -------------------------------------------------------------------------

class TestWindowUpdate(Http2Case):

    def test_http2_6_9_1_zero_increment(self):
        """http2/6.9/1: a WINDOW_UPDATE of 0 on the connection is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(window_update_frame(0, 0))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_9_2_zero_increment_on_a_stream(self):
        """http2/6.9/2: a WINDOW_UPDATE of 0 on a stream is a PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)), window_update_frame(1, 0))
        c.expect_stream_error(1, PROTOCOL_ERROR)

    def test_http2_6_9_3_window_update_of_wrong_length(self):
        """http2/6.9/3: a WINDOW_UPDATE of 3 octets is a connection FRAME_SIZE_ERROR."""
        c = self.client()
        c.send(frame(WINDOW_UPDATE, 0, 0, b"\0\0\x01"))
        c.expect_connection_error(FRAME_SIZE_ERROR)


class TestFlowControlWindow(Http2Case):

    def test_http2_6_9_1_1_initial_window_of_1(self):
        """http2/6.9.1/1: with SETTINGS_INITIAL_WINDOW_SIZE 1, crisp's DATA is 1 octet long."""
        c = self.client(auto_window=False)
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 1)]))
        c.expect_frame(SETTINGS, flags=ACK, ignore=(WINDOW_UPDATE,))
        c.send(headers_frame(1, self.block(c, ANSWERED), end_stream=True))
        body = b""
        want = grpc_message(ANSWER)
        while len(body) < len(want):
            f = c.expect_frame(DATA, 1, ignore=(HEADERS, WINDOW_UPDATE))
            self.assertEqual(f.length, 1)
            body += f.data
            c.send(window_update_frame(1, 1))
        self.assertEqual(body, want)

    def test_http2_6_9_1_2_connection_window_overflow(self):
        """http2/6.9.1/2: connection window over 2^31-1: GOAWAY FLOW_CONTROL_ERROR."""
        c = self.client()
        c.send(window_update_frame(0, MAX_WINDOW), window_update_frame(0, MAX_WINDOW))
        f = c.expect_frame(GOAWAY, ignore=(WINDOW_UPDATE,))
        self.assertEqual(f.error_code, FLOW_CONTROL_ERROR, repr(f))

    def test_http2_6_9_1_3_stream_window_overflow(self):
        """http2/6.9.1/3: a stream window over 2^31-1: RST_STREAM FLOW_CONTROL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)),
               window_update_frame(1, MAX_WINDOW), window_update_frame(1, MAX_WINDOW))
        f = c.expect_frame(RST_STREAM, 1, ignore=(WINDOW_UPDATE,))
        self.assertEqual(f.error_code, FLOW_CONTROL_ERROR, repr(f))


class TestInitialWindowSize(Http2Case):

    def test_http2_6_9_2_1_initial_window_changed_after_headers(self):
        """http2/6.9.2/1: INITIAL_WINDOW_SIZE 0, a request, then 1: crisp sends 1 octet."""
        c = self.client(auto_window=False)
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 0)]))
        c.expect_frame(SETTINGS, flags=ACK, ignore=(WINDOW_UPDATE,))
        c.send(headers_frame(1, self.block(c, ANSWERED), end_stream=True))
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 1)]))
        f = c.expect_frame(DATA, 1, ignore=(HEADERS, WINDOW_UPDATE, SETTINGS))
        self.assertEqual(f.length, 1)

    def test_http2_6_9_2_2_negative_window(self):
        """http2/6.9.2/2: a negative stream window is tracked: after +2, crisp sends 1 octet."""
        c = self.client(auto_window=False)
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 3)]))
        c.expect_frame(SETTINGS, flags=ACK, ignore=(WINDOW_UPDATE,))
        c.send(headers_frame(1, self.block(c, ANSWERED), end_stream=True))
        first = c.expect_frame(DATA, 1, ignore=(HEADERS, WINDOW_UPDATE))
        self.assertEqual(first.length, 3)
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 2)]))  # the window is now -1
        before = c.ping()  # crisp has the new setting (its ACK came before the PING's)
        self.assertNotIn(DATA, [f.type for f in before], "DATA sent into a negative window")
        c.send(window_update_frame(1, 2))
        f = c.expect_frame(DATA, 1, ignore=(WINDOW_UPDATE,))
        self.assertEqual(f.length, 1)

    def test_http2_6_9_2_3_initial_window_too_large(self):
        """http2/6.9.2/3: INITIAL_WINDOW_SIZE 2^31 (raw): connection FLOW_CONTROL_ERROR."""
        c = self.client()
        c.send(frame(SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00"))
        c.expect_connection_error(FLOW_CONTROL_ERROR)


# ---- 6.10 CONTINUATION --------------------------------------------------------------------------

class TestContinuation(Http2Case):

    def test_http2_6_10_1_several_continuations(self):
        """http2/6.10/1: HEADERS and two CONTINUATION frames make one request, answered."""
        c = self.client()
        c.send(headers_frame(1, self.block(c), end_stream=True, end_headers=False),
               continuation_frame(1, c.encode(dummy_headers(1)), end_headers=False),
               continuation_frame(1, c.encode(dummy_headers(1)), end_headers=True))
        resp = c.read_response(1)
        self.assertEqual(resp.status, 0)
        [call] = self.fake.calls(PROBE)
        self.assertEqual([v for k, v in call.metadata if k == "x-dummy0"],
                         ["x" * DUMMY_LEN] * 2)

    def test_http2_6_10_2_continuation_then_data(self):
        """http2/6.10/2: a DATA where a CONTINUATION must come is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_headers=False),
               continuation_frame(1, c.encode(dummy_headers(1)), end_headers=False),
               data_frame(1, b"test", end_stream=True))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_6_10_3_continuation_on_stream_0(self):
        """http2/6.10/3: a CONTINUATION on stream 0 is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_stream=True, end_headers=False),
               continuation_frame(0, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()

    def test_http2_6_10_4_continuation_after_end_headers(self):
        """http2/6.10/4: CONTINUATION after HEADERS with END_HEADERS: connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD), end_stream=True),
               continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_10_5_continuation_after_continuation_with_end_headers(self):
        """http2/6.10/5: CONTINUATION after one with END_HEADERS: connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD), end_stream=True, end_headers=False),
               continuation_frame(1, c.encode(dummy_headers(1))),
               continuation_frame(1, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)

    def test_http2_6_10_6_continuation_after_data(self):
        """http2/6.10/6: DATA inside a header block, then CONTINUATIONs: PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED), end_headers=False),
               data_frame(1, b"test", end_stream=True),
               continuation_frame(1, c.encode(dummy_headers(1)), end_headers=False),
               continuation_frame(0, c.encode(dummy_headers(1))))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()


# ---- 7 Error Codes ---------------------------------------------------------------------------

class TestErrorCodes(Http2Case):

    def test_http2_7_1_goaway_unknown_error_code(self):
        """http2/7/1: GOAWAY with an unknown error code: PING answered, or crisp closes."""
        c = self.client()
        c.send(goaway_frame(0, 0xff), ping_frame(b"h2spec\0\0"))
        for f in c.frames():
            if f is CLOSED:
                return  # closed: the client said it is going away
            if f.type == PING:
                self.assertEqual((f.flags, f.payload), (ACK, b"h2spec\0\0"))
                return
            c.assert_no_error([f])

    def test_http2_7_2_rst_stream_unknown_error_code(self):
        """http2/7/2: RST_STREAM with an unknown error code: nothing special, PING answered."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)), rst_stream_frame(1, 0xff))
        before = c.ping(b"\0" * 8)
        c.assert_no_error([f for f in before if f.stream_id != 1])
        self.assertEqual([f for f in before if f.type == GOAWAY], [])


# ---- 8.1 HTTP Request/Response Exchange ------------------------------------------------------

class TestRequestResponse(Http2Case):

    def test_http2_8_1_1_trailers_without_end_stream(self):
        """http2/8.1/1: a second HEADERS (trailers) without END_STREAM is a PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)),
               data_frame(1, grpc_message(b"test")),
               headers_frame(1, c.encode([(b"x-test", b"ok")])))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)

    def test_http2_8_1_2_1_uppercase_header_name(self):
        """http2/8.1.2/1: an uppercase header field name is a PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, MALFORMED, extra=[(b"X-TEST", b"ok")]),
                             end_stream=True))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)
        self.assert_not_forwarded()


class TestPseudoHeaders(Http2Case):

    def malformed(self, block):
        c = self.client()
        c.send(headers_frame(1, block(c), end_stream=True))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)
        self.assert_not_forwarded()

    def test_http2_8_1_2_1_1_unknown_pseudo_header(self):
        """http2/8.1.2.1/1: an unknown pseudo-header field is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, extra=[(b":test", b"ok")]))

    def test_http2_8_1_2_1_2_response_pseudo_header(self):
        """http2/8.1.2.1/2: the response pseudo-header :status in a request is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, extra=[(b":status", b"200")]))

    def test_http2_8_1_2_1_3_pseudo_header_in_trailers(self):
        """http2/8.1.2.1/3: a pseudo-header field in trailers is a PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD)),
               data_frame(1, grpc_message(b"test")),
               headers_frame(1, c.encode([(b":method", b"POST")])))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)

    def test_http2_8_1_2_1_4_pseudo_header_after_regular(self):
        """http2/8.1.2.1/4: a pseudo-header field after a regular one is a PROTOCOL_ERROR."""
        def block(c):
            return c.encode([(b"x-test", b"ok")] + grpc_request_headers(MALFORMED))
        self.malformed(block)

    def test_http2_8_1_2_2_1_connection_specific_header(self):
        """http2/8.1.2.2/1: a connection-specific header field (connection) is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED,
                                            extra=[(b"connection", b"keep-alive")]))

    def test_http2_8_1_2_2_2_te_other_than_trailers(self):
        """http2/8.1.2.2/2: TE with a value other than "trailers" is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, drop=(b"te",),
                                            extra=[(b"trailers", b"test"),
                                                   (b"te", b"trailers, deflate")]))

    def test_http2_8_1_2_3_1_empty_path(self):
        """http2/8.1.2.3/1: an empty :path is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, replace={b":path": b""}))

    def test_http2_8_1_2_3_2_no_method(self):
        """http2/8.1.2.3/2: a request without :method is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, drop=(b":method",)))

    def test_http2_8_1_2_3_3_no_scheme(self):
        """http2/8.1.2.3/3: a request without :scheme is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, drop=(b":scheme",)))

    def test_http2_8_1_2_3_4_no_path(self):
        """http2/8.1.2.3/4: a request without :path is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, drop=(b":path",)))

    def test_http2_8_1_2_3_5_duplicate_method(self):
        """http2/8.1.2.3/5: a duplicated :method is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, extra=[(b":method", b"POST")]))

    def test_http2_8_1_2_3_6_duplicate_scheme(self):
        """http2/8.1.2.3/6: a duplicated :scheme is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED, extra=[(b":scheme", b"http")]))

    def test_http2_8_1_2_3_7_duplicate_path(self):
        """http2/8.1.2.3/7: a duplicated :path is a PROTOCOL_ERROR."""
        self.malformed(lambda c: self.block(c, MALFORMED,
                                            extra=[(b":path", MALFORMED.encode())]))


class TestMalformedRequests(Http2Case):

    def test_http2_8_1_2_6_1_content_length_mismatch(self):
        """http2/8.1.2.6/1: content-length that is not the DATA's length is a PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD, extra=[(b"content-length", b"1")])),
               data_frame(1, b"test", end_stream=True))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)

    def test_http2_8_1_2_6_2_content_length_mismatch_over_frames(self):
        """http2/8.1.2.6/2: content-length not the sum of the DATA frames: PROTOCOL_ERROR."""
        c = self.client()
        c.send(headers_frame(1, self.block(c, HELD, extra=[(b"content-length", b"1")])),
               data_frame(1, b"test"), data_frame(1, b"test", end_stream=True))
        c.expect_stream_error(1, PROTOCOL_ERROR, no_response=True)


class TestServerPush(Http2Case):

    def test_http2_8_2_1_push_promise_from_client(self):
        """http2/8.2/1: a PUSH_PROMISE from the client is a connection PROTOCOL_ERROR."""
        c = self.client()
        c.send(push_promise_frame(1, 3, self.block(c, MALFORMED)))
        c.expect_connection_error(PROTOCOL_ERROR)
        self.assert_not_forwarded()


if __name__ == "__main__":
    unittest.main()
