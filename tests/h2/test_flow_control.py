"""Flow control through crisp, both ways: 16 MiB messages on many streams of
one connection at once, a slow reader on either side stalling only its own
stream, a CreateContainer request cut into many DATA frames that must wait
for crisp's WINDOW_UPDATEs, and the end of a response once the client's
window is used up.

The client here keeps exact books (h2lib's check_flow): crisp sending past a
window it was given fails the test, and the client never sends past crisp's.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from fake_runtime import Script, payload  # noqa: E402
from h2lib import (  # noqa: E402
    CLOSED, DATA, END_STREAM, HEADERS, INITIAL_WINDOW_SIZE, MAX_WINDOW, H2TestCase, data_frame,
    grpc_message, grpc_request_headers, headers_frame, ping_frame, window_update_frame)
from protos import crisp_api  # noqa: E402
from testbed import CLIENT_OPTIONS  # noqa: E402

MiB = 1024 * 1024
# A wait for crisp's next frame where a stall is what is tested: long for
# any frame crisp owes (even under ASan), short enough to keep the module
# well under its budget when crisp does stall.
STALL_S = 15
ECHO = "/crisp.test.Flow/Echo"
SLOW = "/crisp.test.Flow/Slow"
BIG = "/crisp.test.Flow/Big"
SINK = "/crisp.test.Flow/Sink"
CREATE = "/runtime.v1.RuntimeService/CreateContainer"


class Exchange:
    """Drives several calls on one connection at once: uploads each body as
    crisp's windows allow (round robin, 16 KiB frames), reads what comes
    back, gives the window back for every stream not in `stalled`, and
    stops once `until()` holds."""

    def __init__(self, test, client):
        self.test = test
        self.c = client
        self.uploads = {}    # sid -> [memoryview left, end_stream]
        self.bodies = {}     # sid -> bytearray of response DATA
        self.done = {}       # sid -> the frame that ended the response
        self.stalled = set()  # streams whose response window is not given back
        self.held = {}       # sid -> octets received but not given back

    def start(self, method, body, sid=None):
        c = self.c
        sid = sid or c.new_stream_id()
        c.send(headers_frame(sid, c.encode(grpc_request_headers(method))))
        self.uploads[sid] = [memoryview(body), True]
        self.bodies[sid] = bytearray()
        return sid

    def handle(self, f):
        c = self.c
        if f is CLOSED:
            raise c.error("the calls to finish", "the connection closed")
        c.assert_no_error([f])
        if f.type == DATA:
            self.bodies[f.stream_id] += f.data
            c.grant(0, f.length)  # the connection's window always goes back
            if f.stream_id in self.stalled:
                self.held[f.stream_id] = self.held.get(f.stream_id, 0) + f.length
            elif f.length:
                c.grant(f.stream_id, f.length)
        if f.type in (HEADERS, DATA) and f.flags & END_STREAM:
            self.done[f.stream_id] = f

    def unstall(self, sid):
        self.stalled.discard(sid)
        if self.held.get(sid):
            self.c.grant(sid, self.held.pop(sid))

    def summary(self):
        c = self.c
        lines = ["connection: may send %d" % c.send_window_of(0)]
        for sid in sorted(self.bodies):
            left = len(self.uploads[sid][0]) if sid in self.uploads else 0
            lines.append("stream %d: %d octets still to send (window %d), %d received%s%s" % (
                sid, left, c.send_window_of(sid), len(self.bodies[sid]),
                ", ended" if sid in self.done else "",
                ", stalled" if sid in self.stalled else ""))
        return "\n".join(lines)

    def run(self, until):
        try:
            self._run(until)
        except AssertionError as e:
            raise AssertionError("%s\nthe calls when it failed:\n%s" % (e, self.summary()))

    def _run(self, until):
        c = self.c
        while not until():
            progress = False
            for sid, up in list(self.uploads.items()):
                view, end = up
                room = min(c.send_window_of(sid), c.send_window_of(0))
                n = min(len(view), 16384, room)
                if n > 0 or not view:
                    last = n == len(view)
                    c.send(data_frame(sid, bytes(view[:n]), end_stream=end and last))
                    c.send_window[sid] -= n
                    c.send_window[0] -= n
                    up[0] = view[n:]
                    if last:
                        del self.uploads[sid]
                    progress = True
            while c.available() or not progress:
                self.handle(c.read())
                progress = True
                if until():
                    return


class TestBigMessages(H2TestCase):

    def test_16_mib_both_ways_on_many_concurrent_streams(self):
        """4 x 16 MiB and 12 x 256 KiB echoes at once on one connection, intact both ways."""
        c = self.client(auto_window=False)
        c.check_flow = True
        ex = Exchange(self, c)
        sent = {}
        for i in range(16):
            size = 16 * MiB if i % 4 == 0 else 256 * 1024
            body = grpc_message(payload(size, 100 + i))
            sent[ex.start(ECHO, body)] = body
        ex.run(lambda: len(ex.done) == len(sent))
        for sid, body in sent.items():
            self.assertTrue(bytes(ex.bodies[sid]) == body, "stream %d altered" % sid)
            self.assertEqual(ex.done[sid].header_dict().get(b"grpc-status"), b"0")
        self.assertEqual(len(self.fake.calls(ECHO)), 16)

    def test_slow_reader_stalls_only_its_own_stream(self):
        """A client stops reading one stream: the others go on; it resumes intact."""
        self.fake.script(SLOW, Script.big(4 * MiB, seed=7))
        c = self.client(auto_window=False)
        c.check_flow = True
        ex = Exchange(self, c)
        slow = ex.start(SLOW, grpc_message(b""))
        ex.stalled.add(slow)
        others = {ex.start(ECHO, grpc_message(payload(1 * MiB, 200 + i))): i for i in range(8)}
        ex.run(lambda: all(sid in ex.done for sid in others))
        for sid, i in others.items():
            self.assertTrue(bytes(ex.bodies[sid]) == grpc_message(payload(1 * MiB, 200 + i)))
        # The slow stream got exactly the window it was given, and no more
        # comes (the PING's answer proves crisp sent nothing after it).
        before = c.ping()
        for f in before:
            ex.handle(f)
        self.assertEqual(len(ex.bodies[slow]), c.local_initial_window)
        self.assertNotIn(slow, ex.done)
        ex.unstall(slow)
        ex.run(lambda: slow in ex.done)
        self.assertTrue(bytes(ex.bodies[slow]) == grpc_message(payload(4 * MiB, 7)),
                        "the stalled response was altered")


class TestManyAtOnce(H2TestCase):
    """Many streams' worth of DATA queued at once in crisp, with nothing
    else happening on either connection: every byte must still go out.
    (crisp writes a bounded amount per turn; what is left must go without
    waiting for the peer to say something.) Forty rounds, each on a new
    connection."""

    ROUNDS = 40
    STREAMS = 16

    def test_answers_to_a_client_that_only_reads(self):
        """16 x 1 MiB answers to a client that opened its windows once and only reads, 40 times."""
        self.fake.script(BIG, Script.big(1 * MiB, seed=8))
        want = grpc_message(payload(1 * MiB, 8))
        for r in range(self.ROUNDS):
            c = self.client(settings=[(INITIAL_WINDOW_SIZE, MAX_WINDOW)], auto_window=False)
            c.timeout = STALL_S
            c.check_flow = True
            c.grant(0, MAX_WINDOW - 65535)
            sids = [self.call(c, BIG, [b""]) for _ in range(self.STREAMS)]
            for sid in sids:
                resp = c.read_response(sid)
                self.assertEqual(resp.status, 0)
                self.assertTrue(bytes(resp.body) == want, "round %d: stream %d altered" % (r, sid))
            c.close()

    def test_uploads_to_a_runtime_that_only_reads(self):
        """16 x 1 MiB uploads at once, each answered once it is whole, 40 times."""
        self.fake.script(SINK, responses=[b"got it"])
        body = grpc_message(payload(1 * MiB, 9))
        for r in range(self.ROUNDS):
            c = self.client(auto_window=False)
            c.timeout = STALL_S
            ex = Exchange(self, c)
            for _ in range(self.STREAMS):
                ex.start(SINK, body)
            ex.run(lambda: len(ex.done) == self.STREAMS)
            for sid in ex.bodies:
                self.assertEqual(bytes(ex.bodies[sid]), grpc_message(b"got it"))
            c.close()
        self.assertEqual([k.requests for k in self.fake.calls(SINK)],
                         [[payload(1 * MiB, 9)]] * self.ROUNDS * self.STREAMS)


class TestSlowRuntime(H2TestCase):

    runtime = "raw"

    def test_slow_runtime_reader_stalls_only_its_own_stream(self):
        """A runtime stops reading one stream: the others go on; that upload resumes intact."""
        c = self.client(auto_window=False)
        c.check_flow = True
        ex = Exchange(self, c)
        slow_body = grpc_message(payload(2 * MiB, 300))
        slow = ex.start(ECHO, slow_body)
        [slow_rt] = self.raw.wait_streams(1, ECHO)
        self.raw.stall(slow_rt)
        others = {ex.start(ECHO, grpc_message(payload(1 * MiB, 301 + i))): i for i in range(4)}
        ex.run(lambda: all(sid in ex.done for sid in others) and slow in ex.uploads and
               min(c.send_window_of(slow), c.send_window_of(0)) <= 0)
        for sid, i in others.items():
            self.assertTrue(bytes(ex.bodies[sid]) == grpc_message(payload(1 * MiB, 301 + i)))
        # crisp holds a bounded part of the slow upload: the rest waits at the client.
        self.assertGreater(len(ex.uploads[slow][0]), 0)
        self.assertLess(len(slow_rt.body), len(slow_body))
        self.raw.unstall(slow_rt)
        ex.run(lambda: slow in ex.done)
        self.assertTrue(bytes(slow_rt.body) == slow_body, "the stalled upload was altered")
        self.assertTrue(bytes(ex.bodies[slow]) == slow_body)


class TestResponseEnd(H2TestCase):
    """The end of a response (trailers, or END_STREAM) is not flow
    controlled: it must reach a client whose window the DATA used up."""

    runtime = "raw"
    raw_behaviour = "hold"

    def exact_window_call(self):
        message = payload(100000, 400)
        body = grpc_message(message)
        c = self.client(settings=[(INITIAL_WINDOW_SIZE, 0)], auto_window=False)
        c.timeout = STALL_S
        c.grant(0, 1 * MiB)
        sid = self.call(c, ECHO, [message])
        [st] = self.raw.wait_streams(1, ECHO)
        self.raw.wait_for(lambda: st.ended, "the request")
        self.raw.respond(st, [message], end=False)
        c.grant(sid, len(body))  # exactly the response's DATA
        got = bytearray()
        while len(got) < len(body):
            f = c.expect_frame(DATA, sid, ignore=(HEADERS,))
            got += f.data
        self.assertEqual(bytes(got), body)
        # Only now does the runtime end its answer.
        return c, sid, st

    def test_trailers_reach_a_client_with_no_window_left(self):
        """The runtime's trailers, sent after the client's window is used up, reach the client."""
        c, sid, st = self.exact_window_call()
        self.raw.trailers(st, status=0, trailing=[(b"x-after", b"the window closed")])
        f = c.expect_frame(HEADERS, sid)
        self.assertTrue(f.flags & END_STREAM, repr(f))
        self.assertEqual(f.header_dict().get(b"x-after"), b"the window closed")

    def test_end_stream_reaches_a_client_with_no_window_left(self):
        """A runtime ending with DATA END_STREAM, no trailers: the client's stream ends."""
        c, sid, st = self.exact_window_call()
        self.raw.end_stream(st)
        for f in c.frames():
            if f is CLOSED:
                raise c.error("the end of stream %d" % sid, "the connection closed")
            if f.stream_id == sid and f.flags & END_STREAM and f.type in (DATA, HEADERS):
                return
            if f.stream_id == sid and f.type != HEADERS:
                raise c.error("the end of stream %d" % sid, repr(f))


class TestCreateContainerInPieces(H2TestCase):

    def request(self):
        api = crisp_api()
        req = api.CreateContainerRequest()
        req.config.metadata.name = b"split-" + b"x" * 200
        req.config.linux.SetInParent()
        req.sandbox_config.linux.SetInParent()
        # Bulk the rule does not read (field 1, pod_sandbox_id in the CRI),
        # so that the request outgrows crisp's stream window several times.
        bulk = payload(1 * MiB, 500)
        return (b"\x0a" + _varint(len(bulk)) + bulk) + req.SerializeToString()

    def test_create_container_split_over_many_frames_and_window_updates(self):
        """A 1 MiB CreateContainer in DATA frames of 1 to 16384 octets, WINDOW_UPDATEs between."""
        message = self.request()
        body = grpc_message(message)
        c = self.client(auto_window=True)
        sid = c.new_stream_id()
        c.send(headers_frame(sid, c.encode(grpc_request_headers(CREATE))))
        sizes = [1, 4, 5, 17, 1000, 16384, 3, 8000, 2, 12000]
        pos = i = 0
        while pos < len(body):
            n = min(sizes[i % len(sizes)], len(body) - pos)
            c.send_data(sid, body[pos:pos + n], end_stream=pos + n == len(body))
            pos += n
            i += 1
            if i % 7 == 0:
                c.send(window_update_frame(0, 1000), ping_frame(b"%08d" % i))
        self.assertGreater(i, 200)
        resp = c.read_response(sid)
        self.assertEqual(resp.status, 0, repr(resp.frames[-1]))
        [forwarded] = resp.messages  # the fake runtime echoes what it got
        # The same request sent whole by a gRPC client is forwarded the same way.
        with grpc.insecure_channel("unix:" + self.crisp.listen, options=CLIENT_OPTIONS) as ch:
            whole = ch.unary_unary(CREATE)(message, timeout=30)
        self.assertTrue(forwarded == whole, "the split request was forwarded differently")
        self.assertNotEqual(forwarded, message, "crisp did not apply its rule")
        calls = self.fake.calls(CREATE)
        self.assertEqual([c.requests for c in calls], [[forwarded], [whole]])


def _varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(0x80 | (n & 0x7f))
        n >>= 7
    out.append(n)
    return bytes(out)


if __name__ == "__main__":
    unittest.main()
