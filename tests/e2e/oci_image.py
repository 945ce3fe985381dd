"""Build the end-to-end test image as an OCI image-layout tar.

Nothing can be pulled on the test machines, so the one image both the pod
sandbox and the test containers use is made here from local files: Debian's
static busybox (/bin/busybox, with sh, sleep, grep and cat as symlinks) and a
pause program (pause.c) compiled with `cc -static` at test time. The result is
imported with `ctr images import`; the `io.containerd.image.name` annotation
in index.json gives it its name.

The tar is built once per process and cached in a temporary folder removed at
exit: every PrivateContainerd of a run imports the same file.
"""

import atexit
import hashlib
import io
import json
import os
import platform
import shutil
import struct
import subprocess
import tarfile
import tempfile

import cri_client

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "sleep", "grep", "cat")
PAUSE_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pause.c")
# Debian's machine names -> OCI architecture names.
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}

_cache = {}


def arch():
    """This machine's architecture as OCI names it."""
    return _ARCH[platform.machine()]


def _is_static_elf(path):
    """True if `path` is an ELF file without a PT_INTERP (dynamic loader)
    segment: a dynamic busybox would not run in a rootfs without libc."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            return False
        is64, end = head[4] == 2, "<" if head[5] == 1 else ">"
        if is64:
            phoff, = struct.unpack(end + "Q", head[32:40])
            phentsize, phnum = struct.unpack(end + "HH", head[54:58])
        else:
            phoff, = struct.unpack(end + "I", head[28:32])
            phentsize, phnum = struct.unpack(end + "HH", head[42:46])
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    types = [struct.unpack(end + "I", table[i:i + 4])[0] for i in range(0, len(table), phentsize)]
    return 3 not in types  # PT_INTERP == 3


def missing_prerequisites():
    problems = []
    if not os.path.isfile(BUSYBOX):
        problems.append("%s missing (install busybox-static)" % BUSYBOX)
    elif not _is_static_elf(BUSYBOX):
        problems.append("%s is not statically linked (install busybox-static)" % BUSYBOX)
    if platform.machine() not in _ARCH:
        problems.append("unknown machine architecture %s" % platform.machine())
    return problems


def _compile_pause(workdir):
    out = os.path.join(workdir, "pause")
    result = subprocess.run(["cc", "-static", "-O2", "-Wall", "-Werror", "-o", out, PAUSE_SOURCE],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("cannot build the static pause binary (is libc6-dev installed?):\n"
                           + result.stderr)
    return out


def _layer(pause_path):
    """The rootfs as an uncompressed tar, reproducible (fixed owners, times)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, kind=tarfile.DIRTYPE, mode=0o755, source=None, target=""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname = kind, mode, target
            if source is None:
                tar.addfile(info)
                return
            with open(source, "rb") as f:
                info.size = os.fstat(f.fileno()).st_size
                tar.addfile(info, f)
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp"):
            add(d, mode=0o1777 if d == "tmp" else 0o755)
        add("bin/busybox", tarfile.REGTYPE, source=BUSYBOX)
        for applet in APPLETS:
            add("bin/" + applet, tarfile.SYMTYPE, mode=0o777, target="busybox")
        add("pause", tarfile.REGTYPE, source=pause_path)
    return buf.getvalue()


def _blob(blobs, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}


def _json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build(path, name=cri_client.E2E_IMAGE):
    """Write an OCI image-layout tar for image `name` to `path`."""
    workdir = tempfile.mkdtemp(prefix="crisp-image-")
    try:
        layer = _layer(_compile_pause(workdir))
    finally:
        shutil.rmtree(workdir)
    arch_name = arch()
    blobs = {}
    layer_desc = _blob(blobs, layer, "application/vnd.oci.image.layer.v1.tar")
    config = {"architecture": arch_name, "os": "linux",
              "config": {"Entrypoint": ["/pause"], "Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": _blob(blobs, _json(config), "application/vnd.oci.image.config.v1+json"),
                "layers": [layer_desc]}
    manifest_desc = _blob(blobs, _json(manifest), manifest["mediaType"])
    manifest_desc["platform"] = {"architecture": arch_name, "os": "linux"}
    manifest_desc["annotations"] = {"io.containerd.image.name": name,
                                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
    files = {"oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
             "index.json": _json({"schemaVersion": 2, "manifests": [manifest_desc]})}
    files.update({"blobs/sha256/" + d: data for d, data in blobs.items()})
    with tarfile.open(path, "w") as tar:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for fname, data in files.items():
            info = tarfile.TarInfo(fname)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def image_tar():
    """The image tar for this process, built on first use."""
    if "path" not in _cache:
        folder = tempfile.mkdtemp(prefix="crisp-image-tar-")
        atexit.register(shutil.rmtree, folder, True)
        _cache["path"] = build(os.path.join(folder, "e2e-image.tar"))
    return _cache["path"]
