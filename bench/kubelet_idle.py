"""crisp's CPU behind a real kubelet, against the kubelet's own (issue 13).

A kubelet in standalone mode (tests/kubelet/kubeletlib.py) runs one static
pod on a private containerd (tests/e2e/containerd.py), first directly, then
through crisp. Once the pod runs and the kubelet has settled (its first
status sync done), the CPU time of the kubelet and of crisp (utime + stime
from /proc, all threads) is read over the same idle window, and crisp's
calls from its own metrics. Prints key=value lines for run.sh's report:

  kind=kubelet variant=direct|crisp window_s=.. kubelet_cpu_ms=.. crisp_cpu_ms=.. calls=..

Usage (as root): KUBELET=/path/to/kubelet /usr/bin/python3 bench/kubelet_idle.py CRISP WINDOW_S
"""

import os
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


def calls_total(metrics_sock):
    return metric(scrape(metrics_sock), "crisp_calls_total")


def measure(ctrd, kubelet_bin, window_s, crisp_bin=None):
    crisp = None
    if crisp_bin is not None:
        os.environ["CRISP_BIN"] = crisp_bin
        metrics_sock = os.path.join(ctrd.tmp, "crisp-metrics.sock")
        crisp = Crisp(ctrd.socket, args=["--metrics-listen", metrics_sock,
                                          "--log-level", "warn"])
        crisp.__enter__()
    kubelet = None
    try:
        args = kl.endpoint_args(ctrd.socket, crisp.listen if crisp else None)
        kubelet = kl.Kubelet(kubelet_bin, args).start()
        kubelet.add(kl.pod("idle", [kl.container("app", kl.seccomp_then_sleep(),
                                                 cri_client.E2E_IMAGE)]))
        kl.wait_until(lambda: kl.seccomp_in_log("idle", "app") is not None,
                      "the idle pod to run", 180)
        # Settled: the pod runs and the kubelet's first sync after it is done.
        kl.wait_until(lambda: (kubelet.pod_status("idle") or {}).get("status", {})
                      .get("phase") == "Running", "the kubelet to see the pod running", 120)
        k0 = cpu_ms(kubelet.proc.pid)
        c0 = cpu_ms(crisp.proc.pid) if crisp else 0
        n0 = calls_total(metrics_sock) if crisp else 0
        t0 = time.monotonic()
        time.sleep(window_s)  # the measured idle window itself, not a synchronisation
        wall = time.monotonic() - t0
        k1 = cpu_ms(kubelet.proc.pid)
        c1 = cpu_ms(crisp.proc.pid) if crisp else 0
        n1 = calls_total(metrics_sock) if crisp else 0
        print("kind=kubelet variant=%s window_s=%.1f kubelet_cpu_ms=%.0f crisp_cpu_ms=%.0f "
              "calls=%d" % ("crisp" if crisp else "direct", wall, k1 - k0, c1 - c0, n1 - n0),
              flush=True)
    finally:
        if kubelet is not None:
            kubelet.stop()
        ctrd._remove_all_pods()
        kl.remove_pod_logs()
        if crisp is not None:
            crisp.__exit__(None, None, None)


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
        measure(ctrd, kubelet_bin, window_s, crisp_bin)
    finally:
        ctrd.stop()
        critestlib.remove_bridge()
        nat_cleanup()


if __name__ == "__main__":
    main()
