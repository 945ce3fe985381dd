#!/usr/bin/env bash
# The whole test suite, as the README's quick start and CI run it:
# installs dependencies, checks formatting and the layers of src/
# (hack/check-layers.sh), builds crisp twice (normal, and with
# AddressSanitizer + UBSan + LeakSanitizer) and runs every test in both:
# unit tests, gRPC-level tests against a fake runtime, fixture replay, and
# end-to-end tests that start and stop their own private containerd.
# A third build, with ThreadSanitizer, runs the tests that drive crisp's
# threads and the relay frame by frame (hack/tsan.sh).
# Then, once, after the normal build's tests: the real clients, critest
# (hack/critest.sh) and a kubelet (hack/kubelet-e2e.sh), kind clusters
# (hack/kind-e2e.sh), and crisp in front of a real CRI-O (hack/crio-e2e.sh).
# Their binaries are not Debian's and come only from the user:
# CRI_TOOLS_TARBALL and KUBELET_XZ (or CRITEST/CRICTL and KUBELET), KIND
# with KIND_NODE_IMAGE or K8S_BIN_DIR and KIND_SRC, CRIO and PINNS (with
# CRITEST and KUBELET, critest and a kubelet against CRI-O too). Without them each prints
# one line saying it skipped and how to run it, in CI too, and the summary
# at the end lists what was skipped (docs/supplied-binaries.md).
#
# Needs root (apt-get, and containerd for the end-to-end tests); a missing
# prerequisite fails, it never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run as root: the end-to-end tests start a private containerd" >&2
	exit 1
fi

hack/install-deps.sh
hack/check-format.sh
hack/check-layers.sh

# Every test skipped for want of a supplied binary appends its one line here.
CRISP_SKIPPED_FILE=$(mktemp)
export CRISP_SKIPPED_FILE
trap 'rm -f "$CRISP_SKIPPED_FILE"' EXIT

jobs=$(nproc)
status=0
for variant in build build-asan; do
	extra=()
	[ "$variant" = build-asan ] && extra=(-DCRISP_SANITIZE=ON)
	echo "== $variant: configure and build"
	cmake -S . -B "$variant" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}" >/dev/null
	cmake --build "$variant" -j "$jobs"
	echo "== $variant: tests"
	# One test at a time: several tests run a private containerd or hold
	# many calls, and the machine has two cores.
	# The real clients (label "clients", normal build only) run once, below.
	(cd "$variant" && ctest -LE clients --output-on-failure --timeout 900) || status=1
	if [ "$variant" = build ]; then
		echo "== build: the real clients (critest, kubelet)"
		hack/critest.sh build || status=1
		hack/kubelet-e2e.sh build || status=1
		echo "== build: crisp in kind clusters"
		hack/kind-e2e.sh build || status=1
		echo "== build: crisp in front of a real CRI-O"
		hack/crio-e2e.sh build || status=1
	fi
done

echo "== build-tsan: ThreadSanitizer"
hack/tsan.sh || status=1

# Each libFuzzer target for a short, fixed budget (clang build in build-fuzz/).
# A longer local run: hack/fuzz.sh 600.
echo "== fuzzing"
hack/fuzz.sh 30 || status=1

if [ -s "$CRISP_SKIPPED_FILE" ]; then
	echo "test.sh: skipped, for want of binaries only the user can supply:"
	sed 's/^/  /' "$CRISP_SKIPPED_FILE"
fi
if [ $status -ne 0 ]; then
	echo "test.sh: FAILED (see the output above)"
else
	echo "test.sh: all tests passed in the normal, the ASan and the TSan build"
fi
exit $status
