#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into the build folder.

    gen_seeds.py OUT_DIR TARGET...

For each TARGET, OUT_DIR/TARGET/ is emptied and filled from:
  - the generator for TARGET below, if there is one (GENERATORS);
  - tests/fuzz/seeds/TARGET/*, text seeds copied as they are, if the folder exists;
  - tests/fuzz/regressions/TARGET.txt, if it exists: one input per line, in
    hex (spaces allowed), `#` starts a comment. Every finding that was fixed
    goes there, so each run checks it first.

Nothing binary is committed: seeds are made from tests/fixtures/*.jsonl,
deploy/crisp.yaml, the text of the unit tests (C string literals) and of
tests/operate, and from the small protobuf writer below. Standard library only.
"""

import base64
import codecs
import glob
import hashlib
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

# ---- a tiny protobuf writer ----------------------------------------------------


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def key(field, wire_type):
    return varint(field << 3 | wire_type)


def vint(field, v):
    """A varint field; negative numbers as Go encodes an int32 (10 bytes)."""
    return key(field, 0) + varint(v & 0xFFFFFFFFFFFFFFFF)


def ld(field, payload):
    """A length-delimited field (string, bytes or message)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return key(field, 2) + varint(len(payload)) + payload


# ---- fuzz_rewrite --------------------------------------------------------------
#
# Selector byte: bit 0 = CreateContainer (else RunPodSandbox), bit 1 = policy
# keep (else runtime-default). See fuzz_rewrite.c.

RUN_POD_SANDBOX, CREATE_CONTAINER = 0, 1
POLICY_DEFAULT, POLICY_KEEP = 0, 2

UNCONFINED, LOCALHOST = 1, 2


def profile(ptype=None, ref=None, extra=b""):
    out = b""
    if ptype is not None:
        out += vint(1, ptype)
    if ref is not None:
        out += ld(2, ref)
    return out + extra


def container_sc(path=None, seccomp=None, extra=b""):
    """LinuxContainerSecurityContext: privileged 2, path 10, seccomp 15."""
    out = extra
    if path is not None:
        out += ld(10, path)
    if seccomp is not None:
        out += ld(15, seccomp)
    return out


def sandbox_sc(path=None, seccomp=None, extra=b""):
    """LinuxSandboxSecurityContext: privileged 6, path 7, seccomp 9."""
    out = extra
    if path is not None:
        out += ld(7, path)
    if seccomp is not None:
        out += ld(9, seccomp)
    return out


def sandbox_config(sc=None, linux=True, extra=b""):
    md = ld(1, "web") + ld(2, "uid-1") + ld(3, "team-a") + vint(4, 0)
    out = ld(1, md) + extra
    if linux:
        out += ld(8, ld(2, sc) if sc is not None else b"")
    return out


def create_container(csc=None, ssc=None, clinux=True, slinux=True, extra=b""):
    cfg = ld(1, ld(1, "app") + vint(2, 1))
    if clinux:
        cfg += ld(15, ld(2, csc) if csc is not None else b"")
    return ld(1, "0123abcd") + ld(2, cfg) + ld(3, sandbox_config(ssc, slinux)) + extra


def run_pod_sandbox(ssc=None, linux=True, extra=b""):
    return ld(1, sandbox_config(ssc, linux)) + ld(2, "runc") + extra


def fixture_requests():
    """Every RunPodSandbox / CreateContainer request in tests/fixtures."""
    for path in sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "*.jsonl"))):
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                method = rec["method"].rsplit("/", 1)[1]
                sel = {"RunPodSandbox": RUN_POD_SANDBOX,
                       "CreateContainer": CREATE_CONTAINER}.get(method)
                if sel is None:
                    continue
                for req in rec.get("requests", []):
                    yield os.path.basename(path), sel, base64.b64decode(req)


def seeds_fuzz_rewrite():
    fixtures = list(fixture_requests())
    for name, sel, req in fixtures:
        for policy in (POLICY_DEFAULT, POLICY_KEEP):
            yield "fixture", bytes([sel | policy]) + req
        # Truncated: half, and all but the last byte.
        yield "truncated", bytes([sel]) + req[: len(req) // 2]
        yield "truncated", bytes([sel]) + req[:-1]

    cc, rps = CREATE_CONTAINER, RUN_POD_SANDBOX
    rd, unconf = profile(), profile(UNCONFINED)
    edge = [
        # Empty request, for both methods and policies.
        (rps, b""), (cc, b""), (rps | POLICY_KEEP, b""), (cc | POLICY_KEEP, b""),
        # Every row of the rule, in the container and in the sandbox.
        (cc, create_container(container_sc(), sandbox_sc())),
        (cc, create_container(container_sc(seccomp=unconf), sandbox_sc(seccomp=rd))),
        (cc | POLICY_KEEP, create_container(container_sc(seccomp=unconf), sandbox_sc(seccomp=rd))),
        (cc, create_container(container_sc("unconfined", unconf), sandbox_sc("unconfined"))),
        (cc, create_container(container_sc("docker/default", unconf),
                              sandbox_sc("runtime/default", unconf))),
        (cc, create_container(container_sc("localhost/p.json", profile(LOCALHOST, "p.json")),
                              sandbox_sc("", profile(LOCALHOST, "x")))),
        (cc, create_container(container_sc("", profile(7)), sandbox_sc("", profile(-1)))),
        (cc, create_container(container_sc("", profile(UNCONFINED, "stale.json")))),
        (rps, run_pod_sandbox(sandbox_sc())),
        (rps, run_pod_sandbox(sandbox_sc("", unconf))),
        (rps, run_pod_sandbox(sandbox_sc("runtime/default", rd))),
        # No linux block (Windows), and a linux block without a security context.
        (cc, create_container(clinux=False, slinux=False)),
        (cc, create_container(None, None)),
        (rps, run_pod_sandbox(linux=False)),
        (rps, run_pod_sandbox(None)),
        # Duplicated seccomp: Unconfined then {} merges to Unconfined; {} then
        # Unconfined is Unconfined; an explicit 0 later is RuntimeDefault.
        (cc, create_container(container_sc(extra=ld(15, unconf) + ld(15, rd)))),
        (cc, create_container(container_sc(extra=ld(15, rd) + ld(15, unconf)))),
        (cc, create_container(container_sc(extra=ld(15, unconf) + ld(15, vint(1, 0))))),
        (rps, run_pod_sandbox(sandbox_sc(extra=ld(9, unconf) + ld(9, rd)))),
        # Duplicated path: the last one wins.
        (cc, create_container(container_sc(extra=ld(10, "unconfined") + ld(10, ""),
                                           seccomp=unconf))),
        # Unknown fields at every level, including inside seccomp.
        (cc, create_container(
            container_sc(seccomp=profile(UNCONFINED, extra=ld(7, "future")),
                         extra=vint(2, 1) + ld(1, ld(2, "ALL")) + vint(11, 1) + vint(99, 12345)),
            sandbox_sc(extra=ld(3, "ns")),
            extra=ld(42, "from a newer CRI"))),
        (rps, run_pod_sandbox(sandbox_sc(extra=vint(6, 1) + ld(5, "x")), extra=ld(3, "cfg"))),
        # Duplicated parent blocks with unknown fields in the first one.
        (cc, ld(2, ld(1, ld(1, "app")) + ld(2, ld(1, "busybox")) +
                ld(15, ld(2, ld(1, ld(2, "ALL")) + vint(11, 1) + ld(15, unconf)))) +
         ld(2, ld(15, ld(2, b"")))),
        # Wrong wire type for a known field; a field number crisp does not know
        # holding a group (protobuf-c refuses groups).
        (cc, vint(2, 7)),
        (cc, key(50, 3) + key(50, 4)),
    ]
    for sel, req in edge:
        yield "edge", bytes([sel]) + req


# ---- text taken from the unit tests ----------------------------------------------

# One C string literal, or several written one after the other.
C_STRINGS = r'((?:"(?:[^"\\\n]|\\.)*"\s*)+)'


def c_string_arguments(path, functions):
    """The string literal first argument of every call of `functions` in the C
    file `path`, and every `static const char NAME[] = "..."` there, decoded
    (C escapes) to bytes."""
    with open(path) as f:
        src = f.read()
    pattern = r'(?:\b(?:%s)\(\s*|static const char \w+\[\] =\s*)%s' % (
        "|".join(functions), C_STRINGS)
    for m in re.finditer(pattern, src):
        parts = re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(1))
        yield codecs.escape_decode("".join(parts).encode())[0]


def python_triple_quoted(path):
    """Every \"\"\"...\"\"\" constant assigned at the top of a Python file."""
    with open(path) as f:
        src = f.read()
    for m in re.finditer(r'^[A-Z_]+ = """(.*?)"""', src, re.S | re.M):
        yield m.group(1).encode()


# ---- fuzz_config -------------------------------------------------------------------
#
# The file's bytes. Seeds: deploy/crisp.yaml (every key), the configs of
# tests/unit/config/test_config.c (every key, every kind of error), and YAML that
# libyaml reads in less usual ways.

def seeds_fuzz_config():
    with open(os.path.join(REPO, "deploy", "crisp.yaml"), "rb") as f:
        deploy = f.read()
    yield "deploy", deploy
    yield "truncated", deploy[: len(deploy) // 2]
    for text in c_string_arguments(os.path.join(REPO, "tests", "unit", "config", "test_config.c"),
                                   ["write_config", "assert_config_error"]):
        yield "unit", text
    edge = [
        b"",
        b"---\n...\n",
        b"# only a comment\n",
        b"mode: audit\n---\nmode: off\n",  # a second document is not read
        b"\xef\xbb\xbfmode: audit\n",  # UTF-8 byte order mark
        "mode: audit\nthreads: 2\n".encode("utf-16"),  # UTF-16 with its mark
        b"{mode: enforce, threads: 64, socketMode: '0777', maxMessageSize: 1024}",
        b"exemptions: &e\n  namespaces: [a]\nlog: *e\n",  # an alias
        b"exemptions:\n  podLabels: {&k a: b, *k : c}\n",  # an aliased key
        b"? listen\n: /run/a.sock\n",  # an explicit key
        b"listen: !!str /run/a.sock\nthreads: !!int 3\n",  # tags
        b"record:\n  path: >-\n    /var/log/\n    crisp.jsonl\n  redact: false\n",
        b"mode: \"audit\"\nlog: {level: \"debug\", format: 'text'}\n",
        b"metrics:\n  listen: \"[::1]:9760\"\n",
        b"metrics:\n  listen: unix:///run/crisp/metrics.sock\n",
        b"metrics:\n  listen: \"\"\n",
        b"shutdownGracePeriod: 3600\nrecord: {maxMessages: 1000000, maxSize: 4096,"
        b" queueSize: 65536}\n",
        b"threads: 0x10\nsocketMode: 0o777\n",
        b"mode: \"audit\\0\"\n",  # an escaped NUL in a value
        b"[listen, mode]\n",
        b"listen:\n  - /a\n",
    ]
    for text in edge:
        yield "edge", text


# ---- fuzz_seccomp_profile ----------------------------------------------------------
#
# The profile's bytes. Seeds: the profiles of tests/unit/config/test_seccomp_profile.c
# (among them a Docker-style one with archMap and per-rule includes/excludes)
# and of tests/operate, and edge cases.

def seeds_fuzz_seccomp_profile():
    for text in c_string_arguments(
            os.path.join(REPO, "tests", "unit", "config", "test_seccomp_profile.c"),
            ["check", "assert_refused"]):
        yield "unit", text
    for text in python_triple_quoted(os.path.join(REPO, "tests", "operate", "operatelib.py")):
        if b"defaultAction" in text:
            yield "operate", text
    edge = [
        b"",
        b"{}",
        b"null",
        b'{"defaultAction": "SCMP_ACT_ALLOW"} trailing',
        b'{"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/l.sock"}',
        b'{"defaultAction": "SCMP_ACT_NOTIFY"}',
        b'{"defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": 65535}',
        b'{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}',
        b'{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"name": "read",'
        b' "action": "SCMP_ACT_ALLOW"}]}',
        b'{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"],'
        b' "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 9, "valueTwo": 0,'
        b' "op": "SCMP_CMP_MASKED_EQ"}, {"index": 1, "value": 15, "op": "SCMP_CMP_NE"}]}]}',
        b'{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", "no_such_call",'
        b' "another_typo"], "action": "SCMP_ACT_LOG"}]}',
        b'{"defaultAction": "SCMP_ACT_ALLOW", "architectures": null, "flags": null,'
        b' "syscalls": null}',
        b'{"defaultAction": "SCMP_ACT_ALLOW\\u0000x"}',  # an escaped NUL in a name
        b'{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],'
        b' "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 18446744073709551615,'
        b' "op": "SCMP_CMP_GT"}]}]}',
    ]
    for text in edge:
        yield "edge", text


# ---- fuzz_recording ----------------------------------------------------------------
#
# One line of a recording. Seeds: every line of tests/fixtures/*.jsonl (with
# and without its newline, and cut short), and edge cases.

def seeds_fuzz_recording():
    for path in sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "*.jsonl"))):
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                body = line.rstrip(b"\n")
                yield "fixture", body + b"\n"
                yield "truncated", body[: len(body) // 2]
    m = '"method": "/runtime.v1.RuntimeService/CreateContainer"'
    edge = [
        b"",
        b"{}",
        b"[]",
        b'{"method": "/a.B/C", "requests": []}',
        b'{"method": "/a.B/C", "requests": [""], "responses": ["AA=="],'
        b' "forwarded": ["AAE="], "code": 16, "details": "nul \\u0000 and \\ud83d\\ude00",'
        b' "time": "2026-11-28T21:14:18.913+01:00", "duration_us": 0,'
        b' "truncated": {"requests": 1, "responses": 0}}',
        ('{%s, "name": "n", "pod": {"namespace": "a", "name": "b", "uid": "c"},'
         ' "container": "x", "requests": ["CgA="], "expect": {"container": {"profile_type": 0,'
         ' "localhost_ref": "", "path": ""}, "sandbox_config": {"profile_type": 2,'
         ' "localhost_ref": "p.json", "path": "localhost/p.json"}}}' % m).encode(),
        ('{%s, "requests": ["CgA="], "expect": {"unchanged": true}}' % m).encode(),
        ('{%s, "requests": [], "expect": {"unchanged": true}}' % m).encode(),
        b'{"method": "/runtime.v1.RuntimeService/RunPodSandbox", "requests": ["Cg=="],'
        b' "expect": {"sandbox": {"profile_type": 1, "localhost_ref": "", "path": "unconfined"}}}',
        b'{"method": "/a.B/C", "requests": ["QQ"]}',  # no padding
        b'{"method": "/a.B/C", "requests": ["QR=="]}',  # non-zero padding bits
        b'{"method": "/a.B/C", "requests": [], "pod": {"name": "a\\u0000b"}}',
        b'{"method": "/a.B/C", "requests": [], "code": 17}',
        b'{"method": "/a.B/C", "requests": [], "duration_us": 9223372036854775808}',
        b'{"method": "/a.B/C", "requests": []} {}',
        b'{"method": "/a.B/C", "requests": []}   ',
        b'{"method": "/a.B/C", "requests": [], "time": "2026-11-28T21:14:18Z"}\n',
        b'{"method": "/a.B/C", "requests": [], "method": "/d.E/F"}',
    ]
    for text in edge:
        yield "edge", text


# ---- fuzz_relay: HTTP/2 from both sides ------------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, sid, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags]) +
            sid.to_bytes(4, "big") + payload)


def grpc_msg(payload):
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def h2_headers(fields):
    """A header block: every field a literal without indexing, names and
    values as they are (no Huffman), so no HPACK library is needed."""
    out = b""
    for name, value in fields:
        out += b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    return out


def relay_request(sid, path, body):
    fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", path),
              (b":authority", b"localhost"), (b"content-type", b"application/grpc"),
              (b"te", b"trailers"), (b"grpc-timeout", b"5S")]
    return (h2_frame(1, 4, sid, h2_headers(fields)) +
            h2_frame(0, 1, sid, grpc_msg(body)))


def relay_response(sid, body, code=b"0"):
    return (h2_frame(1, 4, sid, h2_headers([(b":status", b"200"),
                                            (b"content-type", b"application/grpc")])) +
            h2_frame(0, 0, sid, grpc_msg(body)) +
            h2_frame(1, 5, sid, h2_headers([(b"grpc-status", code), (b"grpc-message", b"")])))


def relay_input(flags, client, runtime):
    return bytes([flags]) + len(client).to_bytes(2, "little") + client + runtime


def seeds_fuzz_relay():
    settings = h2_frame(4, 0, 0)
    ack = h2_frame(4, 1, 0)
    client_start = H2_PREFACE + settings + ack
    runtime_start = settings + ack
    creates = [r for _, sel, r in fixture_requests() if sel == CREATE_CONTAINER][:2]
    runs = [r for _, sel, r in fixture_requests() if sel == RUN_POD_SANDBOX][:2]
    calls = [(b"/runtime.v1.RuntimeService/Version", b"\x0a\x020.1")]
    calls += [(b"/runtime.v1.RuntimeService/CreateContainer", r) for r in creates]
    calls += [(b"/runtime.v1.RuntimeService/RunPodSandbox", r) for r in runs]
    for flags in (0, 1, 2):
        for path, body in calls:
            client = client_start + relay_request(1, path, body)
            runtime = runtime_start + relay_response(1, b"\x0a\x01x")
            yield "h2", relay_input(flags, client, runtime)
        # several calls, one connection; a reset; a ping; a goaway
        client = client_start + b"".join(relay_request(2 * i + 1, p, b) for i, (p, b)
                                         in enumerate(calls))
        client += h2_frame(3, 0, 3, (8).to_bytes(4, "big")) + h2_frame(6, 0, 0, b"12345678")
        runtime = runtime_start + relay_response(1, b"") + relay_response(3, b"", b"5")
        runtime += h2_frame(7, 0, 0, (5).to_bytes(4, "big") + (0).to_bytes(4, "big"))
        yield "h2", relay_input(flags, client, runtime)


GENERATORS = {
    "fuzz_rewrite": seeds_fuzz_rewrite,
    "fuzz_config": seeds_fuzz_config,
    "fuzz_seccomp_profile": seeds_fuzz_seccomp_profile,
    "fuzz_recording": seeds_fuzz_recording,
    "fuzz_relay": seeds_fuzz_relay,
}

# ---- output ----------------------------------------------------------------------


def regression_inputs(target):
    path = os.path.join(HERE, "regressions", target + ".txt")
    if not os.path.exists(path):
        return
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            text = line.split("#", 1)[0].split()
            if text:
                try:
                    yield "regression", bytes.fromhex("".join(text))
                except ValueError as e:
                    sys.exit("%s:%d: not hex: %s" % (path, lineno, e))


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: gen_seeds.py OUT_DIR TARGET...")
    out_dir = sys.argv[1]
    for target in sys.argv[2:]:
        folder = os.path.join(out_dir, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        inputs = list(GENERATORS.get(target, lambda: [])())
        inputs += list(regression_inputs(target))
        text_seeds = os.path.join(HERE, "seeds", target)
        for path in sorted(glob.glob(os.path.join(text_seeds, "*"))):
            with open(path, "rb") as f:
                inputs.append(("text", f.read()))
        seen = set()
        for kind, data in inputs:
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            with open(os.path.join(folder, "%s-%s" % (kind, digest[:16])), "wb") as f:
                f.write(data)
        print("gen_seeds: %s: %d seeds" % (target, len(seen)))


if __name__ == "__main__":
    main()
