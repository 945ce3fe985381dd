"""crisp runs out of file descriptors (its RLIMIT_NOFILE is lowered while it
runs, then many clients connect): it stays up, the connection it already
serves keeps working, each client it cannot serve has its connection closed
at once (rather than left waiting in the listen backlog), and once the
clients leave it accepts new connections again. gRPC 1.51's own listener
never accepted again after one EMFILE; crisp accepts itself
(proxy/acceptor.c)."""

import os
import resource
import socket
import sys
import time
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "operate"))

from faultlib import count_fds, wait_fds_settled, wait_until  # noqa: E402
from operatelib import metric, scrape  # noqa: E402
from testbed import CALL_TIMEOUT_S, RelayTestCase, channel  # noqa: E402

QUICK = "/runtime.v1.RuntimeService/Version"
HEADROOM = 20         # fds crisp may open above its baseline
IDLE_CLIENTS = 60     # more than the headroom: some cannot be accepted
RECOVERY_S = 30
ATTEMPT_S = 2
RETRY_PACING_S = 0.1
HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def refused(s):
    """True once crisp has closed this connection without serving it. A
    served one holds gRPC's SETTINGS (read and dropped here) and stays open."""
    try:
        while True:
            if not s.recv(65536, socket.MSG_DONTWAIT):
                return True  # end of stream
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True  # closed with our hello unread


class FdExhaustion(RelayTestCase):

    def start_crisp(self, args=None):
        self.metrics = os.path.join(self.dir, "metrics.sock")
        return super().start_crisp(args=["--metrics-listen", self.metrics])

    def call(self, ch, tag, timeout=CALL_TIMEOUT_S):
        return ch.unary_unary(QUICK)(tag, timeout=timeout)

    def test_accepts_again_after_running_out_of_fds(self):
        pid = self.crisp.proc.pid
        # The kubelet's connection, open before the fds run out.
        self.assertEqual(self.call(self.channel, b"before"), b"before")
        base = count_fds(pid)
        _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (base + HEADROOM, hard))

        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(IDLE_CLIENTS):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.connect(self.crisp.listen)  # the listen backlog takes it
            try:
                s.sendall(HTTP2_HELLO)
            except (BrokenPipeError, ConnectionResetError):
                pass  # crisp, already out of fds, refused it: checked below
        # crisp fills its fd table: it accepts until accept() fails (EMFILE).
        self.assertTrue(wait_until(lambda: count_fds(pid) >= base + HEADROOM - 1),
                        "crisp has %d fds, limit %d" % (count_fds(pid), base + HEADROOM))
        self.crisp.wait_for_log("Too many open files")
        self.assertIsNone(self.crisp.proc.poll(), "crisp exited")
        # The clients it has no fd for are answered (closed), none left waiting.
        self.assertTrue(
            wait_until(lambda: sum(map(refused, socks)) >= IDLE_CLIENTS - HEADROOM),
            "%d of %d clients refused" % (sum(map(refused, socks)), IDLE_CLIENTS))
        # The connection it already serves keeps working.
        self.assertEqual(self.call(self.channel, b"during"), b"during")

        # The clients go, and the limit is back where it was.
        for s in socks:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (max(base + HEADROOM, 1024), hard))
        fds, _ = wait_fds_settled(pid, self.crisp.listen, at_most=base, clients=1)
        self.assertLessEqual(fds, base)

        # A new client is served again (within a bounded number of tries).
        deadline = time.monotonic() + RECOVERY_S
        outcomes = []
        while time.monotonic() < deadline:
            ch = channel(self.crisp.listen)
            try:
                self.assertEqual(self.call(ch, b"after", timeout=ATTEMPT_S), b"after")
                break
            except grpc.RpcError as err:
                outcomes.append(err.code())
            finally:
                ch.close()
            time.sleep(RETRY_PACING_S)
        else:
            self.fail("crisp accepts no new connection %ss after its fds were freed "
                      "(%d attempts: %r); the old connection: %r; crisp log:\n%s"
                      % (RECOVERY_S, len(outcomes), outcomes[-3:],
                         self.call(self.channel, b"old"), self.crisp.log()))
        # Every refused client was counted.
        self.assertGreaterEqual(metric(scrape(self.metrics), "crisp_accept_errors_total"),
                                IDLE_CLIENTS - HEADROOM)
        # The new client's connection closes too: only the kubelet's is left.
        self.assertEqual(wait_fds_settled(pid, self.crisp.listen, at_most=base, clients=1)[1], 1)


if __name__ == "__main__":
    unittest.main()
