"""A runtime that accepts and never answers: the client's deadline is
honoured, and crisp stays healthy (it serves again once a real runtime is
back, and no call is left behind: it exits at once on SIGTERM although its
grace period is long)."""

import os
import signal
import socket
import sys
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import ERROR_PROMPTLY_S, WAIT_S  # noqa: E402
from crisp import EXIT_TIMEOUT_S, Crisp  # noqa: E402
from fake_runtime import FakeRuntime, Script  # noqa: E402
from testbed import channel, short_tempdir  # noqa: E402

HELD = "/runtime.v1.RuntimeService/ExecSync"
QUICK = "/runtime.v1.RuntimeService/Version"
CALLS = 50
DEADLINES_S = (1, 2, 3)  # the calls' deadlines, in turn
# Far longer than any wait here: if a call were stuck inside crisp, its
# shutdown would wait for it this long, and the exit check would fail.
GRACE_S = 600
RECOVERY_S = 30
ATTEMPT_S = 2
RETRY_PACING_S = 0.05


class SilentServer:
    """A unix socket server that accepts and reads, and never writes a byte:
    no HTTP/2 settings, no answer."""

    def __init__(self, path):
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.conns = []
        self.received = b""
        self.lock = threading.Condition()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.lock:
                if self.closed:
                    conn.close()
                    return
                self.conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.received += data
                self.lock.notify_all()

    def wait_received(self, prefix, timeout=WAIT_S):
        with self.lock:
            if not self.lock.wait_for(lambda: self.received.startswith(prefix), timeout):
                raise AssertionError("silent server: got %r, not %r" % (self.received[:40], prefix))

    def close(self):
        with self.lock:
            self.closed = True
            conns, self.conns = self.conns, []
        self.listener.close()
        for c in conns:
            # shutdown() first: close() alone does not end a connection that
            # a reading thread still has in recv().
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        os.unlink(self.path)


class SlowHandshake:
    """A unix socket in front of a real runtime that, for each connection,
    waits `delay` seconds before passing any byte either way: a runtime that
    is slow to complete its HTTP/2 handshake (a busy node)."""

    def __init__(self, path, target, delay):
        self.target = target
        self.delay = delay
        self.stopping = threading.Event()
        self.socks = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn):
        if self.stopping.wait(self.delay):  # the slow part; ends early at close()
            conn.close()
            return
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(self.target)
        self.socks += [conn, up]
        threading.Thread(target=self._pipe, args=(conn, up), daemon=True).start()
        self._pipe(up, conn)

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping.set()
        self.listener.close()
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


# A handshake this slow is beyond crisp's 1 s reconnect backoff cap, and far
# within gRPC's own 20 s connect timeout, which a direct client would allow.
SLOW_HANDSHAKE_S = 3


class SilentRuntime(unittest.TestCase):

    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.runtime_socket = os.path.join(tmp.name, "runtime.sock")
        self.listen = os.path.join(tmp.name, "crisp.sock")

    def start_crisp(self):
        crisp = Crisp(self.runtime_socket, listen=self.listen,
                      args=("--shutdown-grace-period", str(GRACE_S)))
        crisp.__enter__()
        self.addCleanup(crisp.__exit__, None, None, None)
        ch = channel(crisp.listen)
        self.addCleanup(ch.close)
        return crisp, ch

    def run_calls(self, ch, crisp):
        """CALLS calls at once with short deadlines: each gets
        DEADLINE_EXCEEDED, within ERROR_PROMPTLY_S of its deadline."""
        futures = []
        for i in range(CALLS):
            deadline = DEADLINES_S[i % len(DEADLINES_S)]
            futures.append((deadline, ch.unary_unary(HELD).future(b"%d" % i, timeout=deadline)))
        for i, (deadline, f) in enumerate(futures):
            err = f.exception(timeout=deadline + ERROR_PROMPTLY_S)
            self.assertIsNotNone(err, "call %d succeeded" % i)
            self.assertEqual(err.code(), grpc.StatusCode.DEADLINE_EXCEEDED,
                             "call %d: %r; crisp log:\n%s" % (i, err.details(), crisp.log()))

    def assertServesAgain(self, ch, crisp):
        deadline = time.monotonic() + RECOVERY_S
        last = None
        while time.monotonic() < deadline:
            try:
                self.assertEqual(ch.unary_unary(QUICK)(b"again", timeout=ATTEMPT_S), b"again")
                return
            except grpc.RpcError as err:
                last = err
                time.sleep(RETRY_PACING_S)
        self.fail("no successful call within %ss: %r; crisp log:\n%s"
                  % (RECOVERY_S, last, crisp.log()))

    def assertExitsAtOnce(self, crisp):
        """No call is left inside crisp: on SIGTERM it has nothing to drain,
        so it exits well before its (long) grace period."""
        crisp.signal(signal.SIGTERM)
        self.assertEqual(crisp.wait_exit(timeout=EXIT_TIMEOUT_S), 0, crisp.log())

    def test_socket_that_never_speaks_http2(self):
        silent = SilentServer(self.runtime_socket)
        self.addCleanup(lambda: silent.closed or silent.close())
        crisp, ch = self.start_crisp()
        self.run_calls(ch, crisp)
        # crisp did reach it: the HTTP/2 client preface arrived.
        silent.wait_received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        self.assertIsNone(crisp.proc.poll(), "crisp exited")
        # A real runtime takes the socket over; crisp finds it.
        silent.close()
        fake = FakeRuntime(self.runtime_socket).start()
        self.addCleanup(fake.stop)
        self.assertServesAgain(ch, crisp)
        self.assertExitsAtOnce(crisp)

    def test_runtime_that_holds_every_call(self):
        fake = FakeRuntime(self.runtime_socket).start()
        self.addCleanup(fake.stop)
        fake.script(HELD, Script(hold=True))  # never released
        crisp, ch = self.start_crisp()
        self.run_calls(ch, crisp)
        # Every call ended at the runtime too: the deadline went through.
        calls = fake.wait_for_calls(CALLS, HELD)
        for call in calls:
            fake.wait_ended(call)
            self.assertTrue(call.cancelled, repr(call))
        # Other calls are served meanwhile, and nothing is left over.
        self.assertServesAgain(ch, crisp)
        self.assertExitsAtOnce(crisp)


    def test_runtime_slow_to_handshake(self):
        # Not silent for ever: the runtime answers its HTTP/2 handshake only
        # after SLOW_HANDSHAKE_S. A client with a longer deadline gets its
        # answer, through crisp as it would directly.
        real_socket = self.runtime_socket + ".real"
        fake = FakeRuntime(real_socket).start()
        self.addCleanup(fake.stop)
        slow = SlowHandshake(self.runtime_socket, real_socket, SLOW_HANDSHAKE_S)
        self.addCleanup(slow.close)
        crisp, ch = self.start_crisp()
        try:
            answer = ch.unary_unary(QUICK)(b"patience", timeout=SLOW_HANDSHAKE_S + 27)
        except grpc.RpcError as err:
            self.fail("%s: %s; crisp log:\n%s" % (err.code(), err.details(), crisp.log()))
        self.assertEqual(answer, b"patience")
        self.assertExitsAtOnce(crisp)


if __name__ == "__main__":
    unittest.main()
