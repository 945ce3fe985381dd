#!/usr/bin/env bash
# crisp in real kind clusters (tests/kind, docs/kind.md): hack/kind-up.sh's
# cluster with crisp, the same with the pod-spec source, and the DaemonSet
# rollout on a cluster without crisp (the control case).
#
#   hack/kind-e2e.sh [BUILD_DIR]     (default: build, configured and built if needed)
#
# Inputs come from the user (docs/supplied-binaries.md), kind being no
# Debian 12 package and Kubernetes none at all:
#   KIND             the kind binary (v0.21 or later)
#   KIND_NODE_IMAGE  a node image in the local docker (kindest/node:vX.Y.Z), or
#   K8S_BIN_DIR and KIND_SRC  Kubernetes binaries (kubeadm, kubelet, kubectl,
#                    kube-apiserver, kube-controller-manager, kube-scheduler)
#                    and kind's source tree: hack/kind-node-image.sh builds an
#                    offline node image from them (cached by content)
#   KUBECTL          optional; default K8S_BIN_DIR/kubectl, else kubectl on PATH
#   KIND_CONFIG_EXTRA  optional; default hack/kind-node/cluster-extra.yaml for
#                    an image of hack/kind-node-image.sh, nothing otherwise
# The pod image and the installer's base image are always made here from
# Debian's packages (hack/kind-node-image.sh --pod-only --base-image).
# Given none of KIND, KIND_NODE_IMAGE, K8S_BIN_DIR, KIND_SRC, this prints one
# line saying it skipped and exits 0, in CI as well; given some, they must
# work. Needs root and a running docker daemon (docs/kind.md).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# shellcheck source=hack/clients-lib.sh disable=SC1091 # followed with shellcheck -x
. hack/clients-lib.sh

if [ -z "${KIND:-}${KIND_NODE_IMAGE:-}${K8S_BIN_DIR:-}${KIND_SRC:-}" ]; then
	skip_unsupplied kind "no kind given" \
		"KIND and KIND_NODE_IMAGE, or KIND, K8S_BIN_DIR and KIND_SRC (kind v0.32.0, Kubernetes v1.31.14)" \
		docs/kind.md
	exit 0
fi
fail() {
	echo "kind-e2e: FAILED: $*" >&2
	exit 1
}
need_executable KIND
command -v docker >/dev/null || fail "no docker: apt-get install docker.io, and start dockerd (docs/kind.md)"
docker info >/dev/null 2>&1 || fail "docker does not answer: start dockerd (docs/kind.md)"
mkdir -p "$build"
env_file=$(realpath "$build")/kind-images.env
if [ -z "${KIND_NODE_IMAGE:-}" ]; then
	{ [ -n "${K8S_BIN_DIR:-}" ] && [ -n "${KIND_SRC:-}" ]; } ||
		fail "give KIND_NODE_IMAGE, or K8S_BIN_DIR and KIND_SRC to build one"
	hack/kind-node-image.sh --k8s-bin "$K8S_BIN_DIR" --kind-src "$KIND_SRC" --base-image \
		--env-file "$env_file"
	KIND_CONFIG_EXTRA=${KIND_CONFIG_EXTRA:-$(pwd)/hack/kind-node/cluster-extra.yaml}
else
	hack/kind-node-image.sh --pod-only --base-image --env-file "$env_file"
	case "$KIND_NODE_IMAGE" in
	crisp.local/kind-node:*) KIND_CONFIG_EXTRA=${KIND_CONFIG_EXTRA:-$(pwd)/hack/kind-node/cluster-extra.yaml} ;;
	esac
fi
# shellcheck disable=SC1090 # written just above
. "$env_file"
if [ -z "${KUBECTL:-}" ]; then
	if [ -n "${K8S_BIN_DIR:-}" ]; then
		KUBECTL=$K8S_BIN_DIR/kubectl
	else
		KUBECTL=$(command -v kubectl || true)
	fi
fi
need_executable KUBECTL
KIND=$(realpath "$KIND") KUBECTL=$(realpath "$KUBECTL")
export KIND KUBECTL KIND_NODE_IMAGE KIND_POD_ARCHIVE KIND_POD_IMAGE KIND_BASE_IMAGE
export KIND_CONFIG_EXTRA=${KIND_CONFIG_EXTRA:-}
echo "kind-e2e: $("$KIND" version), node image $KIND_NODE_IMAGE, pod image $KIND_POD_IMAGE"
run_clients_tests "$build" kind
