#!/usr/bin/env bash
# A real kubelet (standalone, static pods) -> crisp -> a private containerd
# (tests/kubelet, docs/kubelet-e2e.md).
#
#   hack/kubelet-e2e.sh [BUILD_DIR]    (default: build, configured and built if needed)
#
# The binary: KUBELET, or KUBELET_XZ (an xz-compressed kubelet, unpacked
# into BUILD_DIR/tools). hack/test.sh passes
# ../shared/tools/kubelet-v1.26.5-linux-amd64.xz when it exists. Without
# either this says that it skipped and exits 0; with CI=true it fails
# instead. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# shellcheck source=hack/clients-lib.sh disable=SC1091 # followed with shellcheck -x
. hack/clients-lib.sh

if [ -z "${KUBELET:-}" ] && [ -n "${KUBELET_XZ:-}" ]; then
	unpack_xz "$KUBELET_XZ" "$build/tools/kubelet"
	KUBELET=$build/tools/kubelet
fi
if [ -z "${KUBELET:-}" ]; then
	skip_or_fail kubelet "no kubelet given: set KUBELET, or KUBELET_XZ"
	exit $?
fi
KUBELET=$(realpath "$KUBELET")
export KUBELET
run_clients_tests "$build" kubelet
