"""SIGTERM with 500 calls in flight: every call gets exactly one answer, and
crisp exits 0 within its grace period.

Half of the calls (ExecSync) are answered by the runtime after the signal:
they must succeed, each with its own answer. The other half (PullImage)
are never answered: crisp must cancel them when the grace period ends,
with a clear status, and exit.
"""

import collections
import os
import signal
import sys
import threading
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import GATE, NEVER, WAIT_S, CrowdRuntime  # noqa: E402
from crisp import Crisp  # noqa: E402
from testbed import channel, short_tempdir  # noqa: E402

ANSWERED = "/runtime.v1.RuntimeService/ExecSync"
UNANSWERED = "/runtime.v1.ImageService/PullImage"
CALLS = 500
GRACE_S = 10  # crisp's default; ample for 250 answers to pass, even under valgrind
# Far beyond the grace period: no call may end by its own deadline.
CALL_DEADLINE_S = 600
# What a call cut off by crisp's shutdown may end with: the client can tell
# it did not complete (never OK, never a deadline it did not set).
CUT_OFF = (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)


class SigtermInFlight(unittest.TestCase):

    def test_500_calls_in_flight(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        runtime_socket = os.path.join(tmp.name, "runtime.sock")
        runtime = CrowdRuntime(runtime_socket).start()
        self.addCleanup(runtime.stop)
        runtime.set_rule(ANSWERED, GATE, 10**9)  # until release()
        runtime.set_rule(UNANSWERED, NEVER)
        crisp = Crisp(runtime_socket, listen=os.path.join(tmp.name, "crisp.sock"),
                      args=("--shutdown-grace-period", str(GRACE_S), "--log-level", "info"))
        crisp.__enter__()
        self.addCleanup(crisp.__exit__, None, None, None)
        ch = channel(crisp.listen)
        self.addCleanup(ch.close)

        answers = collections.defaultdict(list)
        lock = threading.Lock()
        all_done = threading.Event()

        def on_done(call_id, future):
            with lock:
                answers[call_id].append(future)
                if sum(map(len, answers.values())) >= CALLS:
                    all_done.set()

        futures = {}
        for i in range(CALLS):
            method = ANSWERED if i % 2 == 0 else UNANSWERED
            call_id = b"call-%d" % i
            f = ch.unary_unary(method).future(call_id, timeout=CALL_DEADLINE_S)
            f.add_done_callback(lambda fut, c=call_id: on_done(c, fut))
            futures[call_id] = (method, f)
        self.addCleanup(lambda: [f.cancel() for _, f in futures.values()])
        runtime.wait_for_calls(CALLS)
        self.assertFalse(any(f.done() for _, f in futures.values()))

        crisp.signal(signal.SIGTERM)
        # crisp counts the same calls in flight as the client and the runtime.
        self.assertIn("draining calls_in_flight=%d " % CALLS, crisp.wait_for_log("draining"))
        runtime.release()

        # crisp exits 0 once the grace period has cancelled what is left.
        self.assertEqual(crisp.wait_exit(timeout=GRACE_S + WAIT_S), 0, crisp.log())
        self.assertTrue(all_done.wait(WAIT_S), "%d of %d calls answered" % (
            sum(map(len, answers.values())), CALLS))

        outcomes = collections.Counter()
        for call_id, (method, _) in futures.items():
            got = answers[call_id]
            self.assertEqual(len(got), 1, "%s got %d answers" % (call_id, len(got)))
            err = got[0].exception()
            if method == ANSWERED:
                self.assertIsNone(err, "%s: %r" % (call_id, err))
                self.assertEqual(got[0].result(), call_id)
                outcomes["OK"] += 1
            else:
                self.assertIsNotNone(err, "%s succeeded" % call_id)
                self.assertIn(err.code(), CUT_OFF, "%s: %s %r" % (call_id, err.code(),
                                                                  err.details()))
                outcomes[err.code().name] += 1
        print("\noutcomes of %d calls in flight at SIGTERM: %s" % (CALLS, dict(outcomes)),
              file=sys.stderr)

        # The runtime saw every call exactly once, and the unanswered ones
        # were cancelled there too.
        seen = collections.Counter(c.request for c in runtime.calls())
        self.assertEqual(set(seen), set(futures))
        self.assertEqual(max(seen.values()), 1)
        runtime.wait_for(lambda: all(c.cancelled for c in runtime.calls(UNANSWERED)),
                         "cancellation of every unanswered call")
        self.assertLog(crisp)

    def assertLog(self, crisp):
        # crisp said what it did: drained, cancelled the rest, stopped.
        crisp.wait_for_log("shutdown grace period over: cancelling calls_in_flight=")
        crisp.wait_for_log("stopped")


if __name__ == "__main__":
    unittest.main()
