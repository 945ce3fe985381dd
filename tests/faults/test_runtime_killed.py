"""The runtime dies (SIGKILL) in the middle of a call: the client gets an
error promptly, crisp stays up, and the next call reaches a runtime started
again on the same socket."""

import os
import sys
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import ERROR_PROMPTLY_S, Proc  # noqa: E402
from crisp import Crisp  # noqa: E402
from testbed import channel, short_tempdir  # noqa: E402

HELD = "/runtime.v1.RuntimeService/ExecSync"
STREAM = "/crisp.test.Terminal/Attach"  # a stream (the CRI's methods are unary)
QUICK = "/runtime.v1.RuntimeService/Version"
# Far beyond every wait here: the error must come from the runtime's death,
# not from the client's deadline.
FAR_DEADLINE_S = 600
RECOVERY_S = 30        # crisp's reconnect backoff is capped near 1 s
ATTEMPT_S = 2
RETRY_PACING_S = 0.05  # keeps failed attempts from flooding crisp's log; the
                       # loop ends on an observed success, not on time


class RuntimeKilled(unittest.TestCase):

    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.runtime_socket = os.path.join(tmp.name, "runtime.sock")
        self.runtime = self.start_runtime()
        self.crisp = Crisp(self.runtime_socket, listen=os.path.join(tmp.name, "crisp.sock"))
        self.crisp.__enter__()
        self.addCleanup(self.crisp.__exit__, None, None, None)
        self.channel = channel(self.crisp.listen)
        self.addCleanup(self.channel.close)

    def start_runtime(self):
        runtime = Proc("runtime_proc.py", self.runtime_socket, "--hold", HELD,
                       "--echo-hold", STREAM)
        self.addCleanup(runtime.close)
        runtime.wait_line("ready")
        return runtime

    def assertPromptError(self, wait_done, code_of, what):
        """The call ends within ERROR_PROMPTLY_S with UNAVAILABLE."""
        self.assertTrue(wait_done(ERROR_PROMPTLY_S),
                        "%s: no answer within %ss of the runtime's death; crisp log:\n%s"
                        % (what, ERROR_PROMPTLY_S, self.crisp.log()))
        self.assertEqual(code_of(), grpc.StatusCode.UNAVAILABLE,
                         "%s; crisp log:\n%s" % (what, self.crisp.log()))

    def assertRecovers(self):
        """crisp is still serving, and reaches a runtime started again on the
        same socket (the dead one left its socket file behind)."""
        self.assertIsNone(self.crisp.proc.poll(), "crisp exited")
        runtime = self.start_runtime()
        deadline = time.monotonic() + RECOVERY_S
        outcomes = []
        while time.monotonic() < deadline:
            try:
                self.assertEqual(
                    self.channel.unary_unary(QUICK)(b"again", timeout=ATTEMPT_S), b"again")
                break
            except grpc.RpcError as err:
                outcomes.append(err.code())
                time.sleep(RETRY_PACING_S)
        else:
            self.fail("no successful call within %ss of the runtime's restart: %r; log:\n%s"
                      % (RECOVERY_S, outcomes[-3:], self.crisp.log()))
        self.assertEqual(len(runtime.wait_line("call ")), 1)

    def test_unary_call_in_flight(self):
        future = self.channel.unary_unary(HELD).future(b"held", timeout=FAR_DEADLINE_S)
        self.addCleanup(future.cancel)
        self.runtime.wait_line("request 0")  # the call is at the runtime, held
        self.assertFalse(future.done())
        self.runtime.kill()

        done = threading.Event()
        future.add_done_callback(lambda f: done.set())
        self.assertPromptError(done.wait, lambda: future.exception().code(), "unary call")
        self.assertRecovers()

    def test_stream_in_progress(self):
        outbox = []
        more = threading.Event()

        def requests():
            yield b"first"
            more.wait(FAR_DEADLINE_S)  # keep the request side open
            yield from outbox

        self.addCleanup(more.set)
        responses = self.channel.stream_stream(STREAM)(requests(), timeout=FAR_DEADLINE_S)
        self.addCleanup(responses.cancel)
        self.assertEqual(next(responses), b"first")  # the stream is up, both ways
        self.runtime.kill()

        done = threading.Event()
        responses.add_done_callback(lambda f: done.set())
        self.assertPromptError(done.wait, responses.code, "stream")
        with self.assertRaises(grpc.RpcError):
            next(responses)
        self.assertRecovers()

    def test_server_stream_in_progress(self):
        # The shape of CRI's only streaming method (GetContainerEvents): one
        # request, messages back. The runtime echoes the request, then holds.
        responses = self.channel.unary_stream(STREAM)(b"subscribe", timeout=FAR_DEADLINE_S)
        self.addCleanup(responses.cancel)
        self.assertEqual(next(responses), b"subscribe")
        self.runtime.wait_line("call 0")
        self.runtime.kill()

        done = threading.Event()
        responses.add_done_callback(lambda f: done.set())
        self.assertPromptError(done.wait, responses.code, "server stream")
        self.assertRecovers()


if __name__ == "__main__":
    unittest.main()
