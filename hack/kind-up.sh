#!/usr/bin/env bash
# Creates a kind cluster whose kubelets talk to crisp, and shows it working:
#
#   1. builds crisp for the node (CRISP_STATIC=ON: only glibc, libstdc++ and
#      libgcc_s dynamic) and checks what it links against; with --pod-spec, a
#      crisp with the pod-spec source (libcurl) and the libraries it needs
#      beside it (BUILD_DIR/kind-lib);
#   2. renders deploy/kind/kind-config.yaml with absolute paths, adds what the
#      options ask for (--config-extra, --pod-spec, --crisp-opts) and checks
#      that every file it mounts into the nodes exists;
#   3. creates the cluster (kind create cluster --wait);
#   4. shows crisp active on every node and the endpoint the running kubelet
#      uses (its /configz, else its command line: not kubeadm's flags file,
#      which kubeadm >= 1.34 no longer writes it to); with --pod-spec, waits
#      until crisp on every node has listed the node's pods;
#   5. loads the pod image into the nodes: --pod-archive FILE, or the pod
#      image from the local docker when it is there (else the nodes pull it);
#   6. runs a pod with no seccomp profile and reads `Seccomp:` from
#      /proc/1/status of its container: 2 (crisp applied RuntimeDefault);
#      then a pod with an explicit Unconfined profile: 0 on kubelets <= 1.27
#      and with --pod-spec, 2 on >= 1.28 without it (README, "The one
#      limitation");
#   7. shows crisp's log lines for those pods.
#
# --dry-run runs steps 1 and 2 for real (they need no container engine) and
# prints the docker/kind/kubectl commands of steps 3-7 instead of running
# them. The cluster is kept afterwards: `kind delete cluster --name NAME`.
#
# usage: hack/kind-up.sh [--dry-run] [--name NAME] [--image NODE_IMAGE]
#                        [--build-dir DIR] [--no-build] [--pod-image IMAGE]
#                        [--pod-archive FILE] [--config-extra FILE]
#                        [--pod-spec] [--crisp-opts "FLAGS"]
#
#   --image         the node image: kindest/node:vX.Y.Z, or an offline one
#                   (hack/kind-node-image.sh)
#   --pod-archive   a `docker save` archive of the pod image, loaded with
#                   `kind load image-archive`; the pods use its first tag
#   --config-extra  YAML merged into the kind config (maps merged, lists
#                   appended), e.g. hack/kind-node/cluster-extra.yaml for an
#                   offline node image
#   --pod-spec      crisp reads the pod specs through the node's kubelet
#                   kubeconfig (deploy/kind/31-podspec-kind.conf): explicit
#                   Unconfined is exact on every kubelet
#   --crisp-opts    extra crisp flags for every node (/etc/default/crisp)
#
# Needs (except in --dry-run): docker (or podman with
# KIND_EXPERIMENTAL_PROVIDER=podman), kind >= v0.21, kubectl, python3 with
# python3-yaml (hack/install-deps.sh), and a pod image: --pod-archive, or
# busybox:1.36 (or --pod-image) in the local docker or pullable by the
# nodes. Node images must be Debian bookworm or later (glibc >= 2.34): those
# published with kind v0.21 or later, e.g. kindest/node:v1.27.13 (kind
# v0.23) for a 1.27 kubelet (kindest/node:v1.27.3, kind v0.20, is bullseye
# and cannot run this binary), or an offline image from
# hack/kind-node-image.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

DRY_RUN=0
NAME=crisp
IMAGE=""
BUILD_DIR=""
BUILD=1
POD_IMAGE=""
POD_ARCHIVE=""
CONFIG_EXTRA=""
POD_SPEC=0
CRISP_OPTS=""
DEFAULT_POD_IMAGE=busybox:1.36
# glibc of kindest/node images from kind v0.21 (Debian bookworm).
MAX_GLIBC=2.36
ALLOWED_LIBS="libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2"
# What a node has of its own and a pod-spec crisp takes from it: glibc's
# libraries, the C++ runtime. Everything else it needs is mounted beside it.
NODE_LIBS="$ALLOWED_LIBS libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 libutil.so.1 libanl.so.1"
NODE_LIB_DIR=/usr/local/lib/crisp
SECCOMP_WAIT=180s
PODSPEC_WAIT_SECONDS=180

usage() {
	sed -n '/^# usage:/,/^#$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run) DRY_RUN=1 ;;
	--name) NAME=${2:?--name needs a value} && shift ;;
	--image) IMAGE=${2:?--image needs a value} && shift ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a value} && shift ;;
	--no-build) BUILD=0 ;;
	--pod-image) POD_IMAGE=${2:?--pod-image needs a value} && shift ;;
	--pod-archive) POD_ARCHIVE=${2:?--pod-archive needs a value} && shift ;;
	--config-extra) CONFIG_EXTRA=${2:?--config-extra needs a value} && shift ;;
	--pod-spec) POD_SPEC=1 ;;
	--crisp-opts) CRISP_OPTS=${2?--crisp-opts needs a value} && shift ;;
	-h | --help) usage ;;
	*)
		echo "kind-up: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done
if [ -z "$BUILD_DIR" ]; then
	BUILD_DIR=build-static
	[ $POD_SPEC -eq 1 ] && BUILD_DIR=build-kind-podspec
fi

ENGINE=docker
[ "${KIND_EXPERIMENTAL_PROVIDER:-}" = podman ] && ENGINE=podman
CONTEXT="kind-$NAME"

step() { printf '\n== %s\n' "$*"; }
fail() {
	echo "kind-up: FAILED: $*" >&2
	exit 1
}

# run CMD...: runs it, or in --dry-run prints it.
run() {
	printf '+ %s\n' "$*"
	[ $DRY_RUN -eq 1 ] && return 0
	"$@"
}

# capture PLACEHOLDER CMD...: CMD's output; in --dry-run, prints CMD and
# returns PLACEHOLDER.
capture() {
	local placeholder=$1
	shift
	if [ $DRY_RUN -eq 1 ]; then
		printf '+ %s\n' "$*" >&2
		printf '(dry run: taking its output to be "%s")\n' "$placeholder" >&2
		echo "$placeholder"
		return 0
	fi
	"$@"
}

# The first RepoTags entry of a `docker save` archive.
archive_tag() {
	python3 - "$1" <<'EOF'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as tar:
    manifest = json.load(tar.extractfile("manifest.json"))
tags = [t for entry in manifest for t in entry.get("RepoTags") or []]
if not tags:
    sys.exit("%s: no RepoTags in manifest.json" % sys.argv[1])
print(tags[0])
EOF
}

# ---- 1. build -------------------------------------------------------------
if [ $POD_SPEC -eq 0 ]; then
	step "1. build crisp for kind nodes ($BUILD_DIR, CRISP_STATIC=ON)"
	if [ $BUILD -eq 1 ]; then
		cmake -S . -B "$BUILD_DIR" -DCRISP_STATIC=ON -DBUILD_TESTING=OFF -DCRISP_BENCH=OFF \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
		cmake --build "$BUILD_DIR" -j "$(nproc)" --target crisp
	fi
	BIN="$BUILD_DIR/crisp"
	[ -x "$BIN" ] || fail "$BIN is missing (drop --no-build)"
	needed=$(objdump -p "$BIN" | awk '$1 == "NEEDED" {print $2}')
	for lib in $needed; do
		case " $ALLOWED_LIBS " in
		*" $lib "*) ;;
		*) fail "$BIN needs $lib, which kind nodes do not have (was it built with CRISP_STATIC=ON?)" ;;
		esac
	done
	echo "ok: $BIN needs only $(echo "$needed" | tr '\n' ' ')"
else
	# The static build has no libcurl (no static archive set a node could
	# use): the pod-spec source needs the normal build, and its libraries.
	step "1. build crisp with the pod-spec source ($BUILD_DIR, CRISP_PODSPEC=ON) and its libraries"
	if [ $BUILD -eq 1 ]; then
		cmake -S . -B "$BUILD_DIR" -DCRISP_PODSPEC=ON -DBUILD_TESTING=OFF -DCRISP_BENCH=OFF \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
		cmake --build "$BUILD_DIR" -j "$(nproc)" --target crisp
	fi
	BIN="$BUILD_DIR/crisp"
	[ -x "$BIN" ] || fail "$BIN is missing (drop --no-build)"
	"$BIN" --help | grep -q -- '--kubeconfig' || fail "$BIN has no --kubeconfig"
	# Every library it loads that a node does not bring itself, by ldd.
	LIB_DIR="$BUILD_DIR/kind-lib"
	rm -rf "$LIB_DIR"
	mkdir -p "$LIB_DIR"
	copied=0
	while read -r lib path; do
		case " $NODE_LIBS " in *" $lib "*) continue ;; esac
		[ -f "$path" ] || fail "ldd: $lib not found for $BIN"
		cp -L "$path" "$LIB_DIR/$lib"
		copied=$((copied + 1))
	done < <(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
	echo "ok: $BIN, and $copied libraries in $LIB_DIR (mounted at $NODE_LIB_DIR)"
fi
objects=("$BIN")
[ $POD_SPEC -eq 1 ] && objects+=("$LIB_DIR"/*)
glibc=$(objdump -T "${objects[@]}" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' |
	sort -uV | tail -n 1)
if [ "$(printf '%s\n%s\n' "$glibc" "$MAX_GLIBC" | sort -V | tail -n 1)" != "$MAX_GLIBC" ]; then
	fail "$BIN needs glibc $glibc; bookworm nodes have $MAX_GLIBC"
fi
echo "ok: glibc >= $glibc is enough"

# ---- 2. config --------------------------------------------------------------
step "2. kind config with absolute paths: $BUILD_DIR/kind-config.yaml"
abs_build=$(cd "$BUILD_DIR" && pwd)
CONFIG="$abs_build/kind-config.yaml"
mounts=()
if [ -n "$CRISP_OPTS" ]; then
	printf '# Written by hack/kind-up.sh --crisp-opts\nCRISP_OPTS=%s\n' "$CRISP_OPTS" \
		>"$abs_build/crisp.env"
	mounts+=("$abs_build/crisp.env:/etc/default/crisp")
	echo "crisp's extra flags (/etc/default/crisp): $CRISP_OPTS"
fi
if [ $POD_SPEC -eq 1 ]; then
	mounts+=("$abs_build/kind-lib:$NODE_LIB_DIR"
		"$REPO/deploy/systemd/30-podspec.conf:/etc/systemd/system/crisp.service.d/30-podspec.conf"
		"$REPO/deploy/kind/31-podspec-kind.conf:/etc/systemd/system/crisp.service.d/31-podspec-kind.conf")
fi
[ -z "$CONFIG_EXTRA" ] || [ -f "$CONFIG_EXTRA" ] || fail "--config-extra $CONFIG_EXTRA: no such file"
python3 - "$REPO" "$abs_build" "$CONFIG" "$CONFIG_EXTRA" "${mounts[@]}" <<'EOF'
# The rendered config: relative hostPaths made absolute (build-static/crisp
# becomes BUILD_DIR/crisp), the extra YAML merged in, extra mounts on every node.
import sys
import yaml

repo, build, out, extra_path, *mounts = sys.argv[1:]


def merge(base, extra, where="config"):
    for key, value in extra.items():
        if key not in base:
            base[key] = value
        elif isinstance(base[key], dict) and isinstance(value, dict):
            merge(base[key], value, where + "." + key)
        elif isinstance(base[key], list) and isinstance(value, list):
            base[key] = base[key] + value
        else:
            sys.exit("--config-extra: %s.%s is set in both" % (where, key))


with open(repo + "/deploy/kind/kind-config.yaml") as f:
    config = yaml.safe_load(f)
for node in config["nodes"]:
    for m in node.get("extraMounts", []):
        if m["hostPath"].startswith("build-static/"):
            m["hostPath"] = build + "/" + m["hostPath"][len("build-static/"):]
        elif not m["hostPath"].startswith("/"):
            m["hostPath"] = repo + "/" + m["hostPath"]
    for spec in mounts:
        host, container = spec.split(":", 1)
        node.setdefault("extraMounts", []).append(
            {"hostPath": host, "containerPath": container, "readOnly": True})
if extra_path:
    with open(extra_path) as f:
        merge(config, yaml.safe_load(f) or {})


class Dumper(yaml.SafeDumper):
    pass


def text(dumper, value):  # kubeadm patches stay readable blocks
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


Dumper.add_representer(str, text)
with open(out, "w") as f:
    f.write("# Rendered by hack/kind-up.sh from deploy/kind/kind-config.yaml\n")
    yaml.dump(config, f, Dumper=Dumper, sort_keys=False)
EOF
count=0
while read -r _ path; do
	[ -e "$path" ] || fail "the kind config mounts $path, which does not exist"
	count=$((count + 1))
done < <(grep -E '^[[:space:]-]*hostPath:' "$CONFIG" | sed 's/^[[:space:]-]*//')
[ $count -gt 0 ] || fail "no extraMounts in $CONFIG"
listen=$(sed -n 's#^ExecStart=[^ ]* --listen \([^ ]*\) .*#\1#p' deploy/systemd/crisp.service)
sockets=$(grep -c "criSocket: unix://$listen\$" "$CONFIG" || true)
[ "$sockets" -eq 2 ] || fail "want criSocket unix://$listen in InitConfiguration and JoinConfiguration"
echo "ok: $count mounts exist; kubeadm's criSocket is crisp's socket (unix://$listen)"
[ -n "$CONFIG_EXTRA" ] && echo "ok: merged $CONFIG_EXTRA"

# ---- 3. cluster ---------------------------------------------------------------
step "3. create the cluster '$NAME'"
missing=""
for tool in "$ENGINE" kind kubectl python3; do
	command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	[ $DRY_RUN -eq 1 ] || fail "missing:$missing"
	echo "(dry run: not installed here:$missing)"
fi
create=(kind create cluster --name "$NAME" --config "$CONFIG" --wait 180s)
[ -n "$IMAGE" ] && create+=(--image "$IMAGE")
run "${create[@]}"

# ---- 4. crisp on the nodes --------------------------------------------------
# kubelet_endpoint NODE: the endpoint the running kubelet uses: its effective
# configuration (containerRuntimeEndpoint in /configz, kubelet >= 1.27), else
# the last --container-runtime-endpoint on its command line. Not kubeadm's
# kubeadm-flags.env: kubeadm >= 1.34 no longer writes the flag there.
kubelet_endpoint() {
	local node=$1 found pid
	found=$(kubectl --context "$CONTEXT" get --raw "/api/v1/nodes/$node/proxy/configz" |
		grep -o '"containerRuntimeEndpoint":"[^"]*"' | cut -d'"' -f4 || true)
	if [ -z "$found" ]; then
		pid=$("$ENGINE" exec "$node" systemctl show --property MainPID --value kubelet)
		found=$("$ENGINE" exec "$node" cat "/proc/$pid/cmdline" | tr '\0' '\n' |
			sed -n 's/^--container-runtime-endpoint=//p' | tail -n 1)
	fi
	echo "$found"
}

step "4. crisp on every node"
nodes=$(capture "$NAME-control-plane $NAME-worker" kind get nodes --name "$NAME")
crisp_cmd=(/usr/local/bin/crisp)
[ $POD_SPEC -eq 1 ] && crisp_cmd=(env "LD_LIBRARY_PATH=$NODE_LIB_DIR" /usr/local/bin/crisp)
want="unix://$listen"
for node in $nodes; do
	if ! run "$ENGINE" exec "$node" "${crisp_cmd[@]}" --version; then
		fail "crisp does not run in $node: its image must be bookworm or later (kind >= v0.21 images)"
	fi
	run "$ENGINE" exec "$node" systemctl is-active crisp.service
	endpoint=$(capture "$want" kubelet_endpoint "$node")
	echo "$node: the kubelet's endpoint is $endpoint"
	[ "${endpoint#unix://}" = "$listen" ] || fail "$node: the kubelet does not use crisp ($endpoint)"
	if [ $POD_SPEC -eq 1 ]; then
		# The worker's kubeconfig exists only after the kubelet's TLS
		# bootstrap; crisp reads it again after each back-off (<= 30 s).
		printf '+ %s exec %s journalctl -u crisp.service --grep "pod-spec: listed pods" (until found, %ss)\n' \
			"$ENGINE" "$node" "$PODSPEC_WAIT_SECONDS"
		if [ $DRY_RUN -eq 0 ]; then
			deadline=$((SECONDS + PODSPEC_WAIT_SECONDS))
			until "$ENGINE" exec "$node" journalctl -u crisp.service --no-pager -o cat \
				--grep 'pod-spec: listed pods'; do
				[ $SECONDS -lt $deadline ] ||
					fail "$node: crisp has not listed its pods after ${PODSPEC_WAIT_SECONDS}s (journalctl -u crisp)"
				sleep 2 # poll interval of a bounded wait on crisp's watch
			done
		fi
	fi
done
# kind create --wait only warns when a node is not Ready in time.
if ! run kubectl --context "$CONTEXT" wait --for=condition=Ready nodes --all --timeout=180s; then
	run kubectl --context "$CONTEXT" get nodes -o wide || true
	fail "not every node is Ready (kubectl describe nodes)"
fi
run kubectl --context "$CONTEXT" get nodes -o wide

# ---- 5. the pod image --------------------------------------------------------
PULL_POLICY=Never
if [ -n "$POD_ARCHIVE" ]; then
	[ -f "$POD_ARCHIVE" ] || fail "--pod-archive $POD_ARCHIVE: no such file"
	tag=$(archive_tag "$POD_ARCHIVE")
	POD_IMAGE=${POD_IMAGE:-$tag}
	step "5. load the pod image $tag ($POD_ARCHIVE)"
	run kind load image-archive "$POD_ARCHIVE" --name "$NAME"
else
	POD_IMAGE=${POD_IMAGE:-$DEFAULT_POD_IMAGE}
	step "5. load the pod image $POD_IMAGE"
	if [ $DRY_RUN -eq 0 ] && ! "$ENGINE" image inspect "$POD_IMAGE" >/dev/null 2>&1; then
		echo "$POD_IMAGE is not in the local $ENGINE: the nodes pull it themselves"
		PULL_POLICY=IfNotPresent
	else
		# As `kind load docker-image` does, without its crictl calls in the node.
		archive="$abs_build/pod-image.tar"
		run "$ENGINE" save -o "$archive" "$POD_IMAGE"
		run kind load image-archive "$archive" --name "$NAME"
		[ $DRY_RUN -eq 1 ] || rm -f "$archive"
	fi
fi

# ---- 6. pods ---------------------------------------------------------------
kubelet_version=$(capture v1.27.13 kubectl --context "$CONTEXT" get nodes \
	-o 'jsonpath={.items[0].status.nodeInfo.kubeletVersion}')
minor=$(echo "$kubelet_version" | sed -n 's/^v1\.\([0-9]*\)\..*/\1/p')
[ -n "$minor" ] || fail "cannot read the kubelet's version ('$kubelet_version')"

# seccomp_of POD MANIFEST EXPECTED WHY: runs the pod, checks Seccomp: of its PID 1.
seccomp_of() {
	local pod=$1 manifest=$2 expected=$3 why=$4 line value
	step "$pod: expect Seccomp: $expected ($why)"
	run kubectl --context "$CONTEXT" delete pod "$pod" --ignore-not-found --wait=true
	printf '+ sed s#image: busybox:1.36#image: %s, imagePullPolicy: %s# %s | kubectl --context %s apply -f -\n' \
		"$POD_IMAGE" "$PULL_POLICY" "$manifest" "$CONTEXT"
	if [ $DRY_RUN -eq 0 ]; then
		sed "s#^\([[:space:]]*\)image: busybox:1.36#\1image: $POD_IMAGE\n\1imagePullPolicy: $PULL_POLICY#" \
			"$manifest" | kubectl --context "$CONTEXT" apply -f -
	fi
	run kubectl --context "$CONTEXT" wait --for=condition=Ready "pod/$pod" --timeout=$SECCOMP_WAIT
	line=$(capture "Seccomp:	$expected" kubectl --context "$CONTEXT" exec "$pod" -- \
		grep Seccomp: /proc/1/status)
	value=$(echo "$line" | awk '{print $2}')
	echo "$pod: $line"
	[ "$value" = "$expected" ] || fail "$pod: Seccomp: $value, expected $expected ($why)"
}

step "6. the pods"
seccomp_of crisp-default deploy/kind/pod-default.yaml 2 \
	"no profile set; crisp applies RuntimeDefault"
if [ $POD_SPEC -eq 1 ]; then
	seccomp_of crisp-unconfined deploy/kind/pod-unconfined.yaml 0 \
		"explicit Unconfined; crisp read the pod's spec and keeps it"
elif [ "$minor" -le 27 ]; then
	seccomp_of crisp-unconfined deploy/kind/pod-unconfined.yaml 0 \
		"explicit Unconfined on kubelet $kubelet_version: crisp keeps it"
else
	seccomp_of crisp-unconfined deploy/kind/pod-unconfined.yaml 2 \
		"kubelet $kubelet_version sends explicit Unconfined like nothing set; see README"
fi

# ---- 7. crisp's log -----------------------------------------------------------
step "7. crisp's decisions (journal of crisp.service)"
grep_log='seccomp defaulted'
[ $POD_SPEC -eq 1 ] && grep_log='seccomp defaulted|pod-spec: decided'
for node in $nodes; do
	run "$ENGINE" exec "$node" journalctl -u crisp.service --no-pager -o cat \
		--grep "$grep_log" || echo "(none on $node)"
done

step "done: kubelet $kubelet_version on crisp; delete with: kind delete cluster --name $NAME"
