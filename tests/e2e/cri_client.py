"""A small CRI client for the end-to-end tests, over a unix socket.

It speaks `runtime.v1` with the messages of cri_client.proto, through gRPC's
generic `unary_unary` stubs: no generated service code is needed, and the
same client talks to containerd directly or to crisp in front of it.
"""

import os
import re
import uuid

import grpc

import protos

pb = protos.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cri_client.proto"))

# The image PrivateContainerd imports: pause as its entrypoint (the sandbox
# image), busybox for the test containers.
E2E_IMAGE = "crisp.test/e2e:v1"

RPC_TIMEOUT_S = 60
EXEC_TIMEOUT_S = 30
# The kubelet's CRI client allows 16 MiB messages; do the same.
MAX_MESSAGE = 16 * 1024 * 1024

_RUNTIME = "/runtime.v1.RuntimeService/"
_IMAGE = "/runtime.v1.ImageService/"
_METHODS = {
    name: (prefix + name, getattr(pb, name + "Request"), getattr(pb, name + "Response"))
    for prefix, names in (
        (_RUNTIME, ("Version", "Status", "RunPodSandbox", "StopPodSandbox",
                    "RemovePodSandbox", "PodSandboxStatus", "ListPodSandbox", "PortForward",
                    "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
                    "ContainerStatus", "ListContainers", "UpdateContainerResources",
                    "ReopenContainerLog", "ExecSync", "Exec", "Attach", "ContainerStats",
                    "ListContainerStats", "ListPodSandboxStats")),
        (_IMAGE, ("ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo")),
    )
    for name in names
}


class CriClient:
    """`call("StopPodSandbox", pod_sandbox_id=...)` -> the response message."""

    def __init__(self, socket_path, timeout=RPC_TIMEOUT_S):
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            "unix:" + socket_path,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                     ("grpc.max_send_message_length", MAX_MESSAGE)])
        self._stubs = {
            name: self.channel.unary_unary(path, request_serializer=req.SerializeToString,
                                           response_deserializer=resp.FromString)
            for name, (path, req, resp) in _METHODS.items()
        }

    def call(self, method, request=None, **fields):
        if request is None:
            request = _METHODS[method][1](**fields)
        return self._stubs[method](request, timeout=self.timeout)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Seccomp:
    """One way to express a security context's seccomp on the wire.

    `path` is the deprecated `seccomp_profile_path` (P); `profile_type` is the
    `seccomp` SecurityProfile field (F), None meaning the field is absent.
    """

    def __init__(self, label, path="", profile_type=None, localhost_ref=""):
        self.label = label
        self.path = path
        self.profile_type = profile_type
        self.localhost_ref = localhost_ref

    def apply(self, security_context):
        security_context.seccomp_profile_path = self.path
        if self.profile_type is not None:
            # RuntimeDefault is the enum's zero value: without SetInParent the
            # sub-message would stay absent instead of present-and-empty.
            security_context.seccomp.SetInParent()
            security_context.seccomp.profile_type = self.profile_type
            security_context.seccomp.localhost_ref = self.localhost_ref

    def __repr__(self):
        return "Seccomp(%s)" % self.label


_PT = pb.SecurityProfile.ProfileType
NOTHING = Seccomp("nothing set")
UNCONFINED_PATH = Seccomp("P=unconfined, F absent", path="unconfined")
RUNTIME_DEFAULT = Seccomp("F=RuntimeDefault, P=runtime/default", path="runtime/default",
                          profile_type=_PT.Value("RuntimeDefault"))
# What kubelet 1.28+ sends both for "nothing set" and for explicit Unconfined.
UNCONFINED_FIELD = Seccomp("F=Unconfined, P empty", profile_type=_PT.Value("Unconfined"))


def localhost(path):
    """An explicit Localhost profile, as kubelets from 1.22 on send it."""
    return Seccomp("F=Localhost, P=localhost/" + path, path="localhost/" + path,
                   profile_type=_PT.Value("Localhost"), localhost_ref=path)


def pod_config(seccomp=NOTHING, log_directory=None, privileged=False, uid=None):
    """A host-network pod (no CNI on the test machines) with a unique name
    (and uid, unless `uid` gives one: the pod-spec tests match it)."""
    suffix = uuid.uuid4().hex[:12]
    config = pb.PodSandboxConfig()
    config.metadata.name = "crisp-e2e-" + suffix
    config.metadata.uid = uid or suffix
    config.metadata.namespace = "crisp-e2e"
    if log_directory:
        config.log_directory = os.path.join(log_directory, suffix)
    sc = config.linux.security_context
    sc.namespace_options.network = pb.NODE
    sc.privileged = privileged
    seccomp.apply(sc)
    return config


def container_config(seccomp=NOTHING, image=E2E_IMAGE, log=False, privileged=False,
                     name="probe"):
    config = pb.ContainerConfig()
    config.metadata.name = name
    config.image.image = image
    config.command.extend(["/bin/sleep"])
    config.args.extend(["3600"])
    if log:
        config.log_path = "probe.log"
    sc = config.linux.security_context
    sc.namespace_options.network = pb.NODE
    sc.privileged = privileged
    seccomp.apply(sc)
    return config


_SECCOMP_LINE = re.compile(r"^Seccomp:\s*(\d+)\s*$", re.M)


def seccomp_line_of_new_container(socket_path, pod_seccomp=NOTHING, container_seccomp=NOTHING,
                                  log_directory=None, image=E2E_IMAGE, privileged=False,
                                  pod_uid=None, container_name="probe"):
    """Run a pod + busybox `sleep` container through `socket_path` and return
    the `Seccomp:` line of a process exec'd inside it (exec'd processes get
    the container's seccomp filter). The container and pod are stopped and
    removed whatever happens. `privileged` makes both pod and container
    privileged (a privileged container needs a privileged sandbox)."""
    with CriClient(socket_path) as cri:
        pod = pod_config(pod_seccomp, log_directory, privileged, uid=pod_uid)
        created = {}
        try:
            created["pod"] = cri.call("RunPodSandbox", config=pod).pod_sandbox_id
            created["container"] = cri.call(
                "CreateContainer", pod_sandbox_id=created["pod"], sandbox_config=pod,
                config=container_config(container_seccomp, image, bool(log_directory), privileged,
                                        name=container_name),
            ).container_id
            cri.call("StartContainer", container_id=created["container"])
            out = cri.call("ExecSync", container_id=created["container"], timeout=EXEC_TIMEOUT_S,
                           cmd=["grep", "Seccomp:", "/proc/self/status"])
            text = out.stdout.decode(errors="replace")
            match = _SECCOMP_LINE.search(text)
            if out.exit_code != 0 or match is None:
                raise AssertionError("exec of grep in the container failed: exit %d, stdout %r, "
                                     "stderr %r" % (out.exit_code, text, out.stderr))
        except BaseException:
            # The test's own error is the one to report; cleanup is best effort.
            _cleanup(cri, created, raise_errors=False)
            raise
        _cleanup(cri, created, raise_errors=True)
        return match.group(0).strip()


def seccomp_mode_of_new_container(socket_path, **kwargs):
    """The seccomp mode (0 = none, 2 = filter) a new container really runs with."""
    return int(_SECCOMP_LINE.search(seccomp_line_of_new_container(socket_path, **kwargs)).group(1))


def _cleanup(cri, created, raise_errors):
    """Stop and remove what was created, in order, attempting every step."""
    steps = []
    if "container" in created:
        steps += [("StopContainer", dict(container_id=created["container"], timeout=0)),
                  ("RemoveContainer", dict(container_id=created["container"]))]
    if "pod" in created:
        steps += [("StopPodSandbox", dict(pod_sandbox_id=created["pod"])),
                  ("RemovePodSandbox", dict(pod_sandbox_id=created["pod"]))]
    errors = []
    for method, fields in steps:
        try:
            cri.call(method, **fields)
        except grpc.RpcError as err:
            errors.append("%s: %s" % (method, err))
    if errors and raise_errors:
        raise RuntimeError("cleanup failed: " + "; ".join(errors))
