#!/usr/bin/python3
"""memwatch PID [INTERVAL_MS] [MAX_S]: sample a process's memory until told to stop.

Reads /proc/PID/status every INTERVAL_MS (default 20) and, on SIGTERM/SIGINT,
when the process ends, or after MAX_S seconds (default 900, a bound so it never
outlives a broken run), prints one line:

    peak_rss_kb=.. peak_anon_kb=.. hwm_kb=.. last_rss_kb=.. last_anon_kb=.. samples=..

VmHWM is the kernel's own peak RSS (exact); RssAnon has no kernel peak, so
its peak is the largest sample (a short spike between samples can be missed).
"""
import signal
import sys
import time


def read_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: memwatch PID [INTERVAL_MS] [MAX_S]")
    pid = int(sys.argv[1])
    interval = (int(sys.argv[2]) if len(sys.argv) > 2 else 20) / 1000.0
    max_s = float(sys.argv[3]) if len(sys.argv) > 3 else 900.0
    stop = False

    def on_signal(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    peak_rss = peak_anon = hwm = samples = 0
    last = {}
    end = time.monotonic() + max_s
    while not stop and time.monotonic() < end:
        try:
            last = read_status(pid)
        except (FileNotFoundError, ProcessLookupError):
            break  # the process ended; report what was seen
        samples += 1
        peak_rss = max(peak_rss, last.get("VmRSS", 0))
        peak_anon = max(peak_anon, last.get("RssAnon", 0))
        hwm = max(hwm, last.get("VmHWM", 0))
        time.sleep(interval)
    if samples == 0:
        sys.exit(f"memwatch: could not read /proc/{pid}/status")
    print(
        f"peak_rss_kb={peak_rss} peak_anon_kb={peak_anon} hwm_kb={hwm} "
        f"last_rss_kb={last.get('VmRSS', 0)} last_anon_kb={last.get('RssAnon', 0)} "
        f"samples={samples}",
        flush=True,
    )


if __name__ == "__main__":
    main()
