"""A raw HTTP/2 client for testing crisp frame by frame, and the test base.

Unlike a real HTTP/2 stack, H2Client checks nothing on the way out: a test
can send any frame, valid or not (built here from hyperframe's classes or
from raw bytes), and then read what crisp sends back, one frame at a time,
each read bounded by a timeout. Header blocks crisp sends are decoded (with
one HPACK decoder per connection, so its dynamic table stays in step) and
attached to the frame that ends the block.

Synchronisation is never a sleep: a PING is the barrier (crisp answers
frames in order, so its ACK proves that everything sent before it was
processed), and every other wait is a bounded wait for a condition.

The verdict helpers follow what the RFC requires, a little stricter than
h2spec's verifiers (which are described in ../shared/design/h2spec.md):

- expect_connection_error(codes): a GOAWAY with one of `codes`, then the
  connection closes. A close without a GOAWAY is accepted only where the
  caller says so (a bad preface: there is no HTTP/2 connection yet).
- expect_stream_error(sid, codes): RST_STREAM on `sid` with one of `codes`,
  or the connection error with one of them (RFC 9113 §5.4.2 lets an
  endpoint treat a stream error as a connection error).
- Other frames before the verdict are allowed (as in h2spec) unless the
  caller forbids a response on the stream.
"""

import base64
import os
import select
import socket
import struct
import time
import unittest

import hpack
import hpack.huffman_constants
from hyperframe import frame as hf

from crisp import Crisp
from fake_runtime import FakeRuntime
from testbed import short_tempdir

WAIT_S = 30  # any single wait; generous for the ASan build, and a hang still ends

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
TYPE_NAMES = {DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
              SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
              WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION"}

# Flags.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Error codes (RFC 9113 §7).
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, \
    ENHANCE_YOUR_CALM, INADEQUATE_SECURITY, HTTP_1_1_REQUIRED = range(14)
ERROR_NAMES = {v: k for k, v in dict(
    NO_ERROR=0, PROTOCOL_ERROR=1, INTERNAL_ERROR=2, FLOW_CONTROL_ERROR=3, SETTINGS_TIMEOUT=4,
    STREAM_CLOSED=5, FRAME_SIZE_ERROR=6, REFUSED_STREAM=7, CANCEL=8, COMPRESSION_ERROR=9,
    CONNECT_ERROR=10, ENHANCE_YOUR_CALM=11, INADEQUATE_SECURITY=12,
    HTTP_1_1_REQUIRED=13).items()}

# Settings (RFC 9113 §6.5.2).
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, \
    MAX_HEADER_LIST_SIZE = range(1, 7)

DEFAULT_WINDOW = 65535
DEFAULT_MAX_FRAME = 16384
MAX_WINDOW = 2 ** 31 - 1


def error_name(code):
    return ERROR_NAMES.get(code, "0x%x" % code)


# ---- building frames ---------------------------------------------------------------

def frame(ftype, flags, stream_id, payload=b"", length=None):
    """Any frame, from raw parts: the length is the payload's unless given
    (a wrong one on purpose); the stream id may carry the reserved bit."""
    if length is None:
        length = len(payload)
    return struct.pack(">I", length)[1:] + struct.pack(">BBI", ftype, flags, stream_id) + payload


def _hyper(f):
    return f.serialize()


def headers_frame(stream_id, block, end_stream=False, end_headers=True, pad=None,
                  priority=None):
    """HEADERS: `pad` is the padding length (PADDED), `priority` a tuple
    (depends_on, weight 1..256, exclusive) (PRIORITY)."""
    flags = []
    if end_stream:
        flags.append("END_STREAM")
    if end_headers:
        flags.append("END_HEADERS")
    kw = {}
    if pad is not None:
        flags.append("PADDED")
        kw["pad_length"] = pad
    if priority is not None:
        flags.append("PRIORITY")
        depends_on, weight, exclusive = priority
        kw.update(depends_on=depends_on, stream_weight=weight - 1, exclusive=exclusive)
    return _hyper(hf.HeadersFrame(stream_id, block, flags=flags, **kw))


def continuation_frame(stream_id, block, end_headers=True):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream_id, block)


def data_frame(stream_id, data, end_stream=False, pad=None):
    flags = ["END_STREAM"] if end_stream else []
    kw = {}
    if pad is not None:
        flags.append("PADDED")
        kw["pad_length"] = pad
    return _hyper(hf.DataFrame(stream_id, data, flags=flags, **kw))


def priority_frame(stream_id, depends_on=0, weight=16, exclusive=False):
    return frame(PRIORITY, 0, stream_id,
                 struct.pack(">IB", depends_on | (0x80000000 if exclusive else 0), weight - 1))


def rst_stream_frame(stream_id, code):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def settings_frame(settings=(), ack=False):
    payload = b"".join(struct.pack(">HI", k, v) for k, v in settings)
    return frame(SETTINGS, ACK if ack else 0, 0, payload)


def ping_frame(data=b"\0" * 8, ack=False, stream_id=0):
    return frame(PING, ACK if ack else 0, stream_id, data)


def goaway_frame(last_stream_id, code, debug=b"", stream_id=0):
    return frame(GOAWAY, 0, stream_id, struct.pack(">II", last_stream_id, code) + debug)


def window_update_frame(stream_id, increment):
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def push_promise_frame(stream_id, promised, block, end_headers=True):
    return frame(PUSH_PROMISE, END_HEADERS if end_headers else 0, stream_id,
                 struct.pack(">I", promised) + block)


# ---- HPACK pieces a normal encoder would never write ----------------------------------

def hpack_int(value, prefix_bits, first_byte_flags=0):
    """An HPACK integer (RFC 7541 §5.1) with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append(0x80 | (value & 0x7f))
        value >>= 7
    out.append(value)
    return bytes(out)


def huffman_bits(data):
    """The Huffman code of `data` (RFC 7541 Appendix B) as a bit string."""
    codes, lengths = hpack.huffman_constants.REQUEST_CODES, \
        hpack.huffman_constants.REQUEST_CODES_LENGTH
    return "".join(format(codes[b], "0%db" % lengths[b]) for b in data)


def bits_to_bytes(bits):
    assert len(bits) % 8 == 0, "whole octets only"
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def hpack_string(data, huffman=False, raw_huffman=None):
    """A string literal: plain, Huffman-coded, or (raw_huffman) exactly the
    given Huffman-coded octets, whatever they hold."""
    if raw_huffman is not None:
        return hpack_int(len(raw_huffman), 7, 0x80) + raw_huffman
    if huffman:
        bits = huffman_bits(data)
        bits += "1" * (-len(bits) % 8)  # padding: the EOS prefix, as the RFC says
        coded = bits_to_bytes(bits)
        return hpack_int(len(coded), 7, 0x80) + coded
    return hpack_int(len(data), 7) + data


def literal_field(name, value, indexing="without", name_index=None, huffman=False,
                  raw_value=None):
    """A literal header field (RFC 7541 §6.2): indexing is "incremental",
    "without" or "never"; the name is literal or (name_index) from a table;
    raw_value: the value's representation as given (any octets)."""
    prefix, flags = {"incremental": (6, 0x40), "without": (4, 0x00), "never": (4, 0x10)}[indexing]
    out = hpack_int(name_index or 0, prefix, flags)
    if not name_index:
        out += hpack_string(name, huffman)
    out += raw_value if raw_value is not None else hpack_string(value, huffman)
    return out


# ---- gRPC messages ----------------------------------------------------------------------

def grpc_message(payload, compressed=False):
    return struct.pack(">BI", 1 if compressed else 0, len(payload)) + payload


def grpc_messages(data):
    """The messages of a gRPC body (a list of bytes); asserts it is whole."""
    out, pos = [], 0
    while pos < len(data):
        assert len(data) - pos >= 5, "a cut gRPC prefix"
        _, length = struct.unpack(">BI", data[pos:pos + 5])
        assert len(data) - pos - 5 >= length, "a cut gRPC message"
        out.append(bytes(data[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return out


def b64_bin(value):
    """A -bin header value as gRPC writes it (base64, padding dropped)."""
    return base64.b64encode(value).rstrip(b"=")


def unb64_bin(value):
    return base64.b64decode(value + b"=" * (-len(value) % 4))


# ---- reading --------------------------------------------------------------------------

class Closed:
    """The event of the peer closing the connection (EOF or reset)."""

    def __repr__(self):
        return "<connection closed>"


CLOSED = Closed()


class Frame:
    """One frame crisp sent: its header fields, its payload, hyperframe's
    parse of it (None when hyperframe refuses it), and, on the frame that
    ends a header block, the decoded header fields (bytes pairs)."""

    def __init__(self, ftype, flags, stream_id, payload):
        self.type = ftype
        self.flags = flags
        self.stream_id = stream_id
        self.payload = bytes(payload)
        self.parsed = None
        self.headers = None
        try:
            f, _ = hf.Frame.parse_frame_header(memoryview(frame(ftype, flags, stream_id,
                                                                b"")[:9]))
            f.parse_body(memoryview(self.payload))
            self.parsed = f
        except Exception:  # an invalid frame: the raw fields still tell
            pass

    @property
    def length(self):
        return len(self.payload)

    @property
    def error_code(self):
        if self.type == RST_STREAM:
            return struct.unpack(">I", self.payload[:4])[0]
        if self.type == GOAWAY:
            return struct.unpack(">I", self.payload[4:8])[0]
        return None

    @property
    def last_stream_id(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7fffffff

    @property
    def data(self):
        """A DATA frame's data (padding removed)."""
        if self.flags & PADDED:
            return self.payload[1:len(self.payload) - self.payload[0]]
        return self.payload

    def settings(self):
        return [struct.unpack(">HI", self.payload[i:i + 6])
                for i in range(0, len(self.payload) - len(self.payload) % 6, 6)]

    def header_dict(self):
        return {k: v for k, v in self.headers} if self.headers is not None else None

    def is_end_stream(self):
        return self.type in (DATA, HEADERS) and bool(self.flags & END_STREAM)

    def __repr__(self):
        name = TYPE_NAMES.get(self.type, "type 0x%x" % self.type)
        extra = ""
        if self.type in (RST_STREAM, GOAWAY):
            extra = " %s" % error_name(self.error_code)
            if self.type == GOAWAY:
                extra += " last=%d debug=%r" % (self.last_stream_id, self.payload[8:])
        elif self.type == PING:
            extra = " %r" % self.payload
        elif self.type == SETTINGS:
            extra = " %r" % self.settings()
        elif self.type == WINDOW_UPDATE:
            extra = " +%d" % (struct.unpack(">I", self.payload[:4])[0] & 0x7fffffff)
        if self.headers is not None:
            extra += " %r" % self.headers
        return "<%s len=%d flags=0x%02x stream=%d%s>" % (name, self.length, self.flags,
                                                          self.stream_id, extra)


class H2Error(AssertionError):
    """A verdict failed: says what was expected and what came instead."""


class H2Client:
    """One raw HTTP/2 client connection to a unix socket.

    auto_window: answer every DATA frame with WINDOW_UPDATEs for the stream
    and the connection at once (h2spec's client does the same), so crisp is
    never held back by this client unless a test says so.
    """

    def __init__(self, path, log=None, auto_window=True, timeout=WAIT_S):
        self.path = path
        self.log = log  # crisp's log, for failure messages
        self.auto_window = auto_window
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = bytearray()
        self.rpos = 0
        self.closed = False
        self.send_error = None
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder(max_header_list_size=1 << 24)
        self.decoder.max_allowed_table_size = 4096
        self.block = None  # the header block being received: (first frame, fragments)
        self.server_settings = {}
        self.handshake_frames = []
        self.history = []  # every frame and event read, for failure messages
        self.stash = {}  # stream id -> frames read_response kept for later
        self.next_stream_id = 1
        self.send_window = {}  # what this client may send, per stream (0: connection)
        self.recv_window = {}  # what crisp may send, per stream, as far as told
        self.local_initial_window = DEFAULT_WINDOW  # this client's INITIAL_WINDOW_SIZE
        self.check_flow = False  # fail on DATA past recv_window (grants via grant())

    # -- writing ------------------------------------------------------------------
    def send(self, *chunks):
        """Sends bytes (frames) as one write. A peer that has already closed
        is not an error here: what it answered is read afterwards."""
        data = b"".join(chunks)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.send_error = e

    def preface(self):
        self.send(PREFACE)

    def encode(self, headers, huffman=True):
        """One header block with this connection's encoder (its dynamic table
        carries over from block to block, as in any HTTP/2 client)."""
        return self.encoder.encode(headers, huffman=huffman)

    def new_stream_id(self):
        sid = self.next_stream_id
        self.next_stream_id += 2
        return sid

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- reading -------------------------------------------------------------------
    def _fill(self, n, deadline):
        while len(self.buf) - self.rpos < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return False
            if self.rpos > 0:  # drop what was read (rarely: not per frame)
                del self.buf[:self.rpos]
                self.rpos = 0
            self.buf += chunk
        return True

    def read(self, timeout=None):
        """The next frame or CLOSED; raises H2Error when nothing comes within
        `timeout`."""
        if self.closed:
            return CLOSED
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            if not self._fill(9, deadline):
                return self._closed()
            p = self.rpos
            length = int.from_bytes(self.buf[p:p + 3], "big")
            if not self._fill(9 + length, deadline):
                return self._closed()
        except socket.timeout:
            raise self.error("a frame within %ss" % (self.timeout if timeout is None
                                                      else timeout), "nothing (timeout)")
        p = self.rpos
        ftype, flags, sid = struct.unpack(">BBI", self.buf[p + 3:p + 9])
        f = Frame(ftype, flags, sid & 0x7fffffff, self.buf[p + 9:p + 9 + length])
        self.rpos += 9 + length
        self._header_block(f)
        self.history.append(f)
        self._account(f)
        if f.type == DATA and self.auto_window and f.length > 0:
            self.grant(f.stream_id, f.length)
            self.grant(0, f.length)
        return f

    # -- flow control ------------------------------------------------------------------
    def _account(self, f):
        """Keeps both directions' windows: what crisp may still send (checked:
        crisp overrunning a window this client gave is an error) and what
        this client may still send (from crisp's SETTINGS and WINDOW_UPDATEs)."""
        if f.type == SETTINGS and not f.flags & ACK:
            for k, v in f.settings():
                if k == INITIAL_WINDOW_SIZE:
                    delta = v - self.server_settings.get(INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)
                    for sid in self.send_window:
                        if sid != 0:
                            self.send_window[sid] += delta
                self.server_settings[k] = v
        elif f.type == WINDOW_UPDATE and len(f.payload) == 4:
            inc = struct.unpack(">I", f.payload)[0] & 0x7fffffff
            self.send_window[f.stream_id] = self.send_window_of(f.stream_id) + inc
        elif f.type == DATA and self.check_flow:
            for sid in (0, f.stream_id):
                left = self.recv_window.get(sid, self.local_initial_window) - f.length
                self.recv_window[sid] = left
                if left < 0:
                    raise self.error("DATA within the window this client gave",
                                     "%r overruns the window of stream %d by %d"
                                     % (f, sid, -left))

    def send_window_of(self, sid):
        if sid not in self.send_window:
            self.send_window[sid] = (DEFAULT_WINDOW if sid == 0 else
                                     self.server_settings.get(INITIAL_WINDOW_SIZE,
                                                              DEFAULT_WINDOW))
        return self.send_window[sid]

    def grant(self, sid, n):
        """Gives crisp `n` more octets of window on `sid` (0: the connection)."""
        self.recv_window[sid] = self.recv_window.get(
            sid, self.local_initial_window if sid else DEFAULT_WINDOW) + n
        self.send(window_update_frame(sid, n))

    def send_data(self, sid, data, end_stream=False, max_frame=DEFAULT_MAX_FRAME, pad=None,
                  on_blocked=None):
        """Sends `data` on `sid` in DATA frames of at most `max_frame`
        octets, never past crisp's windows: while they are shut, reads
        frames (on_blocked(frame) sees each) until a WINDOW_UPDATE opens
        them. The last frame carries END_STREAM if asked."""
        view = memoryview(data)
        overhead = 0 if pad is None else pad + 1
        while True:
            room = min(self.send_window_of(sid), self.send_window_of(0)) - overhead
            n = min(len(view), max_frame - overhead, room)
            if n > 0 or (len(view) == 0 and room >= 0):
                last = n == len(view)
                self.send(data_frame(sid, bytes(view[:n]), end_stream=end_stream and last,
                                     pad=pad))
                self.send_window[sid] -= n + overhead
                self.send_window[0] -= n + overhead
                view = view[n:]
                if last:
                    return
                continue
            f = self.read()
            if f is CLOSED:
                raise self.error("window to send %d more octets on stream %d"
                                 % (len(view), sid), "the connection closed")
            if on_blocked is not None:
                on_blocked(f)

    def _closed(self):
        self.closed = True
        self.history.append(CLOSED)
        return CLOSED

    def _header_block(self, f):
        if f.type in (HEADERS, PUSH_PROMISE):
            fragment = f.parsed.data if f.parsed is not None else b""
            self.block = (f, [fragment])
        elif f.type == CONTINUATION and self.block is not None:
            self.block[1].append(f.payload)
        else:
            return
        if f.flags & END_HEADERS:
            first, fragments = self.block
            self.block = None
            decoded = self.decoder.decode(b"".join(fragments), raw=True)
            first.headers = [(bytes(k), bytes(v)) for k, v in decoded]
            f.headers = first.headers

    def available(self):
        """A frame (or the close) can be read without waiting for crisp."""
        if self.closed:
            return True
        have = len(self.buf) - self.rpos
        if have >= 9 and have >= 9 + int.from_bytes(self.buf[self.rpos:self.rpos + 3], "big"):
            return True
        return bool(select.select([self.sock], [], [], 0)[0])

    def frames(self, timeout=None):
        """Frames until the connection closes (each read bounded)."""
        while True:
            f = self.read(timeout)
            yield f
            if f is CLOSED:
                return

    # -- handshake and barrier ------------------------------------------------------
    def handshake(self, settings=(), preface=True):
        """Client preface and SETTINGS; returns once crisp's SETTINGS came
        (and got its ACK) and crisp acknowledged ours. The frames read on the
        way are kept in handshake_frames."""
        if preface:
            self.preface()
        self.send(settings_frame(settings))
        self.local_initial_window = dict(settings).get(INITIAL_WINDOW_SIZE,
                                                       self.local_initial_window)
        got_settings = got_ack = False
        while not (got_settings and got_ack):
            f = self.read()
            if f is CLOSED:
                raise self.error("crisp's SETTINGS and ACK", "the connection closed")
            self.handshake_frames.append(f)
            if f.type == SETTINGS and f.flags & ACK:
                got_ack = True
            elif f.type == SETTINGS:
                got_settings = True
                self.send(settings_frame(ack=True))
        return self

    def ping(self, data=None):
        """The barrier: sends a PING and reads up to its ACK. Returns the
        frames read before the ACK; fails if the connection closes first."""
        data = data or os.urandom(8)
        self.send(ping_frame(data))
        before = []
        for f in self.frames():
            if f is CLOSED:
                raise self.error("the ACK of PING %r" % data,
                                 "the connection closed after %r" % before)
            if f.type == PING and f.flags & ACK and f.payload == data:
                return before
            before.append(f)

    def assert_no_error(self, frames):
        """None of `frames` is a GOAWAY or RST_STREAM."""
        bad = [f for f in frames if f is CLOSED or f.type in (GOAWAY, RST_STREAM)]
        if bad:
            raise self.error("no error", "%r (all: %r)" % (bad, frames))

    # -- verdicts ----------------------------------------------------------------------
    def error(self, expected, actual):
        msg = "expected: %s\nactual: %s\nframes read on this connection: %r" % (
            expected, actual, self.history)
        if self.log is not None:
            msg += "\ncrisp's log:\n" + self.log()
        return H2Error(msg)

    def expect_connection_error(self, codes, allow_bare_close=False):
        """A GOAWAY with one of `codes`, then the connection closes. Returns
        the GOAWAY (None for a bare close where allowed)."""
        codes = _codes(codes)
        want = "GOAWAY %s, then the connection closed" % "/".join(map(error_name, codes))
        for f in self.frames():
            if f is CLOSED:
                if allow_bare_close:
                    return None
                raise self.error(want, "the connection closed without GOAWAY")
            if f.type == GOAWAY:
                if f.error_code not in codes:
                    raise self.error(want, repr(f))
                self.expect_closed(after=f)
                return f

    def expect_closed(self, after=None):
        """The connection closes (any frames before that are allowed)."""
        for f in self.frames():
            if f is CLOSED:
                return
            if f.type == GOAWAY and after is not None and f is not after:
                raise self.error("the connection closed after %r" % after, "a second %r" % f)

    def expect_stream_error(self, stream_id, codes, no_response=False):
        """RST_STREAM on `stream_id` with one of `codes`, or a connection
        error with one of them. no_response: a HEADERS or DATA on the
        stream before that is a failure too. Returns the RST_STREAM or
        GOAWAY."""
        codes = _codes(codes)
        want = "RST_STREAM %s on stream %d (or GOAWAY %s)" % (
            "/".join(map(error_name, codes)), stream_id, "/".join(map(error_name, codes)))
        for f in self.frames():
            if f is CLOSED:
                raise self.error(want, "the connection closed without GOAWAY")
            if f.type == RST_STREAM and f.stream_id == stream_id:
                if f.error_code not in codes:
                    raise self.error(want, repr(f))
                return f
            if f.type == GOAWAY:
                if f.error_code not in codes:
                    raise self.error(want, repr(f))
                self.expect_closed(after=f)
                return f
            if no_response and f.stream_id == stream_id and f.type in (HEADERS, DATA):
                raise self.error(want + ", and no response", repr(f))

    def expect_frame(self, ftype, stream_id=None, flags=None, ignore=()):
        """The next frame of type `ftype` (on `stream_id`); frames of the
        types in `ignore` may come first, anything else fails."""
        want = "%s%s" % (TYPE_NAMES.get(ftype, ftype),
                         "" if stream_id is None else " on stream %d" % stream_id)
        for f in self.frames():
            if f is CLOSED:
                raise self.error(want, "the connection closed")
            if f.type == ftype and (stream_id is None or f.stream_id == stream_id) and \
                    (flags is None or f.flags & flags == flags):
                return f
            if f.type not in ignore:
                raise self.error(want, repr(f))

    def read_response(self, stream_id):
        """One whole response on `stream_id`: returns a Response (headers,
        DATA bytes, trailers). Frames of other streams read meanwhile are
        kept for their own read_response; a reset or GOAWAY fails."""
        resp = Response(stream_id)
        ending = False  # END_STREAM seen on a HEADERS whose block goes on

        def frames():
            while self.stash.get(stream_id):
                yield self.stash[stream_id].pop(0)
            yield from self.frames()

        for f in frames():
            if f is CLOSED:
                raise self.error("the response on stream %d" % stream_id, "the connection closed")
            if f.stream_id != stream_id:
                if f.type == GOAWAY and f.error_code != NO_ERROR:
                    raise self.error("the response on stream %d" % stream_id, repr(f))
                if f.stream_id != 0:
                    self.stash.setdefault(f.stream_id, []).append(f)
                continue
            if f.type == RST_STREAM:
                raise self.error("the response on stream %d" % stream_id, repr(f))
            resp.add(f)
            if f.type == DATA and f.flags & END_STREAM:
                return resp
            if f.type == HEADERS and f.flags & END_STREAM:
                ending = True
            if ending and f.type in (HEADERS, CONTINUATION) and f.flags & END_HEADERS:
                return resp


def _codes(codes):
    if isinstance(codes, int):
        return (codes,)
    return tuple(codes)


class Response:
    """What came back on one stream."""

    def __init__(self, stream_id):
        self.stream_id = stream_id
        self.frames = []
        self.headers = None
        self.trailers = None
        self.body = bytearray()

    def add(self, f):
        self.frames.append(f)
        if f.type == DATA:
            self.body += f.data
        elif f.headers is not None:
            if self.headers is None:
                self.headers = f.headers
            else:
                self.trailers = f.headers

    def header(self, name, where=None):
        for k, v in (where if where is not None else self.headers) or ():
            if k == name:
                return v
        return None

    @property
    def status(self):
        """grpc-status, from the trailers or a Trailers-Only answer (int)."""
        v = self.header(b"grpc-status", self.trailers if self.trailers is not None
                        else self.headers)
        return None if v is None else int(v)

    @property
    def messages(self):
        return grpc_messages(self.body)


# ---- the test base ---------------------------------------------------------------------

def grpc_request_headers(method, authority=b"localhost", extra=()):
    """A gRPC request's header fields, as a CRI client sends them."""
    return [(b":method", b"POST"), (b":scheme", b"http"), (b":path", method.encode()
                                                         if isinstance(method, str) else method),
            (b":authority", authority), (b"content-type", b"application/grpc"),
            (b"te", b"trailers")] + list(extra)


def h2spec_request_headers(method=b"GET", path=b"/"):
    """The header fields h2spec's requests carry (a plain GET / unless told)."""
    return [(b":method", method), (b":scheme", b"http"), (b":path", path),
            (b":authority", b"127.0.0.1:8080")]


class H2Harness:
    """Mixin for unittest.TestCase: a temp dir, a runtime, a crisp in front of
    it (stopped at cleanup with its exit code checked, so the ASan build's
    leak check counts), and raw clients to it."""

    crisp_args = ()

    def start_h2_crisp(self, runtime_socket, args=None, env=None):
        crisp = Crisp(runtime_socket, listen=os.path.join(self.dir, "crisp.sock"),
                      args=self.crisp_args if args is None else args, env=env)
        # Listening once it logs "serving": no gRPC readiness probe (its
        # reconnect backoff costs a second per test).
        crisp.start(wait=False)
        self.addCleanup(crisp.__exit__, None, None, None)
        crisp.wait_for_log("info  serving listen=")
        return crisp

    def make_dir(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def client(self, handshake=True, settings=(), auto_window=True):
        c = H2Client(self.crisp.listen, log=self.crisp.log, auto_window=auto_window)
        self.addCleanup(c.close)
        if handshake:
            c.handshake(settings)
        return c

    def call(self, client, method, messages=(), extra=(), end=True):
        """Opens a gRPC call on `client`; returns its stream id."""
        sid = client.new_stream_id()
        block = client.encode(grpc_request_headers(method, extra=extra))
        body = b"".join(grpc_message(m) for m in messages)
        if body:
            client.send(headers_frame(sid, block))
            client.send_data(sid, body, end_stream=end)
        else:
            client.send(headers_frame(sid, block, end_stream=end))
        return sid


# A method every runtime here echoes: the check, after each test, that crisp
# still serves a new connection (nothing a test did to its own connection
# disturbed anyone else).
ALIVE = "/crisp.test.H2/Alive"


class H2TestCase(H2Harness, unittest.TestCase):
    """A runtime (the gRPC fake, or with runtime = "raw" the hand-made
    HTTP/2 one) and a crisp in front of it, per test."""

    runtime = "fake"
    raw_behaviour = "echo"

    def setUp(self):
        self.make_dir()
        self.runtime_socket = os.path.join(self.dir, "runtime.sock")
        if self.runtime == "raw":
            from raw_runtime import RawRuntime
            self.raw = RawRuntime(self.runtime_socket, self.raw_behaviour).start()
            self.addCleanup(self.raw.stop)
        else:
            self.fake = FakeRuntime(self.runtime_socket).start()
            # (self.fake at cleanup time: a test may have started another)
            self.addCleanup(lambda: self.fake.stop())
        self.crisp = self.start_h2_crisp(self.runtime_socket)
        if self.runtime != "raw":
            # Held calls must not make crisp's shutdown wait for them.
            self.addCleanup(lambda: self.fake.release())
        self.addCleanup(self.assert_crisp_serves)

    expect_exit = False  # a test that stops crisp itself sets it

    def assert_crisp_serves(self):
        """A new connection gets its handshake, a PING answer and a call
        answered: whatever the test did, crisp serves the next client."""
        if self.expect_exit:
            return
        self.assertIsNone(self.crisp.proc.poll(), "crisp exited; its log:\n" + self.crisp.log())
        c = H2Client(self.crisp.listen, log=self.crisp.log)
        try:
            c.handshake()
            c.assert_no_error(c.ping())
            sid = self.call(c, ALIVE, [b"still serving"])
            resp = c.read_response(sid)
            self.assertEqual((resp.status, resp.messages), (0, [b"still serving"]),
                             "crisp's log:\n" + self.crisp.log())
        finally:
            c.close()
