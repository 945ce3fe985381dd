#!/usr/bin/env bash
# critest, the CRI validation suite, against a private containerd: directly,
# through crisp and through crisp --no-default (tests/critest, docs/critest.md).
#
#   hack/critest.sh [BUILD_DIR]        (default: build, configured and built if needed)
#
# The binaries: CRITEST and CRICTL, or CRI_TOOLS_TARBALL (a cri-tools
# tarball holding both, unpacked into BUILD_DIR/tools). hack/test.sh passes
# ../shared/tools/cri-tools-v1.26.1-linux-amd64.tar.xz when it exists.
# Without any of them this says that it skipped and exits 0; with CI=true
# it fails instead. Needs root (containerd, CNI).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# shellcheck source=hack/clients-lib.sh disable=SC1091 # followed with shellcheck -x
. hack/clients-lib.sh

if [ -z "${CRITEST:-}" ] && [ -n "${CRI_TOOLS_TARBALL:-}" ]; then
	unpack_cri_tools "$CRI_TOOLS_TARBALL" "$build/tools"
	CRITEST=$build/tools/critest CRICTL=$build/tools/crictl
fi
if [ -z "${CRITEST:-}" ] || [ -z "${CRICTL:-}" ]; then
	skip_or_fail critest "no critest given: set CRITEST and CRICTL, or CRI_TOOLS_TARBALL"
	exit $?
fi
CRITEST=$(realpath "$CRITEST") CRICTL=$(realpath "$CRICTL")
export CRITEST CRICTL
run_clients_tests "$build" critest
