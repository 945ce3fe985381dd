"""Shared setup for the gRPC-level tests: fake runtime <- crisp <- test client.

Every test gets its own temp dir (short socket paths), its own fake runtime and
its own crisp, so no test depends on another's leftovers or order.
"""

import os
import tempfile
import unittest

import grpc

from crisp import Crisp
from fake_runtime import MAX_MESSAGE, FakeRuntime

MiB = 1024 * 1024
CALL_TIMEOUT_S = 30   # generous: the ASan build is slow, and a hang must still end

# The client must never be the limit: crisp's 16 MiB is what is under test.
# A local subchannel pool makes every channel its own connection: by default
# Python shares one per address across channels, so a "new" channel would
# inherit another one's connection or reconnect backoff.
CLIENT_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE),
                  ("grpc.max_send_message_length", MAX_MESSAGE),
                  ("grpc.use_local_subchannel_pool", 1)]


def channel(socket_path):
    return grpc.insecure_channel("unix:" + socket_path, options=CLIENT_OPTIONS)


def short_tempdir():
    # AF_UNIX paths must stay under 108 bytes, so keep them in /tmp.
    return tempfile.TemporaryDirectory(prefix="crisp-", dir="/tmp")


class RelayTestCase(unittest.TestCase):
    """Starts a fake runtime and a crisp in front of it for each test."""

    crisp_args = ()

    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.runtime_socket = os.path.join(self.dir, "runtime.sock")
        self.fake = FakeRuntime(self.runtime_socket).start()
        self.addCleanup(self.fake.stop)
        self.crisp = self.start_crisp()
        # A test that fails with calls still held must not make crisp's
        # shutdown wait for them: release them before stopping crisp.
        self.addCleanup(self.fake.release)
        self.channel = channel(self.crisp.listen)
        self.addCleanup(self.channel.close)

    def crisp_wrapper(self):
        """A command line crisp's is appended to (crisp.Crisp's `wrapper`)."""
        return ()

    def start_crisp(self, args=None, env=None):
        """Start a crisp (stopped, with its exit code checked, at cleanup)."""
        crisp = Crisp(self.runtime_socket, listen=os.path.join(self.dir, "crisp.sock"),
                      args=self.crisp_args if args is None else args, env=env,
                      wrapper=self.crisp_wrapper())
        crisp.__enter__()
        self.addCleanup(crisp.__exit__, None, None, None)
        return crisp

    # -- raw-bytes call shapes -------------------------------------------------
    def unary(self, method, channel=None):
        return (channel or self.channel).unary_unary(method)

    def server_stream(self, method, channel=None):
        return (channel or self.channel).unary_stream(method)

    def client_stream(self, method, channel=None):
        return (channel or self.channel).stream_unary(method)

    def bidi(self, method, channel=None):
        return (channel or self.channel).stream_stream(method)

    def assertCode(self, rpc_error, code):
        """Assert an RpcError carries `code`, showing crisp's log if not."""
        self.assertIsInstance(rpc_error, grpc.RpcError)
        self.assertEqual(rpc_error.code(), code,
                         "details: %r\ncrisp log:\n%s" % (rpc_error.details(), self.crisp.log()))
