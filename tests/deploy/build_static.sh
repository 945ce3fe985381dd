#!/usr/bin/env bash
# ctest fixture: builds crisp with CRISP_STATIC=ON into BUILD_DIR (incremental),
# the binary kind nodes and the DaemonSet image get; hack/kind-up.sh does the same.
set -euo pipefail
src=${1:?usage: build_static.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: build_static.sh SOURCE_DIR BUILD_DIR}
cmake -S "$src" -B "$build" -DCRISP_STATIC=ON -DBUILD_TESTING=OFF -DCRISP_BENCH=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target crisp
