# shellcheck shell=bash
# Shared by hack/critest.sh and hack/kubelet-e2e.sh (sourced, not run).

# The ready-built tools beside a clone, as CI has them (../shared/tools).
CLIENT_TOOLS_DIR=${CLIENT_TOOLS_DIR:-../shared/tools}

in_ci() {
	case "${CI:-}" in 1 | true | TRUE | yes) return 0 ;; *) return 1 ;; esac
}

# skip_or_fail WHAT WHY: a clear line either way; returns 0 (skipped) or 1 (CI).
skip_or_fail() {
	if in_ci; then
		echo "$1: FAILED: CI=true and $2" >&2
		return 1
	fi
	echo "$1: SKIPPED: $2 (see docs/critest.md, docs/kubelet-e2e.md)"
	return 0
}

unpack_cri_tools() { # TARBALL DIR
	[ -f "$1" ] || { echo "no such file: $1" >&2; return 1; }
	mkdir -p "$2"
	if [ ! -x "$2/critest" ] || [ ! -x "$2/crictl" ] || [ "$1" -nt "$2/critest" ]; then
		tar -xJf "$1" -C "$2" critest crictl
		touch "$2/critest" "$2/crictl"
	fi
}

unpack_xz() { # FILE.xz OUT
	[ -f "$1" ] || { echo "no such file: $1" >&2; return 1; }
	mkdir -p "$(dirname "$2")"
	if [ ! -x "$2" ] || [ "$1" -nt "$2" ]; then
		xz -dc "$1" >"$2.tmp"
		chmod +x "$2.tmp"
		mv "$2.tmp" "$2"
	fi
}

# run_clients_tests BUILD_DIR LABEL: the ctest label in a normal build.
run_clients_tests() {
	if [ ! -f "$1/CTestTestfile.cmake" ]; then
		cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	fi
	cmake --build "$1" -j "$(nproc)" >/dev/null
	(cd "$1" && ctest -L "$2" --no-tests=error --output-on-failure --timeout 1800)
}
