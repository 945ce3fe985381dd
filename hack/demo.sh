#!/usr/bin/env bash
# The README demo. As root on Debian 12: installs the dependencies, builds
# crisp (Release) into build/, starts a private containerd (its own temporary
# root, state and socket; a system containerd is never touched) with crisp in
# front of it, and runs the same pod with no seccomp profile directly and
# through crisp, printing the seccomp mode each container really got.
# Everything it starts is torn down before it exits. Exit status 0 only if the
# container ran unconfined (0) directly and filtered (2) through crisp.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (containerd and runc need it)" >&2
	exit 1
fi

hack/install-deps.sh

# Only the daemon is needed here; the tests are built and run separately.
# Build output goes to a log so the demo stays readable; shown on failure.
build_log=build/demo-build.log
mkdir -p build
echo "demo: building crisp (log: $build_log)"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
	cmake --build build --target crisp -j"$(nproc)"; } >"$build_log" 2>&1; then
	tail -n 40 "$build_log" >&2
	echo "demo: build failed (full log: $build_log)" >&2
	exit 1
fi

# Debian's own interpreter: it has python3-grpcio and python3-protobuf.
CRISP_BIN="$PWD/build/crisp" PYTHONPATH="tests/lib:tests/e2e" \
	exec /usr/bin/python3 tests/e2e/demo.py
