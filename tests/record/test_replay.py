"""`crisp replay`: --check over every fixture (and a wrong expectation that
must fail it), --serve answering a recording to --runtime-endpoint, the
difference report and --ignore, and recordings that are bad input: each a
clear error naming FILE:LINE, a non-zero exit, and no crash (also under the
sanitizer build, where ctest hands us that crisp)."""

import base64
import glob
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from recordlib import ReplayServe, replay  # noqa: E402
from protos import REPO  # noqa: E402
from testbed import CALL_TIMEOUT_S, channel, short_tempdir  # noqa: E402

FIXTURES = sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "*.jsonl")))
CRICTL = os.path.join(REPO, "tests", "fixtures", "crictl-containerd-1.6.20.jsonl")
ERAS = os.path.join(REPO, "tests", "fixtures", "kubelet-eras.jsonl")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class TempDir(unittest.TestCase):
    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def write(self, name, records=None, text=None):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            if text is not None:
                f.write(text)
            else:
                f.write("".join(json.dumps(r) + "\n" for r in records))
        return path


class Check(TempDir):
    def test_every_fixture_passes(self):
        self.assertGreaterEqual(len(FIXTURES), 2)
        for path in FIXTURES:
            with self.subTest(fixture=os.path.basename(path)):
                n = sum("expect" in r for r in load(path))
                out = replay(path, "--check")
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                self.assertIn("check: %s: %d records with expectations: %d passed, 0 failed"
                              % (path, n, n), out.stdout)

    def test_a_wrong_expectation_fails(self):
        records = [r for r in load(ERAS) if "expect" in r]
        changed = next(i for i, r in enumerate(records) if "container" in r["expect"])
        kept = next(i for i, r in enumerate(records) if r["expect"] == {"unchanged": True}
                    and r["method"].endswith("/CreateContainer"))
        records[changed]["expect"]["container"]["path"] = "localhost/wrong.json"
        records[kept]["expect"] = {"container": {"profile_type": 0, "localhost_ref": "",
                                                 "path": "runtime/default"}}
        path = self.write("wrong.jsonl", records)
        out = replay(path, "--check")
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("%s:%d %s: container: seccomp_profile_path is 'runtime/default', expected "
                      "'localhost/wrong.json'" % (path, changed + 1, records[changed]["name"]),
                      out.stdout)
        self.assertIn("%s:%d %s: container: " % (path, kept + 1, records[kept]["name"]),
                      out.stdout)
        self.assertIn("%d passed, 2 failed" % (len(records) - 2), out.stdout)

    def test_unchanged_that_is_changed_fails(self):
        record = next(r for r in load(ERAS) if "container" in r.get("expect", {}))
        record["expect"] = {"unchanged": True}
        path = self.write("one.jsonl", [record])
        out = replay(path, "--check")
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("request 1 reached the runtime changed: first difference at byte",
                      out.stdout)

    def test_nothing_to_check_is_an_error(self):
        path = self.write("none.jsonl", [{"method": "/a.B/C", "requests": [""]}])
        out = replay(path, "--check")
        self.assertEqual(out.returncode, 1)
        self.assertIn("no record carries an 'expect'", out.stderr)


class Serve(TempDir):
    def test_replaying_a_recording_against_its_own_serve_matches(self):
        sock = os.path.join(self.dir, "serve.sock")
        n = len(load(CRICTL))
        with ReplayServe(CRICTL, sock):
            out = replay(CRICTL, "--runtime-endpoint", sock)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertEqual(len(out.stdout.splitlines()), n + 1)
            self.assertIn("%d calls; status: %d matched, 0 differed" % (n, n), out.stdout)
            self.assertIn("responses: %d identical, 0 differed" % n, out.stdout)
            # Every record is used up now: the serve says so instead of inventing.
            again = replay(CRICTL, "--runtime-endpoint", "unix://" + sock)
            self.assertEqual(again.returncode, 1)
            self.assertIn("UNAVAILABLE, recorded OK: \"crisp replay: every recorded call of",
                          again.stdout)

    def test_streams_and_unknown_methods(self):
        records = [{"method": "/runtime.v1.RuntimeService/GetContainerEvents",
                    "requests": [""], "responses": [base64.b64encode(b"e%d" % i).decode()
                                                    for i in range(3)],
                    "code": 4, "details": "deadline"}]
        path = self.write("stream.jsonl", records)
        sock = os.path.join(self.dir, "serve.sock")
        with ReplayServe(path, sock):
            with channel(sock) as ch:
                call = ch.unary_stream(records[0]["method"])(b"", timeout=CALL_TIMEOUT_S)
                got = []
                with self.assertRaises(grpc.RpcError) as ctx:
                    for message in call:
                        got.append(message)
                self.assertEqual(got, [b"e0", b"e1", b"e2"])
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
                self.assertEqual(ctx.exception.details(), "deadline")
                with self.assertRaises(grpc.RpcError) as ctx:
                    ch.unary_unary("/runtime.v1.RuntimeService/Nope")(b"", timeout=CALL_TIMEOUT_S)
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


class Differences(TempDir):
    METHOD = "/runtime.v1.RuntimeService/ContainerStatus"

    def recordings(self):
        base = [{"method": self.METHOD, "requests": ["CgFh"],
                 "responses": [base64.b64encode(b"\x0a\x03abc\x10\x01").decode()],
                 "code": 0, "details": ""}]
        other = json.loads(json.dumps(base))
        other[0]["responses"] = [base64.b64encode(b"\x0a\x03abc\x10\x02").decode()]
        return self.write("served.jsonl", base), self.write("expected.jsonl", other)

    def test_a_different_response_fails_naming_where(self):
        served, expected = self.recordings()
        sock = os.path.join(self.dir, "serve.sock")
        with ReplayServe(served, sock):
            out = replay(expected, "--runtime-endpoint", sock)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("DIFFERS %s:1 ContainerStatus: OK; response 1 differs at byte 6 (field 2)"
                      % expected, out.stdout)
        self.assertIn("FAILED", out.stdout)

    def test_ignore_accepts_it(self):
        served, expected = self.recordings()
        for name in ("ContainerStatus", "Version," + self.METHOD):
            with self.subTest(ignore=name):
                sock = os.path.join(self.dir, "serve.sock")
                with ReplayServe(served, sock):
                    out = replay(expected, "--runtime-endpoint", sock, "--ignore", name)
                self.assertEqual(out.returncode, 0, out.stdout)
                self.assertIn("[ignored]", out.stdout)
                self.assertIn("1 ignored", out.stdout)


class BadRecordings(TempDir):
    """Each bad recording: exit 1, one clear line naming FILE:LINE, no crash,
    and nothing sent anywhere (the endpoint does not even exist)."""

    GOOD = '{"method": "/runtime.v1.RuntimeService/Version", "requests": ["CgJ2MQ=="]}\n'
    CASES = {
        "truncated": (GOOD + GOOD + '{"method": "/runtime.v1.RuntimeService/Version", "requ',
                      ":3: truncated line"),
        "invalid_base64": (GOOD + '{"method": "/a.B/C", "requests": ["CgJ!MQ=="]}\n',
                           ":2: requests[0]: invalid base64: character '!' at offset 3"),
        "unknown_method": (GOOD + '{"method": "Version", "requests": []}\n',
                           ":2: unknown method 'Version'"),
        "empty": ("", ": the recording is empty"),
        "invalid_json": ('{"method": "/a.B/C", "requests": [],}\n', ":1: invalid JSON"),
        "missing_key": ('{"requests": []}\n', ":1: the record has no 'method'"),
        "ill_typed": ('{"method": "/a.B/C", "requests": [], "code": "OK"}\n',
                      ":1: 'code' must be an integer"),
    }

    def test_each_is_a_clear_error(self):
        missing = os.path.join(self.dir, "nobody-listens.sock")
        for name, (text, says) in self.CASES.items():
            path = self.write(name + ".jsonl", text=text)
            for mode in (["--print"], ["--check"], ["--runtime-endpoint", missing],
                         ["--serve", os.path.join(self.dir, "s.sock")]):
                with self.subTest(case=name, mode=mode[0]):
                    out = replay(path, *mode, timeout=60)
                    self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
                    self.assertEqual(out.stdout, "")
                    self.assertIn("crisp replay: " + path + says, out.stderr)
                    self.assertEqual(out.stderr.count("\n"), 1, out.stderr)

    def test_a_missing_file(self):
        out = replay(os.path.join(self.dir, "nope.jsonl"), "--print")
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot open", out.stderr)

    def test_bad_command_lines_exit_2(self):
        path = self.write("ok.jsonl", text=self.GOOD)
        for args, says in (((path,), "choose one of"),
                           ((path, "--print", "--check"), "choose one of"),
                           ((path, "--print", "--ignore", "Version"),
                            "--ignore goes with --runtime-endpoint"),
                           (("--print",), "which recording"),
                           ((path, path, "--print"), "unexpected argument"),
                           ((path, "--serve", "relative.sock"), "absolute"),
                           ((path, "--print", "--bogus"), "unknown flag --bogus")):
            with self.subTest(args=args):
                out = replay(*args)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(says, out.stderr)
                self.assertIn("usage: crisp replay", out.stderr)


class Binary(TempDir):
    """`crisp replay` is the binary crisp-replay beside crisp: the daemon
    itself carries no gRPC."""

    def test_replay_runs_the_binary_beside_crisp(self):
        import subprocess
        from crisp import crisp_binary
        beside = os.path.join(os.path.dirname(crisp_binary()), "crisp-replay")
        self.assertTrue(os.access(beside, os.X_OK), beside)
        out = subprocess.run([crisp_binary(), "replay", "--help"], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("usage: crisp replay FILE", out.stdout)

    def test_without_it_crisp_says_what_is_missing(self):
        import shutil
        import subprocess
        from crisp import crisp_binary
        alone = os.path.join(self.dir, "crisp")
        shutil.copy(crisp_binary(), alone)
        out = subprocess.run([alone, "replay", "--help"], capture_output=True, text=True,
                             timeout=60, env=dict(os.environ, PATH=self.dir))
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("replay needs the binary crisp-replay", out.stderr)


if __name__ == "__main__":
    unittest.main()
