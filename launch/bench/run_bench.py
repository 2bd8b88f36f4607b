#!/usr/bin/python3
"""Driver of launch/bench.sh (issue 6): fcnet vs PyTorch vs the sgemm bound, on the same cores, in one run.

For each configuration it measures steady-state training throughput (samples/s, median over repetitions):
  fcnet   -n 1 x OPENBLAS_NUM_THREADS=1, -n 1 x 2 threads, -n 2 x 1 thread (mpirun --oversubscribe --bind-to none)
  PyTorch 1 thread, 2 threads (OpenMP's default wait policy, and passive), DistributedDataParallel gloo
          2 processes x 1 thread (launch/bench/torch_bench.py)
  sgemm bound (launch/bench/sgemm_bound.c, 1 thread): 1 core at the full batch; 2 cores = two concurrent
          copies at half the batch each
Every setting is measured twice, in A-B-C-C-B-A order (bound, fcnet settings, PyTorch settings, PyTorch settings
reversed, fcnet settings reversed, bound), and each setting's rate is the mean of its two rounds', so that a drift
of the machine's speed cancels out of the ratios.
Then it prints a table and writes results/bench/bench.md and bench.json.

fcnet's rate comes from its progress reports (lines "(step S / T) ..." or, under mpirun's pty, the redrawn
bar "... step S/T loss ..."): each is timestamped as it arrives and a repetition is a window of at least
`rep` steps and MIN_WINDOW seconds between two reports; windows never span other output (an epoch end:
evaluation and checkpoint) and the first steps are warm-up. Median over windows. With --profile, the
per-phase breakdown fcnet prints is kept, and the rate its phases imply is recorded as a cross-check.
Without progress reports it falls back to two runs with different --max-steps: (S2 - S1) * B / (t2 - t1),
so setup cost cancels.

Every contender runs under the same environment; OPENBLAS_CORETYPE is left as the user set it and reported.
Noise: the CPU time used by processes other than the benchmark's own during each measurement is recorded
("foreign load", in cores); the table is flagged noisy when it exceeds 0.1 core.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))

# name: input dim, hidden, classes, keep, global batch; timing plan: steps per epoch (rows = spe * B),
# print interval, steps per repetition (at least; fcnet windows also last >= MIN_WINDOW s), fcnet steps per
# run, warm-up steps.
CONFIGS = {
    "cs231n": dict(D=3072, hidden=[100] * 5, C=10, keep=1.0, B=200, spe=100, every=5, rep=20, steps=1000,
                   warmup=30),
    "fmnist": dict(D=784, hidden=[256, 128, 100], C=10, keep=0.9, B=128, spe=300, every=10, rep=40, steps=1500,
                   warmup=60),
    "wide": dict(D=784, hidden=[1024, 1024, 1024], C=10, keep=0.5, B=512, spe=30, every=2, rep=6, steps=60, warmup=6),
}

FCNET_SETTINGS = [  # (label, ranks, threads per rank, cores used)
    ("fcnet -n 1 x 1 thread", 1, 1, 1),
    ("fcnet -n 1 x 2 threads", 1, 2, 2),
    ("fcnet -n 2 x 1 thread", 2, 1, 2),
]
# Two threads twice: Debian's torch runs its operators on libgomp's pool and its GEMMs on OpenBLAS's pthread pool,
# and by default libgomp's idle worker spins on the core that OpenBLAS's worker needs (on the AMD guest of
# 2026-12-05 PyTorch's `wide` ran at 0.65x its 1-thread rate with 2 threads); OMP_WAIT_POLICY=PASSIVE lets it
# sleep. fcnet has one pool (OpenBLAS's). The best PyTorch setting counts, so each may win.
TORCH_SETTINGS = [  # (label, mode, threads, procs, cores used, --omp-wait)
    ("PyTorch 1 thread", "single", 1, 1, 1, "default"),
    ("PyTorch 2 threads", "single", 2, 1, 2, "default"),
    ("PyTorch 2 threads, OMP passive", "single", 2, 1, 2, "passive"),
    ("PyTorch DDP 2 x 1 thread", "ddp", 1, 2, 2, "default"),
]
NOISE_CORES = 0.1
# 0.1 s: a cs231n epoch (100 steps) at -n 2 lasts about 0.22 s on a fast machine, and 0.2 s windows
# hardly fit between its start and its end (the rate then fell back to two runs' wall times).
MIN_WINDOW = 0.1


def log(msg):
    print(msg, flush=True)


class CpuMeter:
    """CPU time spent by processes other than ours (and our reaped children) over an interval, in cores; on a
    virtual machine it includes steal time (the host running other guests on our cores), which slows us the same."""

    def __init__(self, quiet_limit=0.0):
        self.tck = os.sysconf("SC_CLK_TCK")
        self.quiet_limit = quiet_limit  # start() first waits up to this long for a quiet machine

    @staticmethod
    def _busy_ticks():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]) - idle

    @staticmethod
    def _own_seconds():
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def _start(self):
        self.t0, self.b0, self.o0 = time.monotonic(), self._busy_ticks(), self._own_seconds()

    def start(self):
        waited = 0.0
        while waited < self.quiet_limit:
            self._start()
            time.sleep(1.0)
            waited += 1.0
            if self.stop() < NOISE_CORES:
                break
        if waited > 1.0:
            log(f"   (waited {waited:.0f} s for other processes to leave the CPU)")
        self._start()

    def stop(self):
        dt = time.monotonic() - self.t0
        busy = (self._busy_ticks() - self.b0) / self.tck
        own = self._own_seconds() - self.o0
        return max(0.0, (busy - own) / dt) if dt > 0 else 0.0


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(fcnet):
    model = ""
    for line in sh("lscpu").splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": model,
        "nproc": int(sh("nproc") or 0),
        "kernel": platform.release(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "gcc": sh("cc --version | head -1"),
        "openmpi": sh("mpirun --version 2>&1 | head -1"),
        "python": platform.python_version(),
        # results/ is where this writes: an earlier run's table there does not make the code dirty
        "git": sh(f"git -C {HERE} rev-parse --short HEAD") +
               (" (dirty)" if sh(f"git -C {HERE} status --porcelain -uno -- ':(top)' ':(top,exclude)results'") else ""),
        "fcnet_dist": fcnet,
        "loadavg_at_start": [float(x) for x in load],
    }


# ---------------------------------------------------------------------------------------------- data

def make_dataset(path, rows, D, C, synth, seed=1):
    if os.path.exists(path):
        return "cached"
    tmp = path + ".tmp"
    if synth and os.access(synth, os.X_OK):
        cmd = [synth, "--out", tmp, "--train", str(rows), "--val", "0", "--test", "0", "--features", str(D),
               "--classes", str(C), "--seed", str(seed), "--dtype", "float32"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0:
            os.replace(tmp, path)
            return "fcnet_synth"
        log(f"   fcnet_synth failed ({r.returncode}): {r.stderr.strip()[-300:]}; using h5py")
    import h5py
    import numpy as np
    rng = np.random.default_rng(seed)
    with h5py.File(tmp, "w") as f:
        f.attrs["num_classes"] = np.int32(C)
        g = f.create_group("train")
        x = g.create_dataset("x", (rows, D), dtype="float32")
        for at in range(0, rows, 4096):
            n = min(4096, rows - at)
            x[at:at + n] = rng.standard_normal((n, D), dtype=np.float32)
        g.create_dataset("y", data=rng.integers(0, C, rows, dtype=np.int32))
    os.replace(tmp, path)
    return "h5py"


# ---------------------------------------------------------------------------------------------- fcnet

# Progress as fcnet prints it: "(step S / T) ..." lines when stdout is not a terminal, "\repoch E/N [bar] step
# S/T loss ..." redraws (at most 10 per second) when it is -- and under mpirun it always is (Open MPI gives
# the ranks a pty). Either way the text appears right after step S completes.
STEP_RE = re.compile(r"(?:^\(step (\d+) / \d+\)|step (\d+)/\d+ loss)")
PROFILE_RE = re.compile(r"^\s+(.*?)\s+([0-9.]+) ms\s+([0-9.]+)%\s*$")


def run_timed(cmd, env, log_path):
    """Runs cmd; returns (rc, wall seconds, events, text): events are (time, step) for each progress report
    (timed when the step number first arrives) and (time, None) for any other output (a window breaker)."""
    import codecs
    events, seen = [], set()
    buf, done = "", 0
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    fd = p.stdout.fileno()
    with open(log_path, "w") as logf:
        logf.write("# " + " ".join(cmd) + "\n")
        while True:
            chunk = os.read(fd, 65536)
            now = time.monotonic()
            if not chunk:
                break
            text = dec.decode(chunk)
            logf.write(f"[{now - t0:9.4f}] {text!r}\n")
            buf += text
            while True:
                m = re.search(r"[\r\n]", buf[done:])
                piece = buf[done:] if m is None else buf[done:done + m.start()]
                pm = STEP_RE.search(piece)
                if pm:
                    step = int(pm.group(1) or pm.group(2))
                    if step not in seen:
                        seen.add(step)
                        events.append((now, step))
                elif m is not None and piece.strip():
                    events.append((now, None))
                if m is None:
                    break
                done += m.end()
    p.stdout.close()  # (left open, every run leaked its pipe's descriptor until garbage collection)
    rc = p.wait()
    return rc, time.monotonic() - t0, events, buf


def window_rates(events, B, rep, warmup, min_window):
    """Rates over windows of >= rep steps and >= min_window seconds between progress reports; a window
    never spans other output (an epoch end: evaluation, checkpoint)."""
    rates, start = [], None
    for t, step in events:
        if step is None:
            start = None
            continue
        if step < warmup:
            continue
        if start is None:
            start = (step, t)
        elif step - start[0] >= rep and t - start[1] >= min_window:
            rates.append((step - start[0]) * B / (t - start[1]))
            start = (step, t)
    return rates


def parse_profile(text):
    """fcnet --profile's block (printed by rank 0 at the end), the step time its phases add up to, and the
    time of the step spent inside OpenBLAS's GEMMs (ms per step; None when not printed)."""
    lines = text.replace("\r", "\n").splitlines()
    at = next((i for i, l in enumerate(lines) if l.startswith("profile")), None)
    if at is None:
        return None, None, None
    block = [lines[at]] + [l for l in lines[at + 1:] if l.startswith(" ")]
    ms, gemm_ms = 0.0, None
    for l in block[1:]:
        m = PROFILE_RE.match(l)
        if m and not m.group(1).startswith("of which"):
            ms += float(m.group(2))
        elif m and "GEMM" in m.group(1):
            gemm_ms = float(m.group(2))
    return "\n".join(block), (ms if ms > 0 else None), gemm_ms


def fcnet_cmd(fcnet, cfg, ranks, data, out, max_steps, profile):
    epochs = max_steps // cfg["spe"] + 2
    mpi = ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS"]
    args = [fcnet, "train", "--data", data, "--hidden", ",".join(map(str, cfg["hidden"])), "--norm", "batchnorm",
            "--keep", repr(cfg["keep"]), "--optim", "adam", "--batch-size", str(cfg["B"]), "--epochs", str(epochs),
            "--print-every", str(cfg["every"]), "--preprocess", "none", "--val-size", "0", "--out", out,
            "--max-steps", str(max_steps)]
    if profile:
        args.append("--profile")
    return mpi + args


def measure_fcnet(fcnet, cfg, name, label, ranks, threads, data, work, profile, meter, round_no=1):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    tag = f"{name}-fcnet-n{ranks}-t{threads}-r{round_no}"
    out = os.path.join(work, "runs", tag)
    shutil.rmtree(out, ignore_errors=True)
    cmd = fcnet_cmd(fcnet, cfg, ranks, data, out, cfg["steps"], profile)
    meter.start()
    rc, wall, events, text = run_timed(cmd, env, os.path.join(work, "logs", tag + ".log"))
    foreign = meter.stop()
    res = {"label": label, "framework": "fcnet", "ranks": ranks, "threads": threads, "command": " ".join(cmd),
           "rc": rc, "wall_s": wall, "foreign_load": foreign, "log": os.path.join(work, "logs", tag + ".log")}
    if rc != 0:
        res["error"] = text.replace("\r", "\n")[-1500:]
        log(f"   FAILED rc={rc}: {res['error'][-500:]}")
        return res
    rates = window_rates(events, cfg["B"], cfg["rep"], cfg["warmup"], cfg["min_window"])
    if len(rates) >= 3:
        res.update(method="progress-report windows", reps=rates, samples_per_s=statistics.median(rates))
    else:
        # Fallback: wall-clock difference of a short and a long run (setup and final save cancel).
        s1 = max(cfg["warmup"], cfg["steps"] // 6)
        shutil.rmtree(out, ignore_errors=True)
        cmd1 = fcnet_cmd(fcnet, cfg, ranks, data, out, s1, profile)
        meter.start()
        rc1, wall1, _, _ = run_timed(cmd1, env, os.path.join(work, "logs", tag + "-short.log"))
        res["foreign_load"] = max(foreign, meter.stop())
        rate = (cfg["steps"] - s1) * cfg["B"] / (wall - wall1) if rc1 == 0 and wall > wall1 else float("nan")
        res.update(method=f"wall-time difference of --max-steps {cfg['steps']} and {s1}", reps=[rate],
                   samples_per_s=rate)
    block, step_ms, gemm_ms = parse_profile(text)
    if block:
        res["profile"] = block
        res["profile_samples_per_s"] = cfg["B"] / (step_ms * 1e-3) if step_ms else None
        if step_ms and gemm_ms is not None:
            # Measured: the share of the step (phases of the slowest rank) spent outside OpenBLAS's GEMMs.
            res["non_gemm_share"] = 1 - gemm_ms / step_ms
    shutil.rmtree(out, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------------------------- PyTorch

def measure_torch(cfg, name, label, mode, threads, procs, work, reps, meter, omp_wait="default", round_no=1):
    dims = [cfg["D"]] + cfg["hidden"] + [cfg["C"]]
    cmd = [PY, os.path.join(HERE, "torch_bench.py"), "--name", name, "--dims", ",".join(map(str, dims)),
           "--batch", str(cfg["B"]), "--keep", repr(cfg["keep"]), "--mode", mode, "--threads", str(threads),
           "--procs", str(procs), "--rows", str(cfg["spe"] * cfg["B"]), "--warmup", str(cfg["warmup"]),
           "--steps", str(cfg["rep"]), "--reps", str(reps), "--omp-wait", omp_wait]
    tag = f"{name}-torch-{mode}-p{procs}-t{threads}" + ("-omp-passive" if omp_wait == "passive" else "") + \
        f"-r{round_no}"
    meter.start()
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    foreign = meter.stop()
    with open(os.path.join(work, "logs", tag + ".log"), "w") as f:
        f.write(r.stdout + r.stderr)
    res = {"label": label, "framework": "pytorch", "mode": mode, "procs": procs, "threads": threads,
           "command": " ".join(cmd), "rc": r.returncode, "wall_s": wall, "foreign_load": foreign}
    js = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not js:
        res["error"] = (r.stdout + r.stderr)[-1000:]
        log(f"   FAILED rc={r.returncode}: {res['error'][-500:]}")
        return res
    res.update(method="in-process timer", reps=js[-1]["reps"], samples_per_s=js[-1]["samples_per_s"],
               torch=js[-1]["torch"], openblas_core=js[-1]["openblas_core"],
               openblas_threads=js[-1]["openblas_threads"], omp_wait_policy=js[-1].get("omp_wait_policy"))
    return res


# ---------------------------------------------------------------------------------------------- bound

def combine_rounds(ms):
    """One setting measured in several rounds: the mean of the rounds' rates (each its windows' median), the
    worst foreign load, the mean measured non-GEMM share, how many rounds failed; the last round's profile block is
    the one printed. The mean, not a median over every round's windows pooled: in the A-B-C-C-B-A order each
    setting's two rounds lie symmetrically about the same moment, so a steady drift of the machine's speed moves
    every setting's mean alike and cancels out of the ratios, whereas the pooled median leans to whichever round
    has more windows (a drift then shows in the ratios)."""
    # NaN too: a failed fallback's rate (its short run failed) would otherwise enter the mean
    ok = [m for m in ms if m.get("samples_per_s") is not None and m["samples_per_s"] == m["samples_per_s"] and
          m.get("rc") == 0]
    if not ok:
        return ms[-1]
    res = dict(ok[-1])
    res["reps"] = [x for m in ok for x in m.get("reps", [])]
    res["samples_per_s"] = statistics.mean(m["samples_per_s"] for m in ok)
    res["rounds"] = [m.get("samples_per_s") for m in ok]
    res["rounds_lost"] = len(ms) - len(ok)
    res["foreign_load"] = max(m["foreign_load"] for m in ms)
    shares = [m["non_gemm_share"] for m in ok if "non_gemm_share" in m]
    if shares:
        res["non_gemm_share"] = statistics.mean(shares)
        res["share_rounds"] = shares
    return res


def combine_bounds(bs, batch):
    """The bound measured before and after the fcnet runs: mean GEMM time, so its moment matches theirs."""
    res = dict(bs[-1])
    gemm_s = statistics.mean(b["gemm_seconds"] for b in bs)
    res.update(gemm_seconds=gemm_s, gemm_seconds_per_copy=[x for b in bs for x in b["gemm_seconds_per_copy"]],
               gflops=bs[0]["gflop_per_step_per_rank"] / gemm_s, samples_per_s=batch / gemm_s,
               foreign_load=max(b["foreign_load"] for b in bs), rounds=[b["samples_per_s"] for b in bs])
    return res


def measure_bound(sgemm, cfg, name, ranks, work, meter, round_no=1):
    dims = [cfg["D"]] + cfg["hidden"] + [cfg["C"]]
    cmd = [sgemm, "--name", name, "--dims", ",".join(map(str, dims)), "--batch", str(cfg["B"]), "--ranks",
           str(ranks), "--threads", "1", "--json"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    meter.start()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(ranks)]  # one copy per core, concurrently, like the ranks
    outs = [p.communicate() for p in procs]
    foreign = meter.stop()
    with open(os.path.join(work, "logs", f"{name}-sgemm-bound-r{ranks}-round{round_no}.log"), "w") as f:
        for o, e in outs:
            f.write(o + e)
    js = []
    for p, (o, e) in zip(procs, outs):
        if p.returncode != 0:
            raise SystemExit(f"sgemm_bound failed: {e}")
        js.append(json.loads(o.strip().splitlines()[-1]))
    gemm_s = statistics.mean(j["gemm_seconds"] for j in js)
    return {"ranks": ranks, "local_batch": js[0]["local_batch"], "corename": js[0]["corename"],
            "gflop_per_step_per_rank": js[0]["gflop_per_step"], "gemm_seconds": gemm_s,
            "gemm_seconds_per_copy": [j["gemm_seconds"] for j in js], "gflops": js[0]["gflop_per_step"] / gemm_s,
            "samples_per_s": cfg["B"] / gemm_s, "foreign_load": foreign, "per_gemm": js[0]["gemms"],
            "command": " ".join(cmd) + (f"  (x{ranks} concurrently)" if ranks > 1 else "")}


# ---------------------------------------------------------------------------------------------- report

def fmt(x, spec=".0f"):
    return "n/a" if x is None or x != x else format(x, spec)


# Rounds of one setting further apart than this (max / min - 1) make the table say UNSTABLE.
UNSTABLE_SPREAD = 0.05


def paired(a, b, f):
    """f over the rounds of a and b taken pairwise (round k with round k), or [] when they do not pair up."""
    a, b = a or [], b or []
    return [f(x, y) for x, y in zip(a, b)] if len(a) == len(b) and len(a) > 1 and min(b) > 0 else []


def per_round_values(r, best_fc, best_pt, n1, n2):
    """Each ratio of the summary as every round alone gives it. In the A-B-C-C-B-A order round k of one setting lies
    next to round k of the others and to the bound's k-th measurement, so pairing them cancels a change of the
    machine's speed that pooling all rounds would only average."""
    if best_fc is None:
        return {}
    rounds = best_fc.get("rounds")
    per = {"best_fcnet_fraction_of_2core_bound": paired(rounds, r["bound"]["2"].get("rounds"), lambda x, b: x / b),
           "non_gemm_share_est": paired(rounds, r["bound"][str(best_fc["cores"])].get("rounds"),
                                        lambda x, b: 1 - x / b),
           "non_gemm_share_measured": list(best_fc.get("share_rounds") or [])}
    if best_pt is not None and len(best_pt.get("rounds") or []) > 1:  # round k of fcnet with round k of PyTorch
        per["fcnet_over_pytorch"] = paired(rounds, best_pt["rounds"], lambda x, p: x / p)
    elif best_pt is not None and len(rounds or []) > 1:  # PyTorch measured once: only fcnet's rounds vary
        per["fcnet_over_pytorch"] = [x / best_pt["samples_per_s"] for x in rounds]
    if n1 and n2:
        per["n2_over_n1"] = paired(n2[0].get("rounds"), n1[0].get("rounds"), lambda a, b: a / b)
    per["bound_2_over_1"] = paired(r["bound"]["2"].get("rounds"), r["bound"]["1"].get("rounds"), lambda a, b: a / b)
    return {k: v for k, v in per.items() if len(v) > 1}


def summarise(name, r):
    bound1 = r["bound"]["1"]["samples_per_s"]
    bound2 = r["bound"]["2"]["samples_per_s"]
    rows = []
    for m in r["fcnet"] + r["torch"]:
        cores = 1 if (m.get("ranks", m.get("procs", 1)) * m["threads"]) == 1 else 2
        b = bound1 if cores == 1 else bound2
        m["cores"] = cores
        m["fraction_of_bound"] = m.get("samples_per_s", float("nan")) / b
        rows.append(m)
    ok = lambda ms: [m for m in ms if m.get("samples_per_s") == m.get("samples_per_s") and "samples_per_s" in m]
    fc, pt = ok(r["fcnet"]), ok(r["torch"])
    s = {}
    if fc:
        best_fc = max(fc, key=lambda m: m["samples_per_s"])
        s["best_fcnet"] = best_fc["label"]
        s["best_fcnet_samples_per_s"] = best_fc["samples_per_s"]
        s["best_fcnet_fraction_of_2core_bound"] = best_fc["samples_per_s"] / bound2
        # Everything that is not GEMM, estimated as the part of the step the GEMMs at bound speed do not explain,
        # and measured by fcnet --profile (time inside the GEMM calls) where available.
        s["non_gemm_share_est"] = 1 - best_fc["fraction_of_bound"]
        if "non_gemm_share" in best_fc:
            s["non_gemm_share_measured"] = best_fc["non_gemm_share"]
    if pt:
        best_pt = max(pt, key=lambda m: m["samples_per_s"])
        s["best_pytorch"] = best_pt["label"]
        s["best_pytorch_samples_per_s"] = best_pt["samples_per_s"]
    if fc and pt:
        s["fcnet_over_pytorch"] = s["best_fcnet_samples_per_s"] / s["best_pytorch_samples_per_s"]
    n1 = [m for m in fc if m["ranks"] == 1 and m["threads"] == 1]
    n2 = [m for m in fc if m["ranks"] == 2]
    if n1 and n2:
        s["n2_over_n1"] = n2[0]["samples_per_s"] / n1[0]["samples_per_s"]
    # The GEMMs' own scaling from one core to two (the bound's), the most -n 2 / -n 1 can reach on this machine.
    s["bound_2_over_1"] = bound2 / bound1
    if n1 and "non_gemm_share" in n1[0]:
        s["non_gemm_share_n1"] = n1[0]["non_gemm_share"]
    s["per_round"] = per_round_values(r, best_fc if fc else None, best_pt if pt else None, n1, n2)
    # A setting that lost a round (its run failed) has no round to pair with its neighbours': the ratios it enters
    # rest on one round, so their verdicts are not decided by this run.
    lost = lambda *ms: [m["label"] for m in ms if m is not None and m.get("rounds_lost")]
    if fc:
        s["lost_rounds"] = {k: v for k, v in (
            ("fcnet_over_pytorch", lost(best_fc, best_pt if pt else None)),
            ("best_fcnet_fraction_of_2core_bound", lost(best_fc)), ("non_gemm_share_est", lost(best_fc)),
            ("non_gemm_share_measured", lost(best_fc)),
            ("n2_over_n1", lost(n1[0], n2[0]) if n1 and n2 else [])) if v}
    # How far the two rounds of one setting (or the bound's two measurements) lie apart: on a VM whose host
    # lends the cores to others, the speed changes by more than any in-VM load shows.
    # The settings that the summary's ratios are computed from: the best fcnet setting, -n 1 and -n 2 at one
    # thread, and the bound. Another one (-n 1 x 2 threads, unless it is the best) moving decides nothing.
    used = {id(m) for m in ([best_fc] if fc else []) + n1[:1] + n2[:1]}
    measured = [(m["label"], m, id(m) in used) for m in fc] + \
               [(f"sgemm bound, {k} core(s)", b, True) for k, b in r["bound"].items()]
    spreads = [(max(m["rounds"]) / min(m["rounds"]) - 1, label, m["rounds"], is_used) for label, m, is_used in measured
               if len(m.get("rounds") or []) > 1 and min(m["rounds"]) > 0]
    if spreads:
        v, label, rounds, is_used = max(spreads, key=lambda x: x[0])
        s["round_spread"] = v
        s["round_spread_setting"] = f"{label}: " + " vs ".join(fmt(x) for x in rounds)
        s["round_spread_setting_used"] = is_used
        in_use = [x for x in spreads if x[3]]
        if in_use:
            v, label, rounds, _ = max(in_use, key=lambda x: x[0])
            s["round_spread_used"] = v
            s["round_spread_used_setting"] = f"{label}: " + " vs ".join(fmt(x) for x in rounds)
    s["max_foreign_load"] = max([m.get("foreign_load", 0) for m in rows] +
                                [r["bound"][k]["foreign_load"] for k in r["bound"]])
    r["summary"] = s
    return rows


def targets(results):
    """(text, value, pass, per-round values, decided, settings that lost a round): decided when every round alone
    gives the same verdict as the combined value (no per-round values: decided) and no setting it uses lost a round.
    pass is None for a share of the step estimated below 0 (fcnet faster than the bound: the bound's measurement
    is off), which is no verdict at all."""
    t = []

    def add(name, key, text, at_least, line):
        s = results[name]["summary"]
        if key not in s:
            return
        holds = (lambda x: x >= line) if at_least else (lambda x: x <= line)
        rounds = s.get("per_round", {}).get(key, [])
        lost = s.get("lost_rounds", {}).get(key, [])
        if key == "non_gemm_share_est" and s[key] < 0:
            t.append((text, s[key], None, rounds, False, lost))
            return
        ok = holds(s[key])
        t.append((text, s[key], ok, rounds, all(holds(x) == ok for x in rounds) and not lost, lost))

    for name in ("cs231n", "fmnist"):
        if name in results:
            add(name, "fcnet_over_pytorch", f"{name}: best fcnet / best PyTorch >= 2", True, 2.0)
    if "wide" in results:
        add("wide", "best_fcnet_fraction_of_2core_bound", "wide: best fcnet / 2-core sgemm bound >= 0.85", True, 0.85)
        add("wide", "n2_over_n1", "wide: fcnet -n 2 / -n 1 (1 thread) >= 1.85", True, 1.85)
    if "fmnist" in results:
        add("fmnist", "non_gemm_share_measured",
            "fmnist: non-GEMM share of the step <= 0.15 (measured by --profile, best setting)", False, 0.15)
        add("fmnist", "non_gemm_share_est", "fmnist: non-GEMM share of the step <= 0.15 (est. 1 - fraction of bound)",
            False, 0.15)
    return t


def is_noisy(results):
    """Only what other processes did during the measurements counts: the load average at the start mostly shows the
    build that launch/bench.sh has just run (3.34 in the kept run, whose measurements saw at most 0.02 cores of
    others), and it stays in the report's header."""
    return any(r["summary"]["max_foreign_load"] > NOISE_CORES for r in results.values())


def render(results, info, noisy):
    out = []
    out.append("| config | setting | cores | samples/s | reps (min-max) | fraction of sgemm bound | foreign load |")
    out.append("|---|---|---:|---:|---|---:|---:|")
    for name, r in results.items():
        for m in r["rows"]:
            reps = m.get("reps") or []
            rng = f"{len(reps)} ({fmt(min(reps))}-{fmt(max(reps))})" if reps else "failed"
            if reps and m.get("rounds_lost"):
                rng += f"; {m['rounds_lost']} of {m['rounds_lost'] + len(m.get('rounds') or [])} rounds failed"
            out.append(f"| {name} | {m['label']} | {m['cores']} | {fmt(m.get('samples_per_s'))} | {rng} | "
                       f"{fmt(m['fraction_of_bound'], '.2f')} | {fmt(m.get('foreign_load'), '.2f')} |")
        for k, b in sorted(r["bound"].items()):
            out.append(f"| {name} | sgemm bound, {k} core{'s' if k != '1' else ''} (local batch {b['local_batch']}, "
                       f"{b['gflops']:.0f} GFLOP/s) | {k} | {fmt(b['samples_per_s'])} | | 1.00 | "
                       f"{fmt(b['foreign_load'], '.2f')} |")
    out.append("")
    out.append("| config | best fcnet | best PyTorch | fcnet / PyTorch | best fcnet / 2-core bound | "
               "-n 2 / -n 1 | non-GEMM share (est.) | non-GEMM share (measured) | foreign load (cores, max) |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        s = r["summary"]
        out.append(f"| {name} | {s.get('best_fcnet', 'n/a')}: {fmt(s.get('best_fcnet_samples_per_s'))} | "
                   f"{s.get('best_pytorch', 'n/a')}: {fmt(s.get('best_pytorch_samples_per_s'))} | "
                   f"{fmt(s.get('fcnet_over_pytorch'), '.2f')} | {fmt(s.get('best_fcnet_fraction_of_2core_bound'), '.2f')} | "
                   f"{fmt(s.get('n2_over_n1'), '.2f')} | {fmt(s.get('non_gemm_share_est'), '.2f')} | "
                   f"{fmt(s.get('non_gemm_share_measured'), '.2f')} | "
                   f"{fmt(s['max_foreign_load'], '.2f')} |")
    out.append("")
    out.append("Targets (issue 6):")
    out.append("")
    spread = max(((r["summary"].get("round_spread", 0), name) for name, r in results.items()), default=(0, ""))
    for text, v, ok, rounds, decided, lost in targets(results):
        if ok is None:
            out.append(f"- n/a   {text}: {v:.2f} (below 0: fcnet ran faster than the bound measured in this run, so "
                       "the bound's measurement is off; no verdict)")
            continue
        if decided:
            why = ""
        elif lost:
            why = (f" (not decided by this run: a round of {' and of '.join(lost)} failed, so it rests on one "
                   "round)")
        else:
            alone = " and ".join(format(x, ".2f") for x in rounds)
            why = f" (not decided by this run: its rounds alone give {alone}, on both sides of the line)"
        out.append(f"- {'PASS' if ok else 'FAIL'}  {text}: {v:.2f}{why}")
    # Not a target: the same share without a second rank, i.e. fcnet's own work around BLAS alone.
    v = results.get("fmnist", {}).get("summary", {}).get("non_gemm_share_n1")
    if v is not None:
        out.append(f"- info  fmnist: non-GEMM share at -n 1 x 1 thread (no exchange, no waiting): {v:.2f}")
    # Not a target either: how much of the GEMMs' own scaling -n 2 keeps (a machine whose GEMMs gain less than
    # 1.85x from a second core cannot meet the -n 2 / -n 1 line whatever fcnet does).
    s = results.get("wide", {}).get("summary", {})
    if "n2_over_n1" in s:
        rounds = s.get("per_round", {}).get("bound_2_over_1", [])
        out.append(f"- info  wide: the sgemm bound's own 2-core / 1-core: {s['bound_2_over_1']:.2f}" +
                   (f" (rounds {' and '.join(format(x, '.2f') for x in rounds)})" if rounds else "") +
                   f"; -n 2 / -n 1 keeps {s['n2_over_n1'] / s['bound_2_over_1']:.2f} of it")
    if spread[0] > UNSTABLE_SPREAD:
        s = results[spread[1]]["summary"]
        where = ""
        if not s.get("round_spread_setting_used", True):
            # The widest spread is in a setting no target or summary ratio uses: say so, and how far the used ones moved.
            used = max(((r["summary"].get("round_spread_used", 0), name, r["summary"].get("round_spread_used_setting"))
                        for name, r in results.items() if "round_spread_used" in r["summary"]), default=None)
            where = "; neither the targets nor the summary use that setting" + (
                f", and the settings they use moved by up to {100 * used[0]:.0f}% ({used[1]}, "
                f"{used[2]} samples/s)" if used else "")
        out.append("")
        out.append(f"**UNSTABLE**: the machine's speed changed by up to {100 * spread[0]:.0f}% between two rounds of one "
                   f"setting ({spread[1]}, {s['round_spread_setting']} samples/s{where}). Each target is "
                   "also worked out from each round alone (round k of every setting against the bound's k-th "
                   "measurement, its neighbours in time); one whose rounds give different verdicts is not decided "
                   "by this run. Where the foreign load stays near 0, "
                   "the host took the time (other guests on the same cores), not a process of this machine.")
    if noisy:
        out.append("")
        out.append(f"**NOISY**: other processes used up to {max(r['summary']['max_foreign_load'] for r in results.values()):.2f} "
                   f"cores during the measurements (load average at start {info['loadavg_at_start'][0]:.2f}); "
                   "the numbers are not a clean measurement.")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fcnet", required=True, help="path of fcnet_dist")
    ap.add_argument("--sgemm-bound", required=True, help="path of the sgemm_bound driver")
    ap.add_argument("--synth", default="", help="path of fcnet_synth (optional; else h5py)")
    ap.add_argument("--work", required=True, help="scratch directory: datasets, logs, run outputs")
    ap.add_argument("--out", required=True, help="results directory (bench.md, bench.json)")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of timed steps")
    ap.add_argument("--torch-reps", type=int, default=4, help="timed blocks per PyTorch run (two runs per setting)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each measurement wait up to S seconds for other processes to leave the CPU idle")
    args = ap.parse_args()
    if not 0 < args.scale < float("inf"):
        ap.error(f"--scale: {args.scale} is not a positive finite number")
    if not 0 <= args.wait_quiet < float("inf"):
        ap.error(f"--wait-quiet: {args.wait_quiet} is not a finite number of seconds >= 0")
    if args.torch_reps < 1:
        ap.error(f"--torch-reps: {args.torch_reps} is not a positive number of timed blocks")
    # Checked before minutes of measuring, not after: a misspelled configuration, an unwritable output folder.
    unknown = [c for c in args.configs.split(",") if c not in CONFIGS]
    if unknown:
        ap.error(f"--configs: unknown configuration {', '.join(map(repr, unknown))} (known: {', '.join(CONFIGS)})")

    for folder in [os.path.join(args.work, d) for d in ("data", "logs", "runs")] + [args.out]:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            sys.exit(f"run_bench.py: cannot create the folder {folder}: {e.strerror}")
        if not os.access(folder, os.W_OK | os.X_OK):
            sys.exit(f"run_bench.py: the folder {folder} is not writable")
    info = machine_info(args.fcnet)
    helptext = sh(f"{args.fcnet} --help")
    profile = "--profile" in helptext
    info["fcnet_profile"] = profile
    meter = CpuMeter(args.wait_quiet)
    log(f"== machine: {info['cpu']}, {info['nproc']} cores, OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}, "
        f"load average {info['loadavg_at_start']}")
    results = {}
    t_start = time.monotonic()
    for name in args.configs.split(","):
        cfg = dict(CONFIGS[name])
        cfg["min_window"] = MIN_WINDOW
        cfg["steps"] = max(int(cfg["steps"] * args.scale), cfg["warmup"] + 3 * cfg["rep"])
        dims = [cfg["D"]] + cfg["hidden"] + [cfg["C"]]
        log(f"== {name}: {' -> '.join(map(str, dims))}, batchnorm, keep {cfg['keep']}, adam, global batch {cfg['B']}")
        data = os.path.join(args.work, "data", f"{name}-{cfg['spe'] * cfg['B']}x{cfg['D']}.h5")
        how = make_dataset(data, cfg["spe"] * cfg["B"], cfg["D"], cfg["C"], args.synth)
        log(f"   data {data} ({how})")
        r = {"config": {k: v for k, v in cfg.items()}, "dims": dims, "data": data, "bound": {}, "fcnet": [],
             "torch": []}
        # This machine's speed drifts over minutes, so the settings are measured in an A-B-C-C-B-A order: the
        # bound, every fcnet setting, every PyTorch setting, the same settings in reverse order, the bound again;
        # each setting's (and the bound's) mean moment in time is then the same, and a linear drift cancels out of
        # the ratios. PyTorch was measured once, after the rest, until 2026-12-06: its ratio's rounds were fcnet's
        # alone.
        bounds = {1: [], 2: []}
        runs = {s[0]: [] for s in FCNET_SETTINGS}
        torch_runs = {s[0]: [] for s in TORCH_SETTINGS}

        def bound_round(round_no):
            for ranks in (1, 2):
                b = measure_bound(args.sgemm_bound, cfg, name, ranks, args.work, meter, round_no)
                bounds[ranks].append(b)
                log(f"   sgemm bound {ranks} core(s), local batch {b['local_batch']}: {b['samples_per_s']:.0f} "
                    f"samples/s ({b['gflops']:.0f} GFLOP/s, core {b['corename']})")

        def fcnet_round(round_no, order):
            for label, ranks, threads, _ in order:
                m = measure_fcnet(args.fcnet, cfg, name, label, ranks, threads, data, args.work, profile, meter,
                                  round_no)
                runs[label].append(m)
                log(f"   {label:28s} {fmt(m.get('samples_per_s')):>8s} samples/s  ({m.get('method', 'failed')}, "
                    f"{len(m.get('reps', []))} reps, foreign load {m['foreign_load']:.2f}; round {round_no})")

        def torch_round(round_no, order):
            for label, mode, threads, procs, _, omp_wait in [] if args.no_torch else order:
                m = measure_torch(cfg, name, label, mode, threads, procs, args.work, args.torch_reps, meter,
                                  omp_wait, round_no)
                torch_runs[label].append(m)
                log(f"   {label:28s} {fmt(m.get('samples_per_s')):>8s} samples/s  (foreign load "
                    f"{m['foreign_load']:.2f}; round {round_no})")

        bound_round(1)
        fcnet_round(1, FCNET_SETTINGS)
        torch_round(1, TORCH_SETTINGS)
        torch_round(2, TORCH_SETTINGS[::-1])
        fcnet_round(2, FCNET_SETTINGS[::-1])
        bound_round(2)
        for ranks in (1, 2):
            r["bound"][str(ranks)] = combine_bounds(bounds[ranks], cfg["B"])
        r["fcnet"] = [combine_rounds(runs[s[0]]) for s in FCNET_SETTINGS]
        r["torch"] = [combine_rounds(torch_runs[s[0]]) for s in TORCH_SETTINGS if torch_runs[s[0]]]
        r["rows"] = summarise(name, r)
        results[name] = r
    with open("/proc/loadavg") as f:
        info["loadavg_at_end"] = [float(x) for x in f.read().split()[:3]]
    info["openblas_core"] = next(iter(results.values()))["bound"]["1"]["corename"] if results else ""
    tv = [m.get("torch") for r in results.values() for m in r["torch"] if m.get("torch")]
    info["torch"] = tv[0] if tv else "n/a"
    info["openblas_config"] = sh(f"{args.sgemm_bound} --dims 1,1 --batch 1 --min-time 0.001 --trials 1 "
                                 "| sed -n 's/.*config: //p'")
    info["bench_seconds"] = time.monotonic() - t_start
    noisy = is_noisy(results)
    info["noisy"] = noisy
    table = render(results, info, noisy)
    header = [
        "# fcnet training throughput vs PyTorch and the sgemm bound",
        "",
        f"Generated by `launch/bench.sh` on {info['date']} ({info['bench_seconds']:.0f} s).",
        "",
        f"- CPU: {info['cpu']}, {info['nproc']} cores; kernel {info['kernel']}",
        f"- OpenBLAS core: {info['openblas_core']} (OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}), same library and "
        f"setting for fcnet, PyTorch and the bound ({info['openblas_config']})",
        f"- {info['gcc']}; {info['openmpi']}; PyTorch {info['torch']} (CPU); Python {info['python']}",
        f"- fcnet {info['git']}; --profile {'used' if profile else 'not available'}",
        f"- load average at start {info['loadavg_at_start']}, at end {info['loadavg_at_end']}",
        "",
        "samples/s = training steps at steady state x global batch / seconds, median over repetitions (fcnet: "
        "windows between progress reports, never across an epoch end; PyTorch: timed blocks of steps after warm-up; "
        "each setting's rate the mean of its two runs'). Order within a configuration: bound, fcnet settings, "
        "PyTorch settings, the "
        "PyTorch and fcnet settings again in reverse, bound again (A-B-C-C-B-A), so that a drift of this machine's "
        "speed cancels out of the ratios; the bound is the mean of its two measurements. "
        "The sgemm bound is global batch / (time of the step's GEMMs at the local batch, measured here with "
        "cblas_sgemm, 1 thread; 2 cores = two concurrent copies at half the batch). Fractions compare each "
        "setting with the bound for the cores it uses; the bound runs on warm caches, so 1 - fraction is an upper "
        "estimate of the share of the step that is not GEMM. Foreign load: CPU (in cores) used by other processes "
        "during that measurement. PyTorch DDP normalises per process (no SyncBatchNorm on CPU).",
        "",
        "",
    ]
    text = "\n".join(header) + table + "\n"
    profiles = [(name, m) for name, r in results.items() for m in r["fcnet"] if m.get("profile")]
    if profiles:
        text += ("\n## fcnet --profile\n\nWhat rank 0 printed at the end of each run; the phases (warm-up steps "
                 "included) imply the rate in brackets, a cross-check of the measured one.\n")
        for name, m in profiles:
            text += (f"\n{name}, {m['label']}: measured {fmt(m.get('samples_per_s'))} samples/s "
                     f"[profile: {fmt(m.get('profile_samples_per_s'))}]\n\n```\n{m['profile']}\n```\n")
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump({"machine": info, "results": results,
                   "targets": [{"target": t, "value": v, "pass": ok, "rounds": rounds, "decided": decided,
                                "rounds_lost_in": lost}
                               for t, v, ok, rounds, decided, lost in targets(results)]},
                  f, indent=1, default=str)
    log("")
    log(table)
    log(f"\nwritten: {os.path.join(args.out, 'bench.md')}, {os.path.join(args.out, 'bench.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
