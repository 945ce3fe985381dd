"""Throw-away PKI and kubeconfig files for tests that talk to the fake API
server (fake_apiserver.py), made with the `openssl` CLI (EC P-256: fast).

    pki = make_pki(tmpdir)                 # CA + server cert for localhost/127.0.0.1
    node = client_cert(pki, "node1")       # client key+cert signed by the CA
    kubeconfig(tmpdir + "/kubeconfig", server.url, pki.ca, cert=node.cert, key=node.key)

Calling client_cert() again with the same name writes a new key and cert over
the old files (each replaced atomically, key first, then cert), which is how
a test rotates the client certificate; the returned ClientCert.serial is what
the fake server reports for requests made with it.
"""

import base64
import os
import secrets
import subprocess
from dataclasses import dataclass

import yaml

DAYS = 3650

_REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = fake-apiserver-ca
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = {server_san}
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


@dataclass
class Pki:
    dir: str
    ca: str            # CA certificate (PEM): what clients trust, and what verifies clients
    ca_key: str
    server_cert: str   # CN=localhost, SAN DNS:localhost, IP:127.0.0.1
    server_key: str
    config: str        # the openssl config holding the extension sections


@dataclass
class ClientCert:
    name: str
    cert: str          # path of the PEM certificate
    key: str           # path of the PEM key (PKCS#8)
    cn: str
    o: str
    serial: str        # upper-case hex, as ssl.getpeercert()["serialNumber"] says it


def _openssl(*args):
    r = subprocess.run(["openssl", *args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def _new_key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path)
    os.chmod(path, 0o600)


def _serial(cert):
    out = _openssl("x509", "-in", cert, "-noout", "-serial").strip()
    return out.split("=", 1)[1].upper()


def _issue(pki, key, cert, subj, section):
    """Sign a fresh certificate for `key` with the CA into `cert`."""
    csr = cert + ".csr"
    _openssl("req", "-new", "-config", pki.config, "-key", key, "-subj", subj, "-out", csr)
    # A random positive 63-bit serial: certificates made in the same second differ.
    _openssl("x509", "-req", "-in", csr, "-CA", pki.ca, "-CAkey", pki.ca_key,
             "-set_serial", str(secrets.randbits(63) | 1 << 62), "-days", str(DAYS),
             "-sha256", "-extfile", pki.config, "-extensions", section, "-out", cert)
    os.unlink(csr)


def make_pki(dir, server_san="DNS:localhost,IP:127.0.0.1"):
    """A CA and a server certificate for localhost / 127.0.0.1 (or the
    subjectAltName `server_san`) in `dir`."""
    os.makedirs(dir, exist_ok=True)
    config = os.path.join(dir, "openssl.cnf")
    with open(config, "w") as f:
        f.write(_REQ_CONFIG.replace("{server_san}", server_san))
    pki = Pki(dir=dir, ca=os.path.join(dir, "ca.crt"), ca_key=os.path.join(dir, "ca.key"),
              server_cert=os.path.join(dir, "server.crt"),
              server_key=os.path.join(dir, "server.key"), config=config)
    _new_key(pki.ca_key)
    _openssl("req", "-x509", "-new", "-config", config, "-extensions", "v3_ca",
             "-key", pki.ca_key, "-days", str(DAYS), "-sha256", "-out", pki.ca)
    _new_key(pki.server_key)
    _issue(pki, pki.server_key, pki.server_cert, "/CN=localhost", "v3_server")
    return pki


def client_cert(pki, name, cn="system:node:node1", o="system:nodes"):
    """A new client key and certificate signed by the CA, written to
    DIR/NAME.key and DIR/NAME.crt (replacing earlier ones atomically)."""
    key = os.path.join(pki.dir, name + ".key")
    cert = os.path.join(pki.dir, name + ".crt")
    tmp_key, tmp_cert = key + ".new", cert + ".new"
    _new_key(tmp_key)
    subj = ("/O=%s" % o if o else "") + "/CN=%s" % cn
    _issue(pki, tmp_key, tmp_cert, subj, "v3_client")
    serial = _serial(tmp_cert)
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)
    return ClientCert(name=name, cert=cert, key=key, cn=cn, o=o, serial=serial)


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(path, server_url, ca, cert=None, key=None, token_file=None, embed=False,
               token=None, tls_server_name=None, cluster="fake", user="node1",
               context="fake"):
    """Write a kubeconfig in kubectl's format and return `path`.

    ca/cert/key are file paths; with embed=True their contents go in
    certificate-authority-data / client-certificate-data / client-key-data
    (base64) instead. token is an inline bearer token, token_file a path."""
    c = {"server": server_url}
    u = {}
    if ca:
        if embed:
            c["certificate-authority-data"] = _b64(ca)
        else:
            c["certificate-authority"] = ca
    if tls_server_name:
        c["tls-server-name"] = tls_server_name
    if cert:
        if embed:
            u["client-certificate-data"] = _b64(cert)
        else:
            u["client-certificate"] = cert
    if key:
        if embed:
            u["client-key-data"] = _b64(key)
        else:
            u["client-key"] = key
    if token:
        u["token"] = token
    if token_file:
        u["tokenFile"] = token_file
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster, "cluster": c}],
        "users": [{"name": user, "user": u}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
    }
    tmp = path + ".new"
    with open(tmp, "w") as f:
        yaml.safe_dump(doc, f, default_flow_style=False, sort_keys=False)
    os.replace(tmp, path)
    return path
