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
        # The bound's own scaling: 9500 / 4750 = 2.00, of which 1.90 keeps 0.95.
        self.assertIn("- info  wide: the sgemm bound's own 2-core / 1-core: 2.00 (rounds 2.00 and 2.00); -n 2 / -n 1 keeps "
                      "0.95 of it\n",
                      text + "\n")

    def test_rounds_that_disagree_leave_the_verdict_undecided(self):
        # -n 1's rounds 4000 and 4800 (20% apart) against -n 2's steady 7600 and 7640: round 1 gives 1.90, round 2
        # 1.59, on both sides of 1.85; the pooled 7620 / 4400 = 1.73 FAILs, but not decidedly. fmnist (steady)
        # keeps its verdicts.
        results = {"wide": config(4400, [4000, 4800], 7620, [7600, 7640], 9500, 3000),
                   "fmnist": config(50000, [50000, 50100], 90000, [90000, 90200], 120000, 16000)}
        text = self.report(results)
        self.assertAlmostEqual(results["wide"]["summary"]["round_spread"], 0.20)
        self.assertIn("**UNSTABLE**: the machine's speed changed by up to 20% between two rounds of one setting "
                      "(wide, fcnet -n 1 x 1 thread: 4000 vs 4800 samples/s)", text)
        self.assertIn("- FAIL  wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85: 1.73 (not decided by this run: its rounds "
                      "alone give 1.90 and 1.59, on both sides of the line)\n", text + "\n")
        # The bound's fraction: 7600 / 9500 = 0.80 and 7640 / 9500 = 0.80, both below 0.85: decided.
        self.assertIn("- FAIL  wide: best fcnet / 2-core sgemm bound >= 0.85: 0.80\n", text + "\n")
        # fmnist: best fcnet 90000 / PyTorch 16000 = 5.62, every round far from 2.
        self.assertIn("- PASS  fmnist: best fcnet / best PyTorch >= 2: 5.62\n", text + "\n")

    def test_a_drift_shared_by_paired_rounds_cancels(self):
        # The machine runs 20% faster in round 2 for every setting and the bound alike: -n 2 / -n 1 is 1.90 and
        # the fraction of the bound 0.80 in both rounds, so both verdicts stand although the table is UNSTABLE.
        results = {"wide": config(4400, [4000, 4800], 8360, [7600, 9120], 10450, 3000)}
        results["wide"]["bound"]["2"]["rounds"] = [9500, 11400]
        text = self.report(results)
        per = results["wide"]["summary"]["per_round"]
        self.assertEqual([round(x, 6) for x in per["n2_over_n1"]], [1.9, 1.9])
        self.assertEqual([round(x, 6) for x in per["best_fcnet_fraction_of_2core_bound"]], [0.8, 0.8])
        self.assertIn("**UNSTABLE**", text)
        self.assertIn("- PASS  wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85: 1.90\n", text + "\n")
        self.assertIn("- FAIL  wide: best fcnet / 2-core sgemm bound >= 0.85: 0.80\n", text + "\n")
        self.assertNotIn("(not decided", text)

    def test_bound_rounds_count_too(self):
        # fcnet steady at 8000; the bound's two measurements 9000 and 10000: rounds give 0.89 and 0.80.
        results = {"wide": config(4000, [4000, 4000], 8000, [8000, 8000], 9500, 3000)}
        results["wide"]["bound"]["2"]["rounds"] = [9000, 10000]
        text = self.report(results)
        self.assertIn("(wide, sgemm bound, 2 core(s): 9000 vs 10000 samples/s)", text)
        # the 1-core bound steady at 4750: its own scaling 1.89 and 2.11 by round, 2.00 pooled (9500 / 4750)
        self.assertIn("- info  wide: the sgemm bound's own 2-core / 1-core: 2.00 (rounds 1.89 and 2.11); "
                      "-n 2 / -n 1 keeps 1.00 of it", text)
        self.assertIn("- FAIL  wide: best fcnet / 2-core sgemm bound >= 0.85: 0.84 (not decided by this run: its "
                      "rounds alone give 0.89 and 0.80, on both sides of the line)", text)

    def test_measured_share_per_round(self):
        # fmnist's best setting (-n 2) measured 0.14 and 0.17 not GEMM in its two rounds: mean 0.155, FAIL, undecided.
        results = {"fmnist": config(50000, [50000, 50000], 90000, [90000, 90000], 100000, 16000)}
        results["fmnist"]["fcnet"][2]["share_rounds"] = [0.14, 0.17]
        results["fmnist"]["fcnet"][2]["non_gemm_share"] = 0.155
        text = self.report(results)
        self.assertIn("- FAIL  fmnist: non-GEMM share of the step <= 0.15 (measured by --profile, best setting): 0.15 "
                      "(not decided by this run: its rounds alone give 0.14 and 0.17", text)
        # est.: 1 - 90000 / 100000 = 0.10 in both rounds: decided.
        self.assertIn("- PASS  fmnist: non-GEMM share of the step <= 0.15 (est. 1 - fraction of bound): 0.10\n",
                      text + "\n")


class RefusedBeforeMeasuring(unittest.TestCase):
    """A misspelled configuration or an output folder that cannot be written ends the run at once (it used
    to end with a traceback after minutes of measuring, the results lost)."""

    def run_bench(self, *extra):
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as work:
            cmd = [sys.executable, run_bench.__file__, "--fcnet", "/nonexistent/fcnet_dist", "--sgemm-bound",
                   "/nonexistent/sgemm_bound", "--work", work, "--no-torch", *extra]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def test_unknown_config(self):
        r = self.run_bench("--out", "/tmp", "--configs", "wide,wdie")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--configs: unknown configuration 'wdie' (known: cs231n, fmnist, wide)", r.stderr)

    def test_output_folder_not_creatable(self):
        r = self.run_bench("--out", "/dev/null/out", "--configs", "wide")
        self.assertEqual(r.returncode, 1)
        self.assertIn("run_bench.py: cannot create the folder /dev/null/out", r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
