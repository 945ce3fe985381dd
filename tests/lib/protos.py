"""Compile a .proto file to a Python module at test time.

Generated code is never committed; protoc (protobuf-compiler) and the
python3-protobuf runtime come from the same Debian release, so they match.
"""

import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile

_cache = {}
_outdir = tempfile.mkdtemp(prefix="crisp-py-protos-")
atexit.register(shutil.rmtree, _outdir, ignore_errors=True)
sys.path.insert(0, _outdir)


def load(proto_path):
    """Return the generated Python module (`<name>_pb2`) for `proto_path`."""
    proto_path = os.path.abspath(proto_path)
    if proto_path in _cache:
        return _cache[proto_path]
    include, name = os.path.split(proto_path)
    subprocess.run(["protoc", "-I", include, "--python_out", _outdir, name], check=True)
    module = importlib.import_module(os.path.splitext(name)[0] + "_pb2")
    _cache[proto_path] = module
    return module


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def crisp_api():
    """The CRI subset crisp itself decodes (api/cri.proto)."""
    return load(os.path.join(REPO, "api", "cri.proto"))
