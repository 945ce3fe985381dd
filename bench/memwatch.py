#!/usr/bin/python3
"""memwatch: a hop's memory, summed over its whole process tree.

    memwatch.py PID [INTERVAL_MS] [MAX_S]   sample until told to stop
    memwatch.py --once PID                  one sample now (the idle figures)

A hop may be several processes: nghttpx runs a main and a worker process,
socat forks a child per connection. Each sample finds PID and all its
descendants (/proc/P/task/T/children, so a child forked mid-run is seen at
the next sample) and adds up, over those processes, VmRSS, RssAnon and VmHWM
from /proc/P/status; every 5th sample (and --once) also Pss and Pss_Anon from
/proc/P/smaps_rollup. Summed RSS counts a page shared by two of the hop's
processes (the libraries, what a forked child still shares with its parent)
once in each; the summed Pss splits it between them, so it is the hop's real
footprint. For one process (crisp, HAProxy, the Go proxy) VmHWM is the
kernel's exact peak RSS; for several it is the largest sum of their VmHWM
seen, an upper bound of the peak of their summed RSS.

Sampling stops on SIGTERM/SIGINT, when PID ends, or after MAX_S seconds
(default 900, a bound so it never outlives a broken run), and prints one line:

    peak_rss_kb=.. peak_anon_kb=.. hwm_kb=.. peak_pss_kb=.. peak_pss_anon_kb=..
    last_rss_kb=.. last_anon_kb=.. procs=.. samples=..

(procs: the most processes seen at once). --once prints
rss_kb=.. anon_kb=.. hwm_kb=.. pss_kb=.. pss_anon_kb=.. procs=..
"""
import os
import signal
import sys
import time

PSS_EVERY = 5


def tree(root):
    """root and its descendants alive now (root first)."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return out


def read_kv(path, keys):
    out = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in keys:
                out[key] = int(rest.split()[0])
    return out


def sample(root, pss):
    """Sums over root's tree; None once root is gone."""
    tot = {"VmRSS": 0, "RssAnon": 0, "VmHWM": 0, "Pss": 0, "Pss_Anon": 0}
    n = 0
    for pid in tree(root):
        try:
            st = read_kv(f"/proc/{pid}/status", ("VmRSS", "RssAnon", "VmHWM"))
            if pss:
                st.update(read_kv(f"/proc/{pid}/smaps_rollup", ("Pss", "Pss_Anon")))
        except (FileNotFoundError, ProcessLookupError):
            if pid == root:
                return None
            continue  # a child that just ended
        if "VmRSS" not in st:
            continue  # a zombie: its memory is gone
        n += 1
        for k, v in st.items():
            tot[k] += v
    tot["procs"] = n
    return tot


def once(root):
    s = sample(root, True)
    if s is None:
        sys.exit(f"memwatch: process {root} is gone")
    print(f"rss_kb={s['VmRSS']} anon_kb={s['RssAnon']} hwm_kb={s['VmHWM']} "
          f"pss_kb={s['Pss']} pss_anon_kb={s['Pss_Anon']} procs={s['procs']}", flush=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--once":
        once(int(sys.argv[2]))
        return
    if len(sys.argv) < 2:
        sys.exit("usage: memwatch PID [INTERVAL_MS] [MAX_S] | memwatch --once PID")
    root = int(sys.argv[1])
    interval = (int(sys.argv[2]) if len(sys.argv) > 2 else 20) / 1000.0
    max_s = float(sys.argv[3]) if len(sys.argv) > 3 else 900.0
    stop = False

    def on_signal(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    peak = {"VmRSS": 0, "RssAnon": 0, "VmHWM": 0, "Pss": 0, "Pss_Anon": 0, "procs": 0}
    last = {}
    samples = 0
    end = time.monotonic() + max_s
    while not stop and time.monotonic() < end:
        s = sample(root, samples % PSS_EVERY == 0)
        if s is None:
            break  # the hop ended; report what was seen
        samples += 1
        last = s
        for k in peak:
            peak[k] = max(peak[k], s[k])
        time.sleep(interval)
    if samples == 0:
        sys.exit(f"memwatch: could not read /proc/{root}/status")
    print(
        f"peak_rss_kb={peak['VmRSS']} peak_anon_kb={peak['RssAnon']} hwm_kb={peak['VmHWM']} "
        f"peak_pss_kb={peak['Pss']} peak_pss_anon_kb={peak['Pss_Anon']} "
        f"last_rss_kb={last.get('VmRSS', 0)} last_anon_kb={last.get('RssAnon', 0)} "
        f"procs={peak['procs']} samples={samples}",
        flush=True,
    )


if __name__ == "__main__":
    main()
