"""Start and stop a crisp daemon for tests.

The binary comes from the CRISP_BIN environment variable, which ctest sets to
the build's own crisp (the normal or the sanitizer build). Tests never guess a
path: a missing CRISP_BIN is a loud failure.

Readiness is event-based: we wait (with a bounded timeout) for gRPC to connect
to the listening socket, never for a fixed sleep.
"""

import os
import signal
import subprocess
import tempfile
import threading

import grpc

READY_TIMEOUT_S = 30
EXIT_TIMEOUT_S = 60
# Bound here: inside class Crisp the name `signal` is the method below, not the module.
_SIGTERM = signal.SIGTERM


def crisp_binary():
    path = os.environ.get("CRISP_BIN")
    if not path:
        raise RuntimeError("CRISP_BIN is not set: run the tests through ctest (hack/test.sh)")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"CRISP_BIN={path} is not an executable file")
    return path


def asan_build():
    """True in the sanitizer build: ctest sets ASAN_OPTIONS only there
    (tests/CMakeLists.txt)."""
    return bool(os.environ.get("ASAN_OPTIONS"))


def really_freeing_env():
    """Environment (for Crisp(env=...)) of a crisp whose memory a test
    measures. ASan keeps freed memory in a quarantine (256 MiB by default) to
    catch use-after-free, so RssAnon grows by design while it fills; here
    crisp frees for real. Leaks are still caught by LeakSanitizer at exit.
    Empty outside the sanitizer build."""
    if not asan_build():
        return {}
    return {"ASAN_OPTIONS": os.environ["ASAN_OPTIONS"]
            + ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"}


def read_only(*folders):
    """A wrapper (Crisp(wrapper=...), or a prefix of any command line) that
    runs the command in a private mount namespace where each of `folders`
    is a read-only bind mount of itself: not writable, for root too, while
    the machine's own mounts never change. Exits 97 if a mount fails. The
    command is exec'd, so it keeps the wrapper's pid. Needs root."""
    script = ('while [ "$1" != -- ]; do mount --bind -o ro "$1" "$1" || exit 97; shift; done; '
              'shift; exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
            "read-only"] + list(folders) + ["--"]


def wait_for_socket(path, timeout=READY_TIMEOUT_S):
    """Block until a gRPC connection to unix socket `path` succeeds."""
    channel = grpc.insecure_channel("unix:" + path)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    finally:
        channel.close()


class Crisp:
    """A crisp process in front of `runtime_endpoint`, serving on `listen`.

    Use as a context manager; on exit it sends SIGTERM and checks that crisp
    exited 0 (under the sanitizer build a leak makes that exit non-zero, so
    every test that stops crisp also checks it for leaks).
    """

    def __init__(self, runtime_endpoint, listen=None, args=(), env=None, wrapper=()):
        """`wrapper`: a command line crisp's own is appended to, which must
        exec it (same pid), e.g. a private mount namespace (read_only())."""
        self._tmp = None
        self.wrapper = list(wrapper)
        if listen is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="crisp-test-")
            listen = os.path.join(self._tmp.name, "crisp.sock")
        self.listen = listen
        self.runtime_endpoint = runtime_endpoint
        self.args = list(args)
        self.env = env
        self.proc = None
        self._stderr_lines = []
        self._stderr_thread = None
        self._stderr_cond = threading.Condition()

    # -- lifecycle -------------------------------------------------------
    def start(self, wait=True):
        cmd = self.wrapper + [crisp_binary(), "--listen", self.listen, "--runtime-endpoint",
               self.runtime_endpoint, "--log-level", "debug"] + self.args
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env, text=True)
        self._stderr_thread = threading.Thread(target=self._pump_stderr, daemon=True)
        self._stderr_thread.start()
        if wait:
            try:
                wait_for_socket(self.listen)
            except Exception:
                self.kill()
                raise RuntimeError("crisp did not start serving; its log:\n" + self.log())
        return self

    def _pump_stderr(self):
        for line in self.proc.stderr:
            with self._stderr_cond:
                self._stderr_lines.append(line.rstrip("\n"))
                self._stderr_cond.notify_all()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=_SIGTERM, timeout=EXIT_TIMEOUT_S):
        """Signal crisp and return its exit code (waiting at most `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("crisp did not exit within %ss of %s; its log:\n%s"
                                 % (timeout, sig, self.log()))
        self._close_pipes()
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _close_pipes(self):
        # crisp is dead by now, so its stderr is at EOF and the pump ends.
        thread = self._stderr_thread
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive():
                return  # still reading: leave the pipe to it
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def wait_exit(self, timeout=EXIT_TIMEOUT_S):
        code = self.proc.wait(timeout=timeout)
        self._close_pipes()
        return code

    # -- the log -----------------------------------------------------------
    def log(self):
        with self._stderr_cond:
            return "\n".join(self._stderr_lines)

    def log_lines(self):
        with self._stderr_cond:
            return list(self._stderr_lines)

    def wait_for_log(self, needle, timeout=30):
        """Block until a log line containing `needle` appears; return it."""
        with self._stderr_cond:
            ok = self._stderr_cond.wait_for(
                lambda: any(needle in line for line in self._stderr_lines), timeout=timeout)
            if not ok:
                raise AssertionError("no log line with %r within %ss; log:\n%s"
                                     % (needle, timeout, "\n".join(self._stderr_lines)))
            return next(line for line in self._stderr_lines if needle in line)

    def wait_for_log_count(self, needle, count, timeout=30):
        """Block until at least `count` log lines contain `needle`."""
        def seen():
            return sum(needle in line for line in self._stderr_lines)
        with self._stderr_cond:
            if not self._stderr_cond.wait_for(lambda: seen() >= count, timeout=timeout):
                raise AssertionError("%d log lines with %r after %ss, wanted %d; log:\n%s"
                                     % (seen(), needle, timeout, count,
                                        "\n".join(self._stderr_lines)))

    def count_log(self, needle):
        with self._stderr_cond:
            return sum(needle in line for line in self._stderr_lines)

    # -- context manager -------------------------------------------------
    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.proc.poll() is None:
                code = self.stop()
            else:
                code = self.proc.returncode
            if exc_type is None and code != 0:
                raise AssertionError("crisp exited %d; its log:\n%s" % (code, self.log()))
        finally:
            self.kill()
            self._close_pipes()
            if self._tmp is not None:
                self._tmp.cleanup()
        return False
