"""crisp's lifecycle: the runtime going away and coming back, and shutdown on
SIGTERM/SIGINT with calls in flight."""

import os
import signal
import time
import unittest

import grpc

from crisp import Crisp
from fake_runtime import FakeRuntime, Script
from testbed import CALL_TIMEOUT_S, RelayTestCase, channel, short_tempdir

HELD = "/runtime.v1.RuntimeService/ExecSync"
QUICK = "/runtime.v1.RuntimeService/Version"
RECOVERY_TIMEOUT_S = 30   # crisp's reconnect backoff is capped near 1 s
ATTEMPT_TIMEOUT_S = 2
RETRY_PACING_S = 0.05     # only to keep failing attempts from flooding crisp's log;
                          # the loops below end on an observed outcome, not on time


def retry_until(attempt, done, what, timeout=RECOVERY_TIMEOUT_S):
    """Run attempt() until done(result_or_error) holds, within `timeout`."""
    deadline = time.monotonic() + timeout
    outcomes = []
    while time.monotonic() < deadline:
        try:
            outcome = attempt()
        except grpc.RpcError as err:
            outcome = err
        if done(outcome):
            return outcome
        outcomes.append(outcome)
        time.sleep(RETRY_PACING_S)
    raise AssertionError("no %s within %ss; last outcomes: %r" % (what, timeout, outcomes[-3:]))


def _code(outcome):
    return outcome.code() if isinstance(outcome, grpc.RpcError) else grpc.StatusCode.OK


class TestUpstreamDown(unittest.TestCase):
    """crisp starts before the runtime exists, and survives it restarting."""

    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.runtime_socket = os.path.join(tmp.name, "runtime.sock")
        self.crisp = Crisp(self.runtime_socket, listen=os.path.join(tmp.name, "crisp.sock"))
        self.crisp.__enter__()
        self.addCleanup(self.crisp.__exit__, None, None, None)
        self.channel = channel(self.crisp.listen)
        self.addCleanup(self.channel.close)

    def ping(self, timeout=ATTEMPT_TIMEOUT_S):
        return self.channel.unary_unary(QUICK)(b"ping", timeout=timeout)

    def start_runtime(self):
        fake = FakeRuntime(self.runtime_socket).start()
        self.addCleanup(fake.stop)
        return fake

    def assertUnavailable(self):
        # A generous deadline: failing "fast" means UNAVAILABLE well before it,
        # rather than the call waiting for a runtime that is not there.
        with self.assertRaises(grpc.RpcError) as caught:
            self.ping(timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE,
                         "details: %r; crisp log:\n%s" % (caught.exception.details(),
                                                         self.crisp.log()))

    def assertRecovers(self, fake):
        retry_until(self.ping, lambda o: o == b"ping", "successful call after the runtime came up")
        self.assertGreaterEqual(len(fake.calls(QUICK)), 1)
        self.assertIsNone(self.crisp.proc.poll(), "crisp exited")

    def test_runtime_absent_then_started(self):
        self.assertUnavailable()
        self.assertUnavailable()  # and again: crisp keeps serving
        self.assertRecovers(self.start_runtime())

    def test_runtime_restarted(self):
        fake = self.start_runtime()
        self.assertEqual(self.ping(timeout=CALL_TIMEOUT_S), b"ping")
        fake.stop()
        self.assertUnavailable()
        self.assertRecovers(self.start_runtime())


class TestGracefulShutdown(RelayTestCase):

    crisp_args = ("--shutdown-grace-period", "120")

    def test_sigterm_lets_in_flight_calls_finish(self):
        self.fake.script(HELD, Script(responses=[b"done"], hold=True))
        futures = [self.unary(HELD).future(b"%d" % i, timeout=300) for i in range(4)]
        self.addCleanup(lambda: [f.cancel() for f in futures])
        self.fake.wait_for_calls(4, HELD)
        self.crisp.signal(signal.SIGTERM)

        # New connections, and new calls on the old one, are refused once crisp
        # has taken the signal. A call racing the signal may still succeed, or
        # be cancelled by gRPC's own server shutdown, so wait for UNAVAILABLE.
        def fresh_call():
            ch = channel(self.crisp.listen)
            try:
                return ch.unary_unary(QUICK)(b"late", timeout=ATTEMPT_TIMEOUT_S)
            finally:
                ch.close()
        unavailable = lambda o: _code(o) == grpc.StatusCode.UNAVAILABLE
        retry_until(fresh_call, unavailable, "UNAVAILABLE for a new connection after SIGTERM")
        retry_until(lambda: self.unary(QUICK)(b"late", timeout=ATTEMPT_TIMEOUT_S),
                    unavailable, "UNAVAILABLE for a new call on a connection made before SIGTERM")

        # ...while the calls in flight are still waiting for the runtime.
        self.assertIsNone(self.crisp.proc.poll(), "crisp exited with calls in flight")
        self.assertEqual([f.done() for f in futures], [False] * 4)
        self.fake.release()
        for i, future in enumerate(futures):
            self.assertEqual(future.result(timeout=CALL_TIMEOUT_S), b"done", "call %d" % i)
        self.assertEqual(self.crisp.wait_exit(), 0, self.crisp.log())
        # Each call went to the runtime exactly once.
        self.assertEqual(sorted(c.requests[0] for c in self.fake.calls(HELD)),
                         [b"0", b"1", b"2", b"3"])

    def test_sigint_exits_zero(self):
        self.assertEqual(self.unary(QUICK)(b"x", timeout=CALL_TIMEOUT_S), b"x")
        self.crisp.signal(signal.SIGINT)
        self.assertEqual(self.crisp.wait_exit(), 0, self.crisp.log())


class TestShutdownGraceExpires(RelayTestCase):

    crisp_args = ("--shutdown-grace-period", "1")

    def test_calls_held_past_the_grace_period_are_cancelled(self):
        self.fake.script(HELD, hold=True)  # never released
        # Client deadlines far beyond the grace period: any answer is crisp's.
        futures = [self.unary(HELD).future(b"%d" % i, timeout=300) for i in range(4)]
        self.addCleanup(lambda: [f.cancel() for f in futures])
        calls = self.fake.wait_for_calls(4, HELD)
        self.crisp.signal(signal.SIGTERM)
        for i, future in enumerate(futures):
            err = future.exception(timeout=CALL_TIMEOUT_S)
            self.assertIsNotNone(err, "call %d succeeded" % i)
            self.assertNotIn(err.code(), (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED))
        self.assertEqual(self.crisp.wait_exit(), 0, self.crisp.log())
        for call in calls:
            self.fake.wait_ended(call)
            self.assertTrue(call.cancelled)


if __name__ == "__main__":
    unittest.main()
