#!/usr/bin/python3
"""Writes a one-layer container image as a `docker save` archive, without a
container engine and without pulling anything.

    image-archive.py --layer-dir DIR | --layer-tar FILE  --tag NAME:TAG [--tag ...]
                     [--entrypoint JSON] [--cmd JSON] [--env K=V ...]
                     [--stop-signal SIG] -o OUT.tar

The layout is the one `docker save` writes: manifest.json (with RepoTags,
which `kind load image-archive` and `ctr images import` read for the
image's name), the image config (<digest>.json) and the layer
(<digest>/layer.tar). `docker load` reads it too. The layer of --layer-dir
is made with GNU tar, reproducibly (sorted, owner 0, fixed times), so the
same files give the same image ID.

Used by hack/kind-node-image.sh for the node image, the control-plane images
inside it and the pod image.
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_layer(directory, out):
    """A reproducible tar of `directory`: sorted names, numeric owner 0,
    mtime 0, extended attributes (file capabilities) kept."""
    subprocess.run(["tar", "--sort=name", "--numeric-owner", "--owner=0", "--group=0",
                    "--mtime=@0", "--xattrs", "--xattrs-include=security.capability",
                    "--format=posix", "--pax-option=delete=atime,delete=ctime",
                    "-C", directory, "-cf", out, "."], check=True)


def add_file(tar, name, path):
    info = tar.gettarinfo(path, arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o644
    with open(path, "rb") as f:
        tar.addfile(info, f)


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--layer-dir")
    src.add_argument("--layer-tar")
    p.add_argument("--tag", action="append", required=True)
    p.add_argument("--entrypoint", type=json.loads)
    p.add_argument("--cmd", type=json.loads)
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--stop-signal")
    p.add_argument("--workdir")
    p.add_argument("--arch", default="amd64")
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="crisp-image-", dir=os.path.dirname(os.path.abspath(args.output)))
    try:
        layer = args.layer_tar
        if args.layer_dir:
            layer = os.path.join(tmp, "layer.tar")
            make_layer(args.layer_dir, layer)
        diff_id = sha256_file(layer)
        default_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        config = {"Env": args.env or [default_path]}
        if args.entrypoint is not None:
            config["Entrypoint"] = args.entrypoint
        if args.cmd is not None:
            config["Cmd"] = args.cmd
        if args.stop_signal:
            config["StopSignal"] = args.stop_signal
        if args.workdir:
            config["WorkingDir"] = args.workdir
        image = {
            "architecture": args.arch, "os": "linux", "created": "1970-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
            "history": [{"created": "1970-01-01T00:00:00Z",
                         "created_by": "crisp hack/kind-node/image-archive.py"}],
        }
        config_bytes = json.dumps(image, sort_keys=True, separators=(",", ":")).encode()
        config_id = hashlib.sha256(config_bytes).hexdigest()
        manifest = [{"Config": config_id + ".json", "RepoTags": args.tag,
                     "Layers": [diff_id + "/layer.tar"]}]
        partial = args.output + ".partial"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            add_bytes(tar, config_id + ".json", config_bytes)
            add_file(tar, diff_id + "/layer.tar", layer)
            add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        os.replace(partial, args.output)
        print("%s: %s (image id sha256:%s)" % (args.output, " ".join(args.tag), config_id))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
