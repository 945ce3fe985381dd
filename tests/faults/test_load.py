"""Load: 2,000 calls in flight at once through crisp, three rounds; and a long
series of calls on one connection, three rounds.

The runtime (faultlib.CrowdRuntime) answers no call of a round until all
2,000 have arrived, so every one of them was in flight through crisp at the
same time. crisp's memory is measured before, during (all 2,000 held) and
after each round, and printed. After the first round, memory must stop
growing: a call that leaks shows up as growth round after round.
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import (GATE, WAIT_S, CrowdRuntime, memory_kb, under_valgrind,  # noqa: E402
                      wait_fds_settled)
from crisp import Crisp, asan_build, really_freeing_env  # noqa: E402
from testbed import channel, short_tempdir  # noqa: E402

IN_FLIGHT = 2000
# CRISP_LOAD_ROUNDS: more rounds, for a longer look (docs/reliability.md).
ROUNDS = int(os.environ.get("CRISP_LOAD_ROUNDS", "3"))
METHOD = "/runtime.v1.RuntimeService/ExecSync"
# The client's deadline: far beyond any wait below, so a call can only end
# with the runtime's answer (or fail the test), never with its deadline.
CALL_DEADLINE_S = 600
# All 2,000 calls reach the runtime within this (generous: under ASan and on
# a busy 2-core machine a round takes a few seconds).
ROUND_S = 240

# The bound on growth after the first round, in KiB of RssAnon: 2 MiB.
#
# After round 1 the allocator keeps the memory 2,000 calls needed (crisp's
# RssAnon stays near its round-1 peak, ~50 MiB, instead of falling back to
# idle, ~2 MiB), and later rounds reuse it. With glibc's default of one
# malloc arena per thread, that reuse is imperfect: a call allocated on one
# thread and freed on another leaves each arena at its own peak, and
# RssAnon climbs for several rounds before it levels off (measured: +15 MiB
# over 12 rounds, flat from round 8 on). That is the allocator, not crisp,
# and it would hide or mimic a leak, so crisp runs here with
# MALLOC_ARENA_MAX=1: one arena, and RssAnon after each round then measured
# flat within 0.8 MiB over 10 rounds. (docs/reliability.md has both series.)
#
# A per-call leak grows by 2,000 x its size each round: over rounds 2 and 3,
# 2 MiB is 512 bytes per call. A leaked relay_call (~700 bytes) or anything
# that keeps a gRPC call (its arena alone is several KiB) fails the bound;
# smaller leaks are LeakSanitizer's job (the ASan build checks crisp's exit).
#
# ASan's allocator is not glibc's: it has its own per-thread caches and
# metadata, and its RssAnon after each round measured +1.1, +0.9, +0.3,
# +0.1, +0.1 MiB over 6 rounds (levelling off). There the bound is 4 MiB,
# still under what a leaked gRPC call per call would add over two rounds.
GROWTH_BOUND_KB = 2048
GROWTH_BOUND_ASAN_KB = 4096


class TestTwoThousandInFlight(unittest.TestCase):

    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        runtime_socket = os.path.join(tmp.name, "runtime.sock")
        self.runtime = CrowdRuntime(runtime_socket).start()
        self.addCleanup(self.runtime.stop)
        env = {"MALLOC_ARENA_MAX": "1", **really_freeing_env()}  # see GROWTH_BOUND_KB
        self.crisp = Crisp(runtime_socket, listen=os.path.join(tmp.name, "crisp.sock"),
                           args=("--log-level", "info"), env=env)
        self.crisp.__enter__()
        self.addCleanup(self.crisp.__exit__, None, None, None)
        self.addCleanup(self.runtime.release)
        self.channel = channel(self.crisp.listen)
        self.addCleanup(self.channel.close)
        self.pid = self.crisp.proc.pid

    def run_round(self, r):
        """One round; returns crisp's (VmRSS, RssAnon) with all calls held."""
        self.runtime.set_rule(METHOD, GATE, IN_FLIGHT)
        call = self.channel.unary_unary(METHOD)
        answers = {}
        lock = threading.Lock()
        all_done = threading.Event()

        def on_done(i, future):
            with lock:
                answers.setdefault(i, []).append(future)
                if sum(len(v) for v in answers.values()) == IN_FLIGHT:
                    all_done.set()

        futures = []
        for i in range(IN_FLIGHT):
            f = call.future(b"%d-%d" % (r, i), timeout=CALL_DEADLINE_S)
            f.add_done_callback(lambda fut, i=i: on_done(i, fut))
            futures.append(f)
        self.addCleanup(lambda: [f.cancel() for f in futures])

        # The gate opens on the 2,000th arrival: measure just before it can.
        # (Calls arrive in bursts; the last few may already be answered when
        # this sample is taken, so "during" is a sample of a full house.)
        self.runtime.wait_for(lambda: self._arrived(r) >= IN_FLIGHT - 1,
                              "%d calls of round %d" % (IN_FLIGHT - 1, r), ROUND_S)
        during = memory_kb(self.pid)
        self.assertTrue(all_done.wait(ROUND_S),
                        "round %d: %d of %d calls answered within %ss" % (
                            r, sum(len(v) for v in answers.values()), IN_FLIGHT, ROUND_S))

        # Exactly one answer per call, each its own request echoed, all OK.
        errors = []
        for i in range(IN_FLIGHT):
            got = answers.get(i, [])
            self.assertEqual(len(got), 1, "call %d got %d answers" % (i, len(got)))
            f = got[0]
            if f.exception() is not None:
                errors.append((i, f.exception().code(), f.exception().details()))
            elif f.result() != b"%d-%d" % (r, i):
                errors.append((i, "wrong answer", f.result()))
        self.assertEqual(errors[:5], [], "round %d: %d calls failed; crisp log tail:\n%s" % (
            r, len(errors), "\n".join(self.crisp.log_lines()[-20:])))
        # ...and the runtime saw each one exactly once: nothing lost, nothing doubled.
        seen = sorted(c.request for c in self.runtime.calls(METHOD)
                      if c.request.startswith(b"%d-" % r))
        self.assertEqual(seen, sorted(b"%d-%d" % (r, i) for i in range(IN_FLIGHT)))
        return during

    def _arrived(self, r):
        prefix = b"%d-" % r
        return self.runtime.count(lambda c: c.request.startswith(prefix))

    def test_2000_calls_in_flight_three_rounds(self):
        # A first call opens crisp's connection to the runtime; that and the
        # idle memory are the baseline.
        self.assertEqual(self.channel.unary_unary("/runtime.v1.RuntimeService/Version")(
            b"warm", timeout=WAIT_S), b"warm")
        base_fds = len(os.listdir("/proc/%d/fd" % self.pid)) + 1  # + this client's connection
        rows = [("idle", None, memory_kb(self.pid))]
        after = []
        for r in range(1, ROUNDS + 1):
            t0 = time.monotonic()
            during = self.run_round(r)
            # The client's connection stays open: fds must be back to the
            # baseline, i.e. nothing per call is left open.
            fds, _ = wait_fds_settled(self.pid, self.crisp.listen, base_fds, clients=1)
            self.assertLessEqual(fds, base_fds, "round %d: crisp holds %d fds, %d before"
                                 % (r, fds, base_fds))
            now = memory_kb(self.pid)
            after.append(now[1])
            rows.append(("round %d" % r, during, now, time.monotonic() - t0))

        # The report (unittest -v prints stderr with the test's output).
        print("\ncrisp memory, %d calls in flight per round (KiB)%s:" % (
            IN_FLIGHT, " [ASan build, quarantine off]" if asan_build() else ""), file=sys.stderr)
        print("  %-8s %22s %22s %8s" % ("", "during: VmRSS / RssAnon", "after: VmRSS / RssAnon",
                                        "round s"), file=sys.stderr)
        for row in rows:
            label, during, now = row[:3]
            print("  %-8s %22s %22s %8s" % (
                label, "%d / %d" % during if during else "-", "%d / %d" % now,
                "%.1f" % row[3] if len(row) > 3 else "-"), file=sys.stderr)

        if under_valgrind():
            print("  (growth not judged: memcheck's allocator, see faultlib.under_valgrind)",
                  file=sys.stderr)
            return
        bound = GROWTH_BOUND_ASAN_KB if asan_build() else GROWTH_BOUND_KB
        growth = max(after[1:]) - after[0]
        self.assertLessEqual(growth, bound,
                             "RssAnon after rounds: %r KiB: grew %d KiB after round 1 (bound %d)"
                             % (after, growth, bound))


# A long series: calls per round, at most this many in flight.
SERIES_CALLS = 8000
SERIES_IN_FLIGHT = 64
# RssAnon may grow by this much after the first round: a relay that keeps a
# few hundred bytes of each finished call (an nghttp2 stream is about 300)
# exceeds it within a round. Measured with the fixed relay: flat.
SERIES_BOUND_KB = 1536


class TestLongSeriesOfCalls(unittest.TestCase):
    """Calls that come and go on one connection (a kubelet's life): once the
    first round has warmed everything up, nothing of a finished call stays."""

    def test_three_rounds_of_8000_calls(self):
        from fake_runtime import FakeRuntime  # it echoes every call
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        runtime_socket = os.path.join(tmp.name, "runtime.sock")
        fake = FakeRuntime(runtime_socket).start()
        self.addCleanup(fake.stop)
        env = {"MALLOC_ARENA_MAX": "1", **really_freeing_env()}
        crisp = Crisp(runtime_socket, listen=os.path.join(tmp.name, "crisp.sock"), env=env)
        crisp.__enter__()
        self.addCleanup(crisp.__exit__, None, None, None)
        ch = channel(crisp.listen)
        self.addCleanup(ch.close)
        call = ch.unary_unary(METHOD)
        after = []
        for r in range(3):
            slots = threading.Semaphore(SERIES_IN_FLIGHT)
            failures = []
            done = threading.Event()
            left = [SERIES_CALLS]
            lock = threading.Lock()

            def finished(fut):
                if fut.exception() is not None:
                    failures.append(fut.exception().code())
                slots.release()
                with lock:
                    left[0] -= 1
                    if left[0] == 0:
                        done.set()

            for i in range(SERIES_CALLS):
                self.assertTrue(slots.acquire(timeout=WAIT_S), "no call finished in %ss" % WAIT_S)
                call.future(b"%d" % i, timeout=WAIT_S).add_done_callback(finished)
            self.assertTrue(done.wait(WAIT_S), "round %d did not finish" % r)
            self.assertEqual(failures[:5], [], "round %d: %d calls failed" % (r, len(failures)))
            after.append(memory_kb(crisp.proc.pid)[1])
        print("\ncrisp RssAnon after each round of %d calls (KiB): %r" % (SERIES_CALLS, after),
              file=sys.stderr)
        if under_valgrind():
            return
        growth = max(after[1:]) - after[0]
        self.assertLessEqual(growth, SERIES_BOUND_KB,
                             "RssAnon after rounds %r KiB: grew %d KiB after round 1"
                             % (after, growth))


if __name__ == "__main__":
    unittest.main()
