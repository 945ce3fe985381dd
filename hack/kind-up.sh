#!/usr/bin/env bash
# Creates a kind cluster whose kubelets talk to crisp, and shows it working:
#
#   1. builds crisp for the node (CRISP_STATIC=ON: only glibc, libstdc++ and
#      libgcc_s dynamic) and checks what it links against;
#   2. renders deploy/kind/kind-config.yaml with absolute paths and checks
#      that every file it mounts into the nodes exists;
#   3. creates the cluster (kind create cluster --wait);
#   4. shows crisp active on every node and the kubelet's endpoint;
#   5. runs a pod with no seccomp profile and reads `Seccomp:` from
#      /proc/1/status of its container: 2 (crisp applied RuntimeDefault);
#   6. runs a pod with an explicit Unconfined profile: 0 on kubelets <= 1.27,
#      2 on >= 1.28 (README, "The one limitation");
#   7. shows crisp's log lines for those pods.
#
# --dry-run runs steps 1 and 2 for real (they need no container engine) and
# prints the docker/kind/kubectl commands of steps 3-7 instead of running
# them. The cluster is kept afterwards: `kind delete cluster --name NAME`.
#
# usage: hack/kind-up.sh [--dry-run] [--name NAME] [--image kindest/node:vX.Y.Z]
#                        [--build-dir DIR] [--no-build] [--pod-image IMAGE]
#
# Needs (except in --dry-run): docker (or podman with
# KIND_EXPERIMENTAL_PROVIDER=podman), kind >= v0.21, kubectl, and for the pods
# an image the nodes can pull (busybox:1.36, or --pod-image). Node images
# must be Debian bookworm or later (glibc >= 2.34): those published with kind
# v0.21 or later, e.g. kindest/node:v1.27.13 (kind v0.23) for a 1.27 kubelet;
# kindest/node:v1.27.3 (kind v0.20) is bullseye and cannot run this binary.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

DRY_RUN=0
NAME=crisp
IMAGE=""
BUILD_DIR=build-static
BUILD=1
POD_IMAGE=busybox:1.36
# glibc of kindest/node images from kind v0.21 (Debian bookworm).
MAX_GLIBC=2.36
ALLOWED_LIBS="libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2"

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
	-h | --help) usage ;;
	*)
		echo "kind-up: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done

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

# ---- 1. build -------------------------------------------------------------
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
glibc=$(objdump -T "$BIN" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
if [ "$(printf '%s\n%s\n' "$glibc" "$MAX_GLIBC" | sort -V | tail -n 1)" != "$MAX_GLIBC" ]; then
	fail "$BIN needs glibc $glibc; bookworm nodes have $MAX_GLIBC"
fi
echo "ok: $BIN needs only $(echo "$needed" | tr '\n' ' ')(glibc >= $glibc)"

# ---- 2. config --------------------------------------------------------------
step "2. kind config with absolute paths: $BUILD_DIR/kind-config.yaml"
abs_build=$(cd "$BUILD_DIR" && pwd)
CONFIG="$abs_build/kind-config.yaml"
sed -e "s#hostPath: build-static/#hostPath: $abs_build/#" \
	-e "s#hostPath: deploy/#hostPath: $REPO/deploy/#" \
	deploy/kind/kind-config.yaml >"$CONFIG"
mounts=0
while read -r _ path; do
	[ -e "$path" ] || fail "the kind config mounts $path, which does not exist"
	mounts=$((mounts + 1))
done < <(grep -E '^[[:space:]-]*hostPath:' "$CONFIG" | sed 's/^[[:space:]-]*//')
[ $mounts -gt 0 ] || fail "no extraMounts in $CONFIG"
listen=$(sed -n 's#^ExecStart=[^ ]* --listen \([^ ]*\) .*#\1#p' deploy/systemd/crisp.service)
sockets=$(grep -c "criSocket: unix://$listen\$" "$CONFIG" || true)
[ "$sockets" -eq 2 ] || fail "want criSocket unix://$listen in InitConfiguration and JoinConfiguration"
echo "ok: $mounts mounts exist; kubeadm's criSocket is crisp's socket (unix://$listen)"

# ---- 3. cluster ---------------------------------------------------------------
step "3. create the cluster '$NAME'"
missing=""
for tool in "$ENGINE" kind kubectl; do
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
step "4. crisp on every node"
nodes=$(capture "$NAME-control-plane $NAME-worker" kind get nodes --name "$NAME")
for node in $nodes; do
	if ! run "$ENGINE" exec "$node" /usr/local/bin/crisp --version; then
		fail "crisp does not run in $node: its image must be bookworm or later (kind >= v0.21 images)"
	fi
	run "$ENGINE" exec "$node" systemctl is-active crisp.service
	run "$ENGINE" exec "$node" grep -o 'container-runtime-endpoint=[^ "]*' \
		/var/lib/kubelet/kubeadm-flags.env
done
run kubectl --context "$CONTEXT" get nodes -o wide

# ---- 5./6. pods ---------------------------------------------------------------
kubelet_version=$(capture v1.27.13 kubectl --context "$CONTEXT" get nodes \
	-o 'jsonpath={.items[0].status.nodeInfo.kubeletVersion}')
minor=$(echo "$kubelet_version" | sed -n 's/^v1\.\([0-9]*\)\..*/\1/p')
[ -n "$minor" ] || fail "cannot read the kubelet's version ('$kubelet_version')"

# seccomp_of POD MANIFEST EXPECTED WHY: runs the pod, checks Seccomp: of its PID 1.
seccomp_of() {
	local pod=$1 manifest=$2 expected=$3 why=$4 line value
	step "$pod: expect Seccomp: $expected ($why)"
	run kubectl --context "$CONTEXT" delete pod "$pod" --ignore-not-found --wait=true
	printf '+ sed s#busybox:1.36#%s# %s | kubectl --context %s apply -f -\n' \
		"$POD_IMAGE" "$manifest" "$CONTEXT"
	if [ $DRY_RUN -eq 0 ]; then
		sed "s#image: busybox:1.36#image: $POD_IMAGE#" "$manifest" |
			kubectl --context "$CONTEXT" apply -f -
	fi
	run kubectl --context "$CONTEXT" wait --for=condition=Ready "pod/$pod" --timeout=180s
	line=$(capture "Seccomp:	$expected" kubectl --context "$CONTEXT" exec "$pod" -- \
		grep Seccomp: /proc/1/status)
	value=$(echo "$line" | awk '{print $2}')
	echo "$pod: $line"
	[ "$value" = "$expected" ] || fail "$pod: Seccomp: $value, expected $expected ($why)"
}

seccomp_of crisp-default deploy/kind/pod-default.yaml 2 \
	"no profile set; crisp applies RuntimeDefault"
if [ "$minor" -le 27 ]; then
	seccomp_of crisp-unconfined deploy/kind/pod-unconfined.yaml 0 \
		"explicit Unconfined on kubelet $kubelet_version: crisp keeps it"
else
	seccomp_of crisp-unconfined deploy/kind/pod-unconfined.yaml 2 \
		"kubelet $kubelet_version sends explicit Unconfined like nothing set; see README"
fi

# ---- 7. crisp's log -----------------------------------------------------------
step "7. crisp's decisions (journal of crisp.service)"
for node in $nodes; do
	run "$ENGINE" exec "$node" journalctl -u crisp.service --no-pager -o cat \
		--grep 'seccomp defaulted' || echo "(none on $node)"
done

step "done: kubelet $kubelet_version on crisp; delete with: kind delete cluster --name $NAME"
