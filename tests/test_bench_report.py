#!/usr/bin/env python3
"""The benchmark's verdicts (launch/bench/run_bench.py: summarise, targets, render) on hand-made
measurements whose ratios are worked out here: no timing, nothing run."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "launch", "bench"))
import run_bench  # noqa: E402


def fcnet(label, ranks, threads, rate, rounds, share):
    return {"label": label, "framework": "fcnet", "ranks": ranks, "threads": threads, "rc": 0,
            "samples_per_s": rate, "rounds": rounds, "reps": rounds, "foreign_load": 0.0, "non_gemm_share": share}


def torch(label, procs, threads, rate):
    return {"label": label, "framework": "pytorch", "procs": procs, "threads": threads, "samples_per_s": rate,
            "reps": [rate], "foreign_load": 0.0}


def bound(rate, rounds, local_batch):
    return {"samples_per_s": rate, "rounds": rounds, "foreign_load": 0.0, "local_batch": local_batch, "gflops": 70.0}


def config(n1, n1_rounds, n2, n2_rounds, bound2, torch_rate):
    return {"fcnet": [fcnet("fcnet -n 1 x 1 thread", 1, 1, n1, n1_rounds, 0.10),
                      fcnet("fcnet -n 1 x 2 threads", 1, 2, 0.9 * n2, [0.9 * n2] * 2, 0.30),
                      fcnet("fcnet -n 2 x 1 thread", 2, 1, n2, n2_rounds, 0.20)],
            "torch": [torch("PyTorch 1 thread", 1, 1, torch_rate)],
            "bound": {"1": bound(bound2 / 2, [bound2 / 2] * 2, 512), "2": bound(bound2, [bound2] * 2, 256)}}


class BenchReport(unittest.TestCase):
    def report(self, results):
        for name, r in results.items():
            r["rows"] = run_bench.summarise(name, r)
        return run_bench.render(results, {"loadavg_at_start": [0.0]}, False)

    def test_steady_rounds_decide_every_target(self):
        # wide: -n 2 7600 / -n 1 4000 = 1.90 (>= 1.85); 7600 / bound 9500 = 0.80 (< 0.85); rounds 1% apart.
        results = {"wide": config(4000, [3980, 4020], 7600, [7580, 7620], 9500, 3000)}
        text = self.report(results)
        s = results["wide"]["summary"]
        self.assertAlmostEqual(s["n2_over_n1"], 1.90)
        self.assertAlmostEqual(s["best_fcnet_fraction_of_2core_bound"], 0.80)
        self.assertAlmostEqual(s["round_spread"], 4020 / 3980 - 1)  # the larger of the two
        self.assertIn("- PASS  wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85: 1.90\n", text + "\n")
        self.assertIn("- FAIL  wide: best fcnet / 2-core sgemm bound >= 0.85: 0.80\n", text + "\n")
        self.assertNotIn("UNSTABLE", text)
        self.assertNotIn("not decided", text)

    def test_unsteady_rounds_leave_close_ratios_undecided(self):
        # -n 1's rounds 4000 and 4800: a 20% spread. 1.90 lies 2.7% from 1.85 and 0.88 3.5% from 0.85: both
        # undecided; fmnist (steady) keeps its verdict on its own spread.
        results = {"wide": config(4400, [4000, 4800], 7600, [7580, 7620], 9500, 3000),
                   "fmnist": config(50000, [50000, 50100], 90000, [90000, 90200], 120000, 16000)}
        results["wide"]["fcnet"][2]["samples_per_s"] = 1.90 * 4400
        text = self.report(results)
        self.assertAlmostEqual(results["wide"]["summary"]["round_spread"], 0.20)
        self.assertIn("**UNSTABLE**: the machine's speed changed by up to 20% between two rounds of one setting "
                      "(wide, fcnet -n 1 x 1 thread: 4000 vs 4800 samples/s)", text)
        self.assertIn("wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85: 1.90 (within this run's round-to-round spread", text)
        self.assertIn("wide: best fcnet / 2-core sgemm bound >= 0.85: 0.88 (within", text)
        # fmnist: best fcnet 90000 / PyTorch 16000 = 5.62, far from 2; its spread is 0.2%.
        self.assertIn("- PASS  fmnist: best fcnet / best PyTorch >= 2: 5.62\n", text + "\n")

    def test_bound_rounds_count_too(self):
        results = {"wide": config(4000, [4000, 4000], 7600, [7600, 7600], 9500, 3000)}
        results["wide"]["bound"]["2"]["rounds"] = [9000, 10000]
        text = self.report(results)
        self.assertIn("(wide, sgemm bound, 2 core(s): 9000 vs 10000 samples/s)", text)


if __name__ == "__main__":
    unittest.main()
