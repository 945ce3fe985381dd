# shellcheck shell=bash
# Sourced, not run, by the scripts of the tests that need a binary the user
# supplies (hack/critest.sh, hack/kubelet-e2e.sh; CRI-O and kind to come).
# The convention (docs/supplied-binaries.md; tests/lib/supplied.py is the
# Python half):
# - nothing given: print ONE line, `TEST: SKIPPED: WHAT; to run it, set HOW
#   (see DOC)`, append it to $CRISP_SKIPPED_FILE when set (hack/test.sh
#   lists those lines at the end) and exit 0, in CI as well;
# - something given: it must work (a missing file fails the script);
# - root and Debian's packages are prerequisites, never skipped.

# skip_unsupplied TEST WHAT HOW DOC: the skip line; returns 0.
#   skip_unsupplied critest "no critest given" "CRITEST and CRICTL, or CRI_TOOLS_TARBALL" docs/critest.md
skip_unsupplied() {
	local line="$1: SKIPPED: $2; to run it, set $3 (see $4)"
	echo "$line"
	if [ -n "${CRISP_SKIPPED_FILE:-}" ]; then
		echo "$line" >>"$CRISP_SKIPPED_FILE"
	fi
	return 0
}

# skip_or_fail TEST WHY: the first form of the skip line, kept for scripts
# written against it; it now skips in CI as well.
skip_or_fail() {
	local line="$1: SKIPPED: $2 (see docs/supplied-binaries.md)"
	echo "$line"
	if [ -n "${CRISP_SKIPPED_FILE:-}" ]; then
		echo "$line" >>"$CRISP_SKIPPED_FILE"
	fi
	return 0
}

# need_executable VAR: fails (returns 1, says why) unless $VAR names an
# executable file; a variable the user set must work.
need_executable() {
	local path=${!1}
	if [ ! -f "$path" ] || [ ! -x "$path" ]; then
		echo "$1=$path is not an executable file" >&2
		return 1
	fi
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
