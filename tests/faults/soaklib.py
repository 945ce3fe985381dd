#!/usr/bin/python3
"""The soak's sampler and its verdict (hack/soak.sh drives both).

    soaklib.py sample PID SOCKET CSV INTERVAL_S MAX_S
        Every INTERVAL_S seconds, appends one CSV row of crisp's memory, fd and
        thread counts and CPU time (from /proc/PID), until SIGTERM/SIGINT, until
        PID ends, or after MAX_S seconds (a bound so it never outlives a broken
        run). Every PROBE_EVERY-th sample it also makes one call on a NEW
        connection to SOCKET (a crictl or a health probe, beside the
        kubelet's long-lived connection) and records whether it succeeded.

    soaklib.py verdict CSV LOAD_START LOAD_END
        Judges the samples taken while the load ran (unix times LOAD_START..
        LOAD_END) and prints a table and PASS/FAIL per check; exits 1 on FAIL.

    soaklib.py probe SOCKET       one call on a new connection; exit 0 if OK
    soaklib.py fds PID LISTEN     prints PID's open fds and, of those, the
                                  connections accepted on LISTEN

What "keeps growing" means (verdict()):

    The load window is cut in thirds. The first third is warm-up and is not
    judged: gRPC's pools, malloc's arenas and the kernel's socket buffers
    grow to the working set in the first minutes, and that is not a leak.
    For RSS and RssAnon (KiB), with M = the middle third, L = the last third:

      level:  median(L) - median(M) <= tol
      high:   p90(L)    - p90(M)    <= tol
      tol  =  max(1 MiB, 5% of median(M))

    A leak lifts the whole distribution of the later samples, so both its
    middle and its top move; the second check catches one that noise hides
    from the medians. A transient burst does not count: when the machine
    stalls for a moment, calls pile up (hundreds in flight instead of a
    few), crisp's RSS jumps by some MiB for a sample or two and falls back;
    that moves the maximum, not the 90th percentile of 120 samples, so the
    maximum is reported but not judged. A steady leak of r KiB/s lifts median(L) above
    median(M) by r * T/3: over a 30-minute soak at ~130 calls/s, 1 MiB is
    about 13 bytes per call, so any per-call leak of a grpc_slice, a
    metadata array or a relay_call (hundreds of bytes) fails clearly, while
    allocator noise (a few hundred KiB at crisp's ~15 MiB) does not.
    File descriptors and threads must not grow at all: the same two checks
    with a tolerance of 2 (a probe's connection may still be closing when
    sampled; gRPC starts an executor thread when it is busy).
    Every probe must have succeeded. The least-squares slope over M+L is
    printed for information only.
"""

import csv
import os
import signal
import statistics
import sys
import time

FIELDS = ["time", "elapsed_s", "rss_kb", "anon_kb", "fds", "threads", "cpu_s", "probe"]
PROBE_EVERY = 6
MEM_TOL_KB = 1024
MEM_TOL_FRACTION = 0.05
FD_TOL = 2
PROBE_METHOD = "/runtime.v1.RuntimeService/Version"
PROBE_TIMEOUT_S = 10


# ---- reading /proc -----------------------------------------------------------------

def read_status(pid):
    """VmRSS, RssAnon (KiB) and Threads from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "Threads"):
                out[key] = int(rest.split()[0])
    return out


def count_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def client_connections(pid, listen_path):
    """How many of PID's fds are connections accepted on `listen_path`.

    In /proc/net/unix an accepted socket carries its listener's path, in
    state 03 (connected); the listener itself is in state 01. crisp's own
    connection to the runtime has no path, so it is not counted.
    """
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except FileNotFoundError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    n = 0
    with open("/proc/net/unix") as f:
        next(f)  # header
        for line in f:
            fields = line.split()
            if (len(fields) >= 8 and fields[5] == "03" and fields[6] in inodes
                    and fields[7] == listen_path):
                n += 1
    return n


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        # The command name may hold spaces: fields resume after its ')'.
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def sample(pid):
    st = read_status(pid)
    return {"rss_kb": st["VmRSS"], "anon_kb": st["RssAnon"], "threads": st["Threads"],
            "fds": count_fds(pid), "cpu_s": "%.2f" % cpu_seconds(pid)}


# ---- the sampler ---------------------------------------------------------------------

def probe(socket_path):
    """One call on a fresh connection; True when crisp relayed it."""
    import grpc  # only the sampler needs it; verdict() runs anywhere
    ch = grpc.insecure_channel("unix:" + socket_path,
                               options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        ch.unary_unary(PROBE_METHOD)(b"", timeout=PROBE_TIMEOUT_S)
        return True
    except grpc.RpcError as err:
        print("soak: probe failed: %s %s" % (err.code(), err.details()), file=sys.stderr)
        return False
    finally:
        ch.close()


def run_sampler(pid, socket_path, csv_path, interval, max_s):
    stop = False

    def on_signal(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    start = time.time()
    n = 0
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        while not stop and time.time() - start < max_s:
            try:
                row = sample(pid)
            except (FileNotFoundError, ProcessLookupError):
                break  # crisp ended; soak.sh reports that
            now = time.time()
            row.update(time="%.3f" % now, elapsed_s="%.1f" % (now - start), probe="")
            n += 1
            # Sampled before probing, so the probe's own connection is not counted.
            if n % PROBE_EVERY == 0:
                row["probe"] = "ok" if probe(socket_path) else "fail"
            w.writerow(row)
            f.flush()
            # The pacing of a periodic sampler, not synchronisation.
            next_at = start + n * interval
            while not stop and time.time() < next_at:
                time.sleep(min(0.2, max(0.0, next_at - time.time())))


# ---- the verdict ------------------------------------------------------------------------

def load_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def slope_per_hour(xs, ys):
    """Least-squares slope of ys over xs (seconds), per hour."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    if den == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 3600


def p90(values):
    """The 90th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered) + 0.999999) - 1)]


def verdict(rows, load_start, load_end):
    """Returns (ok, lines): the checks described in the module docstring."""
    window = [r for r in rows if load_start <= float(r["time"]) <= load_end]
    lines = []
    if len(window) < 9:
        return False, ["FAIL: only %d samples during the load (need at least 9: three per "
                       "third); run longer or sample more often" % len(window)]
    third = len(window) // 3
    mid, last = window[third:2 * third], window[2 * third:]
    ok = True
    lines.append("| metric | start | middle third: median / p90 / max | last third: median / "
                 "p90 / max | change: median / p90 | tolerance | slope M+L per hour | verdict |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for key, unit in (("rss_kb", "KiB"), ("anon_kb", "KiB"), ("fds", ""), ("threads", "")):
        m = [int(r[key]) for r in mid]
        lv = [int(r[key]) for r in last]
        m_med, l_med = statistics.median(m), statistics.median(lv)
        if key in ("rss_kb", "anon_kb"):
            tol = max(MEM_TOL_KB, MEM_TOL_FRACTION * m_med)
        else:
            tol = FD_TOL
        d_med, d_p90 = l_med - m_med, p90(lv) - p90(m)
        good = d_med <= tol and d_p90 <= tol
        ok &= good
        xs = [float(r["time"]) for r in mid + last]
        slope = slope_per_hour(xs, m + lv)
        lines.append("| %s | %s | %g / %d / %d | %g / %d / %d | %+g / %+d | %g %s | %+.0f %s | %s |"
                     % (key, window[0][key], m_med, p90(m), max(m), l_med, p90(lv), max(lv),
                        d_med, d_p90, tol, unit, slope, unit, "ok" if good else "FAIL: grows"))
    probes = [r["probe"] for r in rows if r["probe"]]
    failed = probes.count("fail")
    ok &= failed == 0
    lines.append("")
    lines.append("probes (one call on a new connection every %d samples): %d, failed %d: %s"
                 % (PROBE_EVERY, len(probes), failed, "ok" if failed == 0 else "FAIL"))
    lines.append("samples in the load window: %d (thirds of %d; the first is warm-up)"
                 % (len(window), third))
    return ok, lines


def main(argv):
    if len(argv) == 7 and argv[1] == "sample":
        run_sampler(int(argv[2]), argv[3], argv[4], float(argv[5]), float(argv[6]))
        return 0
    if len(argv) == 3 and argv[1] == "probe":
        return 0 if probe(argv[2]) else 1
    if len(argv) == 4 and argv[1] == "fds":
        pid = int(argv[2])
        print(count_fds(pid), client_connections(pid, argv[3]))
        return 0
    if len(argv) == 5 and argv[1] == "verdict":
        ok, lines = verdict(load_csv(argv[2]), float(argv[3]), float(argv[4]))
        print("\n".join(lines))
        print("verdict: %s" % ("PASS" if ok else "FAIL"))
        return 0 if ok else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
