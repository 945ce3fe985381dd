"""hack/soak.sh's verdict (soaklib.verdict) on made-up series: it must pass a
flat, noisy run and fail a leak, whether steady, hidden in noise, or in fds."""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from soaklib import verdict  # noqa: E402

SAMPLES = 360  # 30 minutes every 5 s


def run(rss=lambda i, r: 14000, anon=lambda i, r: 2500, fds=lambda i, r: 18,
        probe=lambda i: "ok" if i % 6 == 5 else ""):
    rnd = random.Random(7)
    rows = []
    for i in range(SAMPLES):
        rows.append({"time": "%.3f" % (1000 + 5 * i), "elapsed_s": "%d" % (5 * i),
                     "rss_kb": str(int(rss(i, rnd))), "anon_kb": str(int(anon(i, rnd))),
                     "fds": str(int(fds(i, rnd))), "threads": "11", "cpu_s": "0",
                     "probe": probe(i)})
    return rows


def judge(rows):
    return verdict(rows, 1000, 1000 + 5 * (SAMPLES - 1))


class SoakVerdict(unittest.TestCase):

    def assertVerdict(self, rows, ok):
        passed, lines = judge(rows)
        self.assertEqual(passed, ok, "\n".join(lines))

    def test_flat_noisy_run_passes(self):
        # +-400 KiB of noise and a warm-up climb in the first minutes.
        self.assertVerdict(run(rss=lambda i, r: 13000 + min(i, 40) * 25 + r.uniform(-400, 400),
                               anon=lambda i, r: 1500 + min(i, 40) * 25 + r.uniform(-400, 400),
                               fds=lambda i, r: 18 + (r.random() < 0.05)), True)

    def test_a_burst_near_the_end_passes(self):
        # The machine stalls, calls pile up, RSS jumps 5 MiB for two samples.
        self.assertVerdict(run(rss=lambda i, r: 14000 + (5000 if i in (350, 351) else 0),
                               anon=lambda i, r: 2500 + (5000 if i in (350, 351) else 0)), True)

    def test_steady_leak_fails(self):
        # 2 KiB/s: 1.2 MiB between the middle and the last third.
        self.assertVerdict(run(anon=lambda i, r: 2500 + 10 * i), False)

    def test_leak_in_noise_fails(self):
        # 2.4 KiB/s (the threshold over 30 minutes is ~1.7 KiB/s), under noise
        # 100 times larger than its growth from one sample to the next.
        self.assertVerdict(run(rss=lambda i, r: 14000 + 12 * i + r.uniform(-600, 600)), False)

    def test_growth_under_the_documented_threshold_passes(self):
        # The other side of the threshold: 1 KiB/s is 600 KiB over a third.
        self.assertVerdict(run(rss=lambda i, r: 14000 + 5 * i), True)

    def test_fd_leak_fails(self):
        self.assertVerdict(run(fds=lambda i, r: 18 + i // 40), False)

    def test_failed_probe_fails(self):
        self.assertVerdict(run(probe=lambda i: "fail" if i == 200 else ""), False)

    def test_too_few_samples_fail(self):
        self.assertFalse(verdict(run()[:8], 0, 10**10)[0])


if __name__ == "__main__":
    unittest.main()
