"""End to end on a real containerd: record the kubelet-shaped lifecycle of a
pod and a container with no seccomp profile through crisp, then replay the
recording against the same containerd (directly, and through a crisp).

Needs root, containerd, runc and busybox-static (tests/e2e/containerd.py); a
missing one fails the module loudly, never skips it.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import recordlib  # noqa: E402,F401  (sets up the import path)
from recordlib import check_well_formed, messages, read_records, replay  # noqa: E402
import cri_client  # noqa: E402
from containerd import PrivateContainerd  # noqa: E402
from crisp import Crisp  # noqa: E402
from testbed import short_tempdir  # noqa: E402

pb = cri_client.pb
SECRET_ENV = "env-secret-value-7f3a"
# What the exec prints: made from the environment inside the container, so
# that it appears nowhere in the exec's own command line.
SECRET_STDOUT = "out:%s:out" % SECRET_ENV
SECRET_STDERR = "err:%s:err" % SECRET_ENV
METHODS = ["RunPodSandbox", "CreateContainer", "StartContainer", "ExecSync", "StopContainer",
           "RemoveContainer", "StopPodSandbox", "RemovePodSandbox"]


def with_env(config, key, value):
    """ContainerConfig plus envs (field 6, KeyValue{key = 1, value = 2}); the
    test client's schema has no envs, so the field goes on the wire by hand."""
    kv = pb.ContainerMetadata(name=key).SerializeToString() + \
        b"\x12" + bytes([len(value)]) + value.encode()
    raw = config.SerializeToString() + b"\x32" + bytes([len(kv)]) + kv
    return pb.ContainerConfig.FromString(raw)


def run_scenario(socket_path):
    """A pod and a container with no seccomp, an exec, stop and remove; what
    the kubelet does for a short-lived pod. Returns the exec's answer."""
    with cri_client.CriClient(socket_path) as cri:
        pod = cri_client.pod_config()
        created = {}
        try:
            created["pod"] = cri.call("RunPodSandbox", config=pod).pod_sandbox_id
            config = with_env(cri_client.container_config(), "CRISP_SECRET", SECRET_ENV)
            created["container"] = cri.call("CreateContainer", pod_sandbox_id=created["pod"],
                                            sandbox_config=pod, config=config).container_id
            cri.call("StartContainer", container_id=created["container"])
            answer = cri.call("ExecSync", container_id=created["container"],
                              timeout=cri_client.EXEC_TIMEOUT_S,
                              cmd=["/bin/sh", "-c",
                                   "echo out:$CRISP_SECRET:out; echo err:$CRISP_SECRET:err >&2"])
        finally:
            # Stop and remove, as the recording's last four calls.
            if "container" in created:
                cri.call("StopContainer", container_id=created["container"], timeout=0)
                cri.call("RemoveContainer", container_id=created["container"])
            if "pod" in created:
                cri.call("StopPodSandbox", pod_sandbox_id=created["pod"])
                cri.call("RemovePodSandbox", pod_sandbox_id=created["pod"])
        return pod, answer


class RecordReplayEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.containerd = PrivateContainerd().start()

    @classmethod
    def tearDownClass(cls):
        cls.containerd.stop()

    def setUp(self):
        tmp = short_tempdir()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.recording = os.path.join(self.dir, "kubelet.jsonl")

    def record(self, *args):
        with Crisp(self.containerd.socket, listen=os.path.join(self.dir, "crisp.sock"),
                   args=["--record", self.recording] + list(args)) as crisp:
            pod, answer = run_scenario(crisp.listen)
        # The environment reached the container, and the exec really ran.
        self.assertEqual(answer.exit_code, 0)
        self.assertEqual(answer.stdout.decode(), SECRET_STDOUT + "\n")
        self.assertEqual(answer.stderr.decode(), SECRET_STDERR + "\n")
        records = read_records(self.recording)
        self.assertEqual([r["method"].rsplit("/", 1)[1] for r in records], METHODS)
        for record in records:
            check_well_formed(self, record)
            self.assertEqual(record["code"], 0, record)
        return pod, {r["method"].rsplit("/", 1)[1]: r for r in records}

    def test_record_then_replay_against_containerd(self):
        pod, records = self.record()
        identity = {"namespace": pod.metadata.namespace, "name": pod.metadata.name,
                    "uid": pod.metadata.uid}
        # crisp defaulted the sandbox and the container: both carry what it sent.
        for method in ("RunPodSandbox", "CreateContainer"):
            record = records[method]
            self.assertEqual(record["pod"], identity)
            self.assertIn("forwarded", record, method)
            self.assertNotEqual(messages(record, "forwarded"), messages(record, "requests"))
            forwarded = messages(record, "forwarded")[0]
            self.assertIn(b"runtime/default", forwarded)
        self.assertEqual(records["CreateContainer"]["container"], "probe")
        self.assertNotIn("container", records["RunPodSandbox"])
        for method in METHODS[2:]:
            self.assertNotIn("forwarded", records[method])

        printed = replay(self.recording, "--print")
        self.assertEqual(printed.returncode, 0, printed.stderr)
        self.assertIn("sandbox: absent path='' -> RuntimeDefault path='runtime/default'",
                      printed.stdout)

        # New ids every time; everything else answers as recorded.
        out = replay(self.recording, "--runtime-endpoint", self.containerd.socket)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("8 calls; status: 8 matched, 0 differed", out.stdout)

        # And through a crisp in front of it, which rewrites the requests again.
        with Crisp(self.containerd.socket, listen=os.path.join(self.dir, "again.sock")) as crisp:
            out = replay(self.recording, "--runtime-endpoint", crisp.listen)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("8 calls; status: 8 matched, 0 differed", out.stdout)
        self.assertEqual(crisp.count_log("seccomp defaulted"), 3, crisp.log())

    def test_redacted_recording_holds_no_secret_and_still_replays(self):
        _, records = self.record("--record-redact")
        with open(self.recording, "rb") as f:
            raw = f.read()
        decoded = b"".join(m for r in records.values()
                           for key in ("requests", "forwarded", "responses")
                           for m in messages(r, key))
        for secret in (SECRET_ENV, SECRET_STDOUT, SECRET_STDERR):
            self.assertNotIn(secret.encode(), raw)
            self.assertNotIn(secret.encode(), decoded)
        self.assertIn(b"CRISP_SECRET", decoded)  # the key stays: it says what was set
        exec_answer = pb.ExecSyncResponse.FromString(messages(records["ExecSync"], "responses")[0])
        self.assertEqual((exec_answer.stdout, exec_answer.stderr), (b"REDACTED", b"REDACTED"))

        # The exec's real output now differs from the recorded marker: that
        # answer is ignored, every status must still match.
        out = replay(self.recording, "--runtime-endpoint", self.containerd.socket,
                     "--ignore", "ExecSync")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("8 calls; status: 8 matched, 0 differed", out.stdout)
        self.assertIn("1 ignored", out.stdout)


if __name__ == "__main__":
    unittest.main()
