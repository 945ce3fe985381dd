"""`crisp --record FILE` against a fake runtime: what each line holds, streams
capped per call, 200 concurrent calls, the file's mode, SIGHUP reopening, the
size limit, the memory budget and --record-redact.

Every test starts its own fake runtime and crisp (tests/lib), and stops crisp
before reading the file: crisp writes every finished call by the time it exits.
"""

import os
import signal
import sys
import unittest

# Loaded by file path (tests.record.test_record): make recordlib importable;
# it makes tests/lib and tests/e2e importable in turn.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import recordlib  # noqa: E402
from recordlib import (ReplayServe, check_well_formed, line_count, messages,  # noqa: E402
                       read_records, replay)
from crisp import Crisp  # noqa: E402
from fake_runtime import FakeRuntime  # noqa: E402
from testbed import CALL_TIMEOUT_S, channel, short_tempdir  # noqa: E402
import cri_client  # noqa: E402

pb = cri_client.pb
RUNTIME = "/runtime.v1.RuntimeService/"
VERSION, RUN, CREATE, EXEC = (RUNTIME + m for m in
                              ("Version", "RunPodSandbox", "CreateContainer", "ExecSync"))
STREAM = "/runtime.v1.RuntimeService/GetContainerEvents"

SECRETS = ("s3cr3t-env-value-1", "hunter2-env-value-2")
EXEC_OUT, EXEC_ERR = b"exec-stdout-secret-42", b"exec-stderr-secret-43"


def env_field(key, value):
    """ContainerConfig.envs (field 6): KeyValue{key = 1, value = 2}, on the wire."""
    kv = b"\x0a" + bytes([len(key)]) + key.encode() + b"\x12" + bytes([len(value)]) + \
        value.encode()
    return b"\x32" + bytes([len(kv)]) + kv


def create_request(with_env=False):
    """A CreateContainer as crictl sends it with nothing set (crisp rewrites it)."""
    pod = cri_client.pod_config()
    config = cri_client.container_config()
    if with_env:
        raw = config.SerializeToString() + b"".join(
            env_field("SECRET_%d" % i, value) for i, value in enumerate(SECRETS))
        config = pb.ContainerConfig.FromString(raw)
    request = pb.CreateContainerRequest(pod_sandbox_id="pod-1", config=config, sandbox_config=pod)
    return pod, request.SerializeToString()


class RecordTestCase(unittest.TestCase):
    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.runtime_socket = os.path.join(self.dir, "runtime.sock")
        self.fake = FakeRuntime(self.runtime_socket).start()
        self.addCleanup(self.fake.stop)
        self.fake.script(CREATE, responses=[
            pb.CreateContainerResponse(container_id="ctr-1").SerializeToString()])
        self.fake.script(EXEC, responses=[
            pb.ExecSyncResponse(stdout=EXEC_OUT, stderr=EXEC_ERR, exit_code=3)
            .SerializeToString()])
        self.recording = os.path.join(self.dir, "calls.jsonl")

    def crisp(self, *args):
        crisp = Crisp(self.runtime_socket, listen=os.path.join(self.dir, "crisp.sock"),
                      args=["--record", self.recording] + list(args))
        return crisp

    def unary(self, crisp, method, request, **kw):
        with channel(crisp.listen) as ch:
            return ch.unary_unary(method)(request, timeout=CALL_TIMEOUT_S, **kw)


class WhatALineHolds(RecordTestCase):
    def test_unary_call(self):
        with self.crisp() as crisp:
            self.assertEqual(self.unary(crisp, VERSION, b"\x0a\x02v1"), b"\x0a\x02v1")
        [record] = read_records(self.recording)
        check_well_formed(self, record)
        self.assertEqual(record["method"], VERSION)
        self.assertEqual(messages(record, "requests"), [b"\x0a\x02v1"])
        self.assertEqual(messages(record, "responses"), [b"\x0a\x02v1"])
        self.assertEqual((record["code"], record["details"]), (0, ""))
        for key in ("forwarded", "pod", "container", "truncated"):
            self.assertNotIn(key, record)

    def test_error_status(self):
        self.fake.script(VERSION, code=grpc.StatusCode.NOT_FOUND, details="no such thing \u00e9")
        with self.crisp() as crisp:
            with self.assertRaises(grpc.RpcError):
                self.unary(crisp, VERSION, b"")
        [record] = read_records(self.recording)
        check_well_formed(self, record)
        self.assertEqual(record["code"], grpc.StatusCode.NOT_FOUND.value[0])
        self.assertEqual(record["details"], "no such thing \u00e9")
        self.assertEqual(record["responses"], [])

    def test_rewritten_create_container_has_forwarded_and_identity(self):
        pod, request = create_request()
        with self.crisp() as crisp:
            self.unary(crisp, CREATE, request)
        [record] = read_records(self.recording)
        check_well_formed(self, record)
        self.assertEqual(messages(record, "requests"), [request])
        # What the runtime really got is what the recording says crisp forwarded.
        [call] = self.fake.calls(CREATE)
        self.assertEqual(messages(record, "forwarded"), call.requests)
        self.assertNotEqual(call.requests[0], request)
        self.assertEqual(record["pod"], {"namespace": pod.metadata.namespace,
                                         "name": pod.metadata.name, "uid": pod.metadata.uid})
        self.assertEqual(record["container"], "probe")

    def test_unchanged_run_pod_sandbox_has_identity_and_no_forwarded(self):
        pod = cri_client.pod_config(cri_client.RUNTIME_DEFAULT)
        request = pb.RunPodSandboxRequest(config=pod).SerializeToString()
        with self.crisp() as crisp:
            self.unary(crisp, RUN, request)
        [record] = read_records(self.recording)
        self.assertNotIn("forwarded", record)
        self.assertEqual(record["pod"]["name"], pod.metadata.name)
        self.assertNotIn("container", record)

    def test_a_rejected_request_is_recorded_with_crisp_s_answer(self):
        with self.crisp() as crisp:
            with self.assertRaises(grpc.RpcError) as ctx:
                self.unary(crisp, CREATE, b"\xff\xff\xff")
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.fake.calls(CREATE), [])
        [record] = read_records(self.recording)
        check_well_formed(self, record)
        self.assertEqual(messages(record, "requests"), [b"\xff\xff\xff"])
        self.assertNotIn("forwarded", record)
        self.assertEqual(record["code"], grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual(record["details"], ctx.exception.details())

    def test_identity_without_the_rewriter(self):
        pod, request = create_request()
        with self.crisp("--no-default") as crisp:
            self.unary(crisp, CREATE, request)
        [record] = read_records(self.recording)
        self.assertNotIn("forwarded", record)
        self.assertEqual(record["pod"]["uid"], pod.metadata.uid)
        self.assertEqual(record["container"], "probe")

    def test_print_shows_the_rewrite(self):
        _, request = create_request()
        with self.crisp() as crisp:
            self.unary(crisp, CREATE, request)
        out = replay(self.recording, "--print")
        self.assertEqual(out.returncode, 0, out.stderr)
        [line] = out.stdout.splitlines()
        self.assertIn("CreateContainer", line)
        self.assertIn("crisp-e2e/crisp-e2e-", line)
        self.assertIn("probe", line)
        self.assertIn(" OK ", line)
        self.assertIn("container: absent path='' -> RuntimeDefault path='runtime/default'", line)


class Streams(RecordTestCase):
    def test_messages_past_the_cap_are_counted_not_stored(self):
        requests = [b"req-%d" % i for i in range(10)]
        with self.crisp("--record-max-messages", "4") as crisp:
            with channel(crisp.listen) as ch:
                got = list(ch.stream_stream(STREAM)(iter(requests), timeout=CALL_TIMEOUT_S))
        self.assertEqual(got, requests)  # the cap is the recording's, never the call's
        [record] = read_records(self.recording)
        check_well_formed(self, record)
        self.assertEqual(messages(record, "requests"), requests[:4])
        self.assertEqual(messages(record, "responses"), requests[:4])
        self.assertEqual(record["truncated"], {"requests": 6, "responses": 6})

    def test_server_stream_under_the_cap_is_whole(self):
        self.fake.script(STREAM, responses=[b"event-%d" % i for i in range(5)])
        with self.crisp() as crisp:
            with channel(crisp.listen) as ch:
                got = list(ch.unary_stream(STREAM)(b"\x0a\x00", timeout=CALL_TIMEOUT_S))
        [record] = read_records(self.recording)
        self.assertEqual(messages(record, "responses"), got)
        self.assertEqual(len(got), 5)
        self.assertNotIn("truncated", record)


class Concurrency(RecordTestCase):
    def test_200_concurrent_calls_give_200_lines(self):
        payloads = [b"call-%03d" % i for i in range(200)]
        with self.crisp("--threads", "4") as crisp:
            with channel(crisp.listen) as ch:
                stub = ch.unary_unary(VERSION)
                futures = [stub.future(p, timeout=CALL_TIMEOUT_S) for p in payloads]
                self.assertEqual([f.result() for f in futures], payloads)
        records = read_records(self.recording)
        self.assertEqual(len(records), 200)
        for record in records:
            check_well_formed(self, record)
            self.assertEqual(messages(record, "requests"), messages(record, "responses"))
        self.assertEqual(sorted(messages(r, "requests")[0] for r in records), payloads)
        self.assertEqual(crisp.count_log("recording: dropped"), 0, crisp.log())
        # The file also reads back through crisp's own parser.
        out = replay(self.recording, "--print")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.splitlines()), 200)


class TheFile(RecordTestCase):
    def test_mode_0600_whatever_the_umask(self):
        old = os.umask(0)
        try:
            crisp = self.crisp().start()
        finally:
            os.umask(old)
        with crisp:
            self.assertEqual(os.stat(self.recording).st_mode & 0o7777, 0o600)

    def test_an_existing_file_is_appended_to(self):
        with open(self.recording, "w") as f:
            f.write('{"method": "/a.B/C", "requests": []}\n')
        with self.crisp() as crisp:
            self.unary(crisp, VERSION, b"")
        self.assertEqual(line_count(self.recording), 2)

    def test_sighup_reopens_the_file(self):
        moved = self.recording + ".1"
        with self.crisp() as crisp:
            self.unary(crisp, VERSION, b"first")
            # The call's line is written after the client has its answer.
            recordlib.wait_until(lambda: line_count(self.recording) == 1, 30, "the first line")
            os.rename(self.recording, moved)
            crisp.signal(signal.SIGHUP)
            crisp.wait_for_log("recording reopened")
            self.assertTrue(os.path.exists(self.recording))
            self.assertEqual(os.stat(self.recording).st_mode & 0o7777, 0o600)
            self.unary(crisp, VERSION, b"second")
        self.assertEqual([messages(r, "requests") for r in read_records(moved)], [[b"first"]])
        self.assertEqual([messages(r, "requests") for r in read_records(self.recording)],
                         [[b"second"]])

    def test_size_limit_stops_recording_with_one_log_line(self):
        limit = 8192
        payload = b"x" * 1000
        with self.crisp("--record-max-size", str(limit)) as crisp:
            for _ in range(40):
                self.unary(crisp, VERSION, payload)
                if crisp.count_log("recording stopped"):
                    break
            crisp.wait_for_log("recording stopped")
            lines = line_count(self.recording)
            for _ in range(10):
                self.unary(crisp, VERSION, payload)
        self.assertEqual(crisp.count_log("recording stopped"), 1, crisp.log())
        self.assertLessEqual(os.path.getsize(self.recording), limit)
        self.assertEqual(len(read_records(self.recording)), lines)
        self.assertGreater(lines, 0)
        self.assertIn("written=%d" % lines, crisp.wait_for_log("recording closed"))

    def test_an_unwritable_path_fails_the_start(self):
        # A missing folder is created (issue 22, tests/operate/
        # test_startup_paths.py); a folder where the file should be is not
        # a recording crisp can open.
        folder = os.path.join(self.dir, "a-folder.jsonl")
        os.mkdir(folder)
        crisp = Crisp(self.runtime_socket, listen=os.path.join(self.dir, "crisp.sock"),
                      args=["--record", folder])
        crisp.start(wait=False)
        self.assertEqual(crisp.wait_exit(), 1)
        crisp.proc.stderr.close()
        self.assertIn("cannot open the recording", crisp.log())


class Budget(RecordTestCase):
    def test_a_call_over_the_budget_is_dropped_and_counted_not_delayed(self):
        big = b"y" * (256 * 1024)
        with self.crisp("--record-queue-size", "65536") as crisp:
            self.assertEqual(self.unary(crisp, VERSION, big), big)
            self.assertEqual(self.unary(crisp, VERSION, b"small"), b"small")
        [record] = read_records(self.recording)
        self.assertEqual(messages(record, "requests"), [b"small"])
        self.assertIn("dropped=1", crisp.wait_for_log("recording closed"))
        self.assertEqual(crisp.count_log("recording: dropped 1 calls"), 1, crisp.log())


class Redaction(RecordTestCase):
    def test_no_env_value_or_exec_output_reaches_the_file(self):
        _, request = create_request(with_env=True)
        exec_request = pb.ExecSyncRequest(container_id="ctr-1", cmd=["env"]).SerializeToString()
        with self.crisp("--record-redact") as crisp:
            self.unary(crisp, CREATE, request)
            answer = pb.ExecSyncResponse.FromString(self.unary(crisp, EXEC, exec_request))
        self.assertEqual(answer.stdout, EXEC_OUT)  # redaction is the file's, never the call's
        self.assertIn(SECRETS[0].encode(), self.fake.calls(CREATE)[0].requests[0])

        with open(self.recording, "rb") as f:
            raw = f.read()
        records = read_records(self.recording)
        decoded = b"".join(m for r in records for k in ("requests", "forwarded", "responses")
                           for m in messages(r, k))
        for secret in [s.encode() for s in SECRETS] + [EXEC_OUT, EXEC_ERR]:
            self.assertNotIn(secret, raw)
            self.assertNotIn(secret, decoded)

        create, exec_sync = records
        for key in ("requests", "forwarded"):
            config = pb.CreateContainerRequest.FromString(messages(create, key)[0]).config
            self.assertEqual(config.metadata.name, "probe")  # the rest is intact
            self.assertIn(b"SECRET_0", config.SerializeToString())
            self.assertIn(b"REDACTED", config.SerializeToString())
        response = pb.ExecSyncResponse.FromString(messages(exec_sync, "responses")[0])
        self.assertEqual((response.stdout, response.stderr, response.exit_code),
                         (b"REDACTED", b"REDACTED", 3))

        # The redacted recording still replays: --serve answers decodable messages.
        with ReplayServe(self.recording, os.path.join(self.dir, "serve.sock")) as serve:
            with channel(serve.socket) as ch:
                ch.unary_unary(CREATE)(request, timeout=CALL_TIMEOUT_S)
                served = pb.ExecSyncResponse.FromString(
                    ch.unary_unary(EXEC)(exec_request, timeout=CALL_TIMEOUT_S))
        self.assertEqual((served.stdout, served.exit_code), (b"REDACTED", 3))


if __name__ == "__main__":
    unittest.main()
