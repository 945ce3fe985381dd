#!/usr/bin/python3
"""Trim a crisp recording (--record, one JSON line per call) to a fixture of
a reasonable size, keeping what a replay needs to be worth something:

- every RunPodSandbox and CreateContainer, and every record with `expect`;
- every call that did not end OK;
- of every other method, the first N calls and the last one (N: --per-method,
  default 3), so each kind of call the client made is there, early and late.

Records keep their keys and their order; nothing inside a record changes.

    hack/trim-recording.py IN.jsonl OUT.jsonl [--per-method N]

tests/fixtures/README.md says which fixture was made with it, and how.
"""

import argparse
import collections
import json
import sys

ALWAYS = ("/RunPodSandbox", "/CreateContainer")


def trim(records, per_method):
    by_method = collections.defaultdict(list)
    for i, record in enumerate(records):
        by_method[record["method"]].append(i)
    keep = set()
    for method, indexes in by_method.items():
        if method.endswith(ALWAYS):
            keep.update(indexes)
        else:
            keep.update(indexes[:per_method])
            keep.add(indexes[-1])
    for i, record in enumerate(records):
        if "expect" in record or record.get("code", 0) != 0:
            keep.add(i)
    return [records[i] for i in sorted(keep)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--per-method", type=int, default=3)
    args = parser.parse_args()
    with open(args.input) as f:
        records = [json.loads(line) for line in f if line.strip()]
    kept = trim(records, args.per_method)
    with open(args.output, "w") as f:
        for record in kept:
            f.write(json.dumps(record) + "\n")
    methods = collections.Counter(r["method"].rsplit("/", 1)[1] for r in kept)
    print("trim-recording: kept %d of %d records, %d methods: %s"
          % (len(kept), len(records), len(methods),
             ", ".join("%s %d" % kv for kv in sorted(methods.items()))), file=sys.stderr)


if __name__ == "__main__":
    main()
