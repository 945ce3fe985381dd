"""crisp tells systemd it is ready (Type=notify) only once its socket
listens, and that it is stopping on SIGTERM: the sd_notify datagrams on
$NOTIFY_SOCKET, received here on a socket of our own as systemd would.

Needs proxy/main.c to call crisp_notify_ready() after the server started
and crisp_notify_stopping() when a shutdown begins (proxy/notify.h)."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

sys.path.insert(0, os.path.join(deploylib.REPO, "tests", "lib"))
from fake_runtime import FakeRuntime  # noqa: E402

WAIT_S = 30


class Readiness(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="crisp-", dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        self.notify_path = os.path.join(self.tmp.name, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.notify.close)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(WAIT_S)
        self.runtime = os.path.join(self.tmp.name, "runtime.sock")
        self.listen = os.path.join(self.tmp.name, "crisp.sock")

    def start(self, listen=None):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        self.log = open(os.path.join(self.tmp.name, "crisp.log"), "w+")
        self.addCleanup(self.log.close)
        proc = subprocess.Popen([deploylib.crisp_binary(), "--listen", listen or self.listen,
                                 "--runtime-endpoint", self.runtime], env=env,
                                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc

    def crisp_log(self):
        self.log.seek(0)
        return self.log.read()

    def receive(self, proc):
        try:
            return self.notify.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("no notification within %ss (does proxy/main.c call "
                                 "crisp_notify_ready/stopping?); crisp %s; log:\n%s"
                                 % (WAIT_S, "running" if proc.poll() is None else
                                    "exited %s" % proc.returncode, self.crisp_log()))

    def test_ready_once_listening_and_stopping_on_sigterm(self):
        with FakeRuntime(self.runtime):
            proc = self.start()
            ready = self.receive(proc)
            self.assertEqual(ready.split("\n")[0], "READY=1")
            # Ready means accepting: connect at once, no retry.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(self.listen)
            proc.send_signal(signal.SIGTERM)
            stopping = self.receive(proc)
            self.assertEqual(stopping.split("\n")[0], "STOPPING=1")
            self.assertEqual(proc.wait(timeout=60), 0, self.crisp_log())

    def test_no_ready_when_it_cannot_listen(self):
        # A regular file where the socket should be: crisp refuses to replace
        # it. (A missing folder no longer stops it: crisp creates it, issue 22.)
        taken = os.path.join(self.tmp.name, "not-a-socket")
        with open(taken, "w"):
            pass
        proc = self.start(listen=taken)
        self.assertEqual(proc.wait(timeout=60), 1, self.crisp_log())
        self.notify.setblocking(False)
        with self.assertRaises(BlockingIOError):
            self.notify.recv(4096)


if __name__ == "__main__":
    unittest.main()
