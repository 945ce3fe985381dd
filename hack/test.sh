#!/usr/bin/env bash
# The whole test suite, as the README's quick start and CI run it:
# installs dependencies, checks formatting and the layers of src/
# (hack/check-layers.sh), builds crisp twice (normal, and with
# AddressSanitizer + UBSan + LeakSanitizer) and runs every test in both:
# unit tests, gRPC-level tests against a fake runtime, fixture replay, and
# end-to-end tests that start and stop their own private containerd.
#
# Needs root (apt-get, and containerd for the end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run as root: the end-to-end tests start a private containerd" >&2
	exit 1
fi

hack/install-deps.sh
hack/check-format.sh
hack/check-layers.sh

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
	(cd "$variant" && ctest --output-on-failure --timeout 900) || status=1
done

# Each libFuzzer target for a short, fixed budget (clang build in build-fuzz/).
# A longer local run: hack/fuzz.sh 600.
echo "== fuzzing"
hack/fuzz.sh 30 || status=1

if [ $status -ne 0 ]; then
	echo "test.sh: FAILED (see the output above)"
else
	echo "test.sh: all tests passed in the normal and the sanitizer build"
fi
exit $status
