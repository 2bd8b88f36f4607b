#!/usr/bin/env python3
"""The benchmark's verdicts (launch/bench/run_bench.py: summarise, targets, render, combine_*) on hand-made
measurements whose ratios are worked out here, its rate windows on hand-made arrival times, and what fcnet and
PyTorch are told to train. One short fcnet_dist --profile run (with FCNET_DIST) checks the profile's parsing;
nothing is timed."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "launch", "bench"))
import run_bench  # noqa: E402


def fcnet(label, ranks, threads, rate, rounds, share):
    return {"label": label, "framework": "fcnet", "ranks": ranks, "threads": threads, "rc": 0,
            "samples_per_s": rate, "rounds": rounds, "reps": rounds, "foreign_load": 0.0, "non_gemm_share": share}


def torch(label, procs, threads, rate, rounds=None):
    """rounds None: measured once, as before 2026-12-06."""
    m = {"label": label, "framework": "pytorch", "procs": procs, "threads": threads, "samples_per_s": rate,
         "reps": rounds or [rate], "foreign_load": 0.0, "rc": 0}
    if rounds:
        m["rounds"] = rounds
    return m


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

    def test_unstable_in_a_setting_no_ratio_uses_is_said(self):
        # Only -n 1 x 2 threads (not the best: 0.9 x 7600 = 6840 < 7600) moves, 40%: the table is UNSTABLE, the
        # line says that no ratio comes from that setting and how far the ones in use moved (-n 1: 4020 / 3980).
        results = {"wide": config(4000, [3980, 4020], 7600, [7580, 7620], 9500, 3000)}
        results["wide"]["fcnet"][1]["rounds"] = [5700, 7980]
        text = self.report(results)
        s = results["wide"]["summary"]
        self.assertAlmostEqual(s["round_spread"], 0.40)
        self.assertFalse(s["round_spread_setting_used"])
        self.assertAlmostEqual(s["round_spread_used"], 4020 / 3980 - 1)
        self.assertIn("**UNSTABLE**: the machine's speed changed by up to 40% between two rounds of one setting "
                      "(wide, fcnet -n 1 x 2 threads: 5700 vs 7980 samples/s; neither the targets nor the summary "
                      "use that setting, and the settings they use moved by up to 1% (wide, "
                      "fcnet -n 1 x 1 thread: 3980 vs 4020 samples/s)).", text)
        self.assertNotIn("(not decided", text)
        # The same setting as the best one (-n 2 now slower than it) is in use: nothing more is said.
        results = {"wide": config(4000, [3980, 4020], 7600, [7580, 7620], 9500, 3000)}
        results["wide"]["fcnet"][1].update(samples_per_s=9000, rounds=[7000, 9800])
        text = self.report(results)
        self.assertTrue(results["wide"]["summary"]["round_spread_setting_used"])
        self.assertIn("(wide, fcnet -n 1 x 2 threads: 7000 vs 9800 samples/s). Each target", text)

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

    def test_pytorch_rounds_pair_with_fcnet_rounds(self):
        # A drift shared by both: fcnet -n 2 at 9000 then 11000, PyTorch at 4500 then 5500: 2.00 in both rounds,
        # decided although the table is UNSTABLE (against a PyTorch measured once, 5000, the rounds would give
        # 1.80 and 2.20). Then PyTorch alone moves, 4000 then 6000 against fcnet's steady 10000: 2.50 and 1.67.
        results = {"fmnist": config(4000, [4000, 4000], 10000, [9000, 11000], 20000, 5000)}
        results["fmnist"]["torch"] = [torch("PyTorch 1 thread", 1, 1, 5000, [4500, 5500])]
        text = self.report(results)
        self.assertEqual([round(x, 6) for x in results["fmnist"]["summary"]["per_round"]["fcnet_over_pytorch"]],
                         [2.0, 2.0])
        self.assertIn("**UNSTABLE**", text)
        self.assertIn("- PASS  fmnist: best fcnet / best PyTorch >= 2: 2.00\n", text + "\n")
        results = {"fmnist": config(4000, [4000, 4000], 10000, [10000, 10000], 20000, 5000)}
        results["fmnist"]["torch"] = [torch("PyTorch 1 thread", 1, 1, 5000, [4000, 6000])]
        text = self.report(results)
        self.assertIn("- PASS  fmnist: best fcnet / best PyTorch >= 2: 2.00 (not decided by this run: its rounds alone "
                      "give 2.50 and 1.67, on both sides of the line)", text)
        # combine_rounds averages PyTorch's two runs as it does fcnet's.
        pooled = run_bench.combine_rounds([torch("PyTorch 1 thread", 1, 1, 4100, [4000, 4100, 4200]),
                                           torch("PyTorch 1 thread", 1, 1, 6100, [6000, 6100, 6200, 6300])])
        self.assertEqual((pooled["samples_per_s"], pooled["rounds"]), (5100, [4100, 6100]))

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

    def test_a_steady_drift_cancels_with_unequal_windows(self):
        # The machine slows down steadily in A-B-B-A order: -n 1 measured first and last (3800, then 3200), -n 2 in
        # between (7200, then 6800), true ratio 2.00 at every moment. Round 1 gave -n 1 four windows, round 2 three
        # (and -n 2 the opposite): the mean of the rounds is 3500 and 7000, 2.00; the windows' pooled median would
        # give 7200 / 3800 = 1.89.
        def rounds(label, ranks, windows):
            return [{"label": label, "framework": "fcnet", "ranks": ranks, "threads": 1, "rc": 0,
                     "samples_per_s": w[0], "reps": w, "foreign_load": 0.0} for w in windows]
        r = config(4000, [4000, 4000], 8000, [8000, 8000], 9500, 3000)
        r["fcnet"] = [run_bench.combine_rounds(rounds("fcnet -n 1 x 1 thread", 1, [[3800] * 4, [3200] * 3])),
                      run_bench.combine_rounds(rounds("fcnet -n 2 x 1 thread", 2, [[7200] * 3, [6800] * 4]))]
        self.report({"wide": r})
        self.assertAlmostEqual(r["summary"]["n2_over_n1"], 2.0)

    def test_a_lost_round_leaves_the_verdict_undecided(self):
        # -n 1's second round failed (its fallback's rate NaN): -n 2's rounds 8000 and 6800 against -n 1's one
        # round of 4000 would give 2.00 and 1.70, on both sides of the line; nothing pairs, so the verdicts that use
        # -n 1 are not decided, and its row says a round failed. The bound's fraction uses -n 2 alone: decided.
        r = config(4000, [4000, 4000], 7400, [8000, 6800], 9500, 3000)
        n1 = r["fcnet"][0]
        r["fcnet"][0] = run_bench.combine_rounds([dict(n1, samples_per_s=4000, reps=[4000]),
                                                  dict(n1, samples_per_s=float("nan"), reps=[float("nan")])])
        text = self.report({"wide": r})
        self.assertIn("| wide | fcnet -n 1 x 1 thread | 1 | 4000 | 1 (4000-4000); 1 of 2 rounds failed |", text)
        self.assertIn("- PASS  wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85: 1.85 (not decided by this run: a round of "
                      "fcnet -n 1 x 1 thread failed, so it rests on one round)\n", text + "\n")
        self.assertIn("- FAIL  wide: best fcnet / 2-core sgemm bound >= 0.85: 0.78\n", text + "\n")  # 0.84, 0.72

    def test_a_share_below_zero_is_no_verdict(self):
        # fcnet at 1.22 of the bound measured in the same run: 1 - 1.22 = -0.22 of the step outside GEMM is
        # impossible, so the estimate says the bound was mismeasured instead of passing.
        r = config(50000, [50000, 50000], 122000, [122000, 122000], 100000, 16000)
        text = self.report({"fmnist": r})
        self.assertIn("- n/a   fmnist: non-GEMM share of the step <= 0.15 (est. 1 - fraction of bound): -0.22 "
                      "(below 0: fcnet ran faster than the bound measured in this run", text)
        self.assertIn("- PASS  fmnist: non-GEMM share of the step <= 0.15 (measured by --profile, best setting): 0.20",
                      text.replace("FAIL", "PASS"))

    def test_noisy_is_what_others_used_during_the_measurements(self):
        # A load average of 3 at the start (the build that launch/bench.sh runs first) is no noise by itself.
        quiet = {"wide": config(4000, [4000, 4000], 7600, [7600, 7600], 9500, 3000)}
        self.report(quiet)
        self.assertFalse(run_bench.is_noisy(quiet))
        busy = {"wide": config(4000, [4000, 4000], 7600, [7600, 7600], 9500, 3000)}
        busy["wide"]["fcnet"][2]["foreign_load"] = 0.3
        self.report(busy)
        self.assertTrue(run_bench.is_noisy(busy))
        self.assertIn("**NOISY**: other processes used up to 0.30 cores during the measurements",
                      run_bench.render(busy, {"loadavg_at_start": [3.0]}, True))


class Verdicts(unittest.TestCase):
    """Which measurement each ratio takes, and where each line lies (a value on the line passes)."""

    def report(self, results):
        for name, r in results.items():
            r["rows"] = run_bench.summarise(name, r)
        return run_bench.render(results, {"loadavg_at_start": [0.0]}, False) + "\n"

    def test_best_pytorch_of_several_and_the_2x_line(self):
        # PyTorch 3000, DDP 5000, 2 threads 4000: the best is DDP. cs231n: best fcnet (-n 2) 10000 / 5000 = 2 exactly,
        # PASS. fmnist: 9990 / 5000 = 1.998, FAIL (printed 2.00).
        results = {}
        for name, n2 in (("cs231n", 10000), ("fmnist", 9990)):
            r = config(4000, [4000, 4000], n2, [n2, n2], 20000, 3000)
            r["torch"] += [torch("PyTorch DDP 2 x 1 thread", 2, 1, 5000), torch("PyTorch 2 threads", 1, 2, 4000)]
            results[name] = r
        text = self.report(results)
        self.assertEqual(results["cs231n"]["summary"]["best_pytorch"], "PyTorch DDP 2 x 1 thread")
        self.assertIn("- PASS  cs231n: best fcnet / best PyTorch >= 2: 2.00\n", text)
        self.assertIn("- FAIL  fmnist: best fcnet / best PyTorch >= 2: 2.00\n", text)
        self.assertIn("| cs231n | fcnet -n 2 x 1 thread: 10000 | PyTorch DDP 2 x 1 thread: 5000 | 2.00 | 0.50 | 2.50 |",
                      text)

    def test_fcnet_rounds_on_both_sides_of_2x(self):
        # fmnist's best fcnet rounds 9000 and 11000 (pooled 10000) against PyTorch 5000: 1.80 and 2.20 by round.
        results = {"fmnist": config(4000, [4000, 4000], 10000, [9000, 11000], 20000, 5000)}
        text = self.report(results)
        self.assertIn("- PASS  fmnist: best fcnet / best PyTorch >= 2: 2.00 (not decided by this run: its rounds alone "
                      "give 1.80 and 2.20, on both sides of the line)\n", text)

    def test_scaling_on_the_line_and_just_below(self):
        # -n 2 / -n 1 = 7300 / 4000 = 1.825: FAIL.
        # Both on their lines at once: 12580 / 6800 = 37/20 = 1.85 and 12580 / 14800 = 17/20 = 0.85.
        on = {"wide": config(6800, [6800, 6800], 12580, [12580, 12580], 14800, 3000)}
        text = self.report(on)
        self.assertIn("- PASS  wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85: 1.85\n", text)
        self.assertIn("- PASS  wide: best fcnet / 2-core sgemm bound >= 0.85: 0.85\n", text)
        below = {"wide": config(4000, [4000, 4000], 7300, [7300, 7300], 9500, 3000)}
        self.assertIn("- FAIL  wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85: 1.82\n", self.report(below))

    def test_share_lines(self):
        # measured 0.15 exactly: PASS; est. 1 - 87000 / 100000 = 0.13: PASS. Then measured 0.145: PASS.
        results = {"fmnist": config(50000, [50000, 50000], 87000, [87000, 87000], 100000, 16000)}
        results["fmnist"]["fcnet"][2]["non_gemm_share"] = 0.15
        text = self.report(results)
        self.assertIn("- PASS  fmnist: non-GEMM share of the step <= 0.15 (measured by --profile, best setting): 0.15\n",
                      text)
        self.assertIn("- PASS  fmnist: non-GEMM share of the step <= 0.15 (est. 1 - fraction of bound): 0.13\n", text)
        results = {"fmnist": config(50000, [50000, 50000], 87000, [87000, 87000], 100000, 16000)}
        results["fmnist"]["fcnet"][2]["non_gemm_share"] = 0.145
        self.assertIn("- PASS  fmnist: non-GEMM share of the step <= 0.15 (measured by --profile, best setting): 0.14",
                      self.report(results))

    def test_best_setting_on_one_core_uses_the_one_core_bound(self):
        # A machine where the second core does not help: -n 1 x 1 thread 6000 (rounds 5900, 6100) is the best.
        # Bounds: 1 core 8000, 2 cores 10000. Its row: 6000 / 8000 = 0.75; est. non-GEMM share 1 - 0.75 = 0.25 and
        # by round 1 - 5900 / 8000 = 0.2625, 1 - 6100 / 8000 = 0.2375; its fraction of the 2-core bound 0.60.
        results = {"wide": config(6000, [5900, 6100], 5000, [5000, 5000], 10000, 3000)}
        results["wide"]["bound"]["1"] = bound(8000, [8000, 8000], 512)
        text = self.report(results)
        s = results["wide"]["summary"]
        self.assertEqual(s["best_fcnet"], "fcnet -n 1 x 1 thread")
        self.assertAlmostEqual(s["non_gemm_share_est"], 0.25)
        self.assertEqual([round(x, 6) for x in s["per_round"]["non_gemm_share_est"]], [0.2625, 0.2375])
        self.assertAlmostEqual(s["best_fcnet_fraction_of_2core_bound"], 0.60)
        self.assertIn("| wide | fcnet -n 1 x 1 thread | 1 | 6000 | 2 (5900-6100) | 0.75 | 0.00 |\n", text)
        self.assertIn("| wide | fcnet -n 2 x 1 thread | 2 | 5000 | 2 (5000-5000) | 0.50 | 0.00 |\n", text)

    def test_settings_in_another_order(self):
        # -n 1 is the 1-thread run wherever the settings stand: 7600 / 4000 = 1.90 with -n 1 x 2 threads listed first.
        results = {"wide": config(4000, [4000, 4000], 7600, [7600, 7600], 9500, 3000)}
        results["wide"]["fcnet"].reverse()
        self.report(results)
        self.assertAlmostEqual(results["wide"]["summary"]["n2_over_n1"], 1.90)

    def test_spread_and_foreign_load(self):
        # Rounds 3% apart (4000, 4120) are not UNSTABLE (the line is 5%); the bound's foreign load (0.3 cores) counts.
        results = {"wide": config(4000, [4000, 4120], 7600, [7600, 7600], 9500, 3000)}
        results["wide"]["bound"]["2"]["foreign_load"] = 0.3
        text = self.report(results)
        self.assertAlmostEqual(results["wide"]["summary"]["round_spread"], 0.03)
        self.assertNotIn("UNSTABLE", text)
        self.assertAlmostEqual(results["wide"]["summary"]["max_foreign_load"], 0.3)


class WhatIsRun(unittest.TestCase):
    """The nets of issue 6, as fcnet and PyTorch are told to train them (the spec written out here)."""
    SPEC = {"cs231n": ([3072, 100, 100, 100, 100, 100, 10], 1.0, 200),
            "fmnist": ([784, 256, 128, 100, 10], 0.9, 128),
            "wide": ([784, 1024, 1024, 1024, 10], 0.5, 512)}

    def test_fcnet_command(self):
        for name, (dims, keep, batch) in self.SPEC.items():
            cfg = run_bench.CONFIGS[name]
            cmd = run_bench.fcnet_cmd("FCNET", cfg, 2, "d.h5", "out", 100, True)
            self.assertEqual(cmd[:3], ["mpirun", "-n", "2"])
            a = cmd[cmd.index("FCNET") + 2:]
            opts = dict(zip(a[::2], a[1::2]))
            self.assertEqual([cfg["D"]] + [int(h) for h in opts["--hidden"].split(",")] + [cfg["C"]], dims, name)
            self.assertEqual((opts["--norm"], float(opts["--keep"]), opts["--optim"], int(opts["--batch-size"])),
                             ("batchnorm", keep, "adam", batch), name)
            self.assertEqual(opts["--preprocess"], "none")
            self.assertIn("--profile", cmd)

    def test_torch_command(self):
        import json
        import subprocess
        import tempfile
        sys.path.insert(0, os.path.dirname(run_bench.__file__))
        import torch_bench  # (its argument parser needs no torch)
        seen = []

        def fake_run(cmd, **kw):
            seen.append(cmd)
            return subprocess.CompletedProcess(cmd, 0, json.dumps({"reps": [1.0], "samples_per_s": 1.0, "torch": "t",
                                                                   "openblas_core": "c", "openblas_threads": 1}), "")
        real = run_bench.subprocess.run
        run_bench.subprocess.run = fake_run
        try:
            with tempfile.TemporaryDirectory() as work:
                os.mkdir(os.path.join(work, "logs"))
                for name in self.SPEC:
                    for label, mode, threads, procs, _, omp_wait in run_bench.TORCH_SETTINGS:
                        run_bench.measure_torch(run_bench.CONFIGS[name], name, label, mode, threads, procs, work, 3,
                                                run_bench.CpuMeter(0), omp_wait)
        finally:
            run_bench.subprocess.run = real
        self.assertEqual(len(seen), 12)
        modes = set()
        for cmd in seen:
            a = torch_bench.parse_args(cmd[2:])
            dims, keep, batch = self.SPEC[a.name]
            self.assertEqual(([int(d) for d in a.dims.split(",")], a.keep, a.batch, a.norm), (dims, keep, batch,
                                                                                            "batchnorm"))
            modes.add((a.mode, a.threads, a.procs if a.mode == "ddp" else 1, a.omp_wait))
        # Two threads both ways: libgomp's idle worker spins by default on the core OpenBLAS's worker needs.
        self.assertEqual(modes, {("single", 1, 1, "default"), ("single", 2, 1, "default"), ("single", 2, 1, "passive"),
                                 ("ddp", 1, 2, "default")})

    def test_torch_passive_wait_reaches_openmp(self):
        # --omp-wait passive is in the environment before torch (and libgomp, which reads it once) is loaded, in the
        # process that trains; the default leaves the environment's setting alone.
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("no torch")
        import json
        import subprocess
        tb = os.path.join(os.path.dirname(run_bench.__file__), "torch_bench.py")
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        for wait, want in (("passive", "PASSIVE"), ("default", "(unset)")):
            r = subprocess.run([run_bench.PY, tb, "--dims", "8,4,3", "--batch", "4", "--threads", "2", "--warmup", "1",
                                "--steps", "1", "--reps", "1", "--omp-wait", wait], capture_output=True, text=True,
                               env=env, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr[-500:])
            self.assertEqual(json.loads(r.stdout.splitlines()[-1])["omp_wait_policy"], want, wait)

    def test_torch_model(self):
        # fmnist's net in PyTorch: {Linear, BatchNorm1d, ReLU, Dropout(p = 1 - keep)} x 3, Linear; weights N(0, 1e-2),
        # biases 0, batchnorm eps 1e-5 and PyTorch momentum 0.1 (fcnet's --bn-momentum 0.9).
        try:
            import torch
        except ImportError:
            self.skipTest("no torch")
        sys.path.insert(0, os.path.dirname(run_bench.__file__))
        import torch_bench
        dims, model = torch_bench.build(torch_bench.parse_args(["--dims", "784,256,128,100,10", "--batch", "128",
                                                                "--keep", "0.9"]), torch)
        kinds = [type(m).__name__ for m in model]
        self.assertEqual(kinds, ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 3 + ["Linear"])
        lin = [m for m in model if isinstance(m, torch.nn.Linear)]
        self.assertEqual([(m.in_features, m.out_features) for m in lin], [(784, 256), (256, 128), (128, 100), (100, 10)])
        self.assertTrue(all(abs(m.p - 0.1) < 1e-12 for m in model if type(m).__name__ == "Dropout"))
        self.assertTrue(all(m.eps == 1e-5 and m.momentum == 0.1 for m in model if type(m).__name__ == "BatchNorm1d"))
        self.assertAlmostEqual(lin[0].weight.std().item(), 0.01, delta=0.0005)  # 200704 draws
        self.assertTrue(all(float(m.bias.abs().max()) == 0 for m in lin))


class Combine(unittest.TestCase):
    """Two rounds of one setting, and the bound's two measurements, made one."""

    def test_rounds_are_averaged(self):
        # windows 10, 20, 30 and 40, 100 (round medians 20 and 70): the mean of the rounds 45 (the median of the
        # windows pooled would be 30, leaning to the round with more windows); the worse foreign load 0.05; the
        # measured share the mean of 0.1 and 0.2. A third round whose fallback failed (rate NaN) is left out, and
        # counted as lost.
        ms = [{"label": "x", "rc": 0, "samples_per_s": 20, "reps": [10, 20, 30], "foreign_load": 0.05,
               "non_gemm_share": 0.1},
              {"label": "x", "rc": 0, "samples_per_s": 70, "reps": [40, 100], "foreign_load": 0.02,
               "non_gemm_share": 0.2},
              {"label": "x", "rc": 0, "samples_per_s": float("nan"), "reps": [float("nan")], "foreign_load": 0.0}]
        for order in (ms, ms[::-1]):
            c = run_bench.combine_rounds(order)
            self.assertEqual(sorted(c["reps"]), [10, 20, 30, 40, 100])
            self.assertEqual(c["samples_per_s"], 45)
            self.assertEqual(sorted(c["rounds"]), [20, 70])
            self.assertEqual(c["rounds_lost"], 1)
            self.assertEqual(c["foreign_load"], 0.05)
            self.assertAlmostEqual(c["non_gemm_share"], 0.15)

    def test_bound_is_the_mean_time(self):
        # GEMM time 0.01 s before and 0.03 s after, global batch 200: mean 0.02 s, 10000 samples/s, 0.5 GFLOP / 0.02 s
        # = 25 GFLOP/s; rounds 20000 and 6667; the worse foreign load.
        bs = [{"local_batch": 100, "gflop_per_step_per_rank": 0.5, "gemm_seconds": g, "gemm_seconds_per_copy": [g, g],
               "samples_per_s": 200 / g, "foreign_load": f, "corename": "x"} for g, f in ((0.01, 0.2), (0.03, 0.0))]
        b = run_bench.combine_bounds(bs, 200)
        self.assertAlmostEqual(b["gemm_seconds"], 0.02)
        self.assertAlmostEqual(b["samples_per_s"], 10000)
        self.assertAlmostEqual(b["gflops"], 25)
        self.assertEqual([round(x) for x in b["rounds"]], [20000, 6667])
        self.assertEqual(b["foreign_load"], 0.2)
        self.assertEqual(b["gemm_seconds_per_copy"], [0.01, 0.01, 0.03, 0.03])


class Windows(unittest.TestCase):
    """fcnet's rate from the arrival times of its progress reports."""

    def test_window_rates(self):
        # B 100, windows of >= 5 steps and >= 0.1 s, warm-up 10 steps:
        #   step 5 at 0.0: warm-up; step 10 at 0.5 opens; step 15 at 1.0: 5 * 100 / 0.5 = 1000
        #   other output at 1.2 (an epoch end): the next window opens at step 20 (2.0), not at 15
        #   step 25 at 2.4: 500 / 0.4 = 1250; step 28 at 2.45: 3 steps, too few; step 30 at 2.65: 500 / 0.25 = 2000
        #   step 35 at 2.70: 5 steps in 0.05 s, too short; step 40 at 2.80: 10 * 100 / 0.15 = 6667
        events = [(0.0, 5), (0.5, 10), (1.0, 15), (1.2, None), (2.0, 20), (2.4, 25), (2.45, 28), (2.65, 30),
                  (2.70, 35), (2.80, 40)]
        rates = run_bench.window_rates(events, 100, 5, 10, 0.1)
        self.assertEqual([round(x) for x in rates], [1000, 1250, 2000, 6667])

    def test_run_timed_events(self):
        # Lines mode ("(step S / T) ..."), the pty bar ("\repoch ... step S/T loss ..."), a repeated report (kept once)
        # and other output (a window breaker, None).
        out = ("(step 5 / 40) epoch 1 loss 2.3\n(step 5 / 40) epoch 1 loss 2.3\nepoch 1 done: step 5, 0.1 s elapsed\n"
               "\repoch 2/8 [##......] step 7/40 loss 2.2000 -- samples/s ETA --:--   "
               "\repoch 2/8 [###.....] step 8/40 loss 2.1000 -- samples/s ETA --:--   \n(step 10 / 40) epoch 2 loss 2\n")
        import tempfile
        with tempfile.TemporaryDirectory() as work:
            rc, wall, events, text = run_bench.run_timed(["printf", "%s", out], dict(os.environ),
                                                         os.path.join(work, "log"))
        self.assertEqual(rc, 0)
        self.assertEqual([s for _, s in events], [5, None, 7, 8, 10])


PROFILE = """profile over 100 steps (slowest rank per phase; ms per step, share of the step):
  data gather                            0.1000 ms    5.0%
  forward+loss                           0.6000 ms   30.0%
  backward                               0.8000 ms   40.0%
  gradient reduction                     0.3000 ms   15.0%
  update (reg, check, optimizer)         0.2000 ms   10.0%
  evaluation                              0.012 s total
  checkpoint                              0.034 s total
    of which GEMM (OpenBLAS)             1.2000 ms   60.0%
    of which bn sync + loss gathers      0.2500 ms   12.5%
  parameter stores: (text)
stopped after --max-steps 100 at step 100"""


class Profile(unittest.TestCase):
    def test_hand_made_block(self):
        # The five phases add up to 2.0 ms; the GEMMs take 1.2 of them (not the "of which" lines in the sum).
        block, step_ms, gemm_ms = run_bench.parse_profile("(step 100 / 100) loss 1\n" + PROFILE)
        self.assertAlmostEqual(step_ms, 2.0)
        self.assertAlmostEqual(gemm_ms, 1.2)
        self.assertTrue(block.startswith("profile over 100 steps") and block.endswith("parameter stores: (text)"))

    @unittest.skipUnless(os.environ.get("FCNET_DIST"), "FCNET_DIST (fcnet_dist) not given")
    def test_real_fcnet_run(self):
        # measure_fcnet on fcnet_dist --profile (mpirun -n 1, a tiny net): the measured non-GEMM share is 1 minus
        # the GEMM's share of the step that fcnet itself prints (its percentage, 0.1% resolution).
        import re
        import tempfile
        with tempfile.TemporaryDirectory() as work:
            for d in ("logs", "runs"):
                os.mkdir(os.path.join(work, d))
            data = os.path.join(work, "d.h5")
            run_bench.make_dataset(data, 320, 100, 5, "")  # (h5py's file: the fallback when there is no fcnet_synth)
            # Steps of ~0.1 ms: the profile's 4 decimals of ms then leave the share within 0.002.
            cfg = dict(D=100, hidden=[128, 128], C=5, keep=0.9, B=64, spe=5, every=1, rep=3, steps=40, warmup=4,
                       min_window=0.0001)
            m = run_bench.measure_fcnet(os.environ["FCNET_DIST"], cfg, "t", "fcnet -n 1 x 1 thread", 1, 1, data,
                                        work, True, run_bench.CpuMeter(0))
        # (the rate is not checked: in so short a run it is mostly mpirun's start-up noise)
        self.assertEqual(m["rc"], 0, m.get("error"))
        pct = float(re.search(r"of which GEMM \(OpenBLAS\)\s+[0-9.]+ ms\s+([0-9.]+)%", m["profile"]).group(1))
        self.assertAlmostEqual(m["non_gemm_share"], 1 - pct / 100, delta=0.002)
        phases = [float(x) for x in re.findall(r"^  \w[^\n]*?([0-9.]+) ms\s+[0-9.]+%$", m["profile"], re.M)]
        self.assertEqual(len(phases), 5)  # data gather .. update; evaluation and checkpoint are totals
        self.assertAlmostEqual(m["profile_samples_per_s"], 64 / (sum(phases) * 1e-3), delta=1e-6 * m["profile_samples_per_s"])


class ScalingModel(unittest.TestCase):
    """The README's allreduce cost model (Performance, "Scaling model"), recomputed from its own formula and inputs:
    t(N) = 2(N-1)/N x 4P / B + (N-1) a + g(N) a + (2 L_bn + 1) h(N) a, P from the benchmark's nets (weights, biases,
    gamma and beta), compute per step at -n 1 cs231n 3.7, fmnist 1.63, wide 83 ms."""
    README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
    T1 = {"cs231n": 3.7e-3, "fmnist": 1.63e-3, "wide": 83e-3}

    @staticmethod
    def params(cfg):
        dims = [cfg["D"]] + cfg["hidden"] + [cfg["C"]]
        return sum(a * b + b for a, b in zip(dims, dims[1:])) + 2 * sum(cfg["hidden"])

    def exchange(self, name, n, bw, a, rounds=True):
        """Seconds; rounds=False: every gather as N-1 direct messages (before Bruck's rounds)."""
        import math
        cfg = run_bench.CONFIGS[name]
        s, l_bn, lg = 4 * self.params(cfg), len(cfg["hidden"]), math.ceil(math.log2(n))
        g = lg if rounds and n >= 32 and s / n <= 32768 else n - 1
        h = lg if rounds and n >= 32 else n - 1
        return 2 * (n - 1) / n * s / bw + (n - 1) * a + g * a + (2 * l_bn + 1) * h * a

    def near(self, printed, value, what):
        # as printed: to the last digit shown (half a unit either way)
        unit = 10 ** -len(printed.split(".")[1]) if "." in printed else 1
        self.assertLessEqual(abs(float(printed) - value), unit / 2 + 1e-9, f"{what}: README {printed}, model {value:.4g}")

    def test_tables(self):
        import re
        with open(self.README) as f:
            text = f.read()
        rows = re.findall(r"^\| (cs231n|fmnist|wide)[^|]*\| ([\d.]+) / ([\d.]+) / ([\d.]+) ms \| (\d+)% / (\d+)% / "
                          r"(\d+)% \| (\d+)% / (\d+)% / (\d+)% \|$", text, re.M)
        self.assertEqual([r[0] for r in rows], ["cs231n", "fmnist", "wide"] * 2)
        for i, r in enumerate(rows):
            bw, a = (1.0e9, 40e-6) if i < 3 else (1.42e9, 8.4e-6)
            name, t1 = r[0], self.T1[r[0]]
            for j, n in enumerate((8, 64, 512)):
                t = self.exchange(name, n, bw, a)
                self.near(r[1 + j], 1e3 * t, f"{name} exchange at {n} ({bw:.3g} B/s)")
                self.near(r[4 + j], 100 * (t1 / n) / (t1 / n + t), f"{name} fixed global batch at {n}")
                self.near(r[7 + j], 100 * t1 / (t1 + t), f"{name} fixed batch per rank at {n}")

    def test_bruck_rounds_and_wide_at_8_and_64(self):
        # "falls from X to Y ms": the same model before (direct messages for every gather) and after the rounds;
        # and wide's gradient exchange against its compute per rank at 8 and 64 ranks (a global batch of 512).
        import re
        with open(self.README) as f:
            text = " ".join(f.read().split())
        m = re.search(r"falls from (\d+) to (\d+) ms \(`cs231n`\), (\d+) to (\d+) ms \(`fmnist`\) and (\d+) to "
                      r"(\d+) ms \(`wide`\), at 64 ranks from (\d+) to (\d+) ms \(`cs231n`\)", text)
        self.assertIsNotNone(m, "README: the Bruck rounds' 'falls from X to Y ms' sentence not found")
        for k, (name, n) in enumerate((("cs231n", 512), ("fmnist", 512), ("wide", 512), ("cs231n", 64))):
            self.near(m.group(1 + 2 * k), 1e3 * self.exchange(name, n, 1e9, 40e-6, rounds=False), f"{name} {n} before")
            self.near(m.group(2 + 2 * k), 1e3 * self.exchange(name, n, 1e9, 40e-6), f"{name} {n} after")
        m = re.search(r"≈ (\d+) ms of reduction over TCP against ~(\d+) ms of compute per rank, and at 64 ranks ~(\d+) "
                      r"ms against ~([\d.]+) ms", text)
        self.assertIsNotNone(m, "README: wide's 8- and 64-rank exchange against compute not found")
        s = 4 * self.params(run_bench.CONFIGS["wide"])
        for k, n in enumerate((8, 64)):
            self.near(m.group(1 + 2 * k), 1e3 * 2 * (n - 1) / n * s / 1e9, f"wide gradient bytes at {n}")
            self.near(m.group(2 + 2 * k), 1e3 * self.T1["wide"] / n, f"wide compute per rank at {n}")


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

    def test_bad_numbers(self):
        for flag, value in (("--scale", "nan"), ("--scale", "inf"), ("--scale", "-1"), ("--scale", "0"),
                            ("--wait-quiet", "-5"), ("--wait-quiet", "inf"), ("--torch-reps", "0")):
            r = self.run_bench("--out", "/tmp", "--configs", "wide", flag, value)
            self.assertEqual(r.returncode, 2, (flag, value))
            self.assertIn(f"run_bench.py: error: {flag}: ", r.stderr)
            self.assertNotIn("Traceback", r.stderr)

    def test_unknown_config(self):
        r = self.run_bench("--out", "/tmp", "--configs", "wide,wdie")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--configs: unknown configuration 'wdie' (known: cs231n, fmnist, wide)", r.stderr)

    def test_help_before_any_work(self):
        """launch/bench.sh --help used to install packages and build fcnet before printing run_bench.py's usage."""
        import subprocess
        import tempfile
        script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "launch", "bench.sh")
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, FCNET_BENCH_WORK=os.path.join(tmp, "work"), FCNET_BUILD_DIR=os.path.join(tmp, "b"),
                       PATH="/usr/bin:/bin")
            r = subprocess.run(["bash", script, "--configs", "wide", "--help"], capture_output=True, text=True,
                               timeout=60, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("launch/bench.sh [--configs cs231n,fmnist,wide]", r.stdout)
            self.assertIn("--wait-quiet", r.stdout)
            self.assertNotIn("==", r.stdout + r.stderr)  # no "== installing" or "== build" step
            self.assertEqual(os.listdir(tmp), [])

    def test_output_folder_not_creatable(self):
        r = self.run_bench("--out", "/dev/null/out", "--configs", "wide")
        self.assertEqual(r.returncode, 1)
        self.assertIn("run_bench.py: cannot create the folder /dev/null/out", r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
