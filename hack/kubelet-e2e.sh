#!/usr/bin/env bash
# A real kubelet (standalone, static pods) -> crisp -> a private containerd
# (tests/kubelet, docs/kubelet-e2e.md).
#
#   hack/kubelet-e2e.sh [BUILD_DIR]    (default: build, configured and built if needed)
#
# The binary comes from the user (docs/supplied-binaries.md): KUBELET, or
# KUBELET_XZ (an xz-compressed kubelet, unpacked into BUILD_DIR/tools), for
# tests/kubelet/test_kubelet.py (v1.26.5); KUBELET_1_31, a kubelet >= 1.28
# (v1.31.14), for the second era, tests/kubelet/test_kubelet_131.py. Either
# may come alone: the test without its kubelet says it skipped. Given none,
# this prints one line saying it skipped and how to run it, and exits 0, in
# CI as well; given a path that does not work, it fails. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# shellcheck source=hack/clients-lib.sh disable=SC1091 # followed with shellcheck -x
. hack/clients-lib.sh

if [ -z "${KUBELET:-}" ] && [ -z "${KUBELET_XZ:-}" ] && [ -z "${KUBELET_1_31:-}" ]; then
	skip_unsupplied kubelet "no kubelet given" \
		"KUBELET, or KUBELET_XZ (kubelet v1.26.5), and/or KUBELET_1_31 (v1.31.14)" \
		docs/kubelet-e2e.md
	exit 0
fi
if [ -n "${KUBELET:-}${KUBELET_XZ:-}" ]; then
	if [ -z "${KUBELET:-}" ]; then
		unpack_xz "$KUBELET_XZ" "$build/tools/kubelet"
		KUBELET=$build/tools/kubelet
	fi
	need_executable KUBELET
	KUBELET=$(realpath "$KUBELET")
	export KUBELET
fi
if [ -n "${KUBELET_1_31:-}" ]; then
	need_executable KUBELET_1_31
	KUBELET_1_31=$(realpath "$KUBELET_1_31")
	export KUBELET_1_31
fi
run_clients_tests "$build" kubelet
