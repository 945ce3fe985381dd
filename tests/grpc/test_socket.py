"""crisp's listening socket and command line, as an operator meets them.

The socket is created 0660 (or --socket-mode), a stale socket file left by a
crisp that died is replaced, a socket another live process serves is never
taken over, crisp removes its socket on exit, and a bad flag is a one-line
reason plus usage with exit code 2.
"""

import os
import socket
import stat
import subprocess
import unittest

from crisp import Crisp, crisp_binary
from fake_runtime import FakeRuntime
from testbed import channel, short_tempdir

import grpc


def socket_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class SocketTest(unittest.TestCase):
    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.runtime = os.path.join(self.dir, "runtime.sock")
        self.listen = os.path.join(self.dir, "crisp.sock")
        self.fake = FakeRuntime(self.runtime).start()
        self.addCleanup(self.fake.stop)

    def call_echo(self, path):
        ch = channel(path)
        try:
            return ch.unary_unary("/test.Echo/Call")(b"ping", timeout=30)
        finally:
            ch.close()

    def test_socket_is_0660_and_removed_on_exit(self):
        crisp = Crisp(self.runtime, listen=self.listen).start()
        try:
            self.assertEqual(socket_mode(self.listen), 0o660)
            self.assertTrue(stat.S_ISSOCK(os.stat(self.listen).st_mode))
        finally:
            self.assertEqual(crisp.stop(), 0, crisp.log())
        self.assertFalse(os.path.exists(self.listen), "crisp left its socket behind")

    def test_socket_mode_flag(self):
        with Crisp(self.runtime, listen=self.listen, args=["--socket-mode", "0600"]):
            self.assertEqual(socket_mode(self.listen), 0o600)

    def test_stale_socket_is_replaced(self):
        # A socket file nobody listens on: what a crisp killed with SIGKILL leaves.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.listen)
        stale.close()
        self.assertTrue(os.path.exists(self.listen))
        with Crisp(self.runtime, listen=self.listen) as crisp:
            self.assertEqual(self.call_echo(self.listen), b"ping")
            crisp.wait_for_log("removed stale socket")

    def test_live_socket_is_not_taken_over(self):
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        live.bind(self.listen)
        live.listen(1)
        self.addCleanup(live.close)
        inode = os.stat(self.listen).st_ino
        crisp = Crisp(self.runtime, listen=self.listen)
        crisp.start(wait=False)
        code = crisp.wait_exit()
        self.assertEqual(code, 1, crisp.log())
        self.assertIn("another process is serving", crisp.log())
        # The other process's socket is untouched.
        self.assertEqual(os.stat(self.listen).st_ino, inode)

    def test_a_regular_file_is_never_replaced(self):
        with open(self.listen, "w") as f:
            f.write("not a socket")
        crisp = Crisp(self.runtime, listen=self.listen)
        crisp.start(wait=False)
        self.assertEqual(crisp.wait_exit(), 1, crisp.log())
        self.assertIn("not a socket", crisp.log())
        with open(self.listen) as f:
            self.assertEqual(f.read(), "not a socket")

    def test_unix_url_form_is_accepted(self):
        with Crisp("unix://" + self.runtime, listen=self.listen):
            self.assertEqual(self.call_echo(self.listen), b"ping")


class CommandLineTest(unittest.TestCase):
    def run_crisp(self, *args):
        return subprocess.run([crisp_binary(), *args], capture_output=True, text=True, timeout=60)

    def test_bad_flag_is_one_line_and_usage_with_exit_2(self):
        for args, says in [(["--bogus"], "unknown flag --bogus"),
                           (["--listen", "/a"], "--runtime-endpoint is required"),
                           (["--listen", "/a", "--runtime-endpoint", "/b",
                             "--ambiguous-unconfined", "maybe"], "not runtime-default or keep")]:
            with self.subTest(args=args):
                r = self.run_crisp(*args)
                self.assertEqual(r.returncode, 2)
                first = r.stderr.splitlines()[0]
                self.assertTrue(first.startswith("crisp: ") and says in first, r.stderr)
                self.assertIn("usage: crisp", r.stderr)

    def test_help_and_version(self):
        r = self.run_crisp("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--runtime-endpoint", r.stdout)
        r = self.run_crisp("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^crisp \d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
