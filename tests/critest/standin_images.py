"""Small stand-ins for the images critest pulls, built from local files.

Nothing can be pulled on the test machines, so every image critest names is
made here and pushed to a local registry (tests/lib/registry.py). What the specs look
at inside them (see ../shared/design/real-clients.md):

- a shell and the usual tools: Debian's *dynamic* busybox with every applet
  as a hard link in /bin. Not busybox-static: it runs applets in-process for
  `sh -c` (so a MaskedPaths on /bin/ls is never exercised), and symlinked
  applets would make a mask on /bin/ls hit /bin/busybox. The dynamic
  busybox conflicts with busybox-static (which the e2e image uses), so
  hack/install-deps.sh only downloads its .deb; it is unpacked here.
- `pgrep` and `ipcs`, which Debian's busybox lacks: the host's, with the
  libraries ldd names.
- nginx (standins/nginx.c): `nginx: master process ...` in its argv, a PID
  file, HTTP 200 on port 80 (12003 for the host-network image).
- httpd: logs `Command line: 'httpd -D FOREGROUND'`, then serves.
- nonewprivs (standins/nnp.c): a setuid-root program printing its
  effective uid.
- users: USER 1002, www-data, 1003:1004, www-data:1004, and a user 1000 in
  group 50000.

Each image is a shared base layer and a small layer of its own, as gzip
tars in OCI manifests. Built once per process, in a temporary folder.
"""

import glob
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEB_DIR = "/var/cache/crisp-test/debs"
HOST_TOOLS = ("/usr/bin/pgrep", "/usr/bin/ipcs")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "www-data:x:33:33:www-data:/var/www:/bin/sh\n"
          "user:x:1000:1000:user:/home/user:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
GROUP = ("root:x:0:\nwww-data:x:33:\nuser:x:1000:\ngroup50000:x:50000:user\n"
         "nogroup:x:65534:\n")

HTTPD_FOREGROUND = """#!/bin/sh
# A stand-in for httpd:2.4.39's httpd-foreground: the start-up lines critest reads.
echo "[mpm_event:notice] [pid $$:tid 1] AH00489: Apache/2.4.39 (Unix) configured -- resuming normal operations" >&2
echo "[core:notice] [pid $$:tid 1] AH00094: Command line: 'httpd -D FOREGROUND'" >&2
exec httpd -f -p 80 -h /usr/local/apache2/htdocs
"""

REG = "gcr.io/k8s-staging-cri-tools/"
E2E = "registry.k8s.io/e2e-test-images/"


def arch():
    return _ARCH[platform.machine()]


def missing_prerequisites():
    problems = []
    if platform.machine() not in _ARCH:
        problems.append("unsupported machine %s" % platform.machine())
    if busybox_deb() is None:
        problems.append("no dynamic busybox .deb in %s (run hack/install-deps.sh)" % DEB_DIR)
    for tool in HOST_TOOLS + ("/usr/bin/ldd", "/usr/bin/dpkg-deb"):
        if not os.path.exists(tool):
            problems.append("%s missing" % tool)
    if shutil.which("cc") is None:
        problems.append("cc missing")
    return problems


def busybox_deb():
    path = os.environ.get("CRISP_BUSYBOX_DEB")
    if path:
        return path if os.path.isfile(path) else None
    debs = sorted(glob.glob(os.path.join(DEB_DIR, "busybox_*.deb")))
    return debs[-1] if debs else None


def _libraries(binary):
    """Absolute paths of the shared objects ldd says `binary` loads."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            libs.append(parts[2])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])  # the loader
    return libs


class _Tar:
    """A reproducible layer tar (fixed times, owners as given)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs = set()

    def _info(self, name, kind, mode, uid=0, gid=0):
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, 0
        return info

    def dir(self, name, mode=0o755):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                self.tar.addfile(self._info(d, tarfile.DIRTYPE, mode if i == len(parts) else 0o755))

    def data(self, name, data, mode=0o644):
        self.dir(os.path.dirname(name))
        info = self._info(name, tarfile.REGTYPE, mode)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))

    def file(self, name, source, mode=None):
        with open(source, "rb") as f:
            data = f.read()
        self.data(name, data, mode if mode is not None else os.stat(source).st_mode & 0o7777)

    def hardlink(self, name, target):
        self.dir(os.path.dirname(name))
        info = self._info(name, tarfile.LNKTYPE, 0o755)
        info.linkname = target
        self.tar.addfile(info)

    def symlink(self, name, target):
        self.dir(os.path.dirname(name))
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.tar.addfile(info)

    def close(self):
        self.tar.close()
        return self.buf.getvalue()


def _compile(workdir, name):
    out = os.path.join(workdir, name)
    result = subprocess.run(["cc", "-static", "-O2", "-Wall", "-Werror", "-o", out,
                             os.path.join(HERE, "standins", name + ".c")],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("cannot build the %s stand-in:\n%s" % (name, result.stderr))
    return out


def _base_layer(workdir):
    unpacked = os.path.join(workdir, "busybox-deb")
    subprocess.run(["dpkg-deb", "-x", busybox_deb(), unpacked], check=True)
    busybox = os.path.join(unpacked, "bin", "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    t = _Tar()
    for d in ("dev", "proc", "sys", "root", "etc", "var/run", "run", "home/user", "var/www",
              "usr/local/bin", "usr/sbin", "usr/bin", "sbin"):
        t.dir(d)
    t.dir("tmp", 0o1777)
    t.file("bin/busybox", busybox, 0o755)
    for applet in applets:
        if applet != "busybox":
            t.hardlink("bin/" + applet, "bin/busybox")
    libs = set(_libraries(busybox))
    for tool in HOST_TOOLS:
        t.file(tool.lstrip("/"), tool, 0o755)
        libs.update(_libraries(tool))
    for lib in sorted(libs):
        real = os.path.realpath(lib)
        t.file(lib.lstrip("/"), real, 0o755)  # the loader's /lib64 path too, as a file
    t.data("etc/passwd", PASSWD.encode())
    t.data("etc/group", GROUP.encode())
    t.data("etc/hostname", b"standin\n")
    return t.close()


def _layer(files):
    """files: {path: (bytes, mode)}"""
    t = _Tar()
    for name, (data, mode) in sorted(files.items()):
        t.data(name, data, mode)
    return t.close()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _gzip(data):
    return gzip.compress(data, mtime=0)


class Image:
    def __init__(self, names, layers, config):
        self.names = names          # full references, host/repo:tag
        self.layers = layers        # [(gzip bytes, diff_id)]
        self.config = config        # the image config's "config" object


def build_all():
    """The images critest needs: a list of Image, plus the blobs by digest."""
    workdir = tempfile.mkdtemp(prefix="crisp-standins-")
    try:
        base = _base_layer(workdir)
        nginx = open(_compile(workdir, "nginx"), "rb").read()
        nnp = open(_compile(workdir, "nnp"), "rb").read()
    finally:
        shutil.rmtree(workdir)
    base_l = (_gzip(base), "sha256:" + hashlib.sha256(base).hexdigest())

    def image(names, files=None, **config):
        cfg = {"Env": ["PATH=" + PATH], "Cmd": ["sh"]}
        cfg.update(config)
        layers = [base_l]
        if files:
            raw = _layer(files)
            layers.append((_gzip(raw), "sha256:" + hashlib.sha256(raw).hexdigest()))
        return Image(names, layers, cfg)

    index = b"<html><body><h1>Welcome to nginx!</h1></body></html>\n"

    def nginx_files(port):
        return {"usr/sbin/nginx": (nginx, 0o755), "etc/nginx/port": (b"%d\n" % port, 0o644),
                "usr/share/nginx/html/index.html": (index, 0o644)}

    return [
        image([E2E + "busybox:1.29-2"]),
        image([E2E + "nginx:1.14-2"], nginx_files(80), Cmd=["nginx", "-g", "daemon off;"],
              ExposedPorts={"80/tcp": {}}),
        image([REG + "hostnet-nginx-" + arch() + ":latest"], nginx_files(12003),
              Cmd=["nginx", "-g", "daemon off;"]),
        image([E2E + "httpd:2.4.39-4"],
              {"usr/local/bin/httpd-foreground": (HTTPD_FOREGROUND.encode(), 0o755),
               "usr/local/apache2/htdocs/index.html": (b"<html><body>It works!</body></html>\n",
                                                       0o644)},
              Cmd=["httpd-foreground"]),
        image([E2E + "nonewprivs:1.3"], {"usr/local/bin/nnp": (nnp, 0o4755)},
              Entrypoint=["/usr/local/bin/nnp"], Cmd=None),
        image([REG + "test-image-user-uid:latest"], User="1002"),
        image([REG + "test-image-user-username:latest"], User="www-data"),
        image([REG + "test-image-user-uid-group:latest"], User="1003:1004"),
        image([REG + "test-image-user-username-group:latest"], User="www-data:1004"),
        image([REG + "test-image-predefined-group:latest"], User="1000"),
        image([REG + "test-image-latest:latest"], {"image": (b"latest\n", 0o644)}),
        image([REG + "test-image-tag:test"], {"image": (b"tag\n", 0o644)}),
        image([REG + "test-image-tag:all"], {"image": (b"all\n", 0o644)}),
        image([REG + "test-image-tags:1", REG + "test-image-tags:2", REG + "test-image-tags:3"],
              {"image": (b"tags\n", 0o644)}),
    ] + [image([REG + "test-image-%d:latest" % i], {"image": (b"%d\n" % i, 0o644)})
         for i in (1, 2, 3)]


def manifest_of(img):
    """(config bytes, manifest bytes, [layer bytes]) of an Image, as OCI."""
    cfg = dict(img.config)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    config = {"architecture": arch(), "os": "linux", "config": cfg,
              "rootfs": {"type": "layers", "diff_ids": [d for _, d in img.layers]}}
    config_b = json.dumps(config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config_b).hexdigest(),
                   "size": len(config_b)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + hashlib.sha256(g).hexdigest(), "size": len(g)}
                   for g, _ in img.layers]}
    return config_b, json.dumps(manifest, sort_keys=True).encode(), [g for g, _ in img.layers]
