"""The client end of the CRI's streaming calls, for the tests.

Exec, Attach and PortForward do not stream over the CRI: the runtime answers
with the URL of its own streaming server (containerd: http://127.0.0.1:PORT/
exec/TOKEN), and the client speaks to that. The Kubernetes streaming server
takes WebSocket connections with the `channel.k8s.io` framing: each binary
message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error;
for port-forward, 2n data and 2n+1 error of the n-th port, each opening
with the port number, 2 bytes little endian). With `v4.channel.k8s.io` the
error channel of an exec ends with a JSON status that carries the exit code.

The kubelet's own /exec (tests/kubelet) proxies to the same server, so
kubeletlib uses the frame reader here. Plain sockets; no library beyond
Debian's python3.
"""

import base64
import json
import os
import socket
import urllib.parse

TIMEOUT_S = 30
V4 = "v4.channel.k8s.io"
V1 = "channel.k8s.io"


class Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def until(self, marker):
        while marker not in self.buf:
            if not self._more():
                raise AssertionError("connection closed before %r: %r" % (marker, self.buf))
        head, _, self.buf = self.buf.partition(marker)
        return head + marker

    def take(self, n):
        while len(self.buf) < n:
            if not self._more():
                return None
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest(self):
        try:
            while self._more():
                pass
        except OSError:
            pass
        return self.buf


def read_frame(reader):
    """One WebSocket frame from the server (never masked): (opcode, payload),
    or (None, None) at the end of the connection."""
    head = reader.take(2)
    if head is None:
        return None, None
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(reader.take(2), "big")
    elif length == 127:
        length = int.from_bytes(reader.take(8), "big")
    payload = reader.take(length) if length else b""
    return opcode, payload


def upgrade(sock, host, path, protocol):
    """The WebSocket handshake on `sock`; returns a Reader after the 101."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n"
                  % (path, host, key, protocol)).encode())
    reader = Reader(sock)
    head = reader.until(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise AssertionError("%s answered: %r" % (path, (head + reader.rest())[:2000]))
    return reader


def send_frame(sock, payload, opcode=2):
    """One masked frame from the client (RFC 6455 requires the mask)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


class Stream:
    """A WebSocket to a streaming URL the runtime returned."""

    def __init__(self, url, protocol=V4, timeout=TIMEOUT_S):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.port:
            raise AssertionError("not a plain http streaming URL: %r" % url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        try:
            self.reader = upgrade(self.sock, parts.netloc, parts.path or "/", protocol)
        except BaseException:
            self.sock.close()
            raise

    def send(self, channel, data):
        send_frame(self.sock, bytes([channel]) + data)

    def frames(self):
        """(channel, bytes) of each data message until the server closes."""
        while True:
            opcode, payload = read_frame(self.reader)
            if opcode is None or opcode == 8:
                return
            if opcode in (1, 2) and payload:
                yield payload[0], payload[1:]

    def read_until(self, channel, needle):
        """Everything read per channel, once `needle` has come on `channel`."""
        out = {}
        for ch, data in self.frames():
            out[ch] = out.get(ch, b"") + data
            if needle in out.get(channel, b""):
                return out
        raise AssertionError("stream closed before %r on channel %d: %r" % (needle, channel, out))

    def collect(self):
        out = {}
        for ch, data in self.frames():
            out[ch] = out.get(ch, b"") + data
        return out

    def close(self):
        try:
            send_frame(self.sock, b"", opcode=8)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def exit_code_of(status_json):
    """The exit code a v4 exec status (error channel) reports."""
    if not status_json:
        raise AssertionError("no status on the error channel")
    status = json.loads(status_json)
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    raise AssertionError("exec failed: %r" % status)


def run_exec(url):
    """(stdout, stderr, exit code) of the command an Exec URL runs."""
    with Stream(url) as stream:
        out = stream.collect()
    return out.get(1, b""), out.get(2, b""), exit_code_of(out.get(3, b""))


def attach_roundtrip(url, line, needle):
    """Attach with stdin: send `line`, return stdout once it holds `needle`."""
    with Stream(url) as stream:
        stream.send(0, line)
        return stream.read_until(1, needle).get(1, b"")


def port_forward_roundtrip(url, port, data, needle):
    """One port of a PortForward URL: send `data` to the pod's `port`, return
    what comes back once it holds `needle` (the port prefixes stripped)."""
    with Stream(url) as stream:
        # The server opens each channel with the port; then data flows.
        prefix = port.to_bytes(2, "little")
        got = {}
        sent = False
        for ch, chunk in stream.frames():
            got[ch] = got.get(ch, b"") + chunk
            if not sent and got.get(0, b"")[:2] == prefix:
                stream.send(0, data)
                sent = True
            if ch == 1 and len(got[1]) > 2:
                raise AssertionError("port-forward error: %r" % got[1][2:])
            if needle in got.get(0, b"")[2:]:
                return got[0][2:]
        raise AssertionError("port-forward closed before %r: %r" % (needle, got))
