#!/usr/bin/python3
"""Turns bench/run.sh's raw.txt into results.md, summary.md and the latency CDF plot.

Every number comes from raw.txt (one line per loadgen class, CPU account,
memory record or fake-runtime counter per run); the report takes the median
over rounds of each metric, then derives ratios and differences from those
medians. Where two variants ran in the same round, it also gives the paired
ratio: the median over rounds of the ratio within each round, which drift on
a shared machine disturbs less.
"""
import argparse
import os
import statistics
import subprocess
import sys
from collections import defaultdict

MIB = 1024
ORDER = ["direct", "relay", "go", "nghttpx", "haproxy", "crisp-before", "crisp-nodefault",
         "crisp"]
NAME = {"relay": "socat", "go": "Go proxy", "nghttpx": "nghttpx", "haproxy": "HAProxy",
        "crisp-before": "crisp-before", "crisp-nodefault": "crisp --no-default",
        "crisp": "crisp", "direct": "direct"}
# The hops crisp is compared with, figure by figure: the byte relay, then the peers.
OTHERS = ["relay", "nghttpx", "haproxy", "go"]
MAIN = {"a": "small", "b16": "small", "b64": "small", "c": "createcontainer", "d": "big",
        "e0": "small", "e1": "small", "f": "total", "g": "bigcreate"}


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


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def paired(a, b, op=lambda x, y: x / y):
    """Median over the rounds both dicts have of op(a[r], b[r]) (ratio by default)."""
    vals = []
    for r in sorted(set(a) & set(b)):
        try:
            if a[r] is not None and b[r] is not None:
                vals.append(op(a[r], b[r]))
        except ZeroDivisionError:
            pass
    return median(vals)


class Data:
    def __init__(self, raw):
        self.load = defaultdict(list)  # (scen, variant, class) -> [record per round]
        self.mem = defaultdict(list)  # (scen, variant) -> [record]
        self.rt = defaultdict(list)  # (scen, variant) -> [record]
        self.cpu = defaultdict(list)  # (scen, variant) -> [record]
        self.rewrites = defaultdict(list)  # (scen, variant) -> [record]
        self.micro = defaultdict(list)  # scen -> the rewriter alone, one record per round
        self.kubelet = {}  # variant -> record: behind a real kubelet (bench/kubelet_idle.py)
        self.kubelet_failed = None  # its log, when kubelet_idle.py failed
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
                if r.get("kind") == "kubelet-failed":
                    self.kubelet_failed = r.get("log", "logs/kubelet.log")
                    continue
                self.rounds.add(r["round"])
                key = (r["scen"], r["variant"])
                kind = r["kind"]
                if kind == "load":
                    self.load[key + (r["class"],)].append(r)
                elif kind == "mem":
                    self.mem[key].append(r)
                elif kind == "rt":
                    self.rt[key].append(r)
                elif kind == "cpu":
                    self.cpu[key].append(r)
                elif kind == "rewrites":
                    self.rewrites[key].append(r)
                elif kind == "micro":
                    self.micro[r["scen"]].append(r)
                elif kind == "noisy-cpu":
                    self.noisy += 1

    # -- load: per class --
    def rounds_of(self, scen, variant, cls, metric):
        return {r["round"]: num(r.get(metric)) for r in self.load.get((scen, variant, cls), [])}

    def med(self, scen, variant, cls, metric):
        return median(self.rounds_of(scen, variant, cls, metric).values())

    def spread(self, scen, variant, cls, metric):
        vals = [v for v in self.rounds_of(scen, variant, cls, metric).values() if v is not None]
        return (min(vals), max(vals)) if vals else (None, None)

    def total(self, scen, variant, cls, metric):
        return sum(int(r.get(metric, 0)) for r in self.load.get((scen, variant, cls), []))

    def errors(self, scen, variant):
        """Errors of every class of a run (not the pooled `total` line), all rounds."""
        return sum(self.total(scen, variant, c, "errors") for c in self.classes(scen)
                   if c != "total" or len(self.classes(scen)) == 1)

    # -- memory: the hop's process tree --
    def mem_rounds(self, scen, variant, metric):
        """Per round: a memwatch field, or `growth_kb` (VmHWM − idle RSS)."""
        out = {}
        for r in self.mem.get((scen, variant), []):
            if metric == "growth_kb":
                hwm, idle = num(r.get("hwm_kb")), num(r.get("idle_rss_kb"))
                out[r["round"]] = hwm - idle if hwm is not None and idle is not None else None
            else:
                out[r["round"]] = num(r.get(metric))
        return out

    def mem_med(self, scen, variant, metric):
        return median(self.mem_rounds(scen, variant, metric).values())

    # -- CPU: per call --
    def cpu_rounds(self, scen, variant, metric):
        """Per round: metric / calls (µs of CPU for *_ms, else a count)."""
        out = {}
        for r in self.cpu.get((scen, variant), []):
            calls = num(r.get("calls"))
            if calls:
                scale = 1000.0 if metric.endswith("_ms") else 1.0
                out[r["round"]] = (num(r.get(metric)) or 0) * scale / calls
        return out

    def cpu_per_call(self, scen, variant, metric):
        return median(self.cpu_rounds(scen, variant, metric).values())

    def other_pct(self, scen, variant):
        """Share of the machine other processes used during the run: median, max."""
        vals = []
        for r in self.cpu.get((scen, variant), []):
            wall = num(r.get("wall_ms"))
            if wall:
                vals.append(max(0.0, num(r["other_ms"])) * 100 / (wall * self.cores))
        return (statistics.median(vals), max(vals)) if vals else (None, None)

    def rt_min(self, scen, variant, metric):
        vals = [int(r.get(metric, 0)) for r in self.rt.get((scen, variant), [])]
        return min(vals) if vals else None  # the worst round

    def variants(self, scen):
        seen = {k[1] for k in self.load if k[0] == scen}
        return [v for v in ORDER if v in seen] + sorted(seen - set(ORDER))

    def scenarios(self):
        seen = {k[0] for k in self.load}
        return [s for s in SCEN_TITLE if s in seen]

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
    "g": "(g) a big CreateContainer: the kubelet 1.31 request with 4 MiB of annotations "
         "added (crisp rewrites it), 1 in flight",
}


def verdict(met, how):
    return ("met" if met else "**missed**") + (f" ({how})" if how else "")


def mib(v):
    return v / MIB if v is not None else None


def figures(d, s):
    """The figures on which crisp and each other hop are compared in scenario s:
    (label, lower is better, median getter, per-round getter), each taking a variant."""
    cls = MAIN[s]

    def load(metric):
        return (lambda v: d.med(s, v, cls, metric), lambda v: d.rounds_of(s, v, cls, metric))

    def mem(metric):
        return (lambda v: mib(d.mem_med(s, v, metric)),
                lambda v: {r: mib(x) for r, x in d.mem_rounds(s, v, metric).items()})

    figs = [("p50 µs", True) + load("p50_us")]
    if s != "f":  # f is an open loop: its calls/s is the schedule's, the same for every hop
        figs.append(("calls/s", False) + load("rps"))
    figs.append(("hop CPU µs/call", True, lambda v: d.cpu_per_call(s, v, "hop_ms"),
                 lambda v: d.cpu_rounds(s, v, "hop_ms")))
    figs.append(("peak RSS MiB", True) + mem("hwm_kb"))
    figs.append(("peak anon MiB", True) + mem("peak_anon_kb"))
    return figs


def compare(d, other):
    """crisp against another hop on every figure of every scenario both ran:
    [(scen, figure, crisp, other, ratio of medians, paired ratio, crisp ahead)]."""
    out = []
    for s in d.scenarios():
        vs = d.variants(s)
        if "crisp" not in vs or other not in vs:
            continue
        for label, lower, get, get_rounds in figures(d, s):
            c, o = get("crisp"), get(other)
            if c is None or o is None:
                continue
            ahead = c <= o if lower else c >= o
            out.append((s, label, c, o, ratio(c, o), paired(get_rounds("crisp"),
                                                              get_rounds(other)), ahead))
    return out


def rx(r, p=None):
    """A ratio, and the paired one beside it when known."""
    if r is None:
        return "—"
    return f"×{r:.2f}" + (f" (paired ×{p:.2f})" if p is not None else "")


def summary(d, lines):
    """Issue 19's targets, then the checks kept from issue 13."""
    rows = []

    def add(name, target, measured, met, how=""):
        rows.append((name, target, measured, "—" if met is None else verdict(met, how)))

    def absent(name, target, why="not in this run"):
        add(name, target, why, None)

    # (a) added latency, sequential: p50(x) − p50(direct)
    p = {v: d.med("a", v, "small", "p50_us") for v in ("direct", "relay", "crisp")}
    name, target = "(a) added p50, 1 in flight", "≤ 1.0 × socat's"
    if all(p.values()):
        add_r, add_c = p["relay"] - p["direct"], p["crisp"] - p["direct"]
        rd = d.rounds_of("a", "direct", "small", "p50_us")
        pr = paired({k: v - rd[k] for k, v in d.rounds_of("a", "crisp", "small", "p50_us").items()
                     if k in rd},
                    {k: v - rd[k] for k, v in d.rounds_of("a", "relay", "small", "p50_us").items()
                     if k in rd})
        r = ratio(add_c, add_r)
        add(name, target, f"crisp +{add_c:.1f} µs, socat +{add_r:.1f} µs: {rx(r, pr)}",
            add_c <= add_r, f"by {add_c - add_r:+.1f} µs" if add_c > add_r else "")
    else:
        absent(name, target)
    # (b) throughput
    for s in ("b16", "b64"):
        name, target = f"({s}) calls/s, {s[1:]} in flight", "≥ 1.0 × socat's"
        rc, rr = d.med(s, "crisp", "small", "rps"), d.med(s, "relay", "small", "rps")
        if rc and rr:
            pr = paired(d.rounds_of(s, "crisp", "small", "rps"),
                        d.rounds_of(s, "relay", "small", "rps"))
            add(name, target, f"crisp {rc:,.0f}/s, socat {rr:,.0f}/s, direct "
                f"{fmt(d.med(s, 'direct', 'small', 'rps'), digits=0)}/s: {rx(rc / rr, pr)}",
                rc >= rr, f"by ×{1 - rc / rr:.2f}" if rc < rr else "")
        else:
            absent(name, target)
    # CPU per call: under load (b64) and in the kubelet-like mix (f)
    for s, what in (("b64", "under load, 64 in flight"), ("f", "kubelet-like mix")):
        name, target = f"({s}) hop CPU per call, {what}", "≤ 1.0 × socat's"
        cc, cr = d.cpu_per_call(s, "crisp", "hop_ms"), d.cpu_per_call(s, "relay", "hop_ms")
        if cc and cr:
            pr = paired(d.cpu_rounds(s, "crisp", "hop_ms"), d.cpu_rounds(s, "relay", "hop_ms"))
            rate = d.med(s, "direct", "total", "rps") if s == "f" else None
            pct = (f"; at the mix's {rate:,.0f} calls/s crisp takes {cc * rate / 1e4:.2f}% of a "
                   f"core, socat {cr * rate / 1e4:.2f}%" if rate else "")
            add(name, target, f"crisp {cc:.1f} µs, socat {cr:.1f} µs: {rx(cc / cr, pr)}{pct}",
                cc <= cr, f"by ×{cc / cr - 1:.2f}" if cc > cr else "")
        else:
            absent(name, target)
    # ahead of the production proxies on every figure of every scenario
    for peer in ("nghttpx", "haproxy"):
        name = f"ahead of {NAME[peer]}, every figure of every scenario"
        target = "crisp ≤ it on p50, CPU/call, peak RSS and anon; ≥ on calls/s"
        cmp = compare(d, peer)
        if not cmp:
            absent(name, target, f"{NAME[peer]} not in this run")
            continue
        behind = [f"{s} {label} ×{r:.2f}" for s, label, _, _, r, _, ahead in cmp if not ahead]
        add(name, target, f"ahead on {len(cmp) - len(behind)} of {len(cmp)} figures "
            f"({len({c[0] for c in cmp})} scenarios; table \"crisp against the other hops\")",
            not behind, "behind on " + ", ".join(behind) if behind else "")
    # (c) the rewrite's own cost
    name, target = "(c) rewrite of a CreateContainer at p50", "≤ 5 µs over --no-default"
    pc = d.med("c", "crisp", "createcontainer", "p50_us")
    pn = d.med("c", "crisp-nodefault", "createcontainer", "p50_us")
    if pc and pn:
        cost = pc - pn
        pr = paired(d.rounds_of("c", "crisp", "createcontainer", "p50_us"),
                    d.rounds_of("c", "crisp-nodefault", "createcontainer", "p50_us"),
                    lambda x, y: x - y)
        micro = median([num(r.get("p50_us")) for r in d.micro.get("c", [])])
        alone = f"; the rewriter alone {micro:.1f} µs" if micro is not None else ""
        pair = f"; paired {pr:+.1f} µs" if pr is not None else ""
        add(name, target, f"{cost:+.1f} µs (crisp {pc:.1f} µs, --no-default {pn:.1f} µs"
            f"{pair}{alone}; {rewritten(d, 'c')})", cost <= 5,
            f"by {cost - 5:.1f} µs" if cost > 5 else "")
    else:
        absent(name, target)
    # behind a real kubelet, idle
    name, target = "behind an idle real kubelet, hop CPU", "crisp ≤ 1.5 × socat's"
    kc, kr = d.kubelet.get("crisp"), d.kubelet.get("relay")
    if kc and kr:
        c, r = per_min(kc, "crisp_cpu_ms"), per_min(kr, "crisp_cpu_ms")
        add(name, target, f"crisp {c:.0f} ms/min, socat {r:.0f} ms/min: {rx(ratio(c, r))} "
            f"(the kubelet's own: {per_min(kc, 'kubelet_cpu_ms'):.0f} ms/min beside crisp)",
            c <= 1.5 * r, f"by ×{c / r - 1.5:.2f}" if c > 1.5 * r else "")
    elif d.kubelet_failed:
        passes = ", ".join(NAME[v] for v in ("direct", "relay", "crisp") if v in d.kubelet)
        rows.append((name, target, f"bench/kubelet_idle.py failed after the passes "
                     f"{passes or 'none'} ({d.kubelet_failed})", "**failed**"))
    else:
        absent(name, target, "not measured (no KUBELET or KUBELET_XZ given)")
    # memory
    idle = {v: median([num(r.get("idle_anon_kb")) for s in d.scenarios()
                       for r in d.mem.get((s, v), [])]) for v in ORDER}
    name, target = "anon memory, idle", "≤ 2 MiB"
    if idle["crisp"] is not None:
        add(name, target, f"crisp {idle['crisp'] / MIB:.2f} MiB (median of every run's idle; "
            + others(idle, digits=2) + ")", idle["crisp"] <= 2 * MIB,
            f"by {(idle['crisp'] - 2 * MIB) / MIB:.2f} MiB" if idle["crisp"] > 2 * MIB else "")
    else:
        absent(name, target)
    name, target = "anon memory, 1000 calls in flight (e1, peak)", "≤ 4 MiB"
    e1 = {v: d.mem_med("e1", v, "peak_anon_kb") for v in ORDER}
    if e1["crisp"] is not None:
        add(name, target, f"crisp {e1['crisp'] / MIB:.2f} MiB (" + others(e1, digits=2) + ")",
            e1["crisp"] <= 4 * MIB,
            f"by {(e1['crisp'] - 4 * MIB) / MIB:.2f} MiB" if e1["crisp"] > 4 * MIB else "")
    else:
        absent(name, target)
    name, target = "(d) RSS growth, a 16 MiB pass-through response", "≤ 1 MiB"
    dg = {v: d.mem_med("d", v, "growth_kb") for v in ORDER}
    if dg["crisp"] is not None:
        add(name, target, f"crisp {dg['crisp'] / MIB:.2f} MiB (peak RSS − idle RSS; "
            + others(dg, digits=2) + ")", dg["crisp"] <= MIB,
            f"by {(dg['crisp'] - MIB) / MIB:.2f} MiB" if dg["crisp"] > MIB else "")
    else:
        absent(name, target)
    name, target = "(g) RSS growth, a rewritten big request", "≤ 1.2 × its size"
    gg = {v: d.mem_med("g", v, "growth_kb") for v in ORDER}
    size = g_request_kb(d)
    if gg["crisp"] is not None and size:
        r = gg["crisp"] / size
        errs = d.errors("g", "crisp")
        add(name, target, f"crisp {gg['crisp'] / MIB:.2f} MiB for a {size / MIB:.2f} MiB request: "
            f"×{r:.2f} (crisp --no-default, passing it on: "
            f"{fmt(mib(gg['crisp-nodefault']), ' MiB', 2)}; " + others(gg, digits=2) +
            f"; {rewritten(d, 'g')}; {errs} failed call(s) through crisp)", r <= 1.2,
            f"by ×{r - 1.2:.2f}" if r > 1.2 else "")
    else:
        absent(name, target)

    lines += ["## Targets", "",
              "Issue 19's, from this run: medians over rounds; a ratio is of those medians, and "
              "`paired` is the median over rounds of the ratio (or difference) within each "
              "round. The verdict is the ratio of medians'.", "",
              "| target | limit | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows]
    lines.append("")
    kept_checks(d, lines)


def per_min(r, key):
    return num(r[key]) / (num(r["window_s"]) / 60)


def others(vals, digits=1):
    """'socat X MiB, nghttpx Y MiB, ...' for the other hops that have a value (in KiB)."""
    parts = [f"{NAME[v]} {vals[v] / MIB:.{digits}f}" for v in OTHERS if vals.get(v) is not None]
    return ", ".join(parts) + " MiB" if parts else "no other hop"


def g_request_kb(d):
    sizes = [num(r.get("in_bytes")) for r in d.micro.get("g", [])]
    sizes = [s for s in sizes if s]
    return sizes[0] / 1024 if sizes else None


def rewritten(d, s):
    recs = d.rewrites.get((s, "crisp"), [])
    if not recs:
        return "rewrites not counted"
    n = sum(int(r.get("rewrites", 0)) for r in recs)
    calls = sum(int(r.get("calls", 0)) for r in recs)
    return f"crisp rewrote {n} of {calls} requests"


def kept_checks(d, lines):
    """Issue 13's checks that issue 19 keeps: slow calls beside fast ones, the Go
    proxy, and no failed call."""
    rows = []
    for v in ("relay", "nghttpx", "haproxy", "go", "crisp"):
        a0, a1 = d.med("e0", v, "small", "p99_us"), d.med("e1", v, "small", "p99_us")
        if a0 and a1:
            r = a1 / a0
            rows.append((f"(e) small-call p99 beside 1000 slow calls, {NAME[v]}",
                         "≤ 2 × without" if v == "crisp" else "—",
                         f"{a1:.0f} µs / {a0:.0f} µs = ×{r:.2f}",
                         verdict(r <= 2, f"by ×{r - 2:.2f}" if r > 2 else "")
                         if v == "crisp" else "—"))
    maxin = d.spread("e1", "crisp", "slow", "max_inflight")[0]
    if maxin is not None:
        held = d.rt_min("e1", "crisp", "max_held")
        err = d.total("e1", "crisp", "slow", "errors")
        ok = maxin >= 1000 and held is not None and held >= 1000 and err == 0
        rows.append(("(e) 1000 slow calls in flight through crisp", "1000 in flight, 0 errors",
                     f"{maxin:.0f} in flight at the client, ≥{held} held by the runtime, "
                     f"{err} errors", verdict(ok, "")))
    cmp = compare(d, "go")
    if cmp:
        behind = [f"{s} {label} ×{r:.2f}" for s, label, _, _, r, _, ahead in cmp if not ahead]
        rows.append(("ahead of the Go proxy, every figure of every scenario", "as for the peers",
                     f"ahead on {len(cmp) - len(behind)} of {len(cmp)} figures",
                     verdict(not behind, "behind on " + ", ".join(behind) if behind else "")))
    errs = {v: sum(d.errors(s, v) for s in d.scenarios()) for v in ORDER}
    ran = {v for s in d.scenarios() for v in d.variants(s)}
    failed = [f"{s} {d.errors(s, 'crisp')}" for s in d.scenarios() if d.errors(s, "crisp")]
    rows.append(("every call answered OK through crisp", "0 failed calls",
                 f"crisp {errs['crisp']}" + (f" ({', '.join(failed)})" if failed else "") +
                 "; " + ", ".join(f"{NAME[v]} {errs[v]}" for v in ORDER
                                  if v != "crisp" and v in ran),
                 verdict(errs["crisp"] == 0, "")))
    lines += ["Checks kept from issue 13:", "",
              "| check | limit | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows]
    lines.append("")


def peers_table(d, lines):
    """Every figure of every scenario: crisp, each other hop, and crisp's ratio to each."""
    present = [v for v in OTHERS if any(v in d.variants(s) for s in d.scenarios())]
    if "crisp" not in {v for s in d.scenarios() for v in d.variants(s)} or not present:
        return
    lines += ["## crisp against the other hops", "",
              "Medians over rounds. `×` is crisp's value over the other hop's: a ratio of "
              "medians, then the paired ratio (the median of the per-round ratios). For "
              "calls/s higher is better, for the rest lower; a ratio in **bold** is a figure on "
              "which crisp is behind that peer. Memory is summed over the hop's processes "
              "(peak RSS: VmHWM; peak anon: RssAnon sampled every 20 ms).", "",
              "| scenario | figure | crisp | " + " | ".join(NAME[v] for v in present) + " | " +
              " | ".join(f"crisp ×{NAME[v]}" for v in present) + " |",
              "|---|---|---|" + "---|" * (2 * len(present))]
    cmps = {v: {(s, label): c for c in compare(d, v) for s, label in [c[:2]]} for v in present}
    for s in d.scenarios():
        if "crisp" not in d.variants(s):
            continue
        for label, lower, get, _ in figures(d, s):
            digits = 0 if label == "calls/s" else 2 if "MiB" in label else 1
            vals = " | ".join(fmt(get(v), digits=digits) for v in present)
            cells = []
            for v in present:
                c = cmps[v].get((s, label))
                if c is None:
                    cells.append("—")
                    continue
                text = f"{c[4]:.2f}" + (f" ({c[5]:.2f})" if c[5] is not None else "")
                cells.append(f"**{text}**" if not c[6] and v != "relay" else text)
            lines.append(f"| {s} | {label} | {fmt(get('crisp'), digits=digits)} | {vals} | "
                         + " | ".join(cells) + " |")
    lines.append("")


def scenario_tables(d, lines):
    lines += ["## Scenarios", "",
              "Medians over rounds; `p50 spread` is the lowest and highest round. "
              "Ratios and `added` (p50 − direct's p50) are taken from the medians. "
              "`errors` is the sum over all rounds (warm-up included).", ""]
    for s in d.scenarios():
        variants = d.variants(s)
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
        if s in ("c", "g") and d.rewrites.get((s, "crisp")):
            lines += [f"{rewritten(d, s)} (its log's `seccomp defaulted` lines, warm-up "
                      "included); crisp --no-default: "
                      f"{sum(int(r.get('rewrites', 0)) for r in d.rewrites.get((s, 'crisp-nodefault'), []))}.",
                      ""]


def cost_table(d, lines):
    lines += ["## Where the CPU goes", "",
              "CPU time per call (µs; all calls of the run, warm-up included) of each process, "
              "from /proc (clock ticks) and the load generator's getrusage. A hop's CPU and "
              "context switches are its whole process tree's (all threads; nghttpx's worker; "
              "socat's per-connection child, through the listener's cutime once it ended). "
              "`others` is the share of the whole machine used by processes this benchmark did "
              "not start during the run (median, max over rounds): a high value means the "
              "numbers of that run are noisy.",
              "",
              "| scenario | variant | hop CPU µs/call | runtime CPU µs/call | loadgen CPU µs/call "
              "| hop ctx switches/call | others % of machine |",
              "|---|---|---|---|---|---|---|"]
    for s in d.scenarios():
        for v in d.variants(s):
            if not d.cpu.get((s, v)):
                continue
            med, mx = d.other_pct(s, v)
            hop = v != "direct"
            lines.append(
                f"| {s} | {v} | {fmt(d.cpu_per_call(s, v, 'hop_ms')) if hop else ''} | "
                f"{fmt(d.cpu_per_call(s, v, 'runtime_ms'))} | "
                f"{fmt(d.cpu_per_call(s, v, 'loadgen_ms'))} | "
                f"{fmt(d.cpu_per_call(s, v, 'hop_csw'), digits=2) if hop else ''} | "
                f"{fmt(med, digits=0)} / {fmt(mx, digits=0)} |")
    lines.append("")




def kubelet_table(d, lines):
    if not d.kubelet and not d.kubelet_failed:
        return
    lines += ["## Behind a real kubelet", "",
              "bench/kubelet_idle.py: a kubelet in standalone mode with one static pod on a "
              "private containerd, first direct, then behind socat, then through crisp; CPU time "
              "(utime + stime, all threads; socat with its per-connection children) over the "
              "same idle window once the pod runs. `hop CPU` is socat's or crisp's.", "",
              "| variant | window s | kubelet CPU ms/min | hop CPU ms/min | hop / kubelet "
              "| hop ×socat | CRI calls/s | hop CPU µs/call |", "|---|---|---|---|---|---|---|---|"]
    relay = d.kubelet.get("relay")
    for v in ("direct", "relay", "crisp"):
        r = d.kubelet.get(v)
        if not r:
            continue
        w = num(r["window_s"])
        k, c, n = per_min(r, "kubelet_cpu_ms"), per_min(r, "crisp_cpu_ms"), num(r["calls"])
        hop = v != "direct"
        vs = ratio(c, per_min(relay, "crisp_cpu_ms")) if relay and hop else None
        lines.append(f"| {v} | {w:.0f} | {k:.0f} | {fmt(c, digits=0) if hop else '—'} | "
                     f"{fmt(100 * c / k, '%') if hop and k else '—'} | {fmt(vs, digits=2)} | "
                     + (f"{n / w:.1f} | {1000 * num(r['crisp_cpu_ms']) / n:.0f} |"
                        if v == "crisp" and n else "— | — |"))
    if d.kubelet_failed:
        lines += ["", f"bench/kubelet_idle.py failed before it finished; its log: "
                  f"`{d.kubelet_failed}`."]
    lines.append("")


def memory_table(d, lines):
    lines += ["## Memory of every hop", "",
              "From /proc of a fresh hop per run, summed over its processes (bench/memwatch.py; "
              "`procs`: the most seen at once): `idle` once its processes are up and 0.5 s "
              "passed, before any call; `peak` during the load (VmHWM: for one process the "
              "kernel's exact peak RSS, for several the largest sum of their VmHWM seen; RssAnon "
              "sampled every 20 ms, Pss every 100 ms); `growth` is peak RSS − idle RSS. Summed "
              "RSS counts a page two of a hop's processes share once in each (socat's child "
              "starts as a copy of its listener; nghttpx's worker of its main process); Pss "
              "splits it between them. Medians over rounds, MiB.",
              "",
              "| scenario | variant | procs | idle RSS | idle anon | idle Pss | peak RSS (VmHWM) "
              "| peak anon | peak Pss | RSS growth | end RSS | end anon |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in d.scenarios():
        for v in d.variants(s):
            if not d.mem.get((s, v)):
                continue
            vals = [d.mem_med(s, v, m) for m in (
                "idle_rss_kb", "idle_anon_kb", "idle_pss_kb", "hwm_kb", "peak_anon_kb",
                "peak_pss_kb", "growth_kb", "end_rss_kb", "end_anon_kb")]
            lines.append(f"| {s} | {v} | {fmt(d.mem_med(s, v, 'procs'), digits=0)} | " +
                         " | ".join(fmt(mib(x), digits=2) for x in vals) + " |")
    lines.append("")


def compact(d, lines):
    """One table for BENCHMARKS.md: every scenario's main class, variants side by side."""
    lines += ["| scenario | variant | p50 µs | p99 µs | calls/s | added p50 µs | hop CPU µs/call "
              "| peak RSS MiB | peak anon MiB | errors |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for s in d.scenarios():
        cls = MAIN[s]
        base = d.med(s, "direct", cls, "p50_us")
        for v in d.variants(s):
            p50 = d.med(s, v, cls, "p50_us")
            added = p50 - base if v != "direct" and p50 is not None and base else None
            cpu = d.cpu_per_call(s, v, "hop_ms") if v != "direct" else None
            lines.append(f"| {s} | {v} | {fmt(p50)} | {fmt(d.med(s, v, cls, 'p99_us'))} | "
                         f"{fmt(d.med(s, v, cls, 'rps'), digits=0)} | {fmt(added)} | "
                         f"{fmt(cpu)} | {fmt(mib(d.mem_med(s, v, 'hwm_kb')), digits=2)} | "
                         f"{fmt(mib(d.mem_med(s, v, 'peak_anon_kb')), digits=2)} | "
                         f"{d.errors(s, v)} |")
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



def cdf(lat_dir, out_dir, d, lines):
    """Pools every round's latencies per variant; plots their CDFs."""
    panels = []
    for s in ("a", "b16"):
        series = []
        for v in ("direct", "relay", "go", "nghttpx", "haproxy", "crisp"):
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
    colors = {"direct": "#1b9e77", "relay": "#7570b3", "go": "#e7298a", "nghttpx": "#66a61e",
              "haproxy": "#e6ab02", "crisp": "#d95f02"}
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
    peers_table(d, lines)
    scenario_tables(d, lines)
    cost_table(d, lines)
    memory_table(d, lines)
    kubelet_table(d, lines)
    cdf(a.lat, a.out, d, lines)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # The short form BENCHMARKS.md quotes: the targets, crisp against the other
    # hops, and one compact table.
    short = []
    summary(d, short)
    peers_table(d, short)
    compact(d, short)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(short) + "\n")
    print("\n".join(lines[:lines.index("## Scenarios")]))


if __name__ == "__main__":
    main()
