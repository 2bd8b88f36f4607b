#!/usr/bin/python3
"""cs231n's fully-connected-net experiments reproduced with fcnet on Fashion-MNIST.

usage: results/experiments.py [--only NAME,...] [--force] [--ranks N] [--list]

Experiments (cs231n assignment 2 notebooks, scaled to a 2-core machine):
  batchnorm     (a) batchnorm vs none, 3-layer and 9-layer nets: loss and accuracy curves
  optimizers    (b) sgd, sgd_momentum, rmsprop, adam on a 6-layer net
  weight_scale  (c) weight-initialisation scale sensitivity with and without batchnorm
  dropout       (d) dropout keep ratios on an overfitting 1-hidden-layer net
  ranks         (e) the same run on -n 1, 2 and 4, overlaid (rank-count independence)
  full          (not run by default) the quickstart and the >= 0.90 configurations on the full
                dataset, seeds 0, 1, 2: results/full.png and the accuracy table

Every run trains with fcnet_dist under mpirun (launch/local.sh) into runs/results/<experiment>/<run>/
and each plot is drawn from the runs' checkpoints (/history/*) with h5py + matplotlib (Agg).
A run whose checkpoint is finished and whose command line (and --config file's content) is unchanged is
reused, so a second invocation only redraws (--force retrains). Outputs: results/<experiment>.png, results/summary.csv
and the tables between the <!-- table:NAME --> markers of results/README.md.
Prerequisites (results/run.sh does all of them): a build with fcnet_dist (FCNET_BUILD_DIR, default
build/) and datasets/fashion-mnist.h5; the training subsets are cut from it here with h5py.
"""
import argparse
import csv
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np

sys.dont_write_bytecode = True  # --list writes nothing, not even results/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whole_file import write_whole  # noqa: E402


def import_training_modules():
    """h5py and matplotlib (through plot_history), imported only to train and plot: --list and a refused argument
    need neither (nor write matplotlib's font cache)."""
    global h5py, plot_history, load_history, plot_runs, plt, smooth
    import h5py
    import plot_history
    from plot_history import load_history, plot_runs, plt, smooth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "results")
RUNS = os.path.join(ROOT, "runs", "results")
FULL = os.path.join(ROOT, "datasets", "fashion-mnist.h5")
ARGS = argparse.Namespace(list=False, ranks=2, force=False, only=None)  # main() sets the real ones
LOCAL = os.path.join(ROOT, "launch", "local.sh")


# ----------------------------------------------------------------------------------------------
# Data: subsets of Fashion-MNIST (first n_train training rows, first n_val validation rows, the
# whole test split), written once with h5py in fcnet's dataset format (DESIGN §2).

def subset(n_train, n_val=1000):
    path = os.path.join(RUNS, "data", f"fashion-mnist-{n_train}-{n_val}.h5")
    if os.path.exists(path) or ARGS.list:  # --list names the subsets, it does not cut them
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    try:
        with h5py.File(FULL, "r") as src, h5py.File(tmp, "w") as dst:
            dst.attrs["num_classes"] = src.attrs.get("num_classes", 10)
            dst.attrs["source"] = f"results/experiments.py: {n_train} train, {n_val} val rows of {FULL}"
            for split, n in (("train", n_train), ("val", n_val), ("test", None)):
                for key in ("x", "y"):
                    dst.create_dataset(f"{split}/{key}", data=src[split][key][:n])
        os.replace(tmp, path)
    except (OSError, KeyError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        sys.exit(f"experiments.py: {FULL}: cannot cut the {n_train}-row subset ({' '.join(str(e).split())})")
    return path


# ----------------------------------------------------------------------------------------------
# Runs

class Run:
    def __init__(self, exp, name, args, data, ranks=None, label=None, **meta):
        self.exp, self.name, self.args, self.data = exp, name, list(args), data
        self.ranks, self.label, self.meta = ranks, label or name, meta
        self.dir = os.path.join(RUNS, exp, name)
        self.ckpt = os.path.join(self.dir, "checkpoint.h5")
        self.test_acc = self.best_test_acc = self.wall = self.train_s = self.load = None
        self.diverged = False

    def command(self, ranks):
        return [LOCAL, "--data", self.data, "--out", self.dir, "--print-every", "1000000"] + \
            [str(a) for a in self.args], ranks

    def finished(self):
        try:
            with h5py.File(self.ckpt, "r") as f:
                return int(f.attrs.get("finished", 0)) == 1
        except OSError:
            return False

    def execute(self, default_ranks, force):
        cmd, ranks = self.command(self.ranks or default_ranks)
        key = {"cmd": [os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd], "ranks": ranks}
        # A --config file is part of the command: an edited one retrains (its name alone did not change).
        configs = [self.args[i + 1] for i, a in enumerate(self.args[:-1]) if a == "--config"]
        if configs:
            key["config_sha256"] = [config_sha256(c, f"{self.exp}/{self.name}") for c in configs]
        key = json.dumps(key)
        info_path = os.path.join(self.dir, "run.json")
        info = None
        if not force:
            try:  # a missing or damaged run.json (cut short by a full disk, say): the run is trained again
                with open(info_path) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                info = None
        if isinstance(info, dict):
            if info.get("key") == key and (info.get("diverged") or self.finished()):
                self.test_acc, self.best_test_acc, self.wall = info["test_acc"], info["best_test_acc"], info["wall"]
                self.train_s, self.load = info.get("train_s"), info.get("load")
                self.diverged = info.get("diverged", False)
                return False
        if os.path.isdir(self.dir):
            paths = [os.path.join(self.dir, name) for name in os.listdir(self.dir)]
            # A run leaves files only: a folder someone put there is theirs, not deleted (nor anything beside it).
            for path in paths:
                if os.path.isdir(path) and not os.path.islink(path):
                    sys.exit(f"experiments.py: {path}: a folder inside the run's folder, which holds files only; "
                             "move it away to train the run again")
            for path in paths:
                os.remove(path)
        os.makedirs(self.dir, exist_ok=True)
        env = dict(os.environ, FCNET_RANKS=str(ranks))
        print(f"  {self.exp}/{self.name}: -n {ranks} {' '.join(shlex.quote(str(a)) for a in self.args)}",
              flush=True)
        self.load = os.getloadavg()[0]
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except KeyboardInterrupt:  # the ranks got the Ctrl-C too; the run has no run.json, so it is retrained
            sys.exit(f"experiments.py: interrupted during {self.exp}/{self.name}; it is trained again next time")
        self.wall = time.monotonic() - t0
        # The progress bar redraws with \r; keep the log to the finished lines.
        log = "\n".join(line.split("\r")[-1] for line in proc.stdout.splitlines())
        with open(os.path.join(self.dir, "train.log"), "w") as f:
            f.write(log + "\n")
        # Exit status 3: the loss or the gradients became NaN/Inf (a blow-up is a result here, e.g. a
        # huge weight scale); the checkpoint of the last epoch end, if any, is kept.
        self.diverged = proc.returncode == 3
        if proc.returncode != 0 and not self.diverged:
            sys.exit(f"experiments.py: {self.exp}/{self.name} failed (exit {proc.returncode}); "
                     f"see {self.dir}/train.log:\n{log[-2000:]}")
        m = re.search(r"test accuracy: ([0-9.]+) \(final parameters\)(?:, ([0-9.]+) \(best)?", log)
        self.test_acc = float(m.group(1)) if m else None
        self.best_test_acc = float(m.group(2)) if m and m.group(2) else self.test_acc
        # Training time as the trainer reports it at the last epoch end (no start-up, no test pass).
        done = re.findall(r"epoch \d+ done: step \d+, ([0-9.]+) s elapsed", log)
        self.train_s = float(done[-1]) if done else None
        with open(info_path + ".tmp", "w") as f:  # written whole, then renamed: never a torn run.json
            json.dump({"key": key, "test_acc": self.test_acc, "best_test_acc": self.best_test_acc,
                       "wall": self.wall, "diverged": self.diverged, "train_s": self.train_s,
                       "load": self.load}, f)
        os.replace(info_path + ".tmp", info_path)
        print(f"    {'DIVERGED' if self.diverged else 'test acc'} {self.test_acc}  ({self.wall:.1f} s)", flush=True)
        return True

    def history(self):
        """The checkpoint's histories; for a run that diverged before its first checkpoint, empty ones
        holding only the step-0 check (chance level) so plots and tables can mark it."""
        if os.path.exists(self.ckpt):
            return load_history(self.ckpt)
        return {"loss": np.array([np.nan]), "train_acc": np.array([np.nan]), "val_acc": np.array([np.nan]),
                "check_step": np.array([0]), "steps_per_epoch": None, "best_val_acc": None}

    def row(self):
        h = self.history()
        return {"experiment": self.exp, "run": self.name, "ranks": self.ranks or ARGS.ranks,
                "args": " ".join(str(a) for a in self.args), "data": os.path.basename(self.data),
                "final_loss": final_loss(h),
                "final_train_acc": float(h["train_acc"][-1]), "final_val_acc": float(h["val_acc"][-1]),
                "best_val_acc": float(np.max(h["val_acc"])), "test_acc": self.test_acc,
                "diverged": self.diverged, "best_test_acc": self.best_test_acc, "train_s": self.train_s,
                "load": round(self.load, 1) if self.load is not None else None,
                "wall_s": round(self.wall, 1) if self.wall is not None else None, **self.meta}


def config_sha256(path, run):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        sys.exit(f"experiments.py: {run}: --config {path}: cannot read it ({e.strerror or e})")


def write_text_whole(path, write):
    """write(file) on a text file that whole_file.write_whole puts in place: a failed write (a full disk) leaves
    the old file whole, never a torn one, and no .tmp behind; one line and exit 1."""
    def write_text(name):
        with open(name, "w", newline="") as f:
            write(f)

    try:
        write_whole(path, write_text)
    except OSError as e:
        sys.exit(f"experiments.py: {path}: cannot write it ({e.strerror or e}); the previous one is kept")


def final_loss(h):
    """Mean training loss over the last 5% of the steps (per-step losses are noisy)."""
    return float(np.mean(h["loss"][-max(1, len(h["loss"]) // 20):]))


def adam_common(epochs, batch, lr=1e-3):
    return ["--optim", "adam", "--lr", lr, "--epochs", epochs, "--batch-size", batch]


# ----------------------------------------------------------------------------------------------
# (a) batchnorm vs none, 3-layer and 9-layer nets (cs231n BatchNormalization.ipynb: adam, lr 1e-3,
# weight scale 2e-2, the same initialisation for both).

def exp_batchnorm():
    data = subset(5000)
    runs = []
    for depth, hidden in (("3-layer", "100,100"), ("9-layer", ",".join(["100"] * 8))):
        for norm in ("none", "batchnorm"):
            runs.append(Run("batchnorm", f"{depth}-{norm}",
                            ["--hidden", hidden, "--norm", norm, "--weight-scale", 2e-2] + adam_common(10, 100),
                            data, label="baseline" if norm == "none" else "batchnorm", depth=depth, norm=norm))
    return runs


def plot_batchnorm(runs):
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for row, depth in enumerate(("3-layer", "9-layer")):
        for run in (r for r in runs if r.meta["depth"] == depth):
            h = run.history()
            style = dict(color="C1" if run.meta["norm"] == "batchnorm" else "C0", label=run.label)
            axes[row, 0].plot(h["loss"], alpha=0.15, color=style["color"], linewidth=0.6)
            axes[row, 0].plot(smooth(h["loss"], 10), **style)
            ep = plot_history.epochs_of(h)
            axes[row, 1].plot(ep, h["train_acc"], "-o", markersize=3, **style)
            axes[row, 2].plot(ep, h["val_acc"], "-o", markersize=3, **style)
        axes[row, 0].set_title(f"{depth} net: training loss")
        axes[row, 0].set_xlabel("Iteration")
        axes[row, 1].set_title(f"{depth} net: training accuracy")
        axes[row, 2].set_title(f"{depth} net: validation accuracy")
        for ax in axes[row, 1:]:
            ax.set_xlabel("Epoch")
            ax.set_ylim(0, 1)
        for ax in axes[row]:
            ax.grid(True, alpha=0.3)
            ax.legend(loc="best", fontsize=9)
    fig.suptitle("Batch normalization vs none (Fashion-MNIST, 5000 training rows, adam lr 1e-3, "
                 "weight scale 2e-2, hidden width 100)")
    fig.tight_layout()
    plot_history.save(fig, os.path.join(RESULTS, "batchnorm.png"))


# ----------------------------------------------------------------------------------------------
# (b) update rules on a 6-layer net (cs231n FullyConnectedNets.ipynb: 4000 rows, 5 epochs, batch 100,
# weight scale 5e-2; lr sgd 1e-2, sgd_momentum 1e-2, rmsprop 1e-4, adam 1e-3).

def exp_optimizers():
    data = subset(5000)
    lrs = {"sgd": 1e-2, "sgd_momentum": 1e-2, "rmsprop": 1e-4, "adam": 1e-3}
    runs = []
    # cs231n's weight scale 5e-2 was chosen for raw CIFAR-10 pixels (std ~60); on inputs scaled to
    # [0, 1] the 6-layer net starts with vanishing activations. The second row uses He initialisation.
    for init, init_args in (("scale", ["--weight-scale", 5e-2]), ("he", ["--init", "he"])):
        for opt, lr in lrs.items():
            runs.append(Run("optimizers", f"{init}-{opt}", ["--hidden", "100,100,100,100,100"] + init_args +
                            ["--optim", opt, "--lr", lr, "--epochs", 10, "--batch-size", 100],
                            data, label=f"{opt} (lr {lr:g})", optim=opt, init=init))
    return runs


def plot_optimizers(runs):
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for row, (init, what) in enumerate((("scale", "weight scale 5e-2 (cs231n): "), ("he", "He init: "))):
        plot_history.draw_runs(axes[row], [(r.label, r.history()) for r in runs if r.meta["init"] == init],
                               smooth_window=10, prefix=what, acc_ylim=(0, 1))
    fig.suptitle("Update rules on a 6-layer net [100 x 5], no normalisation (Fashion-MNIST, 5000 training rows, "
                 "batch 100, 10 epochs)")
    fig.tight_layout()
    plot_history.save(fig, os.path.join(RESULTS, "optimizers.png"))


# ----------------------------------------------------------------------------------------------
# (c) weight-scale sensitivity (cs231n BatchNormalization.ipynb: 8-layer net of width 50, 1000 rows,
# adam 1e-3, batch 50, 20 scales in logspace(-4, 0); here 2000 rows).

SCALES = np.logspace(-4, 0, num=20)


def exp_weight_scale():
    data = subset(2000)
    runs = []
    for norm in ("none", "batchnorm"):
        for i, s in enumerate(SCALES):
            runs.append(Run("weight_scale", f"{norm}-{i:02d}",
                            ["--hidden", ",".join(["50"] * 7), "--norm", norm, "--weight-scale", f"{s:.4g}"]
                            + adam_common(10, 50), data, norm=norm, scale=float(f"{s:.4g}")))
    return runs


def plot_weight_scale(runs):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for norm, color, label in (("none", "C0", "baseline"), ("batchnorm", "C1", "batchnorm")):
        sel = [r for r in runs if r.meta["norm"] == norm]
        xs = [r.meta["scale"] for r in sel]
        hs = [r.history() for r in sel]
        axes[0].semilogx(xs, [np.nanmax(h["val_acc"]) for h in hs], "-o", color=color, label=label)
        axes[1].semilogx(xs, [np.nanmax(h["train_acc"]) for h in hs], "-o", color=color, label=label)
        axes[2].semilogx(xs, [final_loss(h) for h in hs], "-o", color=color, label=label)
        bad = [x for x, r in zip(xs, sel) if r.diverged]
        if bad:
            axes[2].semilogx(bad, [1.0] * len(bad), "x", color=color, markersize=10,
                             label=f"{label}: diverged (NaN)")
    axes[0].set_title("Best validation accuracy vs weight scale")
    axes[1].set_title("Best training accuracy vs weight scale")
    axes[2].set_title("Final training loss vs weight scale")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("Weight initialisation scale")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    axes[0].set_ylim(0, 1)
    axes[1].set_ylim(0, 1)
    fig.suptitle("Weight-scale sensitivity, 8-layer net [50 x 7] (Fashion-MNIST, 2000 training rows, adam lr 1e-3, "
                 "10 epochs)")
    fig.tight_layout()
    plot_history.save(fig, os.path.join(RESULTS, "weight_scale.png"))


# ----------------------------------------------------------------------------------------------
# (d) dropout (cs231n Dropout.ipynb: one hidden layer of 500, 500 rows, adam 5e-4, 25 epochs,
# batch 100, keep 1 vs 0.25; here also 0.75 and 0.5).

def exp_dropout():
    data = subset(500)
    return [Run("dropout", f"keep-{k:g}", ["--hidden", "500", "--keep", k, "--weight-scale", 5e-2]
                + adam_common(25, 100, lr=5e-4), data, label=f"keep {k:g}", keep=k) for k in (1, 0.75, 0.5, 0.25)]


def plot_dropout(runs):
    plot_runs([(r.label, r.history()) for r in runs], os.path.join(RESULTS, "dropout.png"),
              title="Dropout keep ratio, 1 hidden layer of 500 (Fashion-MNIST, 500 training rows, adam lr 5e-4, "
                    "batch 100)", smooth_window=5, loss_log=True, acc_ylim=(0.5, 1.0))


# ----------------------------------------------------------------------------------------------
# (e) rank-count independence: the same run (batchnorm synchronised over the global batch, dropout
# masks keyed by sample, not rank) on -n 1, 2 and 4.

def exp_ranks():
    data = subset(5000)
    args = ["--hidden", "256,128", "--norm", "batchnorm", "--keep", 0.9] + adam_common(5, 128)
    return [Run("ranks", f"n{n}", args, data, ranks=n, label=f"-n {n}") for n in (1, 2, 4)]


def plot_ranks(runs):
    hs = [(r.label, r.history()) for r in runs]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    styles = [dict(linewidth=4, alpha=0.5), dict(linewidth=2, linestyle="--"), dict(linewidth=1, linestyle=":",
                                                                                       color="k")]
    base = hs[0][1]
    for (label, h), st in zip(hs, styles):
        axes[0].plot(h["loss"], label=label, **st)
        axes[1].plot(plot_history.epochs_of(h), h["val_acc"], marker="o", markersize=3, label=label, **st)
        if h is not base:
            diff = np.abs(h["loss"].astype(np.float64) - base["loss"])
            axes[2].semilogy(np.maximum(diff, 1e-9), label=f"{label} vs {hs[0][0]}",
                             **{k: v for k, v in st.items() if k != "linewidth"})
    axes[0].set_title("Training loss (overlaid)")
    axes[0].set_xlabel("Iteration")
    axes[1].set_title("Validation accuracy (overlaid)")
    axes[1].set_xlabel("Epoch")
    axes[2].set_title("|loss(-n N) - loss(-n 1)| per step (floored at 1e-9)")
    axes[2].set_xlabel("Iteration")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    fig.suptitle("Same run on 1, 2 and 4 ranks: [256, 128] batchnorm, dropout keep 0.9, adam, global batch 128 "
                 "(Fashion-MNIST, 5000 training rows)")
    fig.tight_layout()
    plot_history.save(fig, os.path.join(RESULTS, "ranks.png"))


# ----------------------------------------------------------------------------------------------
# Full dataset (not part of the default set: ~75 s on 2 idle cores): the quickstart
# configuration and the >= 0.90 one, three seeds each.

CONFIGS = os.path.join(RESULTS, "configs")


def exp_full():
    runs = []
    for config in ("quickstart", "fashion-mnist-0.90"):
        for seed in (0, 1, 2):
            runs.append(Run("full", f"{config}-seed{seed}", ["--config", os.path.join(CONFIGS, config + ".ini"),
                                                            "--seed", seed], FULL, config=config, seed=seed))
    return runs


def plot_full(runs):
    plot_runs([(f"{r.meta['config']} seed {r.meta['seed']}", r.history()) for r in runs],
              os.path.join(RESULTS, "full.png"), acc_ylim=(0.8, 1.0),
              title="Full Fashion-MNIST (55 000 training rows): results/configs/quickstart.ini (10 epochs) and "
                    "fashion-mnist-0.90.ini (20 epochs), 2 ranks")


EXPERIMENTS = {
    "batchnorm": (exp_batchnorm, plot_batchnorm),
    "optimizers": (exp_optimizers, plot_optimizers),
    "weight_scale": (exp_weight_scale, plot_weight_scale),
    "dropout": (exp_dropout, plot_dropout),
    "ranks": (exp_ranks, plot_ranks),
    "full": (exp_full, plot_full),
}
DEFAULT = ["batchnorm", "optimizers", "weight_scale", "dropout", "ranks"]


# ----------------------------------------------------------------------------------------------
# Tables: markdown between <!-- table:NAME --> and <!-- /table:NAME --> in results/README.md.

def fmt(x, digits=4):
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def table(name, rows):
    if name == "full":
        out = ["| configuration | seed | final val acc | test acc | test acc (best-val params) | training (s) | "
               "wall (s) | load avg |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            out.append(f"| `results/configs/{r['config']}.ini` | {r['seed']} | {fmt(r['final_val_acc'])} | "
                       f"{fmt(r['test_acc'])} | {fmt(r['best_test_acc'])} | {r['train_s']} | {r['wall_s']} | "
                       f"{r['load']} |")
        return "\n".join(out)
    if name == "weight_scale":
        out = ["| weight scale | best val acc (none) | best val acc (batchnorm) | final loss (none) | "
               "final loss (batchnorm) |", "|---:|---:|---:|---:|---:|"]
        by = {(r["norm"], r["scale"]): r for r in rows}
        for s in sorted({r["scale"] for r in rows}):
            a, b = by[("none", s)], by[("batchnorm", s)]
            cells = [fmt(r["best_val_acc"]) + (" (diverged)" if r["diverged"] else "") for r in (a, b)]
            out.append(f"| {s:.4g} | {cells[0]} | {cells[1]} | {fmt(a['final_loss'], 3)} | {fmt(b['final_loss'], 3)} |")
        return "\n".join(out)
    out = ["| run | final loss | final train acc | final val acc | best val acc | test acc | wall (s) | load avg |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        label = f"{r['run']} (-n {r['ranks']})" if name == "ranks" else r["run"]
        if r["diverged"]:
            label += " (diverged)"
        out.append(f"| {label} | {fmt(r['final_loss'], 3)} | {fmt(r['final_train_acc'])} | "
                   f"{fmt(r['final_val_acc'])} | {fmt(r['best_val_acc'])} | {fmt(r['test_acc'])} | "
                   f"{r['wall_s']} | {'' if r['load'] is None else r['load']} |")
    return "\n".join(out)


def update_readme(tables):
    path = os.path.join(RESULTS, "README.md")
    if not os.path.exists(path):
        return
    with open(path) as f:
        text = f.read()
    for name, body in tables.items():
        pattern = re.compile(rf"(<!-- table:{name} -->\n).*?(<!-- /table:{name} -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    write_text_whole(path, lambda f: f.write(text))


def read_other_rows(path, names):
    """The rows of summary.csv for the experiments not rerun this time, which the new file keeps."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if "experiment" not in (reader.fieldnames or []):
                sys.exit(f"experiments.py: {path}: no 'experiment' column in its first line, so not a summary this "
                         "script wrote; move it away (its rows would be lost) and run again")
            return [r for r in reader if r["experiment"] not in names]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        sys.exit(f"experiments.py: {path}: cannot read it ({getattr(e, 'strerror', None) or e}); move it away and "
                 "run again")


def positive_int(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of ranks >= 1")
    return n


def main(argv):
    global ARGS
    # A reader that stops early (--list | head) ends this script quietly, as it does ls, not in a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--only", help="comma-separated experiments (default: all)")
    parser.add_argument("--force", action="store_true", help="retrain runs that are already finished")
    parser.add_argument("--ranks", type=positive_int, default=os.environ.get("FCNET_RANKS", "2"),
                        help="ranks for every run except the ranks experiment (default: $FCNET_RANKS or 2)")
    parser.add_argument("--list", action="store_true", help="list the experiments and their runs, then exit")
    ARGS = parser.parse_args(argv)
    names = list(dict.fromkeys(ARGS.only.split(","))) if ARGS.only is not None else DEFAULT
    for n in names:
        if n not in EXPERIMENTS:  # a usage error: exit 2 as argparse's own, in one line
            print(f"experiments.py: --only: unknown experiment {n!r} (known: {', '.join(EXPERIMENTS)})",
                  file=sys.stderr)
            return 2
    if not ARGS.list:
        try:
            import_training_modules()
        except ImportError as e:
            sys.exit(f"experiments.py: {e}: install python3-h5py and python3-matplotlib (results/run.sh does)")
    if not ARGS.list and not os.path.exists(FULL):
        sys.exit(f"experiments.py: {FULL} missing: run datasets/fashion-mnist.sh first")
    summary = os.path.join(RESULTS, "summary.csv")
    if not ARGS.list:
        read_other_rows(summary, names)  # a damaged file stops it now, not after the runs
    all_rows, tables = [], {}
    t0 = time.monotonic()
    trained, listing = [], []
    for n in names:
        make, plot = EXPERIMENTS[n]
        runs = make()
        if ARGS.list:
            listing += [f"{n}/{r.name}: -n {r.ranks or ARGS.ranks} {' '.join(str(a) for a in r.args)}" for r in runs]
            continue
        print(f"== {n} ({len(runs)} runs)", flush=True)
        for r in runs:
            r.execute(ARGS.ranks, ARGS.force)
        trained.append((n, plot, runs))
    if ARGS.list:
        try:
            sys.stdout.write("".join(line + "\n" for line in listing))
            sys.stdout.flush()
        except OSError as e:  # a full disk behind stdout: one line, not a traceback (a closed pipe ends by SIGPIPE)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush would fail again
            print(f"experiments.py: --list: cannot write to standard output ({e.strerror or e})", file=sys.stderr)
            return 1
        return 0
    # Drawn once every run has trained: a run that fails part-way leaves every plot, table and summary.csv as it
    # was, not the plots of the experiments before it redrawn beside the old tables (helper-169).
    for n, plot, runs in trained:
        try:
            plot(runs)
        except OSError as e:
            sys.exit(f"experiments.py: results/{n}.png: cannot write it ({e.strerror or e}); the previous one is kept")
        rows = [r.row() for r in runs]
        tables[n] = table(n, rows)
        all_rows += rows
        print(f"   wrote results/{n}.png", flush=True)
    keys = ["experiment", "run", "ranks", "final_loss", "final_train_acc", "final_val_acc", "best_val_acc",
            "test_acc", "diverged", "train_s", "wall_s", "load", "data", "args"]
    # Read again, now: the runs took hours, and rows another invocation wrote meanwhile (other experiments) stay.
    old = read_other_rows(summary, names)
    order = list(EXPERIMENTS)  # the experiments' own order, however they were (re)run
    rank = {name: i for i, name in enumerate(order)}

    def write_summary(f):
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in sorted(old + all_rows, key=lambda r: rank.get(r["experiment"], len(order))):
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) and k != "wall_s" else v) for k, v in r.items()
                        if k in keys})

    write_text_whole(summary, write_summary)
    update_readme(tables)
    print(f"done in {time.monotonic() - t0:.0f} s: results/*.png, results/summary.csv, results/README.md tables")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
