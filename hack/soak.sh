#!/usr/bin/env bash
# hack/soak.sh [DURATION] [--out DIR] [--scale N]: crisp under a steady,
# kubelet-like load for a long time; fails if its memory or file descriptors
# keep growing.
#
# DURATION: 30m by default; 90s, 10m, 2h, or plain seconds.
# --scale N: every rate below times N (default 1): the same mix, faster, to
#            tell growth per call (it scales with N) from growth per hour.
#
# What runs (all on unix sockets in a private temporary folder):
#   bench/fake_runtime   answers every method; response sizes of a 110-pod
#                        node, ExecSync after 10 ms
#   crisp                from $BUILD_DIR (default ./build, built if needed)
#   bench/loadgen        ONE connection, like a kubelet, at fixed rates for
#                        DURATION: ListPodSandbox and ListContainers 1/s,
#                        ContainerStatus 110/s, ExecSync 20/s, Version 1/s,
#                        ImageFsInfo 0.1/s, and every 20 s a RunPodSandbox and a
#                        CreateContainer that crisp decodes and rewrites
#                        (kubelet 1.31 requests from tests/fixtures)
#   tests/faults/soaklib.py sample
#                        every few seconds: crisp's VmRSS, RssAnon, fd and
#                        thread counts and CPU time to a CSV, and every 6th
#                        sample one call on a NEW connection (a crictl)
#
# It fails when (tests/faults/soaklib.py explains the thresholds):
#   - RSS, RssAnon, fds or threads keep growing: the last third of the run
#     against the middle third (medians and maxima, with a tolerance);
#   - any call fails (loadgen errors or drops, or a probe);
#   - crisp logs a warning or an error, crisp's fd count does not return to
#     its pre-load baseline once the load stops (bounded wait), or crisp does
#     not exit 0 on SIGTERM.
#
# Results in DIR (default $BUILD_DIR/soak/<UTC timestamp>): samples.csv,
# summary.md (the table), soak.png (if gnuplot is installed), the logs.
# Every process started here is stopped by its PID on exit or Ctrl-C.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
DURATION=30m
OUT=""
SCALE=1
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?--out needs a folder}; shift 2 ;;
	--scale) SCALE=${2:?--scale needs a number}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "soak.sh: unknown flag $1" >&2; exit 2 ;;
	*) DURATION=$1; shift ;;
	esac
done

to_seconds() {
	local v=$1
	case "$v" in
	*[0-9]s) echo "${v%s}" ;;
	*[0-9]m) echo $((${v%m} * 60)) ;;
	*[0-9]h) echo $((${v%h} * 3600)) ;;
	*[0-9]) echo "$v" ;;
	*) return 1 ;;
	esac
}
SECS=0
[[ "$DURATION" =~ ^[0-9]+[smh]?$ ]] && SECS=$(to_seconds "$DURATION")
if [ "$SECS" -lt 30 ]; then
	echo "soak.sh: DURATION must be at least 30s, like 90s, 10m or 2h (got '$DURATION')" >&2
	exit 2
fi
[[ "$SCALE" =~ ^[1-9][0-9]?$ ]] || { echo "soak.sh: --scale must be 1..99" >&2; exit 2; }
rate() { awk -v r="$1" -v s="$SCALE" 'BEGIN { print r * s }'; }

# About 120 samples or more, every 5 s at most.
INTERVAL=$((SECS / 120))
[ "$INTERVAL" -ge 1 ] || INTERVAL=1
[ "$INTERVAL" -le 5 ] || INTERVAL=5

PY=/usr/bin/python3
die() { echo "soak.sh: $*" >&2; exit 1; }
[ -x "$PY" ] || die "$PY is missing (hack/install-deps.sh)"

# ---- build: the soak runs the optimised build ------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target crisp fake_runtime loadgen >/dev/null
CRISP=$BUILD/crisp RT=$BUILD/fake_runtime LG=$BUILD/loadgen
for b in "$CRISP" "$RT" "$LG"; do [ -x "$b" ] || die "$b was not built"; done

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$BUILD/soak/$STAMP}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/crisp-soak.XXXXXX)

PIDS=() # started here and not yet reaped
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { # forget PID: it has been reaped
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

# Bounded wait for a socket file that the process $2 creates.
wait_socket() {
	local path=$1 pid=$2 what=$3
	for _ in $(seq 1 300); do
		[ -S "$path" ] && return 0
		kill -0 "$pid" 2>/dev/null || die "$what exited at start; see $OUT/$what.log"
		sleep 0.1
	done
	die "$what did not create $path within 30 s"
}

# "TOTAL CLIENTS": crisp's open fds, and how many are client connections.
fds_of() { "$PY" "$ROOT/tests/faults/soaklib.py" fds "$CRISP_PID" "$CRISP_SOCK"; }

# Bounded wait until crisp holds no client connection and at most $1 fds
# (fds close asynchronously after the peer goes); sets FDS_NOW.
wait_fds_settled() {
	local max=$1 clients
	for _ in $(seq 1 300); do
		read -r FDS_NOW clients < <(fds_of)
		[ "$clients" = 0 ] && [ "$FDS_NOW" -le "$max" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- requests crisp rewrites: kubelet 1.31, no seccomp profile set --------------
"$PY" - "$ROOT/tests/fixtures/kubelet-eras.jsonl" "$WORK" <<'EOF'
import base64, json, sys
want = {"k1.31/nothing/RunPodSandbox": "runpodsandbox.bin",
        "k1.31/nothing/CreateContainer": "createcontainer.bin"}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("name") in want:
        open(sys.argv[2] + "/" + want.pop(d["name"]), "wb").write(
            base64.b64decode(d["requests"][0]))
if want:
    sys.exit("soak.sh: not in the fixture: %s" % ", ".join(want))
EOF

RT_SOCK=$WORK/rt.sock CRISP_SOCK=$WORK/crisp.sock
V1=/runtime.v1.RuntimeService I1=/runtime.v1.ImageService

"$RT" --listen "$RT_SOCK" --size 64 --rule ListPodSandbox=40000 --rule ListContainers=90000 \
	--rule ContainerStatus=1500 --rule ExecSync=128:10000 --rule ImageFsInfo=200 \
	--rule RunPodSandbox=70 --rule CreateContainer=70 >"$OUT/runtime.log" 2>&1 &
RT_PID=$!
PIDS+=("$RT_PID")
wait_socket "$RT_SOCK" "$RT_PID" runtime

"$CRISP" --listen "$CRISP_SOCK" --runtime-endpoint "$RT_SOCK" --log-level info \
	>"$OUT/crisp.log" 2>&1 &
CRISP_PID=$!
PIDS+=("$CRISP_PID")
wait_socket "$CRISP_SOCK" "$CRISP_PID" crisp

# The baseline: after one call (it opens crisp's connection to the runtime,
# which stays) and once that call's own connection is closed.
"$PY" "$ROOT/tests/faults/soaklib.py" probe "$CRISP_SOCK" || die "the first call through crisp failed"
wait_fds_settled 100000 || die "crisp still holds the first call's connection after 30 s"
BASE_FDS=$FDS_NOW

"$PY" "$ROOT/tests/faults/soaklib.py" sample "$CRISP_PID" "$CRISP_SOCK" "$OUT/samples.csv" \
	"$INTERVAL" $((SECS + 600)) 2>"$OUT/sampler.log" &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")

echo "soak: $DURATION ($SECS s) against crisp pid $CRISP_PID (fds at rest: $BASE_FDS);" \
	"sampling every $INTERVAL s to $OUT/samples.csv"

LOAD_START=$(date +%s.%N)
"$LG" --target "$CRISP_SOCK" --warmup-ms 0 --duration-ms $((SECS * 1000)) \
	--max-ms $((SECS * 1000 + 120000)) --deadline-ms 10000 \
	--method $V1/ListPodSandbox --rate "$(rate 1)" --req-size 4 \
	--method $V1/ListContainers --rate "$(rate 1)" --req-size 4 \
	--method $V1/ContainerStatus --rate "$(rate 110)" --req-size 68 \
	--method $V1/ExecSync --rate "$(rate 20)" --req-size 100 \
	--method $V1/Version --rate "$(rate 1)" --req-size 8 \
	--method $I1/ImageFsInfo --rate "$(rate 0.1)" --req-size 0 \
	--method $V1/RunPodSandbox --rate "$(rate 0.05)" --req-file "$WORK/runpodsandbox.bin" \
	--method $V1/CreateContainer --rate "$(rate 0.05)" --req-file "$WORK/createcontainer.bin" \
	>"$OUT/loadgen.out" 2>"$OUT/loadgen.log" &
LG_PID=$!
PIDS+=("$LG_PID")
lg_rc=0
wait "$LG_PID" || lg_rc=$?
forget "$LG_PID"
LOAD_END=$(date +%s.%N)

failures=()
[ "$lg_rc" = 0 ] || failures+=("loadgen exited $lg_rc (see loadgen.log)")
kill -0 "$CRISP_PID" 2>/dev/null || failures+=("crisp died during the load")
# Every call answered OK: no errors and no drops in any class.
bad_classes=$(grep '^class=' "$OUT/loadgen.out" | grep -v ' errors=0 ' || true)
[ -z "$bad_classes" ] || failures+=("calls failed: $bad_classes")
grep -q '^class=' "$OUT/loadgen.out" || failures+=("loadgen reported nothing")

# Once the load's connection is gone, crisp's fds return to where they were.
FDS_NOW=""
if kill -0 "$CRISP_PID" 2>/dev/null; then
	wait_fds_settled "$BASE_FDS" ||
		failures+=("crisp holds $FDS_NOW fds 30 s after the load, $BASE_FDS before it")
fi

kill -TERM "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" || failures+=("the sampler failed (see sampler.log)")
forget "$SAMPLER_PID"

# SIGTERM: crisp exits 0 within its grace period (10 s) and a margin.
crisp_rc=""
if kill -TERM "$CRISP_PID" 2>/dev/null; then
	for _ in $(seq 1 300); do
		kill -0 "$CRISP_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$CRISP_PID" 2>/dev/null; then
		failures+=("crisp did not exit within 30 s of SIGTERM")
	else
		crisp_rc=0
		wait "$CRISP_PID" || crisp_rc=$?
		forget "$CRISP_PID"
		[ "$crisp_rc" = 0 ] || failures+=("crisp exited $crisp_rc after SIGTERM")
	fi
fi
kill -TERM "$RT_PID" 2>/dev/null || true
wait "$RT_PID" 2>/dev/null || true
forget "$RT_PID"

warnings=$(grep -E '^[^ ]+ (warn|error) ' "$OUT/crisp.log" || true)
[ -z "$warnings" ] || failures+=("crisp logged warnings or errors (crisp.log)")

# ---- verdict, summary, plot ------------------------------------------------------------
verdict_rc=0
"$PY" "$ROOT/tests/faults/soaklib.py" verdict "$OUT/samples.csv" "$LOAD_START" "$LOAD_END" \
	>"$OUT/verdict.txt" || verdict_rc=$?
[ "$verdict_rc" = 0 ] || failures+=("memory, fds or threads keep growing (verdict.txt)")

if command -v gnuplot >/dev/null; then
	t0=$(sed -n 2p "$OUT/samples.csv" | cut -d, -f1)
	# Headroom above the highest line, so none runs along the frame.
	read -r ymax y2max < <(awk -F, 'NR > 1 { if ($3 > m) m = $3; if ($5 > f) f = $5 }
		END { printf "%d %d\n", m / 1024 * 1.25 + 1, f * 1.5 + 2 }' "$OUT/samples.csv")
	gnuplot <<EOF || echo "soak: gnuplot failed; no plot" >&2
set terminal pngcairo size 1000,500 noenhanced
set output "$OUT/soak.png"
set datafile separator ","
set title "crisp soak: $DURATION, kubelet-like load (~$((133 * SCALE)) calls/s on one connection)"
set xlabel "minutes since crisp started"
set ylabel "MiB"
set y2label "count"
set ytics nomirror
set y2tics
set yrange [0:$ymax]
set y2range [0:$y2max]
set autoscale xfix
set key below horizontal
set arrow from ($LOAD_START-$t0)/60.0, graph 0 to ($LOAD_START-$t0)/60.0, graph 1 nohead dt 2
set arrow from ($LOAD_END-$t0)/60.0, graph 0 to ($LOAD_END-$t0)/60.0, graph 1 nohead dt 2
plot "$OUT/samples.csv" using (\$1-$t0)/60.0:(\$3/1024.0) skip 1 with lines lw 2 title "VmRSS (MiB)", \
     "" using (\$1-$t0)/60.0:(\$4/1024.0) skip 1 with lines lw 2 title "RssAnon (MiB)", \
     "" using (\$1-$t0)/60.0:5 skip 1 axes x1y2 with lines lw 2 title "open fds", \
     "" using (\$1-$t0)/60.0:6 skip 1 axes x1y2 with lines title "threads"
EOF
fi

{
	echo "# crisp soak, $STAMP"
	echo
	echo "- duration: $DURATION ($SECS s) of load; samples every $INTERVAL s; rates x$SCALE"
	echo "- crisp: $("$CRISP" --version) (git ${SOAK_GIT_REV:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?")})"
	echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
	echo "- fds at rest before the load: $BASE_FDS; after it: ${FDS_NOW:-?}"
	echo "- crisp exit code after SIGTERM: ${crisp_rc:-?}"
	echo
	echo "## Load (bench/loadgen, one connection)"
	echo
	echo '```'
	cat "$OUT/loadgen.out"
	echo '```'
	echo
	echo "## Growth checks (tests/faults/soaklib.py)"
	echo
	cat "$OUT/verdict.txt"
	echo
	if [ ${#failures[@]} -eq 0 ]; then
		echo "**soak: PASS**"
	else
		echo "**soak: FAIL**"
		printf -- '- %s\n' "${failures[@]}"
	fi
} >"$OUT/summary.md"

cat "$OUT/verdict.txt"
if [ ${#failures[@]} -eq 0 ]; then
	echo "soak: PASS ($OUT)"
	exit 0
fi
printf 'soak: FAIL: %s\n' "${failures[@]}" >&2
echo "soak: results in $OUT" >&2
exit 1
