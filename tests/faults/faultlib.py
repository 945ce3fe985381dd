"""Helpers for the fault-injection and load tests (tests/faults).

- Proc: a helper script (runtime_proc.py, client_proc.py) in a process of
  its own, so a test can SIGKILL it; it reports events as stdout lines,
  which the test waits for with a bounded timeout.
- CrowdRuntime: a fake runtime on grpc.aio, in a thread of the test process.
  A held call costs a coroutine, not a thread, so it can hold thousands of
  calls at once; it answers each call with its own request bytes once a
  gate opens (a number of calls arrived, or release()), or never.
- crisp's process state from /proc: memory, fds, client connections.
"""

import asyncio
import os
import subprocess
import sys
import threading

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from soaklib import client_connections, count_fds, read_status  # noqa: E402

WAIT_S = 60           # bound for conditions that normally hold within a second
ERROR_PROMPTLY_S = 10  # "the client gets an error promptly"
PYTHON = sys.executable


# ---- helper processes ----------------------------------------------------------------

class Proc:
    """A helper script in its own process; its stdout lines are events."""

    def __init__(self, script, *args):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [HERE, os.path.join(HERE, "..", "lib"), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, script)] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self._lines = []
        self._err = []
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self._err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, pipe, into):
        for line in pipe:
            with self._cond:
                into.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_line(self, prefix, count=1, timeout=WAIT_S):
        """Block until `count` stdout lines start with `prefix`; return them."""
        def matching():
            return [line for line in self._lines if line.startswith(prefix)]
        with self._cond:
            ok = self._cond.wait_for(
                lambda: len(matching()) >= count or self.proc.poll() is not None, timeout)
            found = matching()
            if len(found) < count:
                raise AssertionError("%s: %d lines starting %r (wanted %d) within %ss%s; "
                                     "stdout: %r; stderr:\n%s" % (
                                         self.proc.args[1], len(found), prefix, count, timeout,
                                         "" if ok else " (timed out)", self._lines[-10:],
                                         "\n".join(self._err[-30:])))
            return found

    def lines(self):
        with self._cond:
            return list(self._lines)

    def kill(self):
        """SIGKILL: the process dies at once, without any clean-up of its own."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_S)

    def close(self):
        self.kill()
        for t in self._threads:
            t.join(timeout=10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()


# ---- the crowd runtime ------------------------------------------------------------------

class CrowdCall:
    def __init__(self, method, request):
        self.method = method
        self.request = request
        self.answered = False
        self.cancelled = False   # ended by the caller (cancel, deadline) before an answer


GATE = "gate"    # answer once `n` calls to the method have arrived (or release())
NEVER = "never"  # hold until the caller goes away
ECHO = "echo"    # answer at once


class CrowdRuntime:
    """A grpc.aio runtime in a background thread; every method is unary and
    answered with its own request bytes (how and when: set_rule)."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        self._cond = threading.Condition()
        self._calls = []
        self._rules = {}
        self._loop = None
        self._server = None
        self._released = False
        self._thread = None
        self._started = threading.Event()
        self._error = None

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._started.wait(WAIT_S) or self._error:
            raise RuntimeError("crowd runtime did not start: %r" % (self._error,))
        return self

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except Exception as err:  # reported by start()
            self._error = err
            self._started.set()
        finally:
            self._loop.close()

    async def _serve(self):
        self._stop = asyncio.Event()
        self._server = grpc.aio.server(handlers=[_Generic(self)],
                                       options=[("grpc.max_concurrent_streams", 100000)])
        if self._server.add_insecure_port("unix:" + self.socket_path) == 0:
            raise RuntimeError("cannot bind " + self.socket_path)
        await self._server.start()
        self._started.set()
        await self._stop.wait()
        await self._server.stop(None)  # cancels whatever is still held

    def stop(self):
        if self._thread is None:
            return
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- scripting ----------------------------------------------------------
    def set_rule(self, method, kind, n=0):
        """From now on answer `method` per `kind`; a GATE counts the calls
        that arrive from now on."""
        with self._cond:
            self._rules[method] = _Rule(kind, n)

    def release(self):
        """Open every gate, now and later (NEVER calls stay held)."""
        with self._cond:
            self._released = True
            rules = list(self._rules.values())
        if self._loop is not None:
            self._loop.call_soon_threadsafe(lambda: [r.gate.set() for r in rules])

    # -- observation ----------------------------------------------------------
    def calls(self, method=None):
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def count(self, predicate):
        """How many calls so far satisfy predicate(call) (safe inside wait_for)."""
        with self._cond:
            return sum(1 for c in self._calls if predicate(c))

    def wait_for(self, predicate, what, timeout=WAIT_S):
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError("crowd runtime: no %s within %ss (%d calls seen)"
                                     % (what, timeout, len(self._calls)))

    def wait_for_calls(self, n, method=None, timeout=WAIT_S):
        def count():
            return sum(method is None or c.method == method for c in self._calls)
        self.wait_for(lambda: count() >= n, "%d calls to %s" % (n, method), timeout)
        return self.calls(method)

    # -- serving (on the loop) --------------------------------------------------
    async def _handle(self, method, request, context):
        call = CrowdCall(method, request)
        with self._cond:
            rule = self._rules.get(method) or _Rule(ECHO)
            rule.arrived += 1
            self._calls.append(call)
            open_gate = self._released or rule.arrived >= rule.n
            self._cond.notify_all()
        try:
            if rule.kind == GATE:
                if open_gate:
                    rule.gate.set()
                await rule.gate.wait()
            elif rule.kind == NEVER:
                await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            with self._cond:
                call.cancelled = True
                self._cond.notify_all()
            raise
        with self._cond:
            call.answered = True
            self._cond.notify_all()
        return request


class _Rule:
    def __init__(self, kind, n=0):
        self.kind = kind
        self.n = n
        self.arrived = 0
        # Set only on the loop's thread. (Python >= 3.10: an Event binds to
        # a loop on first use, not when made, so any thread may create it.)
        self.gate = asyncio.Event()


class _Generic(grpc.GenericRpcHandler):
    def __init__(self, runtime):
        self._runtime = runtime

    def service(self, details):
        method = details.method

        async def handler(request, context):
            return await self._runtime._handle(method, request, context)
        return grpc.unary_unary_rpc_method_handler(handler)


def wait_until(predicate, timeout=WAIT_S, poll_s=0.05):
    """Bounded polling wait for a condition the kernel has no event for
    (/proc); returns predicate()'s last value."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll_s)


# ---- crisp's process --------------------------------------------------------------------

def under_valgrind():
    """hack/valgrind.sh runs crisp under memcheck and says so. There, crisp's
    RSS is memcheck's: its allocator keeps freed blocks in a queue (20 MB by
    default) and adds its own bookkeeping, so memory bounds judge valgrind,
    not crisp; memcheck judges leaks itself."""
    return os.environ.get("CRISP_UNDER_VALGRIND") == "1"


def memory_kb(pid):
    """(VmRSS, RssAnon) in KiB."""
    st = read_status(pid)
    return st["VmRSS"], st["RssAnon"]


def wait_fds_settled(pid, listen_path, at_most, clients=0, timeout=WAIT_S):
    """Bounded wait until crisp holds at most `clients` client connections
    and at most `at_most` fds (they close asynchronously after a client
    leaves). Returns (fds, client connections) as last seen."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        fds, conns = count_fds(pid), client_connections(pid, listen_path)
        if (conns <= clients and fds <= at_most) or time.monotonic() > deadline:
            return fds, conns
        time.sleep(0.05)  # polling /proc: the kernel offers no event for this
