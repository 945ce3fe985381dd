"""crisp's CPU behind a real kubelet, against the kubelet's own (issue 13).

A kubelet in standalone mode (tests/kubelet/kubeletlib.py) runs one static
pod on a private containerd (tests/e2e/containerd.py), first directly, then
behind socat (a byte relay: the floor for any hop), then through crisp. Once the pod runs and the kubelet has settled (its first
status sync done), the CPU time of the kubelet and of crisp (utime + stime
from /proc, all threads) is read over the same idle window, and crisp's
calls from its own metrics. Prints key=value lines for run.sh's report:

  kind=kubelet variant=direct|relay|crisp window_s=.. kubelet_cpu_ms=.. crisp_cpu_ms=.. calls=..

(crisp_cpu_ms is the hop's: socat's, with its per-connection children, for relay.)

Usage (as root): KUBELET=/path/to/kubelet /usr/bin/python3 bench/kubelet_idle.py CRISP WINDOW_S
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
for sub in ("tests/lib", "tests/e2e", "tests/kubelet", "tests/critest", "tests/operate"):
    sys.path.insert(0, os.path.join(REPO, sub))

import containerd  # noqa: E402
import critestlib  # noqa: E402
import cri_client  # noqa: E402
import kubeletlib as kl  # noqa: E402
from crisp import Crisp  # noqa: E402
from operatelib import metric, scrape  # noqa: E402

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    """utime + stime of every thread of `pid`, in ms."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def group_cpu_ms(pid):
    """cpu_ms of `pid` and of its children alive now (socat forks one per connection)."""
    total = cpu_ms(pid)
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return total + sum(cpu_ms(int(p)) for p in out.split())


def calls_total(metrics_sock):
    return metric(scrape(metrics_sock), "crisp_calls_total")


def measure(ctrd, kubelet_bin, window_s, crisp_bin=None, relay=False):
    crisp = socat = None
    hop_socket = None
    if relay:
        hop_socket = os.path.join(ctrd.tmp, "socat.sock")
        socat = subprocess.Popen(["socat", "UNIX-LISTEN:%s,fork" % hop_socket,
                                  "UNIX-CONNECT:%s" % ctrd.socket])
        kl.wait_until(lambda: os.path.exists(hop_socket), "socat's socket", 30)
    if crisp_bin is not None:
        os.environ["CRISP_BIN"] = crisp_bin
        metrics_sock = os.path.join(ctrd.tmp, "crisp-metrics.sock")
        crisp = Crisp(ctrd.socket, args=["--metrics-listen", metrics_sock,
                                          "--log-level", "warn"])
        crisp.__enter__()
    kubelet = None
    try:
        if crisp:
            hop_socket = crisp.listen
        args = kl.endpoint_args(ctrd.socket, hop_socket)
        kubelet = kl.Kubelet(kubelet_bin, args).start()
        kubelet.add(kl.pod("idle", [kl.container("app", kl.seccomp_then_sleep(),
                                                 cri_client.E2E_IMAGE)]))
        kl.wait_until(lambda: kl.seccomp_in_log("idle", "app") is not None,
                      "the idle pod to run", 180)
        # Settled: the pod runs and the kubelet's first sync after it is done.
        kl.wait_until(lambda: (kubelet.pod_status("idle") or {}).get("status", {})
                      .get("phase") == "Running", "the kubelet to see the pod running", 120)
        hop = crisp.proc.pid if crisp else socat.pid if socat else None
        k0 = cpu_ms(kubelet.proc.pid)
        c0 = group_cpu_ms(hop) if hop else 0
        n0 = calls_total(metrics_sock) if crisp else 0
        t0 = time.monotonic()
        time.sleep(window_s)  # the measured idle window itself, not a synchronisation
        wall = time.monotonic() - t0
        k1 = cpu_ms(kubelet.proc.pid)
        c1 = group_cpu_ms(hop) if hop else 0
        n1 = calls_total(metrics_sock) if crisp else 0
        print("kind=kubelet variant=%s window_s=%.1f kubelet_cpu_ms=%.0f crisp_cpu_ms=%.0f "
              "calls=%d" % ("crisp" if crisp else "relay" if socat else "direct", wall, k1 - k0,
                            c1 - c0, n1 - n0),
              flush=True)
    finally:
        if kubelet is not None:
            kubelet.stop()
        ctrd._remove_all_pods()
        kl.remove_pod_logs()
        if crisp is not None:
            crisp.__exit__(None, None, None)
        if socat is not None:
            socat.terminate()
            socat.wait(timeout=30)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    crisp_bin, window_s = os.path.abspath(sys.argv[1]), float(sys.argv[2])
    kubelet_bin = os.environ.get("KUBELET")
    if not kubelet_bin:
        sys.exit("kubelet_idle: set KUBELET to a kubelet binary")
    kl.remove_pod_logs()
    nat_cleanup = critestlib.portmap_cleanup()
    ctrd = containerd.PrivateContainerd(configure=critestlib.configure(None))
    ctrd.start()
    try:
        measure(ctrd, kubelet_bin, window_s)
        measure(ctrd, kubelet_bin, window_s, relay=True)
        measure(ctrd, kubelet_bin, window_s, crisp_bin)
    finally:
        ctrd.stop()
        critestlib.remove_bridge()
        nat_cleanup()


if __name__ == "__main__":
    main()
