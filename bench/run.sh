#!/usr/bin/env bash
# bench/run.sh: crisp's benchmark (BENCHMARKS.md describes the method).
#
# The same load runs against the fake runtime directly, behind socat (a plain
# byte relay: the floor for any extra hop), behind the production HTTP/2
# proxies nghttpx and HAProxy and a Go pass-through gRPC proxy (the peers),
# and behind crisp, interleaved in rounds (round 1: direct, relay, ..., crisp;
# round 2: ...) so drift on the machine hits every variant alike. Every run
# starts fresh processes. For every hop it records the CPU time and memory of
# the hop's whole process tree. The report (bench/report.py) takes medians
# over the rounds.
#
# Everything is bounded (loadgen stops by itself; memwatch too) and talks only
# to unix sockets in a private temporary folder; every process started here is
# stopped by its PID (its own process group) on exit, failure or Ctrl-C.
set -euo pipefail

usage() {
	cat <<EOF
usage: bench/run.sh [--rounds N] [--quick] [--scenarios "a b16 ..."] [--crisp PATH]
                    [--crisp-args "..."] [--no-go] [--no-peers] [--baseline PATH] [--out DIR]
  --rounds N        rounds of every scenario (default 5; --quick: 1)
  --quick           short runs, one round: a smoke test in 5-6 minutes
  --scenarios LIST  subset of: a b16 b64 c d e0 e1 f g (default: all)
  --crisp PATH      benchmark this crisp binary instead of building ./build/crisp
                    (A/B comparisons of a candidate against a baseline)
  --crisp-args STR  extra flags for crisp, e.g. "--threads 4" (experiments)
  --no-go           leave out the Go pass-through proxy (bench/peer-go)
  --no-peers        leave out nghttpx and HAProxy (Debian's nghttp2-proxy and haproxy)
  --baseline PATH   also run this crisp binary, as variant crisp-before (e.g. a build
                    of the commit before a change, to show what the change bought)
  --out DIR         results folder (default bench/results/<UTC timestamp>)
Environment: BUILD_DIR (default ./build, configured RelWithDebInfo); KUBELET (a
kubelet binary) or KUBELET_XZ (one compressed with xz) adds the measurement
behind a real kubelet (bench/kubelet_idle.py; needs root).
EOF
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
ROUNDS=""
QUICK=0
SCENARIOS="a b16 b64 c d e0 e1 f g"
CRISP_ARGS=""
CRISP=""
OUT=""
NO_GO=0
NO_PEERS=0
BASELINE=""
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--scenarios) SCENARIOS=${2:?}; shift 2 ;;
	--crisp-args) CRISP_ARGS=${2?}; shift 2 ;;
	--crisp) CRISP=${2:?}; shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	--no-go) NO_GO=1; shift ;;
	--no-peers) NO_PEERS=1; shift ;;
	--baseline) BASELINE=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done
[ -n "$ROUNDS" ] || { [ "$QUICK" = 1 ] && ROUNDS=1 || ROUNDS=5; }
[[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]] || { echo "run.sh: --rounds must be 1..99" >&2; exit 2; }

die() { echo "run.sh: $*" >&2; exit 1; }
for tool in socat:socat gnuplot:gnuplot-nox cmake:cmake; do
	command -v "${tool%%:*}" >/dev/null || die "${tool%%:*} is missing (apt-get install -y ${tool#*:})"
done
PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY is missing"
# The production HTTP/2 proxies (issue 19's peers), each one process or one
# worker, one thread, on unix sockets (BENCHMARKS.md has their configuration).
PEERS=""
if [ "$NO_PEERS" = 0 ]; then
	for tool in nghttpx:nghttp2-proxy haproxy:haproxy; do
		# both live in /usr/sbin, which a non-root PATH may lack
		command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] ||
			die "${tool%%:*} is missing: apt-get install -y ${tool#*:} (Debian's package), or --no-peers"
	done
	NGHTTPX=$(command -v nghttpx || echo /usr/sbin/nghttpx)
	HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
	PEERS="nghttpx haproxy"
fi

# ---- build: the benchmark measures an optimised build -------------------------
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(fake_runtime loadgen rewrite_cost)
[ -n "$CRISP" ] || targets+=(crisp)
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >/dev/null
CRISP=${CRISP:-$BUILD/crisp} RT=$BUILD/fake_runtime LG=$BUILD/loadgen
[ -x "$CRISP" ] || die "no crisp binary at $CRISP"
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || die "no crisp binary at $BASELINE (--baseline)"
# The Go baseline: a pass-through proxy on Debian's grpc-go (bench/peer-go).
GO_PEER=""
if [ "$NO_GO" = 0 ]; then
	command -v go >/dev/null && [ -d /usr/share/gocode/src/google.golang.org/grpc ] ||
		die "the Go baseline needs golang-go and golang-google-grpc-dev (apt-get install -y golang-go golang-google-grpc-dev), or --no-go"
	GO_PEER=$BUILD/peer-go
	(cd "$ROOT" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD/go-cache" \
		go build -o "$GO_PEER" ./bench/peer-go) || die "cannot build bench/peer-go"
fi

# ---- scratch and results ----------------------------------------------------------
WORK=$(mktemp -d /tmp/crisp-bench.XXXXXX)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/bench/results/$STAMP}
mkdir -p "$OUT/logs" "$WORK/lat"
RAW=$OUT/raw.txt
: >"$RAW"

# ---- the peers' configuration (BENCHMARKS.md, "The peers' configuration") -----------
# nghttpx: one worker process (-n1: one worker thread), no TLS, HTTP/2 with
# prior knowledge to the runtime; the headers it adds by default turned off;
# 2048 streams per client connection (default 100) so that 1000 calls fit
# in flight on one; no access log (none configured); no configuration file.
NGHTTPX_ARGS=(-n1 --frontend-http2-max-concurrent-streams=2048 --no-via --no-server-rewrite
	--no-add-x-forwarded-proto --conf=/dev/null)
# HAProxy: one process (-db), one thread, HTTP/2 both sides, the same stream
# limit, no log. run_one always uses $WORK/hop.sock and $WORK/rt.sock.
HAPROXY_CFG=$WORK/haproxy.cfg
cat >"$HAPROXY_CFG" <<EOF
global
	nbthread 1
	tune.h2.max-concurrent-streams 2048
defaults
	mode http
	timeout connect 5s
	timeout client 120s
	timeout server 120s
frontend crisp_bench
	bind $WORK/hop.sock proto h2
	default_backend runtime
backend runtime
	server rt $WORK/rt.sock proto h2
EOF
IDLE_SETTLE_S=0.5 # after a hop is up, before its idle memory is read

PIDS=() # process-group leaders started here and not yet stopped
KIDS=() # plain children (load generator, memory sampler) not yet reaped
cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	for pid in "${KIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}" "${KIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM
[ -z "$PEERS" ] || "$HAPROXY" -c -q -f "$HAPROXY_CFG" || die "HAProxy refuses $HAPROXY_CFG"

# Starts a command in its own process group (so socat's forked children go
# with it); sets BG_PID.
start_bg() {
	local log=$1
	shift
	setsid "$@" >"$log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# Stops a process group by its leader's PID and returns the leader's status.
stop_bg() {
	local pid=$1 rc=0
	kill -TERM -- "-$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: pid $pid ignored SIGTERM for 5 s; killing it" >&2
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	wait "$pid" || rc=$?
	local keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
	return "$rc"
}

# Waits for a plain child started with `cmd & KIDS+=($!)`; returns its status.
reap() {
	local pid=$1 rc=0 keep=() p
	wait "$pid" || rc=$?
	for p in "${KIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	KIDS=("${keep[@]+"${keep[@]}"}")
	return "$rc"
}

wait_socket() {
	local path=$1 pid=$2 what=$3
	for _ in $(seq 250); do
		[ -S "$path" ] && return 0
		kill -0 "$pid" 2>/dev/null || die "$what exited before serving $path"
		sleep 0.02
	done
	die "$what did not create $path within 5 s"
}

# A hop is its whole process tree: nghttpx's main and worker processes,
# socat's listener and the child it forks per connection.
tree_pids() { # PID -> it and its descendants alive now
	local todo=("$1") out=() p
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[-1]}
		unset 'todo[-1]'
		out+=("$p")
		# shellcheck disable=SC2207 # pids, one word each
		todo+=($(cat /proc/"$p"/task/*/children 2>/dev/null || true))
	done
	echo "${out[@]}"
}

# Every hop's memory, summed over its tree (bench/memwatch.py): prints
# PREFIX-prefixed key=value pairs of one sample now.
mem_now() { # PREFIX PID
	"$PY" "$ROOT/bench/memwatch.py" --once "$2" | sed "s/\([a-z_]*=\)/$1\1/g"
}

# CPU accounting, in clock ticks: the machine may be shared, so every run
# records what its own processes used and what everything else did.
TICK_MS=$((1000 / $(getconf CLK_TCK)))
sys_busy() { # all CPUs: user nice system irq softirq steal
	awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
proc_ticks() { # PID -> its utime+stime
	sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
tree_ticks() { # PID -> utime+stime+cutime+cstime of it and its descendants
	# (a child that ended was reaped by its parent: its time is in the parent's cutime)
	local sum=0 p t
	for p in $(tree_pids "$1"); do
		t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}') || continue
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

tree_csw() { # PID -> context switches of all threads of it and its descendants so far
	local p
	for p in $(tree_pids "$1"); do
		cat /proc/"$p"/task/*/status 2>/dev/null || true
	done | awk '/ctxt_switches:/{n += $2} END{print n + 0}'
}

# The machine may be shared. Before each run, wait until processes not
# started here use under NOISY_PCT of it (at most 60 s a time, and at most
# QUIET_BUDGET s over the whole benchmark, so the wait stays bounded). Sets
# WAITED to the seconds waited.
NOISY_PCT=15
wait_quiet() {
	local cores start b0 b1
	cores=$(nproc)
	start=$(date +%s)
	WAITED=0
	while :; do
		b0=$(sys_busy)
		sleep 0.5
		b1=$(sys_busy)
		# ticks busy in 0.5 s over ticks available, in percent
		[ $(((b1 - b0) * TICK_MS * 100 / (500 * cores))) -ge "$NOISY_PCT" ] || break
		WAITED=$(($(date +%s) - start))
		if [ "$WAITED" -ge 60 ] || [ "$WAITED" -ge "$QUIET_BUDGET" ]; then break; fi
	done
	QUIET_BUDGET=$((QUIET_BUDGET - WAITED))
	[ "$WAITED" = 0 ] || echo "  (waited ${WAITED} s for other processes to quieten)"
}

# ---- the requests crisp rewrites: a kubelet 1.31 CreateContainer, nothing set ----
# CC_REQ as the kubelet sent it (c); CC_BIG the same with G_BYTES more of
# annotations (g): ContainerConfig's map field 10, entries put after the
# kubelet's own, so it still decodes as the kubelet's request and still needs
# the seccomp default. The fields crisp's schema does not know (annotations
# among them) are kept by crisp and written back as they came.
CC_REQ=$WORK/createcontainer.bin CC_BIG=$WORK/createcontainer-big.bin
G_BYTES=$((4 * 1024 * 1024))
"$PY" - "$ROOT/tests/fixtures/kubelet-eras.jsonl" "$CC_REQ" "$CC_BIG" "$G_BYTES" <<'EOF'
import base64, json, sys

def varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)

def read_varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return v, i

def fields(b):
    """A message's fields in order: (number, wire type, the field's bytes)."""
    i, out = 0, []
    while i < len(b):
        start = i
        tag, i = read_varint(b, i)
        wt = tag & 7
        if wt == 0:
            _, i = read_varint(b, i)
        elif wt == 2:
            n, i = read_varint(b, i)
            i += n
        elif wt in (1, 5):
            i += 8 if wt == 1 else 4
        else:
            sys.exit("run.sh: wire type %d in the fixture" % wt)
        out.append((tag >> 3, wt, b[start:i]))
    if i != len(b):
        sys.exit("run.sh: the fixture's request is cut")
    return out

def ld(field, payload):  # a length-delimited field
    return varint(field << 3 | 2) + varint(len(payload)) + payload

fixture, out, big_out, big_bytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for line in open(fixture):
    d = json.loads(line)
    if d.get("name") == "k1.31/nothing/CreateContainer":
        req = base64.b64decode(d["requests"][0])
        break
else:
    sys.exit("run.sh: k1.31/nothing/CreateContainer not in the fixture")
open(out, "wb").write(req)
value = 64 * 1024  # bytes of each annotation's value
annotations = b"".join(
    ld(10, ld(1, b"bench.crisp.io/blob-%03d" % i) +
       ld(2, bytes(0x61 + (i + j) % 26 for j in range(value))))
    for i in range(max(1, big_bytes // value)))
parts = []
for f, wt, raw in fields(req):
    if f == 2 and wt == 2:  # CreateContainerRequest.config, a ContainerConfig
        _, at = read_varint(raw, 1)
        cfg = fields(raw[at:])
        cut = max([i + 1 for i, (g, _, _) in enumerate(cfg) if g == 10] or [len(cfg)])
        parts.append(ld(2, b"".join(r for _, _, r in cfg[:cut]) + annotations +
                        b"".join(r for _, _, r in cfg[cut:])))
    else:
        parts.append(raw)
open(big_out, "wb").write(b"".join(parts))
EOF
# Both must be requests crisp rewrites (its rewriter alone, no relay: changed=1).
for req in "$CC_REQ" "$CC_BIG"; do
	"$BUILD/rewrite_cost" "$req" create-container 1 | grep -q ' changed=1 ' ||
		die "crisp's rewriter leaves $(basename "$req") unchanged: the benchmark's request is wrong"
done
CC_BIG_SIZE=$(stat -c %s "$CC_BIG")

# ---- scenarios ------------------------------------------------------------------------
# Durations: full / quick.
if [ "$QUICK" = 1 ]; then
	QUIET_BUDGET=20 RETRIES=0 # a smoke test: flag noise, do not chase it
	A_COUNT=1500 B_MS=1500 C_COUNT=1000 D_COUNT=8 E_MS=2500 F_MS=6000 G_COUNT=8 KUBELET_IDLE_S=20
else
	QUIET_BUDGET=600 RETRIES=2
	A_COUNT=4000 B_MS=4000 C_COUNT=3000 D_COUNT=20 E_MS=5000 F_MS=20000 G_COUNT=20 KUBELET_IDLE_S=120
fi
D_SIZE=$((16 * 1024 * 1024 - 1024)) # under crisp's default 16 MiB limit
V1=/runtime.v1.RuntimeService
I1=/runtime.v1.ImageService

# Sets RT_ARGS (fake runtime), LG_ARGS (loadgen) and VARIANTS for a scenario.
scenario() {
	local s=$1
	local hops="relay ${GO_PEER:+go }${PEERS:+$PEERS }${BASELINE:+crisp-before }"
	VARIANTS="direct ${hops}crisp"
	case "$s" in
	a) # sequential small calls: the added latency per call
		RT_ARGS=(--size 64)
		LG_ARGS=(--duration-ms 60000 --method "$V1/Version" --label small --concurrency 1
			--req-size 8 --count "$A_COUNT") ;;
	b16 | b64) # concurrent small calls: throughput
		RT_ARGS=(--size 64)
		LG_ARGS=(--duration-ms "$B_MS" --method "$V1/Version" --label small
			--concurrency "${s#b}" --req-size 8) ;;
	c) # a kubelet-sized CreateContainer: crisp rewrites it; --no-default relays it
		VARIANTS="direct ${hops}crisp-nodefault crisp"
		RT_ARGS=(--size 70)
		LG_ARGS=(--duration-ms 60000 --method "$V1/CreateContainer" --label createcontainer
			--concurrency 1 --req-file "$CC_REQ" --count "$C_COUNT") ;;
	d) # a 16 MiB response (16 MiB - 1 KiB: crisp's default limit is 16 MiB)
		RT_ARGS=(--size "$D_SIZE")
		LG_ARGS=(--duration-ms 60000 --method "$V1/ListContainers" --label big
			--concurrency 1 --req-size 4 --count "$D_COUNT") ;;
	e0 | e1) # small calls alone (e0), and beside 1000 slow ExecSync calls held 1 s each (e1):
		# a kubelet's long probes and execs are ExecSync, a unary CRI method
		RT_ARGS=(--rule ExecSync=64:1000000 --size 64)
		LG_ARGS=(--warmup-ms 1500 --duration-ms "$E_MS" --method "$V1/Version" --label small
			--concurrency 1 --req-size 8)
		if [ "$s" = e1 ]; then
			LG_ARGS+=(--method "$V1/ExecSync" --label slow --concurrency 1000
				--ramp-ms 1000 --req-size 100)
		fi ;;
	f) # a kubelet on a 110-pod node (220 containers), at fixed rates
		RT_ARGS=(--size 64 --rule ListPodSandbox=40000 --rule ListContainers=90000
			--rule ContainerStatus=1500 --rule ExecSync=128:10000 --rule ImageFsInfo=200)
		LG_ARGS=(--duration-ms "$F_MS"
			--method "$V1/ListPodSandbox" --rate 1 --req-size 4
			--method "$V1/ListContainers" --rate 1 --req-size 4
			--method "$V1/ContainerStatus" --rate 220 --req-size 68
			--method "$V1/ExecSync" --rate 20 --req-size 100
			--method "$V1/Version" --rate 1 --req-size 8
			--method "$I1/ImageFsInfo" --rate 1 --req-size 0) ;;
	g) # CC_REQ with 4 MiB of annotations: crisp holds, rewrites and re-encodes it whole
		VARIANTS="direct ${hops}crisp-nodefault crisp"
		RT_ARGS=(--size 70)
		LG_ARGS=(--duration-ms 60000 --method "$V1/CreateContainer" --label bigcreate
			--concurrency 1 --req-file "$CC_BIG" --count "$G_COUNT") ;;
	*) die "unknown scenario $s" ;;
	esac
}

# Runs one scenario against one variant; writes its lines to $RUN_RAW.
run_one() {
	local round=$1 s=$2 v=$3 tag="round=$1 scen=$2 variant=$3"
	local rt_sock=$WORK/rt.sock hop=$WORK/hop.sock target log=$OUT/logs/r$1-$2-$3
	rm -f "$rt_sock" "$hop"
	scenario "$s"
	start_bg "$log.runtime.log" "$RT" --listen "$rt_sock" "${RT_ARGS[@]}"
	local rt_pid=$BG_PID hop_pid="" mw_pid="" procs=1
	wait_socket "$rt_sock" "$rt_pid" fake_runtime
	case "$v" in
	direct) target=$rt_sock ;;
	relay)
		start_bg "$log.socat.log" socat "UNIX-LISTEN:$hop,fork" "UNIX-CONNECT:$rt_sock"
		hop_pid=$BG_PID target=$hop ;;
	go)
		start_bg "$log.go.log" "$GO_PEER" --listen "$hop" --upstream "$rt_sock"
		hop_pid=$BG_PID target=$hop ;;
	nghttpx) # its main process forks one worker process (-n1: one worker thread)
		start_bg "$log.nghttpx.log" "$NGHTTPX" "${NGHTTPX_ARGS[@]}" \
			-f "unix:$hop;no-tls" -b "unix:$rt_sock;;proto=h2"
		hop_pid=$BG_PID target=$hop procs=2 ;;
	haproxy) # -db: in the foreground, one process (nbthread 1: one thread)
		start_bg "$log.haproxy.log" "$HAPROXY" -db -f "$HAPROXY_CFG"
		hop_pid=$BG_PID target=$hop ;;
	crisp | crisp-nodefault | crisp-before)
		local extra=() bin=$CRISP
		[ "$v" = crisp-nodefault ] && extra=(--no-default)
		[ "$v" = crisp-before ] && bin=$BASELINE
		# shellcheck disable=SC2086 # CRISP_ARGS is a list of flags
		start_bg "$log.crisp.log" "$bin" --listen "$hop" --runtime-endpoint "$rt_sock" \
			"${extra[@]+"${extra[@]}"}" $CRISP_ARGS
		hop_pid=$BG_PID target=$hop ;;
	esac
	local idle=""
	if [ -n "$hop_pid" ]; then
		wait_socket "$hop" "$hop_pid" "$v"
		# every process of the hop up (nghttpx's worker), then let start-up settle
		# before calling it idle
		for _ in $(seq 100); do
			[ "$(tree_pids "$hop_pid" | wc -w)" -ge "$procs" ] && break
			sleep 0.05
		done
		sleep "$IDLE_SETTLE_S"
		idle=$(mem_now idle_ "$hop_pid") || die "cannot read the memory of $v: $tag"
		"$PY" "$ROOT/bench/memwatch.py" "$hop_pid" 20 300 >"$WORK/mem.out" &
		mw_pid=$!
		KIDS+=("$mw_pid")
	fi

	local lat=()
	case "$s" in a | b16) lat=(--latencies "$WORK/lat/$s-$v-r$round.txt") ;; esac
	wait_quiet
	local sys0 rt0 hop0=0 mw0=0 t_start t_end
	sys0=$(sys_busy) rt0=$(tree_ticks "$rt_pid")
	[ -z "$hop_pid" ] || hop0=$(tree_ticks "$hop_pid")
	[ -z "$mw_pid" ] || mw0=$(proc_ticks "$mw_pid")
	local csw0=0 csw1=0
	[ -z "$hop_pid" ] || csw0=$(tree_csw "$hop_pid")
	t_start=$(date +%s%N)
	"$LG" --target "$target" --max-ms 120000 "${lat[@]+"${lat[@]}"}" "${LG_ARGS[@]}" \
		>"$WORK/lg.out" 2>"$log.loadgen.log" &
	KIDS+=("$!")
	if ! reap "$!"; then
		cat "$log.loadgen.log" >&2
		die "loadgen failed: $tag"
	fi
	t_end=$(date +%s%N)
	local sys1 rt1 hop1=0 mw1=0 lg_ms calls
	sys1=$(sys_busy) rt1=$(tree_ticks "$rt_pid")
	[ -z "$hop_pid" ] || hop1=$(tree_ticks "$hop_pid")
	[ -z "$mw_pid" ] || mw1=$(proc_ticks "$mw_pid")
	[ -z "$hop_pid" ] || csw1=$(tree_csw "$hop_pid")
	grep '^class=' "$WORK/lg.out" | sed "s|^|$tag kind=load |" >>"$RUN_RAW"
	lg_ms=$(sed -n 's/^proc=loadgen .*cpu_ms=\([0-9]*\).*/\1/p' "$WORK/lg.out")
	calls=$(sed -n 's/^proc=loadgen calls=\([0-9]*\).*/\1/p' "$WORK/lg.out")
	local sys_ms=$(((sys1 - sys0) * TICK_MS)) rt_ms=$(((rt1 - rt0) * TICK_MS))
	local hop_ms=$(((hop1 - hop0) * TICK_MS)) mw_ms=$(((mw1 - mw0) * TICK_MS))
	local other_ms=$((sys_ms - lg_ms - rt_ms - hop_ms - mw_ms))
	echo "$tag kind=cpu wall_ms=$(((t_end - t_start) / 1000000)) calls=$calls sys_ms=$sys_ms" \
		"loadgen_ms=$lg_ms runtime_ms=$rt_ms hop_ms=$hop_ms other_ms=$other_ms" \
		"hop_csw=$((csw1 - csw0)) waited_quiet_s=$WAITED" >>"$RUN_RAW"

	if [ -n "$mw_pid" ]; then
		local end
		end=$(mem_now end_ "$hop_pid") || die "cannot read the memory of $v: $tag"
		kill -TERM "$mw_pid"
		reap "$mw_pid" || die "memwatch failed: $tag"
		echo "$tag kind=mem $idle $end $(cat "$WORK/mem.out")" >>"$RUN_RAW"
	fi
	if [ -n "$hop_pid" ]; then
		local rc=0
		stop_bg "$hop_pid" || rc=$?
		# crisp exits 0 after SIGTERM; socat reports the signal (143).
		if [[ "$v" == crisp* ]] && [ "$rc" != 0 ]; then
			die "crisp exited $rc after SIGTERM: $tag (log: $log.crisp.log)"
		fi
	fi
	if [[ "$v" == crisp* ]] && [[ "$s" == [cg] ]]; then
		# what crisp did with the requests: one "seccomp defaulted" line per rewrite
		echo "$tag kind=rewrites calls=$calls rewrites=$(grep -c \
			"seccomp defaulted method=$V1/CreateContainer " "$log.crisp.log" || true)" >>"$RUN_RAW"
	fi
	stop_bg "$rt_pid" || die "fake_runtime failed: $tag (log: $log.runtime.log)"
	echo "$tag kind=rt $(grep '^fake_runtime ' "$log.runtime.log" | cut -d' ' -f2-)" >>"$RUN_RAW"
	rm -f "$rt_sock" "$hop"

	# One progress line per run.
	grep "^class=" "$WORK/lg.out" | awk -v t="$tag" '{printf "  %-34s", t; for (i = 1; i <= NF; i++) if ($i ~ /^(class|n|errors|rps|p50_us|p99_us)=/) printf " %s", $i; print ""}'
}

# Runs one scenario against one variant, again (up to RETRIES times) when
# other processes used more than NOISY_PCT of the machine meanwhile. A
# repeated run's lines stay in raw.txt as kind=noisy-*, which the report
# counts but does not use.
RUN_RAW=$WORK/run.raw
run_scored() {
	local attempt pct
	for attempt in $(seq 0 "$RETRIES"); do
		: >"$RUN_RAW"
		run_one "$@"
		pct=$(awk -v c="$(nproc)" '/kind=cpu/{for (i = 1; i <= NF; i++) {split($i, a, "="); m[a[1]] = a[2]}
			if (m["wall_ms"] > 0) print int(m["other_ms"] * 100 / (m["wall_ms"] * c)); exit}' "$RUN_RAW")
		if [ "${pct:-0}" -lt "$NOISY_PCT" ] || [ "$attempt" = "$RETRIES" ]; then
			cat "$RUN_RAW" >>"$RAW"
			return
		fi
		echo "  (other processes used ${pct}% of the machine: run again)"
		sed 's/ kind=/ kind=noisy-/' "$RUN_RAW" >>"$RAW"
	done
}

# ---- record what was measured, then run -------------------------------------------------
{
	echo "date=$STAMP"
	echo "mode=$([ "$QUICK" = 1 ] && echo quick || echo full) rounds=$ROUNDS scenarios=\"$SCENARIOS\""
	echo "crisp_args=\"$CRISP_ARGS\""
	if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		tree=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- proxy src || echo +dirty)
	else
		tree="unknown(not a git checkout)"
	fi
	echo "tree=$tree" \
		"crisp_from=$([ "$CRISP" = "$BUILD/crisp" ] && echo tree || echo given)"
	echo "crisp=\"$("$CRISP" --version)\" crisp_bin=$CRISP sha256=$(sha256sum "$CRISP" | cut -c1-12)"
	[ -z "$BASELINE" ] || echo "baseline=\"$("$BASELINE" --version)\" baseline_bin=$BASELINE sha256=$(sha256sum "$BASELINE" | cut -c1-12)"
	echo "cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\" cores=$(nproc) mem=\"$(free -h | awk '/^Mem:/{print $2}')\""
	echo "kernel=$(uname -r) socat=\"$(socat -V | sed -n 's/^socat version \([^ ]*\).*/\1/p')\""
	if [ -n "$PEERS" ]; then
		echo "nghttpx=\"$("$NGHTTPX" --version | sed -n 's/^nghttpx nghttp2\///p')\"" \
			"haproxy=\"$("$HAPROXY" -v | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')\""
	fi
	[ -z "$GO_PEER" ] || echo "go=\"$(go version | cut -d' ' -f3)\"" \
		"grpc_go=\"$(dpkg-query -W -f '${Version}' golang-google-grpc-dev 2>/dev/null || echo unknown)\""
	echo "g_request_bytes=$CC_BIG_SIZE"
} >"$OUT/meta.txt"
cat "$OUT/meta.txt"

t0=$(date +%s)
for round in $(seq "$ROUNDS"); do
	echo "round $round/$ROUNDS"
	for s in $SCENARIOS; do
		scenario "$s"
		for v in $VARIANTS; do
			run_scored "$round" "$s" "$v"
		done
		if [ "$s" = c ]; then # the rewriter's CPU cost alone, no relay
			echo "round=$round scen=c variant=rewriter kind=micro" \
				"$("$BUILD/rewrite_cost" "$CC_REQ" create-container 20000 | cut -d' ' -f2-)" >>"$RAW"
		fi
		if [ "$s" = g ]; then
			echo "round=$round scen=g variant=rewriter kind=micro" \
				"$("$BUILD/rewrite_cost" "$CC_BIG" create-container 50 | cut -d' ' -f2-)" >>"$RAW"
		fi
	done
done
echo "runs took $(($(date +%s) - t0)) s"

# Behind a real kubelet (issue 13): only where a kubelet binary is given, as
# for tests/kubelet: KUBELET, or KUBELET_XZ (unpacked into the build folder).
if [ -z "${KUBELET:-}" ] && [ -n "${KUBELET_XZ:-}" ]; then
	mkdir -p "$BUILD/tools"
	xz -dc "$KUBELET_XZ" >"$BUILD/tools/kubelet" && chmod +x "$BUILD/tools/kubelet"
	KUBELET=$BUILD/tools/kubelet
fi
KUBELET_FAILED=0
# The suite's kubelet and critest harness uses fixed names (the CNI bridge,
# the pods' namespace and their logs under /var/log/pods): never beside
# another run of it on this machine. Waits (bounded) for one to end.
other_clients() {
	pgrep -f -- '--root-dir /tmp/crisp-kubelet-|/critest ' >/dev/null
}
if [ -n "${KUBELET:-}" ]; then
	echo "behind a real kubelet ($KUBELET_IDLE_S s idle each: direct, behind socat, through crisp)"
	for i in $(seq 120); do
		other_clients || break
		[ "$i" != 1 ] || echo "  (waiting, at most 10 min, for another kubelet or critest run to end)"
		sleep 5
	done
	# A pass that fails (the kubelet cannot run through crisp) keeps what the
	# passes before it measured; the report says it failed, and so does the exit status.
	if other_clients; then
		KUBELET_FAILED=1
		echo "another kubelet or critest run is still going: not measured" >"$OUT/logs/kubelet.log"
		echo "run.sh: another kubelet or critest run is going on this machine;" \
			"the measurement behind a real kubelet is left out" >&2
		echo "kind=kubelet-failed log=logs/kubelet.log" >>"$RAW"
		: >"$WORK/kubelet.out"
	elif ! KUBELET=$(realpath "$KUBELET") "$PY" "$ROOT/bench/kubelet_idle.py" "$CRISP" \
		"$KUBELET_IDLE_S" >"$WORK/kubelet.out" 2>"$OUT/logs/kubelet.log"; then
		KUBELET_FAILED=1
		echo "run.sh: kubelet_idle failed (log: $OUT/logs/kubelet.log)" >&2
		echo "kind=kubelet-failed log=logs/kubelet.log" >>"$RAW"
	fi
	grep '^kind=kubelet ' "$WORK/kubelet.out" | tee -a "$RAW" || true
else
	echo "(no KUBELET or KUBELET_XZ given: the real-kubelet measurement is left out)"
fi

"$PY" "$ROOT/bench/report.py" --raw "$RAW" --meta "$OUT/meta.txt" --lat "$WORK/lat" --out "$OUT"
echo "results: $OUT/results.md"
[ "$KUBELET_FAILED" = 0 ] || die "the measurement behind a real kubelet failed (log: $OUT/logs/kubelet.log)"
