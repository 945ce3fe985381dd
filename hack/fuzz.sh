#!/usr/bin/env bash
# Fuzzes crisp with libFuzzer: every target in tests/fuzz, for
# SECONDS_PER_TARGET seconds each (default 600).
#
#   hack/fuzz.sh [SECONDS_PER_TARGET]
#
# Builds build-fuzz/ with clang and -DCRISP_FUZZ=ON, generates the seeds
# (tests/fixtures, hand-made edge cases, fixed findings) and runs the
# targets one after the other. What the fuzzer learns is kept in
# build-fuzz/fuzz/corpus/TARGET and grows from run to run.
#
# Any finding (a violated invariant, a crash, a sanitizer report, a leak, a
# timeout, running out of memory) makes the script exit 1 and print the
# reproducer's path, its bytes and the command that replays it.
#
# Environment:
#   CRISP_FUZZ_JOBS=N        N fuzzing processes per target (libFuzzer -fork=N);
#                            default 1
#   CRISP_FUZZ_ONLY="T1 T2"   only these targets (names as in tests/fuzz)
#   CRISP_FUZZ_TOLERATE=...  passed to the targets: known differences to
#                            tolerate until fixed (see tests/fuzz/fuzz_rewrite.c)
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-600}
if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: hack/fuzz.sh [SECONDS_PER_TARGET]" >&2
	exit 2
fi
jobs=${CRISP_FUZZ_JOBS:-1}
if ! [[ $jobs =~ ^[1-9][0-9]*$ ]]; then
	echo "fuzz.sh: CRISP_FUZZ_JOBS must be a positive number" >&2
	exit 2
fi
if ! command -v clang >/dev/null; then
	echo "fuzz.sh: FAILED: clang not found (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi

build="build-fuzz"
out=$build/fuzz
echo "== $build: configure and build (clang, CRISP_FUZZ=ON)"
mkdir -p "$build"
if ! CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRISP_FUZZ=ON \
	>"$build/configure.log" 2>&1; then
	cat "$build/configure.log" >&2
	echo "fuzz.sh: FAILED: cannot configure $build (a folder configured with another compiler: remove it)" >&2
	exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" --target fuzz; then
	echo "fuzz.sh: FAILED: cannot build the fuzz targets" >&2
	exit 1
fi
[ -n "${CRISP_FUZZ_TOLERATE:-}" ] &&
	echo "fuzz.sh: WARNING: tolerating known differences: CRISP_FUZZ_TOLERATE=$CRISP_FUZZ_TOLERATE"

total_execs=0
n_targets=0
failed=()
while IFS=$'\t' read -r name bin seeds dict; do
	[ -n "$name" ] || continue
	if [ -n "${CRISP_FUZZ_ONLY:-}" ] && [[ " $CRISP_FUZZ_ONLY " != *" $name "* ]]; then
		continue
	fi
	n_targets=$((n_targets + 1))
	corpus=$out/corpus/$name
	artifacts=$out/artifacts/$name
	log=$out/logs/$name.log
	mkdir -p "$corpus" "$artifacts" "$out/logs"
	rm -f "$artifacts"/* # only this run's findings count

	args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
		-artifact_prefix="$artifacts/")
	[ "$dict" != - ] && args+=(-dict="$dict")
	[ "$jobs" -gt 1 ] && args+=(-fork="$jobs")
	echo "== $name: fuzzing for ${secs}s with $jobs process(es) (log: $log)"
	rc=0
	"$bin" "${args[@]}" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?

	# Executions: the final stats of a single process, or in fork mode the
	# last progress line (#RUNS counts every child's runs).
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	if [ -z "$execs" ]; then
		execs=$(sed -n 's/^#\([0-9][0-9]*\)[:[:space:]].*/\1/p' "$log" | tail -n 1)
	fi
	execs=${execs:-0}
	total_execs=$((total_execs + execs))
	corpus_size=$(find "$corpus" -type f | wc -l)

	mapfile -t found < <(find "$artifacts" -type f | sort)
	if [ "$rc" -eq 0 ] && [ ${#found[@]} -eq 0 ]; then
		echo "$name: $execs executions, corpus $corpus_size inputs, no finding"
		continue
	fi
	failed+=("$name")
	echo "!! $name: FINDING (exit code $rc) after $execs executions"
	# The invariant or sanitizer message, and libFuzzer's summary.
	grep -E 'invariant violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log" |
		head -n 8 | sed 's/^/   /' || true
	if [ ${#found[@]} -eq 0 ]; then
		echo "   no reproducer written; the end of $log:"
		tail -n 30 "$log" | sed 's/^/   /'
	fi
	for f in "${found[@]:0:3}"; do
		size=$(stat -c %s "$f")
		hex=$(od -An -v -tx1 -N 256 "$f" | tr -s ' \n' ' ')
		[ "$size" -gt 256 ] && hex="$hex... (first 256 of $size bytes)"
		echo "   reproducer: $f ($size bytes)"
		echo "   bytes (hex):$hex"
		echo "   replay:     $bin $f"
		echo "   minimize:   $bin -minimize_crash=1 -max_total_time=60 $f"
	done
	[ ${#found[@]} -gt 3 ] && echo "   ...and $((${#found[@]} - 3)) more in $artifacts"
done <"$out/targets.tsv"

if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz.sh: FAILED: finding(s) in ${failed[*]}: reproducers above; $total_execs executions in total"
	exit 1
fi
echo "fuzz.sh: OK: $n_targets target(s), ${secs}s each, $total_execs executions, no finding"
