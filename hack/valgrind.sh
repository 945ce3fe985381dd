#!/usr/bin/env bash
# hack/valgrind.sh [--crisp PATH] [--groups "grpc replay ..."] [--long] [--out DIR]
#
# Runs the Python test suites with every crisp they start under valgrind's
# memcheck, and fails on any memcheck error or definite leak, or any failing
# test. It is slow (memcheck runs crisp 20-50x slower): about 10 minutes
# for the default groups on two cores, 30 or more with --long.
#
# How: the tests start crisp from $CRISP_BIN (tests/lib/crisp.py), so
# CRISP_BIN points at a wrapper that execs
#   valgrind --tool=memcheck --error-exitcode=97 --leak-check=full
#            --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp
# A memcheck error makes crisp exit 97, which every test that stops crisp
# checks; independently, this script reads every valgrind log afterwards and
# fails if any reports an error (also for tests that kill crisp on purpose).
# `crisp replay` runs under valgrind too, the same way.
#
#   --crisp PATH   the crisp binary to check (default: $BUILD_DIR/crisp, built
#                  here; BUILD_DIR defaults to ./build). Not an ASan build:
#                  valgrind and AddressSanitizer cannot run together.
#   --groups LIST  test groups (folders under tests/) to run; default
#                  "grpc replay record operate faults podspec e2e" (e2e needs root and a
#                  containerd, as in hack/test.sh)
#   --long         also run the tests labelled "long" (2,000 calls in flight,
#                  10,000 connections): under valgrind they take tens of minutes
#   --out DIR      logs (default $BUILD_DIR/valgrind/<UTC timestamp>)
#
# Results: DIR/summary.txt (one line per test module), DIR/<module>.log
# (the test's output), DIR/vg/<pid>.log (one valgrind log per crisp process).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
CRISP=""
GROUPS_TO_RUN="grpc replay record operate faults podspec e2e"
LONG=0
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--crisp) CRISP=${2:?}; shift 2 ;;
	--groups) GROUPS_TO_RUN=${2:?}; shift 2 ;;
	--long) LONG=1; shift ;;
	--out) OUT=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "valgrind.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done

die() { echo "valgrind.sh: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind is missing (hack/install-deps.sh)"
PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY is missing (hack/install-deps.sh)"

if [ -z "$CRISP" ]; then
	if [ ! -f "$BUILD/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	fi
	grep -q '^CRISP_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" &&
		die "$BUILD is a sanitizer build; valgrind needs a normal one (BUILD_DIR=...)"
	cmake --build "$BUILD" -j"$(nproc)" --target crisp >/dev/null
	CRISP=$BUILD/crisp
fi
CRISP=$(cd "$(dirname "$CRISP")" && pwd)/$(basename "$CRISP")
[ -x "$CRISP" ] || die "no crisp binary at $CRISP"
if nm -D "$CRISP" 2>/dev/null | grep -q __asan_init; then
	die "$CRISP is built with AddressSanitizer; valgrind needs a normal build"
fi

OUT=${OUT:-$BUILD/valgrind/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/vg"
OUT=$(cd "$OUT" && pwd)
SUPP=$ROOT/tests/valgrind.supp
[ -f "$SUPP" ] || die "$SUPP is missing"
# A copy: a rebuild of the build folder during the run must not swap or
# remove the binary under test.
cp "$CRISP" "$OUT/crisp"
CRISP=$OUT/crisp

# The wrapper the tests start instead of crisp.
WRAP=$OUT/crisp-under-valgrind
cat >"$WRAP" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --error-exitcode=97 --leak-check=full \\
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \\
	--suppressions="$SUPP" --num-callers=40 --track-origins=no \\
	--log-file="$OUT/vg/%p.log" "$CRISP" "\$@"
EOF
chmod +x "$WRAP"

# Under valgrind crisp starts in seconds, not milliseconds; the tests' own
# waits are bounded generously (30-60 s) and stay as they are.
# CRISP_UNDER_VALGRIND=1 tells tests/faults that crisp's RSS is memcheck's
# allocator's: the memory-growth bounds of test_load and test_fd_churn are
# reported, not judged (memcheck's leak check judges instead).
tests=()
for g in $GROUPS_TO_RUN; do
	[ -d "$ROOT/tests/$g" ] || die "no test group tests/$g"
	for f in "$ROOT"/tests/"$g"/test_*.py; do
		[ -e "$f" ] || continue
		stem=$(basename "$f" .py)
		case "$LONG:$g/$stem" in
		0:faults/test_load | 0:faults/test_fd_churn)
			echo "skip    $g/$stem (long; --long runs it)" | tee -a "$OUT/summary.txt"
			continue ;;
		esac
		tests+=("$g/$stem")
	done
done

echo "valgrind.sh: $CRISP under memcheck, ${#tests[@]} test modules; logs in $OUT"
failed=0
for t in "${tests[@]}"; do
	start=$(date +%s)
	before=$(find "$OUT/vg" -name "*.log" | wc -l)
	rc=0
	(cd "$ROOT" && CRISP_BIN=$WRAP CRISP_UNDER_VALGRIND=1 PYTHONDONTWRITEBYTECODE=1 \
		PYTHONPATH="$ROOT/tests/lib:$ROOT/tests/e2e" \
		timeout 3600 "$PY" -m unittest -v "tests/$t.py") >"$OUT/${t//\//_}.log" 2>&1 || rc=$?
	after=$(find "$OUT/vg" -name "*.log" | wc -l)
	status=ok note=""
	[ "$rc" = 0 ] || { status=FAIL note="  (tests exited $rc; see ${t//\//_}.log)"; failed=1; }
	printf '%-7s %-36s %5ss  crisp processes: %d%s\n' "$status" "$t" \
		$(($(date +%s) - start)) $((after - before)) "$note" | tee -a "$OUT/summary.txt"
done

# Every valgrind log, whatever the test did with crisp's exit code.
bad_logs=()
for log in "$OUT"/vg/*.log; do
	[ -e "$log" ] || continue
	if grep -qE 'ERROR SUMMARY: [1-9]' "$log"; then
		bad_logs+=("$log")
	fi
done
total=$(find "$OUT/vg" -name "*.log" | wc -l)
{
	echo
	echo "valgrind logs: $total crisp processes, ${#bad_logs[@]} with errors"
	for log in "${bad_logs[@]+"${bad_logs[@]}"}"; do
		echo "  $log: $(grep -m1 'ERROR SUMMARY' "$log")"
	done
	# Non-definite leaks are not errors here; their totals, for the record.
	cat "$OUT"/vg/*.log 2>/dev/null | awk '
		{ gsub(",", "") }
		/definitely lost:/ { d += $4 } /indirectly lost:/ { i += $4 }
		/possibly lost:/ { p += $4 } /still reachable:/ { r += $4 }
		END { printf "leaked bytes over all processes: definitely %d, indirectly %d, possibly %d, still reachable %d\n", d, i, p, r }'
} | tee -a "$OUT/summary.txt"

if [ "$failed" = 0 ] && [ ${#bad_logs[@]} -eq 0 ]; then
	echo "valgrind.sh: PASS ($OUT/summary.txt)"
	exit 0
fi
echo "valgrind.sh: FAIL ($OUT/summary.txt)" >&2
exit 1
