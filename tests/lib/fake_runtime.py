"""A fake CRI runtime: a gRPC server on a unix socket that accepts any method.

It never decodes anything. Every method is served by one generic bidi handler
on raw bytes, which covers every streaming shape, because the gRPC wire format
does not carry the shape: a unary call is a stream with one message each way.

Each call is recorded (method, metadata, request messages as they arrive,
deadline seen, whether it was cancelled) so tests can assert byte for byte on
what crisp forwarded. What the runtime answers is scripted per method with a
Script. Waits are condition-variable waits with a bounded timeout.
"""

import random
import threading
from concurrent import futures

import grpc

MAX_MESSAGE = 64 * 1024 * 1024  # above crisp's 16 MiB, so the runtime is never the limit
WAIT_TIMEOUT_S = 30


def payload(size, seed=0):
    """`size` deterministic pseudo-random bytes (non-repeating, so a reordered
    or duplicated chunk cannot go unnoticed)."""
    return random.Random(seed).randbytes(size)


class Script:
    """How the runtime answers a method.

    responses: messages sent after the client half-closes (and after a hold).
    echo: instead, answer each request message with its own bytes as it arrives.
    hold: after reading the requests, block until FakeRuntime.release() or until
          the call ends (cancelled, deadline), before answering.
    code/details/initial_metadata/trailing_metadata: the rest of the answer.
    """

    def __init__(self, responses=(), code=grpc.StatusCode.OK, details="",
                 initial_metadata=(), trailing_metadata=(), echo=False, hold=False):
        self.responses = list(responses)
        self.code = code
        self.details = details
        self.initial_metadata = tuple(initial_metadata)
        self.trailing_metadata = tuple(trailing_metadata)
        self.echo = echo
        self.hold = hold

    @classmethod
    def stream(cls, n, prefix=b"msg-", **kw):
        return cls(responses=[prefix + b"%d" % i for i in range(n)], **kw)

    @classmethod
    def big(cls, size, seed=1, **kw):
        return cls(responses=[payload(size, seed)], **kw)


ECHO = Script(echo=True)


class Call:
    """What the runtime saw of one call. Read it under FakeRuntime's lock or
    after the waits below returned it."""

    def __init__(self, method, metadata, time_remaining):
        self.method = method
        self.metadata = metadata          # list of (key, value); -bin values are bytes
        self.time_remaining = time_remaining  # seconds left at arrival (huge if no deadline)
        self.requests = []
        # The request stream ended without error. Caveat: gRPC Python reports
        # a cancel that arrives while a read is pending the same way, so a
        # test about cancellation must not let the handler answer on its own
        # (use hold=True) and then check `cancelled`.
        self.half_closed = False
        self.handler_done = False         # the handler answered on its own
        self.ended = False                # gRPC reports the call over, for any reason
        self.cancelled = False            # ended before the handler answered

    def __repr__(self):
        return "Call(%s, %d requests, half_closed=%s, ended=%s, cancelled=%s)" % (
            self.method, len(self.requests), self.half_closed, self.ended, self.cancelled)


class FakeRuntime:
    def __init__(self, socket_path, default=ECHO):
        self.socket_path = socket_path
        self._default = default
        self._scripts = {}
        self._calls = []
        self._released = False
        self._cond = threading.Condition()
        self._server = None

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        # Plenty of workers: held calls each pin a thread, and a test may hold many.
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=64),
            handlers=[_Generic(self)],
            options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                     ("grpc.max_send_message_length", MAX_MESSAGE)])
        if self._server.add_insecure_port("unix:" + self.socket_path) == 0:
            raise RuntimeError("fake runtime could not bind " + self.socket_path)
        self._server.start()
        return self

    def stop(self):
        """Stop at once: in-flight calls are cancelled (held ones wake up)."""
        if self._server is not None:
            self._server.stop(grace=None).wait(WAIT_TIMEOUT_S)
            self._server = None

    def stop_gracefully(self, grace):
        """Stop as a runtime going down for a restart does: GOAWAY to every
        connection, new calls refused, the calls in flight given `grace`
        seconds. Returns an event set once it has stopped."""
        server, self._server = self._server, None
        return server.stop(grace=grace)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- scripting -----------------------------------------------------------
    def script(self, method, script=None, **kw):
        """Answer `method` with `script` (or Script(**kw)) from now on."""
        with self._cond:
            self._scripts[method] = script if script is not None else Script(**kw)

    def release(self):
        """Let every held call (current and future) answer."""
        with self._cond:
            self._released = True
            self._cond.notify_all()

    # -- observation -----------------------------------------------------------
    def calls(self, method=None):
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, predicate, timeout=WAIT_TIMEOUT_S, what="condition"):
        """Block until predicate() (evaluated under the lock) is true."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout=timeout):
                raise AssertionError("fake runtime: no %s within %ss; calls: %r"
                                     % (what, timeout, self._calls))

    def wait_for_calls(self, n, method=None, timeout=WAIT_TIMEOUT_S):
        """Block until at least `n` calls (to `method`, if given) arrived; return them."""
        def matching():
            return [c for c in self._calls if method is None or c.method == method]
        self.wait_for(lambda: len(matching()) >= n, timeout, "%d calls to %s" % (n, method))
        return self.calls(method)

    def wait_ended(self, call, timeout=WAIT_TIMEOUT_S):
        self.wait_for(lambda: call.ended, timeout, "end of %r" % call)
        return call

    def wait_requests(self, call, n, timeout=WAIT_TIMEOUT_S):
        self.wait_for(lambda: len(call.requests) >= n, timeout, "%d requests in %r" % (n, call))
        return call

    # -- serving -------------------------------------------------------------
    def _serve(self, request_iterator, context, method):
        call = Call(method, [(m.key, m.value) for m in context.invocation_metadata()],
                    context.time_remaining())
        with self._cond:
            script = self._scripts.get(method, self._default)
            self._calls.append(call)
            self._cond.notify_all()
        if not context.add_callback(lambda: self._on_end(call)):
            self._on_end(call)  # already over (e.g. cancelled before we got here)
        try:
            for request in request_iterator:
                with self._cond:
                    call.requests.append(request)
                    self._cond.notify_all()
                if script.echo:
                    if script.initial_metadata and len(call.requests) == 1:
                        context.send_initial_metadata(script.initial_metadata)
                    yield request
        except grpc.RpcError:
            return  # the client went away mid-stream; _on_end records it
        with self._cond:
            call.half_closed = True
            self._cond.notify_all()
        if script.hold:
            with self._cond:
                self._cond.wait_for(lambda: self._released or call.ended)
                if call.ended:
                    return
        if script.initial_metadata and not script.echo:
            context.send_initial_metadata(script.initial_metadata)
        for response in script.responses:
            yield response
        if script.trailing_metadata:
            context.set_trailing_metadata(script.trailing_metadata)
        context.set_code(script.code)
        if script.details:
            context.set_details(script.details)
        with self._cond:
            call.handler_done = True

    def _on_end(self, call):
        with self._cond:
            call.ended = True
            call.cancelled = not call.handler_done
            self._cond.notify_all()


class _Generic(grpc.GenericRpcHandler):
    """Serves every method path with the same raw-bytes bidi handler."""

    def __init__(self, fake):
        self._fake = fake

    def service(self, handler_call_details):
        method = handler_call_details.method
        return grpc.stream_stream_rpc_method_handler(
            lambda requests, context: self._fake._serve(requests, context, method))
