#!/usr/bin/env bash
# crisp in front of a real CRI-O (tests/crio, docs/crio.md): the seccomp
# cases under both values of seccomp_use_default_when_empty, directly,
# through crisp and through crisp --no-default; `crisp --record` and
# `crisp replay --check`; critest three ways (with CRITEST); a real kubelet
# through crisp with deploy/crio/'s layout (with KUBELET).
#
#   hack/crio-e2e.sh [BUILD_DIR]       (default: build, configured and built if needed)
#
# The binaries come from the user (docs/supplied-binaries.md):
#   CRIO      CRI-O's crio, v1.26 (tested: v1.26.4)              required
#   PINNS     CRI-O's pinns                       default: the pinns beside crio
#   CRITEST   critest v1.26 (or CRI_TOOLS_TARBALL)   without it: no critest
#   KUBELET   a kubelet v1.26 (or KUBELET_XZ)        without it: no kubelet
# conmon, runc and the CNI plugins come from Debian (hack/install-deps.sh).
# Given neither CRIO nor PINNS, this prints one line saying it skipped and
# how to run it, and exits 0, in CI too; given a path that does not work, it
# fails. Without CRITEST or KUBELET, their tests say in one line each that
# they skipped.
# Needs root. Takes 19-26 minutes here with critest (six runs) and the
# kubelet, 1-2 minutes with neither.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
# shellcheck source=hack/clients-lib.sh disable=SC1091 # followed with shellcheck -x
. hack/clients-lib.sh
# tests/crio/criolib.py says the same
CRIO_HOW="CRIO, and PINNS unless it is beside crio (CRI-O v1.26.4)"

if [ -z "${CRIO:-}" ] && [ -z "${PINNS:-}" ]; then
	skip_unsupplied crio "no CRI-O given" "$CRIO_HOW" docs/crio.md
	exit 0
fi
if [ -n "${CRIO:-}" ] && [ -z "${PINNS:-}" ]; then
	PINNS=$(dirname "$CRIO")/pinns
fi
need_executable CRIO
need_executable PINNS
CRIO=$(realpath "$CRIO") PINNS=$(realpath "$PINNS")
export CRIO PINNS
if [ -z "${CRITEST:-}" ] && [ -n "${CRI_TOOLS_TARBALL:-}" ]; then
	unpack_cri_tools "$CRI_TOOLS_TARBALL" "$build/tools"
	CRITEST=$build/tools/critest
fi
if [ -z "${KUBELET:-}" ] && [ -n "${KUBELET_XZ:-}" ]; then
	unpack_xz "$KUBELET_XZ" "$build/tools/kubelet"
	KUBELET=$build/tools/kubelet
fi
for var in CRITEST KUBELET; do
	if [ -n "${!var:-}" ]; then
		need_executable "$var"
		export "$var=$(realpath "${!var}")"
	fi
done
echo "crio: $("$CRIO" --version 2>/dev/null | sed -n 's/^Version: *//p' | head -n 1) at $CRIO"
run_clients_tests "$build" crio
