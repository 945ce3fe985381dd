#!/usr/bin/env bash
# critest, the CRI validation suite, against a private containerd: directly,
# through crisp and through crisp --no-default (tests/critest, docs/critest.md).
#
#   hack/critest.sh [BUILD_DIR]        (default: build, configured and built if needed)
#
# The binaries come from the user (docs/supplied-binaries.md): CRITEST and
# CRICTL, or CRI_TOOLS_TARBALL (a cri-tools tarball holding both, unpacked
# into BUILD_DIR/tools). Given none, this prints one line saying it skipped
# and how to run it, and exits 0, in CI as well; given a path that does not
# work, it fails. Needs root (containerd, CNI).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# shellcheck source=hack/clients-lib.sh disable=SC1091 # followed with shellcheck -x
. hack/clients-lib.sh

if [ -z "${CRITEST:-}" ] && [ -z "${CRICTL:-}" ] && [ -z "${CRI_TOOLS_TARBALL:-}" ]; then
	skip_unsupplied critest "no critest given" \
		"CRITEST and CRICTL, or CRI_TOOLS_TARBALL (cri-tools v1.26.1)" docs/critest.md
	exit 0
fi
if [ -z "${CRITEST:-}" ] && [ -n "${CRI_TOOLS_TARBALL:-}" ]; then
	unpack_cri_tools "$CRI_TOOLS_TARBALL" "$build/tools"
	CRITEST=$build/tools/critest CRICTL=$build/tools/crictl
fi
need_executable CRITEST
need_executable CRICTL
CRITEST=$(realpath "$CRITEST") CRICTL=$(realpath "$CRICTL")
export CRITEST CRICTL
run_clients_tests "$build" critest
