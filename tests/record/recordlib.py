"""Helpers for the recording and replay tests (tests/record/).

Reading a recording the way a third party would (plain json + base64), running
`crisp replay ...`, and `crisp replay FILE --serve` as a context manager.
Waits are bounded: a condition polled until a deadline, never a fixed sleep.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (_HERE, os.path.join(_HERE, "..", "lib"), os.path.join(_HERE, "..", "e2e")):
    if os.path.abspath(_path) not in map(os.path.abspath, sys.path):
        sys.path.insert(0, os.path.abspath(_path))

from crisp import crisp_binary, wait_for_socket  # noqa: E402

REPLAY_TIMEOUT_S = 300
EXIT_TIMEOUT_S = 60
# What a sanitizer or a crash leaves on stderr: never acceptable.
_CRASH_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "Segmentation fault")

REQUIRED_KEYS = {"time", "method", "duration_us", "requests", "responses", "code", "details"}
OPTIONAL_KEYS = {"forwarded", "pod", "container", "truncated"}


def read_records(path):
    """Every line of a recording, parsed; fails on a line that is not one
    whole JSON object ending in a newline."""
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        raise AssertionError("%s does not end with a newline: a line was cut" % path)
    records = []
    for lineno, line in enumerate(data.decode("utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except ValueError as err:
            raise AssertionError("%s:%d is not JSON (%s): %r" % (path, lineno, err, line[:200]))
    return records


def check_well_formed(testcase, record):
    """The keys crisp writes for every call, with the right types."""
    keys = set(record)
    testcase.assertTrue(REQUIRED_KEYS <= keys, "missing %s in %r" % (REQUIRED_KEYS - keys, record))
    testcase.assertTrue(keys <= REQUIRED_KEYS | OPTIONAL_KEYS, "unexpected keys in %r" % record)
    testcase.assertRegex(record["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    testcase.assertIsInstance(record["duration_us"], int)
    testcase.assertGreaterEqual(record["duration_us"], 0)
    testcase.assertIsInstance(record["code"], int)
    for key in ("requests", "responses", "forwarded"):
        for item in record.get(key, []):
            base64.b64decode(item, validate=True)


def messages(record, key):
    return [base64.b64decode(m, validate=True) for m in record.get(key, [])]


def replay(*args, timeout=REPLAY_TIMEOUT_S):
    """Runs `crisp replay ARGS...`; returns the CompletedProcess (text)."""
    proc = subprocess.run([crisp_binary(), "replay"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)
    assert_no_crash(proc.returncode, proc.stderr)
    return proc


def assert_no_crash(code, stderr):
    if code < 0 or any(m in stderr for m in _CRASH_MARKERS):
        raise AssertionError("crisp replay crashed (exit %d):\n%s" % (code, stderr))


def wait_until(predicate, timeout, what):
    """Poll `predicate` until it is true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.02)  # poll interval of a bounded wait, not a synchronisation


def line_count(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


class ReplayServe:
    """`crisp replay FILE --serve SOCK`; on exit, SIGTERM and check it exited 0."""

    def __init__(self, recording, socket_path):
        self.recording = recording
        self.socket = socket_path
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([crisp_binary(), "replay", self.recording, "--serve",
                                      self.socket], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_socket(self.socket)
        except Exception:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("crisp replay --serve did not start:\n%s%s" % (out, err))
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError("crisp replay --serve ignored SIGTERM")
        assert_no_crash(self.proc.returncode, err)
        return self.proc.returncode, out, err

    def __exit__(self, exc_type, exc, tb):
        code, out, err = self.stop()
        if exc_type is None and code != 0:
            raise AssertionError("crisp replay --serve exited %d:\n%s%s" % (code, out, err))
        return False
