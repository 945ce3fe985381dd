"""A transcript of CRI answers that two runs of the same script can compare.

Each step of a run notes what it got (a response message, an error's code
and details, a stream's output, a log file). Noting normalises what differs
between two runs by nature and nothing else:
- ids (64 hex digits, not `sha256:` digests, which are content) become
  <id1>, <id2>, ... in order of first appearance;
- times (`created_at`, `started_at`, `finished_at`, `timestamp`) become
  <time> when set, pids (`pid`, /proc/N/) become <pid>;
- streaming-URL tokens (/exec/TOKEN) become <token>;
- usage numbers (the UInt64Value wrappers under cpu, memory,
  writable_layer, image_filesystems) become <n>, and their time stamps
  <time>, set or not: whether containerd has a sample yet is a matter of
  timing;
- lists of pods, containers, stats and images are put in the order of
  their names: containerd lists from a map;
- the time stamp that opens each line of a CRI log file is dropped;
- JSON strings in `info` maps are parsed, so a difference shows as a path.
`flatten` turns a transcript into {path: value}; `differences` compares two.
"""

import json
import re

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

ABSENT = "<absent>"
TIMES = {"created_at", "started_at", "finished_at", "timestamp", "createdAt"}
USAGE = {"cpu", "memory", "writable_layer", "image_filesystems"}
_ID = re.compile(r"(?<![0-9a-f:])[0-9a-f]{64}(?![0-9a-f])")
_TOKEN = re.compile(r"(/(?:exec|attach|portforward)/)[A-Za-z0-9_-]+")
_PROC = re.compile(r"/proc/\d+/")
_LOG_TIME = re.compile(r"^\S+ (stdout|stderr) ", re.M)


class Transcript:
    def __init__(self):
        self.steps = []
        self._ids = {}

    def note(self, step, value):
        if any(step == s for s, _ in self.steps):
            raise AssertionError("step %r noted twice" % step)
        if isinstance(value, Message):
            value = MessageToDict(value, preserving_proto_field_name=True)
        self.steps.append((step, self._normalise(value, ())))
        return value

    def note_log(self, step, text):
        """A CRI log file's lines, without their time stamps."""
        return self.note(step, _LOG_TIME.sub(r"\1 ", text).splitlines())

    def _id(self, match):
        return self._ids.setdefault(match.group(0), "<id%d>" % (len(self._ids) + 1))

    def _string(self, text):
        text = _ID.sub(self._id, text)
        text = _TOKEN.sub(r"\1<token>", text)
        return _PROC.sub("/proc/<pid>/", text)

    def _normalise(self, value, path):
        key = path[-1] if path else None
        if isinstance(value, dict):
            if set(value) <= {"value"} and USAGE & set(path):
                return "<n>"
            out = {}
            for k in sorted(value):  # a stable order, for the ids' numbering
                v = value[k]
                if path and path[-1] == "info" and isinstance(v, str) and v[:1] in ("{", "["):
                    v = json.loads(v)
                out[self._string(k)] = self._normalise(v, path + (k,))
            if key in USAGE:
                out["timestamp"] = "<time>"
            return out
        if isinstance(value, list):
            if value and all(_name(v) is not None for v in value):
                value = sorted(value, key=_name)
            return [self._normalise(v, path + (str(i),)) for i, v in enumerate(value)]
        if key in TIMES and value not in (0, "0", None, ""):
            return "<time>"
        if key == "pid" and isinstance(value, int):
            return "<pid>"
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        if isinstance(value, str):
            return self._string(value)
        return value

    def flatten(self):
        out = {}
        for step, value in self.steps:
            _flatten(value, step, out)
        return out


def _name(item):
    """What a listed pod, container, stats entry or image is named by."""
    if not isinstance(item, dict):
        return None
    meta = item.get("metadata") or (item.get("attributes") or {}).get("metadata")
    if meta is not None:
        return json.dumps(meta, sort_keys=True)
    if "repo_tags" in item:
        return json.dumps(item["repo_tags"])
    return None


def _flatten(value, prefix, out):
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, prefix + "/" + k, out)
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            _flatten(v, "%s/%d" % (prefix, i), out)
    else:
        out[prefix] = value


def differences(a, b):
    """{path: (value in a, value in b)} wherever two transcripts differ."""
    fa, fb = a.flatten(), b.flatten()
    return {p: (fa.get(p, ABSENT), fb.get(p, ABSENT))
            for p in sorted(set(fa) | set(fb)) if fa.get(p, ABSENT) != fb.get(p, ABSENT)}
