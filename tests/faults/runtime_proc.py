"""A fake runtime (tests/lib/fake_runtime.py) in a process of its own, so a
test can SIGKILL it in the middle of a call.

    runtime_proc.py SOCKET [--hold METHOD]... [--echo-hold METHOD]...

--hold: read the request, then hold the call (never answer on its own).
--echo-hold: echo each request message as it arrives (a stream in
progress), and hold the call after the client half-closes.
Other methods echo.

Stdout, one line per event, flushed: "ready", then "call N METHOD" as the
N-th call (from 0) arrives and "request N" for each request message it
reads. It serves until killed.
"""

import sys

from fake_runtime import FakeRuntime, Script


def main(argv):
    socket_path, rest = argv[1], argv[2:]
    fake = FakeRuntime(socket_path)
    while rest:
        flag, method, rest = rest[0], rest[1], rest[2:]
        if flag == "--hold":
            fake.script(method, Script(hold=True))
        elif flag == "--echo-hold":
            fake.script(method, Script(echo=True, hold=True))
        else:
            sys.exit("runtime_proc: unknown flag " + flag)
    fake.start()
    print("ready", flush=True)
    reported_calls, reported_requests = 0, {}
    while True:
        # Wakes on every new call or request message (bounded, then again).
        def changed():
            calls = fake.calls()
            return len(calls) > reported_calls or any(
                len(c.requests) > reported_requests.get(i, 0) for i, c in enumerate(calls))
        try:
            fake.wait_for(changed, timeout=3600, what="change")
        except AssertionError:
            continue
        calls = fake.calls()
        for i, c in enumerate(calls):
            if i >= reported_calls:
                print("call %d %s" % (i, c.method), flush=True)
            for _ in range(reported_requests.get(i, 0), len(c.requests)):
                print("request %d" % i, flush=True)
            reported_requests[i] = len(c.requests)
        reported_calls = len(calls)


if __name__ == "__main__":
    main(sys.argv)
