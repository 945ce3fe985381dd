"""A private image registry for the tests that pull (critest, the CRI
lifecycle test): Debian's docker-registry (the CNCF distribution registry)
on 127.0.0.1, storing in a temporary folder, and a push over the
distribution API (no docker, no skopeo).

The port is 5000 when free, else any free port (`preferred_port=0`: any
free port; the CRI-O tests use that to stay apart from the containerd
harnesses): containerd reaches it through certs.d/<host>/hosts.toml
(map_hosts), CRI-O through registries.conf (tests/crio/criolib.py), so its
number matters nowhere else. Cleanup is by PID: the registry is our child.
"""

import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
import urllib.parse

BINARY = "/usr/bin/docker-registry"
START_TIMEOUT_S = 30
_POLL_S = 0.1


def free_port(preferred=5000):
    for port in (preferred, 0):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port on 127.0.0.1")


def hosts_toml(address):
    return ('server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n'
            % (address, address))


def check_hosts_toml(path, address):
    """containerd 1.6 ignores a hosts.toml without a [host."..."] table and
    pulls from the real registry instead: refuse such a file here."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    host = doc.get("host", {}).get("http://" + address)
    if doc.get("server") != "http://" + address or not host or \
            "pull" not in host.get("capabilities", []):
        raise RuntimeError("%s does not map to http://%s with a [host] table: %r"
                           % (path, address, doc))


def map_hosts(certs, hosts, address):
    """Writes (and checks) certs/<host>/hosts.toml sending each of `hosts` to
    the registry at `address`; `certs` is then containerd's
    registry.config_path."""
    for host in hosts:
        os.makedirs(os.path.join(certs, host))
        path = os.path.join(certs, host, "hosts.toml")
        with open(path, "w") as f:
            f.write(hosts_toml(address))
        check_hosts_toml(path, address)


class Registry:
    def __init__(self, preferred_port=5000):
        self.preferred_port = preferred_port
        self.tmp = self.proc = self.port = None
        self.log_path = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError("%s missing (install docker-registry: hack/install-deps.sh)" % BINARY)
        self.tmp = tempfile.mkdtemp(prefix="crisp-registry-")
        self.port = free_port(self.preferred_port)
        config = os.path.join(self.tmp, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                    "http:\n  addr: %s\n" % (os.path.join(self.tmp, "data"), self.address))
        self.log_path = os.path.join(self.tmp, "registry.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(["setpriv", "--pdeathsig", "TERM", BINARY, "serve", config],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited %s; its log:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                status, _, _ = self._request("GET", "/v2/")
                if status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("docker-registry not answering on %s within %ss; log:\n%s"
                                   % (self.address, START_TIMEOUT_S, self.log()))
            time.sleep(_POLL_S)  # poll interval of a bounded wait

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return "(no log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- the distribution API --------------------------------------------------
    def _request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _has_blob(self, repo, digest):
        status, _, _ = self._request("HEAD", "/v2/%s/blobs/%s" % (repo, digest))
        return status == 200

    def push_blob(self, repo, data, mount_from=None):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self._has_blob(repo, digest):
            return digest
        path = "/v2/%s/blobs/uploads/" % repo
        if mount_from:
            path += "?" + urllib.parse.urlencode({"mount": digest, "from": mount_from})
        status, headers, body = self._request("POST", path, headers={"Content-Length": "0"})
        if status == 201:
            return digest  # mounted from the other repository
        if status != 202:
            raise RuntimeError("registry: POST %s: %d %s" % (path, status, body[:300]))
        location = dict((k.lower(), v) for k, v in headers)["location"]
        url = urllib.parse.urlsplit(location)
        query = url.query + ("&" if url.query else "") + urllib.parse.urlencode({"digest": digest})
        status, _, body = self._request("PUT", url.path + "?" + query, body=data,
                                        headers={"Content-Type": "application/octet-stream",
                                                 "Content-Length": str(len(data))})
        if status != 201:
            raise RuntimeError("registry: PUT blob %s to %s: %d %s"
                               % (digest, repo, status, body[:300]))
        return digest

    def push_manifest(self, repo, tag, manifest, media_type):
        status, _, body = self._request("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest,
                                        headers={"Content-Type": media_type})
        if status != 201:
            raise RuntimeError("registry: PUT manifest %s:%s: %d %s"
                               % (repo, tag, status, body[:300]))
