#!/usr/bin/python3
"""Turns bench/run.sh's raw.txt into results.md and the latency CDF plot.

Every number comes from raw.txt (one line per loadgen class, memory sample or
fake-runtime counter per run); the report takes the median over rounds of
each metric, then derives ratios and differences from those medians.
"""
import argparse
import os
import statistics
import subprocess
import sys
from collections import defaultdict

MIB = 1024


def parse_kv(line):
    out = {}
    for tok in line.split():
        k, sep, v = tok.partition("=")
        if sep:
            out[k] = v
    return out


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class Data:
    def __init__(self, raw):
        self.load = defaultdict(list)  # (scen, variant, class) -> [record per round]
        self.mem = defaultdict(list)  # (scen, variant) -> [record]
        self.rt = defaultdict(list)  # (scen, variant) -> [record]
        self.cpu = defaultdict(list)  # (scen, variant) -> [record]
        self.micro = []  # the rewriter alone, one record per round
        self.kubelet = {}  # variant -> record: behind a real kubelet (bench/kubelet_idle.py)
        self.noisy = 0  # runs repeated because other processes were busy
        self.rounds = set()
        with open(raw) as f:
            for line in f:
                r = parse_kv(line)
                if not r:
                    continue
                if r.get("kind") == "kubelet":
                    self.kubelet[r["variant"]] = r
                    continue
                self.rounds.add(r["round"])
                key = (r["scen"], r["variant"])
                if r["kind"] == "load":
                    self.load[key + (r["class"],)].append(r)
                elif r["kind"] == "mem":
                    self.mem[key].append(r)
                elif r["kind"] == "rt":
                    self.rt[key].append(r)
                elif r["kind"] == "cpu":
                    self.cpu[key].append(r)
                elif r["kind"] == "micro":
                    self.micro.append(r)
                elif r["kind"] == "noisy-cpu":
                    self.noisy += 1

    def med(self, scen, variant, cls, metric):
        vals = [num(r.get(metric)) for r in self.load.get((scen, variant, cls), [])]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def spread(self, scen, variant, cls, metric):
        vals = [num(r.get(metric)) for r in self.load.get((scen, variant, cls), [])]
        vals = [v for v in vals if v is not None]
        return (min(vals), max(vals)) if vals else (None, None)

    def total(self, scen, variant, cls, metric):
        return sum(int(r.get(metric, 0)) for r in self.load.get((scen, variant, cls), []))

    def mem_med(self, scen, variant, metric):
        vals = [num(r.get(metric)) for r in self.mem.get((scen, variant), [])]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def cpu_per_call(self, scen, variant, metric):
        """Median over rounds of metric / calls (µs of CPU, or a count)."""
        vals = []
        for r in self.cpu.get((scen, variant), []):
            calls = num(r.get("calls"))
            if calls:
                scale = 1000.0 if metric.endswith("_ms") else 1.0
                vals.append(num(r.get(metric, 0)) * scale / calls)
        return statistics.median(vals) if vals else None

    def other_pct(self, scen, variant):
        """Share of the machine other processes used during the run: median, max."""
        vals = []
        for r in self.cpu.get((scen, variant), []):
            wall = num(r.get("wall_ms"))
            if wall:
                vals.append(max(0.0, num(r["other_ms"])) * 100 / (wall * self.cores))
        return (statistics.median(vals), max(vals)) if vals else (None, None)

    def rt_max(self, scen, variant, metric):
        vals = [int(r.get(metric, 0)) for r in self.rt.get((scen, variant), [])]
        return min(vals) if vals else None  # the worst round

    def variants(self, scen):
        order = ["direct", "relay", "go", "crisp-before", "crisp-nodefault", "crisp"]
        seen = {k[1] for k in self.load if k[0] == scen}
        return [v for v in order if v in seen] + sorted(seen - set(order))

    def classes(self, scen):
        seen = []
        for k in self.load:
            if k[0] == scen and k[2] not in seen:
                seen.append(k[2])
        return seen


def fmt(v, unit="", digits=1):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


SCEN_TITLE = {
    "a": "(a) sequential small unary calls (Version, 8 B request, 64 B response, 1 in flight)",
    "b16": "(b) 16 concurrent small calls (closed loop)",
    "b64": "(b) 64 concurrent small calls (closed loop)",
    "c": "(c) CreateContainer, kubelet 1.31 request (1130 B), 1 in flight",
    "d": "(d) 16 MiB − 1 KiB response (ListContainers), 1 in flight",
    "e0": "(e) small calls alone (baseline for e1)",
    "e1": "(e) small calls beside 1000 slow calls held 1 s each",
    "f": "(f) kubelet-like mix at fixed rates, 110-pod node",
}


def verdict(met, how):
    return ("met" if met else "**missed**") + (f" ({how})" if how else "")


def summary(d, lines):
    rows = []

    def add(name, target, measured, met, how=""):
        rows.append((name, target, measured, "—" if met is None else verdict(met, how)))

    # (a) added latency per call
    p = {v: d.med("a", v, "small", "p50_us") for v in ("direct", "relay", "crisp")}
    if all(p.values()):
        add_relay, add_crisp = p["relay"] - p["direct"], p["crisp"] - p["direct"]
        limit = 1.2 * add_relay
        add("(a) added p50 per call", "crisp ≤ 1.2 × relay's",
            f"crisp +{add_crisp:.1f} µs, relay +{add_relay:.1f} µs "
            f"(×{ratio(add_crisp, add_relay):.2f})",
            add_crisp <= limit,
            f"by {add_crisp - limit:+.1f} µs over the {limit:.1f} µs limit"
            if add_crisp > limit else f"{limit - add_crisp:.1f} µs to spare")
    # (b) throughput
    for s in ("b16", "b64"):
        rc, rr = d.med(s, "crisp", "small", "rps"), d.med(s, "relay", "small", "rps")
        if rc and rr:
            add(f"(b) throughput, {s[1:]} in flight", "crisp ≥ relay",
                f"crisp {rc:,.0f}/s, relay {rr:,.0f}/s, direct "
                f"{fmt(d.med(s, 'direct', 'small', 'rps'), digits=0)}/s",
                rc >= rr, f"crisp/relay = {rc / rr:.2f}")
    # (c) the rewrite's own cost
    pc, pn = d.med("c", "crisp", "createcontainer", "p50_us"), d.med(
        "c", "crisp-nodefault", "createcontainer", "p50_us")
    if pc and pn:
        cost = pc - pn
        micro = [num(r["p50_us"]) for r in d.micro]
        alone = (f"; the rewriter alone: {statistics.median(micro):.1f} µs"
                 if micro else "")
        add("(c) rewrite cost at p50", "≤ 10 µs",
            f"{cost:+.1f} µs (crisp {pc:.1f} µs vs --no-default {pn:.1f} µs{alone})",
            cost <= 10, f"by {cost - 10:.1f} µs" if cost > 10 else "")
    # (d) memory for a 16 MiB response
    hwm, idle = d.mem_med("d", "crisp", "hwm_kb"), d.mem_med("d", "crisp", "idle_rss_kb")
    if hwm and idle:
        growth = (hwm - idle) / MIB
        add("(d) crisp peak RSS growth, 16 MiB response", "< 3 × 16 MiB = 48 MiB",
            f"{growth:.1f} MiB ({growth / 16:.2f} × the message)", growth < 48,
            f"by {growth - 48:.1f} MiB" if growth >= 48 else "")
    # (e) slow calls do not hurt small ones
    for v in ("direct", "relay", "crisp"):
        a0, a1 = d.med("e0", v, "small", "p99_us"), d.med("e1", v, "small", "p99_us")
        if a0 and a1:
            r = a1 / a0
            add(f"(e) small-call p99 with/without 1000 slow, {v}", "≤ 2×",
                f"{a1:.0f} µs / {a0:.0f} µs = ×{r:.2f}", r <= 2 if v == "crisp" else None,
                f"by ×{r - 2:.2f}" if r > 2 and v == "crisp" else "")
    err = d.total("e1", "crisp", "slow", "errors")
    maxin = d.spread("e1", "crisp", "slow", "max_inflight")[0]
    held = d.rt_max("e1", "crisp", "max_held")
    if maxin is not None:
        add("(e) 1000 slow calls in flight through crisp", "1000 in flight, 0 errors",
            f"{maxin:.0f} in flight at the client, ≥{held} held by the runtime, "
            f"{err} errors (all rounds, slow + small: "
            f"{err + d.total('e1', 'crisp', 'small', 'errors')})",
            maxin >= 1000 and held is not None and held >= 1000 and err == 0)
    # (f) CPU per call against the byte relay's, on the kubelet-like mix
    cc, cr = d.cpu_per_call("f", "crisp", "hop_ms"), d.cpu_per_call("f", "relay", "hop_ms")
    rate = d.med("f", "direct", "total", "rps")
    if cc and cr:
        pct = (f"; at the mix's {rate:,.0f} calls/s: crisp {cc * rate / 1e4:.2f}% of a core, "
               f"relay {cr * rate / 1e4:.2f}%" if rate else "")
        add("(f) crisp CPU per call, kubelet-like mix", "≤ 1.5 × relay's",
            f"crisp {cc:.1f} µs, relay {cr:.1f} µs (×{cc / cr:.2f}){pct}", cc <= 1.5 * cr,
            f"by ×{cc / cr - 1.5:.2f}" if cc > 1.5 * cr else "")
    # crisp against the Go pass-through proxy (bench/peer-go), scenario by scenario
    main_class = {"a": "small", "b16": "small", "b64": "small", "c": "createcontainer",
                  "d": "big", "e0": "small", "e1": "small", "f": "total"}
    for s, cls in main_class.items():
        if s in ("b16", "b64"):
            gc, gg = d.med(s, "crisp", cls, "rps"), d.med(s, "go", cls, "rps")
            if gc and gg:
                add(f"({s}) crisp vs the Go proxy, calls/s", "crisp ≥ Go",
                    f"crisp {gc:,.0f}/s, Go {gg:,.0f}/s (×{gc / gg:.2f})", gc >= gg)
            continue
        if s == "f":
            gc, gg = d.cpu_per_call(s, "crisp", "hop_ms"), d.cpu_per_call(s, "go", "hop_ms")
            if gc and gg:
                add("(f) crisp vs the Go proxy, CPU per call", "crisp ≤ Go",
                    f"crisp {gc:.1f} µs, Go {gg:.1f} µs (×{gc / gg:.2f})", gc <= gg)
            continue
        gc, gg = d.med(s, "crisp", cls, "p50_us"), d.med(s, "go", cls, "p50_us")
        if gc and gg:
            add(f"({s}) crisp vs the Go proxy, p50", "crisp ≤ Go",
                f"crisp {gc:,.1f} µs, Go {gg:,.1f} µs (×{gc / gg:.2f})", gc <= gg)
    # behind a real kubelet, idle
    kc, kr = d.kubelet.get("crisp"), d.kubelet.get("relay")
    if kr:
        add("socat's CPU behind the same kubelet (the floor for a hop)", "—",
            f"socat {num(kr['crisp_cpu_ms']) / (num(kr['window_s']) / 60):.0f} ms/min, kubelet "
            f"{num(kr['kubelet_cpu_ms']) / (num(kr['window_s']) / 60):.0f} ms/min "
            f"({100 * num(kr['crisp_cpu_ms']) / num(kr['kubelet_cpu_ms']):.1f}%)", None)
    if kc:
        k_ms, c_ms = num(kc["kubelet_cpu_ms"]), num(kc["crisp_cpu_ms"])
        mins = num(kc["window_s"]) / 60
        add("crisp CPU behind a real kubelet, idle", "≤ 5% of the kubelet's",
            f"crisp {c_ms / mins:.0f} ms/min, kubelet {k_ms / mins:.0f} ms/min "
            f"({100 * c_ms / k_ms:.1f}%), {num(kc['calls']) / num(kc['window_s']):.1f} calls/s",
            c_ms <= 0.05 * k_ms,
            f"by {100 * c_ms / k_ms - 5:.1f} points" if c_ms > 0.05 * k_ms else "")
    # memory
    idle_anon = d.mem_med("a", "crisp", "idle_anon_kb")
    if idle_anon:
        add("crisp anon memory, idle", "≤ 4 MiB", f"{idle_anon / MIB:.2f} MiB",
            idle_anon <= 4 * MIB,
            f"by {(idle_anon - 4 * MIB) / MIB:.2f} MiB" if idle_anon > 4 * MIB else "")
    e_anon = d.mem_med("e1", "crisp", "peak_anon_kb")
    if e_anon:
        add("crisp anon memory, 1000 calls in flight (peak during e1)", "≤ 16 MiB",
            f"{e_anon / MIB:.2f} MiB", e_anon <= 16 * MIB,
            f"by {(e_anon - 16 * MIB) / MIB:.2f} MiB" if e_anon > 16 * MIB else "")

    lines += ["## Targets", "",
              "| scenario | target | measured (median over rounds) | verdict |",
              "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows]
    lines.append("")


def scenario_tables(d, lines):
    lines += ["## Scenarios", "",
              "Medians over rounds; `p50 spread` is the lowest and highest round. "
              "Ratios and `added` (p50 − direct's p50) are taken from the medians. "
              "`errors` is the sum over all rounds (warm-up included).", ""]
    for s in SCEN_TITLE:
        variants = d.variants(s)
        if not variants:
            continue
        lines += [f"### {SCEN_TITLE[s]}", ""]
        if s == "f":
            mix_table(d, s, lines)
            continue
        for cls in d.classes(s):
            if cls == "total" and s == "e1":
                continue  # slow and small calls pooled mean nothing
            if len(d.classes(s)) > 1:
                lines += [f"class `{cls}`:", ""]
            lines += ["| variant | p50 µs | p50 spread | added p50 µs | p90 µs | p99 µs | max µs "
                      "| calls/s | errors | timed calls/round | p50 ×direct | p50 ×relay "
                      "| calls/s ×relay |",
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            base = d.med(s, "direct", cls, "p50_us")
            rel50, relrps = d.med(s, "relay", cls, "p50_us"), d.med(s, "relay", cls, "rps")
            for v in variants:
                p50 = d.med(s, v, cls, "p50_us")
                lo, hi = d.spread(s, v, cls, "p50_us")
                rps = d.med(s, v, cls, "rps")
                added = p50 - base if p50 is not None and base is not None else None
                lines.append(
                    f"| {v} | {fmt(p50)} | {fmt(lo)}–{fmt(hi)} | "
                    f"{fmt(added) if v != 'direct' else ''} | {fmt(d.med(s, v, cls, 'p90_us'))} | "
                    f"{fmt(d.med(s, v, cls, 'p99_us'))} | {fmt(d.med(s, v, cls, 'max_us'))} | "
                    f"{fmt(rps, digits=0)} | {d.total(s, v, cls, 'errors')} | "
                    f"{fmt(d.med(s, v, cls, 'n'), digits=0)} | "
                    f"{fmt(ratio(p50, base), digits=2)} | "
                    f"{fmt(ratio(p50, rel50), digits=2)} | {fmt(ratio(rps, relrps), digits=2)} |")
            lines.append("")


def cost_table(d, lines):
    lines += ["## Where the CPU goes", "",
              "CPU time per call (µs; all calls of the run, warm-up included) of each process, "
              "from /proc (clock ticks) and the load generator's getrusage; crisp's context "
              "switches per call (all threads, /proc/PID/task/*/status). `others` is the share of "
              "the whole machine used by processes this benchmark did not start during the run "
              "(median, max over rounds): a high value means the numbers of that run are noisy.",
              "",
              "| scenario | variant | hop CPU µs/call | runtime CPU µs/call | loadgen CPU µs/call "
              "| crisp ctx switches/call | others % of machine |",
              "|---|---|---|---|---|---|---|"]
    for s in SCEN_TITLE:
        for v in d.variants(s):
            if not d.cpu.get((s, v)):
                continue
            med, mx = d.other_pct(s, v)
            csw = d.cpu_per_call(s, v, "crisp_csw") if v.startswith("crisp") else None
            lines.append(
                f"| {s} | {v} | {fmt(d.cpu_per_call(s, v, 'hop_ms')) if v != 'direct' else ''} | "
                f"{fmt(d.cpu_per_call(s, v, 'runtime_ms'))} | "
                f"{fmt(d.cpu_per_call(s, v, 'loadgen_ms'))} | {fmt(csw, digits=2)} | "
                f"{fmt(med, digits=0)} / {fmt(mx, digits=0)} |")
    lines.append("")


def mix_table(d, s, lines):
    """Many classes at fixed rates: one row per class, variants side by side."""
    variants = d.variants(s)
    head = " | ".join(f"{v} p50 | {v} p99" for v in variants)
    lines += [f"| class | calls/s | {head} | crisp added p50 | errors (all) |",
              "|---|---|" + "---|" * (2 * len(variants)) + "---|---|"]
    for cls in d.classes(s):
        cells = " | ".join(f"{fmt(d.med(s, v, cls, 'p50_us'))} | {fmt(d.med(s, v, cls, 'p99_us'))}"
                           for v in variants)
        pc, pd = d.med(s, "crisp", cls, "p50_us"), d.med(s, "direct", cls, "p50_us")
        errs = sum(d.total(s, v, cls, "errors") for v in variants)
        lines.append(f"| {cls} | {fmt(d.med(s, 'direct', cls, 'rps'), digits=0)} | {cells} | "
                     f"{fmt(pc - pd if pc is not None and pd is not None else None)} | {errs} |")
    lag = max((num(r.get("lag_max_us")) or 0) for k, rs in d.load.items() if k[0] == s for r in rs)
    lines += ["", f"Latencies in µs, medians over rounds. The generator started calls at most "
              f"{lag:,.0f} µs behind schedule (lag_max, worst round).", ""]


def kubelet_table(d, lines):
    if not d.kubelet:
        return
    lines += ["## Behind a real kubelet", "",
              "bench/kubelet_idle.py: a kubelet in standalone mode with one static pod on a "
              "private containerd, first direct, then behind socat, then through crisp; CPU time "
              "(utime + stime, all threads; socat with its per-connection children) over the "
              "same idle window once the pod runs. `crisp CPU` is the hop's.", "",
              "| variant | window s | kubelet CPU ms/min | crisp CPU ms/min | crisp / kubelet "
              "| CRI calls/s | crisp CPU µs/call |", "|---|---|---|---|---|---|---|"]
    for v in ("direct", "relay", "crisp"):
        r = d.kubelet.get(v)
        if not r:
            continue
        mins = num(r["window_s"]) / 60
        k, c, n = num(r["kubelet_cpu_ms"]), num(r["crisp_cpu_ms"]), num(r["calls"])
        lines.append(f"| {v} | {num(r['window_s']):.0f} | {k / mins:.0f} | "
                     f"{c / mins:.0f} | " + (f"{100 * c / k:.1f}% | {n / num(r['window_s']):.1f} | "
                                             f"{1000 * c / n:.0f} |" if v == "crisp" and n
                                             else f"{100 * c / k:.1f}% | — | — |" if v == "relay"
                                             else "— | — | — |"))
    lines.append("")


def memory_table(d, lines):
    lines += ["## crisp's memory", "",
              "From /proc/PID/status of a fresh crisp per run: `idle` 0.2 s after start, "
              "`peak` sampled every 20 ms during the load (RssAnon has no kernel peak; VmHWM is "
              "the kernel's exact peak RSS), `end` right after the load. Medians over rounds, MiB.",
              "",
              "| scenario | variant | idle RSS | idle anon | peak RSS (VmHWM) | peak anon (sampled) "
              "| end RSS | end anon |",
              "|---|---|---|---|---|---|---|---|"]
    for s in SCEN_TITLE:
        for v in ("crisp-before", "crisp-nodefault", "crisp"):
            if not d.mem.get((s, v)):
                continue
            vals = [d.mem_med(s, v, m) for m in ("idle_rss_kb", "idle_anon_kb", "hwm_kb",
                                                  "peak_anon_kb", "end_rss_kb", "end_anon_kb")]
            lines.append(f"| {s} | {v} | " +
                         " | ".join(fmt(x / MIB if x is not None else None, digits=2)
                                    for x in vals) + " |")
    lines.append("")


def compact(d, lines):
    """One table for BENCHMARKS.md: every scenario's main class, variants side by side."""
    main = {"a": "small", "b16": "small", "b64": "small", "c": "createcontainer", "d": "big",
            "e0": "small", "e1": "small", "f": "total"}
    order = ["direct", "relay", "go", "crisp-before", "crisp-nodefault", "crisp"]
    lines += ["| scenario | variant | p50 µs | p99 µs | calls/s | added p50 µs | hop CPU µs/call "
              "| errors |", "|---|---|---|---|---|---|---|---|"]
    for s, cls in main.items():
        base = d.med(s, "direct", cls, "p50_us")
        for v in [v for v in order if (s, v, cls) in d.load]:
            p50 = d.med(s, v, cls, "p50_us")
            added = p50 - base if v != "direct" and p50 is not None and base else None
            cpu = d.cpu_per_call(s, v, "hop_ms") if v != "direct" else None
            lines.append(f"| {s} | {v} | {fmt(p50)} | {fmt(d.med(s, v, cls, 'p99_us'))} | "
                         f"{fmt(d.med(s, v, cls, 'rps'), digits=0)} | {fmt(added)} | "
                         f"{fmt(cpu)} | {d.total(s, v, cls, 'errors')} |")
    lines.append("")


def cdf(lat_dir, out_dir, d, lines):
    """Pools every round's latencies per variant; plots their CDFs."""
    panels = []
    for s in ("a", "b16"):
        series = []
        for v in ("direct", "relay", "go", "crisp"):
            vals = []
            for name in sorted(os.listdir(lat_dir)) if os.path.isdir(lat_dir) else []:
                if name.startswith(f"{s}-{v}-r"):
                    with open(os.path.join(lat_dir, name)) as f:
                        vals += [int(line.split()[1]) for line in f]
            if not vals:
                continue
            vals.sort()
            dat = os.path.join(out_dir, f"cdf-{s}-{v}.dat")
            with open(dat, "w") as f:
                n = len(vals)
                # 2000 quantiles, plus the tail point by point past p99.
                idx = sorted(set([int(i * (n - 1) / 2000) for i in range(2001)] +
                                 list(range(int(n * 0.99), n))))
                for i in idx:
                    f.write(f"{vals[i] / 1000:.2f} {(i + 1) / n:.6f}\n")
            series.append((v, dat))
        if series:
            panels.append((s, series))
    if not panels:
        return
    png = os.path.join(out_dir, "cdf.png")
    gp = [f"set terminal pngcairo size {700 * len(panels)},480 font ',10'",
          f"set output '{png}'",
          f"set multiplot layout 1,{len(panels)}",
          "set logscale x", "set grid", "set key bottom right",
          "set xlabel 'latency (µs, log scale)'", "set ylabel 'fraction of calls'",
          "set yrange [0:1]"]
    colors = {"direct": "#1b9e77", "relay": "#7570b3", "go": "#e7298a", "crisp": "#d95f02"}
    for s, series in panels:
        gp.append(f"set title \"{SCEN_TITLE[s]}\" noenhanced")
        gp.append("plot " + ", ".join(
            f"'{dat}' using 1:2 with lines lw 2 lc rgb '{colors.get(v, 'black')}' title '{v}'"
            for v, dat in series))
    gp.append("unset multiplot")
    try:
        subprocess.run(["gnuplot"], input="\n".join(gp), text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"report: gnuplot failed: {e}")
    lines += ["## Latency CDF", "",
              "Every timed call of every round, per variant (scenarios a and b16).", "",
              "![latency CDF](cdf.png)", ""]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--lat", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    d = Data(a.raw)
    d.cores = os.cpu_count() or 1
    if not d.load:
        sys.exit("report: no results in " + a.raw)
    meta = open(a.meta).read().strip()
    if "mode=quick" in meta:
        noise = ("Quick mode: a run during which other processes were busy is flagged, not "
                 "repeated; see the `others` column of \"Where the CPU goes\". One round is a "
                 "smoke test, not a measurement.")
    else:
        noise = (f"{d.noisy} run(s) were repeated because processes this benchmark did not "
                 f"start used more than 15% of the machine meanwhile (kept in raw.txt as "
                 f"kind=noisy-*). The `others` column of \"Where the CPU goes\" shows what "
                 f"remained.")
    lines = ["# crisp benchmark results", "", "```", meta, "```", "", noise, ""]
    summary(d, lines)
    scenario_tables(d, lines)
    cost_table(d, lines)
    memory_table(d, lines)
    kubelet_table(d, lines)
    cdf(a.lat, a.out, d, lines)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # The short form BENCHMARKS.md quotes: the targets and one compact table.
    short = []
    summary(d, short)
    compact(d, short)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(short) + "\n")
    print("\n".join(lines[:lines.index("## Scenarios")]))


if __name__ == "__main__":
    main()
