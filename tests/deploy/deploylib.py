"""Shared helpers for the deployment tests (tests/deploy/).

- Paths of the repository and its deploy/ files.
- A reader for systemd unit files with their drop-ins, following systemd's
  rules for the settings crisp's files use: drop-ins apply in file-name order;
  an empty assignment resets a list (ExecStart=); Environment= lines apply
  first and EnvironmentFile= files after them, in order, later ones winning;
  `$VAR` as a whole word in ExecStart expands to the value split at
  whitespace (zero words when unset or empty), `${VAR}` inside a word to the
  value as is. Anything beyond that (specifiers, escapes, command prefixes)
  is rejected, so a unit that needs more makes a test fail instead of being
  read wrongly.
"""

import os
import re
import shlex
import shutil
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
UNIT = os.path.join(DEPLOY, "systemd", "crisp.service")
CRIO_DROPIN = os.path.join(DEPLOY, "crio", "10-crio.conf")
KUBELET_DROPIN = os.path.join(DEPLOY, "kubelet", "20-crisp.conf")
PODSPEC_DROPIN = os.path.join(DEPLOY, "systemd", "30-podspec.conf")
COMPLAIN_DROPIN = os.path.join(DEPLOY, "systemd", "40-complain.conf")
KUBELET_ENV = os.path.join(DEPLOY, "kubelet", "kubelet.env")
CRIO_KUBELET_ENV = os.path.join(DEPLOY, "crio", "kubelet.env")
INSTALLER = os.path.join(DEPLOY, "daemonset", "install.sh")
KIND_CONFIG = os.path.join(DEPLOY, "kind", "kind-config.yaml")
KIND_PODSPEC_DROPIN = os.path.join(DEPLOY, "kind", "31-podspec-kind.conf")
KIND_UP = os.path.join(REPO, "hack", "kind-up.sh")
DAEMONSET = os.path.join(DEPLOY, "daemonset", "daemonset.yaml")

# Where the unit puts things on a node.
UNIT_BINARY = "/usr/local/bin/crisp"
UNIT_LISTEN = "/run/crisp/crisp.sock"
UNIT_RUNTIME = "unix:///run/containerd/containerd.sock"
CRIO_SOCKET = "/run/crio/crio.sock"
# kubelet <= 1.28 compares the endpoint with this (and unix:// + it);
# kubelet >= 1.29 checks for this suffix (pkg/kubelet/cadvisor).
CRIO_LEGACY_PATH = "/var/run/crio/crio.sock"
CRIO_SUFFIX = "run/crio/crio.sock"

# Settings that accumulate across lines and drop-ins (an empty value resets).
LIST_KEYS = {"ExecStart", "ExecStartPre", "ExecStartPost", "Environment", "EnvironmentFile",
             "Wants", "Requires", "After", "Before", "RuntimeDirectory", "WantedBy",
             "SystemCallFilter", "RestrictAddressFamilies", "ReadWritePaths", "BindsTo",
             "PartOf", "Requisite", "LogsDirectory"}


def read(path):
    with open(path) as f:
        return f.read()


def parse_ini(text, name="unit"):
    """[(section, key, value)] in file order; continuation lines joined."""
    out, section, pending = [], None, ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if "=" not in line or section is None:
            raise ValueError("%s:%d: not a unit file line: %r" % (name, number, raw))
        key, value = line.split("=", 1)
        out.append((section, key.strip(), value.strip()))
    return out


class Unit:
    """The effective settings of a unit file plus drop-ins, in order."""

    def __init__(self, path, dropins=(), text=None):
        self.settings = {}
        self.sources = [path] + list(dropins)
        for index, source in enumerate(self.sources):
            body = text if (index == 0 and text is not None) else read(source)
            for section, key, value in parse_ini(body, source):
                self._set(section, key, value)

    def _set(self, section, key, value):
        slot = (section, key)
        if key in LIST_KEYS:
            if value == "":
                self.settings[slot] = []
            elif key in ("ExecStart", "ExecStartPre", "ExecStartPost", "Environment",
                         "EnvironmentFile"):
                self.settings.setdefault(slot, []).append(value)
            else:
                self.settings.setdefault(slot, []).extend(value.split())
        else:
            self.settings[slot] = value

    def get(self, section, key, default=None):
        return self.settings.get((section, key), default)

    def environment(self, root="/"):
        """The environment systemd gives the service: Environment= first,
        then each EnvironmentFile= (read under `root`), later ones winning."""
        env = {}
        for line in self.get("Service", "Environment", []):
            for word in shlex.split(line):
                key, _, value = word.partition("=")
                env[key] = value
        for entry in self.get("Service", "EnvironmentFile", []):
            optional = entry.startswith("-")
            path = entry.lstrip("-")
            full = os.path.join(root, path.lstrip("/"))
            if not os.path.exists(full):
                if optional:
                    continue
                raise FileNotFoundError("EnvironmentFile %s missing under %s" % (path, root))
            env.update(parse_env_file(read(full)))
        return env

    def exec_start(self, env=None):
        """ExecStart as the argv systemd runs, for the given environment."""
        lines = self.get("Service", "ExecStart", [])
        if len(lines) != 1:
            raise ValueError("want exactly one ExecStart, got %r" % lines)
        return expand_command(lines[0], env or {})


def parse_env_file(text):
    """systemd's EnvironmentFile= format for KEY=value lines: comments (# ;),
    values in double or single quotes, or bare with outer whitespace dropped."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError("not an assignment: %r" % raw)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


_VAR_WORD = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_VAR_INLINE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_command(line, env):
    """systemd's ExecStart expansion, for the subset our units use."""
    if line[:1] in "@-:+!":
        raise ValueError("command prefixes are not supported here: %r" % line)
    if "%" in line or "\\" in line:
        raise ValueError("specifiers and escapes are not supported here: %r" % line)
    argv = []
    for word in shlex.split(line):
        whole = _VAR_WORD.match(word)
        if whole:
            argv.extend(env.get(whole.group(1), "").split())
            continue
        if "$" in _VAR_INLINE.sub("", word):
            raise ValueError("unsupported $ use in %r" % word)
        argv.append(_VAR_INLINE.sub(lambda m: env.get(m.group(1), ""), word))
    return argv


def flag(argv, name):
    """The value of the last `--name VALUE` or `--name=VALUE` in argv."""
    value = None
    for index, word in enumerate(argv):
        if word == "--" + name and index + 1 < len(argv):
            value = argv[index + 1]
        elif word.startswith("--" + name + "="):
            value = word.split("=", 1)[1]
    return value


def endpoint_path(endpoint):
    return endpoint[len("unix://"):] if endpoint.startswith("unix://") else endpoint


def kubelet_uses_cadvisor_stats(endpoint, minor):
    """Which stats provider kubelet 1.<minor> picks for this endpoint
    (PodAndContainerStatsFromCRI off, its default), as its
    pkg/kubelet/cadvisor/util.go decides."""
    if minor <= 28:
        return endpoint in (CRIO_LEGACY_PATH, "unix://" + CRIO_LEGACY_PATH)
    return endpoint.endswith(CRIO_SUFFIX)


def crisp_binary():
    path = os.environ.get("CRISP_BIN")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("CRISP_BIN is not set to an executable: run through ctest")
    return path


def require_tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        raise RuntimeError("%s not found: run hack/install-deps.sh as root" % name)
    return path


def run(cmd, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(cmd, **kwargs)
