#!/usr/bin/env bash
# A real kubelet (standalone, static pods) -> crisp -> a private containerd
# (tests/kubelet, docs/kubelet-e2e.md).
#
#   hack/kubelet-e2e.sh [BUILD_DIR]    (default: build, configured and built if needed)
#
# The binary comes from the user (docs/supplied-binaries.md): KUBELET, or
# KUBELET_XZ (an xz-compressed kubelet, unpacked into BUILD_DIR/tools).
# Given neither, this prints one line saying it skipped and how to run it,
# and exits 0, in CI as well; given a path that does not work, it fails.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# shellcheck source=hack/clients-lib.sh disable=SC1091 # followed with shellcheck -x
. hack/clients-lib.sh

if [ -z "${KUBELET:-}" ] && [ -z "${KUBELET_XZ:-}" ]; then
	skip_unsupplied kubelet "no kubelet given" "KUBELET, or KUBELET_XZ (kubelet v1.26.5)" \
		docs/kubelet-e2e.md
	exit 0
fi
if [ -z "${KUBELET:-}" ]; then
	unpack_xz "$KUBELET_XZ" "$build/tools/kubelet"
	KUBELET=$build/tools/kubelet
fi
need_executable KUBELET
KUBELET=$(realpath "$KUBELET")
export KUBELET
run_clients_tests "$build" kubelet
