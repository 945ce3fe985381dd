"""A runtime that speaks HTTP/2 by hand, for what the gRPC fake cannot do:
reset a stream, say GOAWAY while it still listens, stop reading one stream,
answer with exactly the frames a test wants.

It is python3-h2's server side on a unix socket: one thread accepts, one
thread per connection reads. Each request becomes a RawStream (headers,
body, how it ended); a test answers it, resets it, or lets the default
behaviour (echo every gRPC message back with status 0) do it. Everything
a test reads is guarded by one condition variable, and every wait on it is
bounded.
"""

import os
import socket
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from h2lib import ALIVE, WAIT_S, goaway_frame, grpc_message, grpc_messages


class RawStream:
    def __init__(self, conn, stream_id, headers):
        self.conn = conn
        self.id = stream_id
        self.headers = headers  # bytes pairs
        self.body = bytearray()
        self.ended = False           # the client (crisp) ended its side
        self.reset_code = None       # crisp reset the stream with this code
        self.closed = False          # the stream is over, either way
        self.answered = False
        self.unacked = 0             # request bytes not yet given back (stalled)

    @property
    def path(self):
        return dict(self.headers).get(b":path", b"").decode()

    def header(self, name):
        return dict(self.headers).get(name)

    def __repr__(self):
        return "RawStream(%s %s, %d bytes, ended=%s, reset=%s)" % (
            self.id, self.path, len(self.body), self.ended, self.reset_code)


class RawConn:
    def __init__(self, runtime, sock):
        self.runtime = runtime
        self.sock = sock
        self.lock = threading.RLock()  # the H2Connection and the socket's writes
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10000,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 20,
        })
        self.outbox = {}  # stream id -> [bytearray to send, trailers or None]
        self.stalled = set()  # stream ids whose request bytes are not given back
        self.goaway_received = None  # crisp's GOAWAY error code
        self.ping_acks = []
        self.closed = False

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                pass

    def pump(self):
        """Sends what the windows allow of each stream's queued answer."""
        for sid in list(self.outbox):
            buf, trailers, pad, chunk = self.outbox[sid]
            cost = 0 if pad is None else pad + 1
            try:
                while buf:
                    n = min(len(buf), self.h2.local_flow_control_window(sid) - cost,
                            self.h2.max_outbound_frame_size - cost, chunk or len(buf))
                    if n <= 0:
                        break
                    self.h2.send_data(sid, bytes(buf[:n]), pad_length=pad)
                    del buf[:n]
                if not buf:
                    del self.outbox[sid]
                    if trailers is not None:
                        self.h2.send_headers(sid, trailers, end_stream=True)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                self.outbox.pop(sid, None)
        self.flush()


class RawRuntime:
    """behaviour: "echo" answers each request once it ended (its messages
    back, status 0); "hold" leaves every request to the test."""

    def __init__(self, path, behaviour="echo"):
        self.path = path
        self.behaviour = behaviour
        self.cond = threading.Condition()
        self.conns = []
        self.streams = []
        self.listener = None
        self.threads = []
        self.stopping = False

    # -- lifecycle -----------------------------------------------------------
    def start(self):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(64)
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def stop(self):
        self.stopping = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.cond:
            conns = list(self.conns)
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(WAIT_S)

    def _accept(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            conn = RawConn(self, sock)
            with conn.lock:
                conn.h2.initiate_connection()
                conn.flush()
            with self.cond:
                self.conns.append(conn)
                self.cond.notify_all()
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn):
        try:
            while True:
                try:
                    data = conn.sock.recv(1 << 20)
                except OSError:
                    data = b""
                if not data:
                    break
                with conn.lock:
                    try:
                        events = conn.h2.receive_data(data)
                    except h2.exceptions.ProtocolError:
                        conn.flush()
                        break
                    for ev in events:
                        self._event(conn, ev)
                    conn.pump()
        finally:
            with self.cond:
                conn.closed = True
                for st in self.streams:
                    if st.conn is conn:
                        st.closed = True
                self.cond.notify_all()
            conn.sock.close()

    def _stream(self, conn, sid):
        for st in self.streams:
            if st.conn is conn and st.id == sid:
                return st
        return None

    def _event(self, conn, ev):
        with self.cond:
            if isinstance(ev, h2.events.RequestReceived):
                st = RawStream(conn, ev.stream_id, [(bytes(k), bytes(v)) for k, v in ev.headers])
                self.streams.append(st)
                if ev.stream_ended is not None:
                    st.ended = True
            elif isinstance(ev, h2.events.DataReceived):
                st = self._stream(conn, ev.stream_id)
                st.body += ev.data
                n = ev.flow_controlled_length
                if n:
                    # The connection's window goes back at once (a stalled
                    # stream must not stall the others); the stream's only
                    # when it is not stalled.
                    conn.h2.increment_flow_control_window(n)
                    if ev.stream_id in conn.stalled:
                        st.unacked += n
                    elif not ev.stream_ended:
                        conn.h2.increment_flow_control_window(n, ev.stream_id)
                if ev.stream_ended is not None:
                    st.ended = True
            elif isinstance(ev, h2.events.StreamEnded):
                st = self._stream(conn, ev.stream_id)
                st.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                st = self._stream(conn, ev.stream_id)
                if st is not None:
                    st.reset_code = ev.error_code
                    st.closed = True
                conn.outbox.pop(ev.stream_id, None)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                conn.goaway_received = ev.error_code
            elif isinstance(ev, h2.events.PingAckReceived):
                conn.ping_acks.append(bytes(ev.ping_data))
            elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                pass  # pump() runs after every batch of events
            else:
                return
            self.cond.notify_all()
            sid = getattr(ev, "stream_id", None)
            st = self._stream(conn, sid) if sid else None
        if st is not None and st.ended and not st.answered and \
                (self.behaviour == "echo" or st.path == ALIVE) and \
                st.reset_code is None:
            self.respond(st, grpc_messages(bytes(st.body)))

    # -- answering -------------------------------------------------------------
    def respond(self, st, messages=(), status=0, initial=(), trailing=(), trailers_only=False,
                end=True, pad=None, chunk=None):
        """Answers `st`: HEADERS, the messages (as the window allows, in DATA
        frames of at most `chunk` octets padded with `pad`), then the
        trailers with grpc-status; or one HEADERS (Trailers-Only)."""
        conn = st.conn
        with conn.lock:
            st.answered = True
            base = [(b":status", b"200"), (b"content-type", b"application/grpc")]
            status_fields = [(b"grpc-status", str(status).encode())] + list(trailing)
            try:
                if trailers_only:
                    conn.h2.send_headers(st.id, base + list(initial) + status_fields,
                                         end_stream=True)
                else:
                    conn.h2.send_headers(st.id, base + list(initial))
                    body = b"".join(grpc_message(m) for m in messages)
                    conn.outbox[st.id] = [bytearray(body), status_fields if end else None,
                                          pad, chunk]
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass
            conn.pump()

    def trailers(self, st, status=0, trailing=()):
        """Ends `st`'s answer with trailers (after respond(..., end=False))."""
        with st.conn.lock:
            st.conn.h2.send_headers(st.id, [(b"grpc-status", str(status).encode())] +
                                    list(trailing), end_stream=True)
            st.conn.flush()

    def end_stream(self, st):
        """Ends `st`'s answer with an empty DATA with END_STREAM (no trailers)."""
        with st.conn.lock:
            st.conn.h2.end_stream(st.id)
            st.conn.flush()

    def reset(self, st, code):
        with st.conn.lock:
            st.conn.outbox.pop(st.id, None)
            st.conn.h2.reset_stream(st.id, error_code=code)
            st.conn.flush()

    def goaway(self, conn, code=0, last_stream_id=None):
        """GOAWAY on `conn`, written by hand: python3-h2 would refuse to
        finish the calls in flight after its own. The listener stays open."""
        if last_stream_id is None:
            last_stream_id = max([s.id for s in self.streams if s.conn is conn] or [0])
        self.send_raw(conn, goaway_frame(last_stream_id, code))

    def ping(self, conn):
        """A PING to crisp, waiting for its ACK: crisp has read everything
        this runtime sent before."""
        data = os.urandom(8)
        with conn.lock:
            conn.h2.ping(data)
            conn.flush()
        self.wait_for(lambda: data in conn.ping_acks, "the ACK of a PING")

    def send_raw(self, conn, data):
        """Bytes to crisp as they are (any frame, valid or not)."""
        with conn.lock:
            conn.sock.sendall(data)

    def stall(self, st):
        """Stops giving back the window of `st`'s request bytes."""
        with st.conn.lock:
            st.conn.stalled.add(st.id)

    def unstall(self, st):
        with st.conn.lock:
            st.conn.stalled.discard(st.id)
            with self.cond:
                n, st.unacked = st.unacked, 0
            if n and not st.ended:
                st.conn.h2.increment_flow_control_window(n, st.id)
            st.conn.flush()

    # -- observing -------------------------------------------------------------
    def wait_for(self, predicate, what="condition", timeout=WAIT_S):
        with self.cond:
            if not self.cond.wait_for(predicate, timeout=timeout):
                raise AssertionError("raw runtime: no %s within %ss; streams: %r"
                                     % (what, timeout, self.streams))

    def wait_streams(self, n, path=None):
        def matching():
            return [s for s in self.streams if path is None or s.path == path]
        self.wait_for(lambda: len(matching()) >= n, "%d streams to %s" % (n, path))
        with self.cond:
            return matching()
