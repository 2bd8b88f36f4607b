#!/usr/bin/python3
"""Plot the training histories stored in fcnet checkpoints (cs231n Solver style).

usage: results/plot_history.py [--out PNG] [--title TEXT] [LABEL=]CHECKPOINT...

Reads /history/loss (per step), /history/train_acc, /history/val_acc and /history/check_step
(one entry at step 0 and at every epoch end) from each checkpoint with h5py and draws the
training loss over iterations and the train/val accuracy over epochs in one PNG (matplotlib's
Agg backend: no display needed). Several checkpoints are overlaid, one colour each.
Needs Debian's python3-h5py and python3-matplotlib; run it with /usr/bin/python3.
Exit status: 0 plot written (its path printed), 2 a checkpoint it cannot read or an --out extension
matplotlib has no format for, 1 an --out it cannot write; each failure is one line on stderr.
"""
import argparse
import os
import shutil
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whole_file import write_whole  # noqa: E402


def load_history(path):
    """Returns a dict of the checkpoint's histories and the attributes a plot needs."""
    with h5py.File(path, "r") as f:
        h = f["history"]
        for name in ("loss", "train_acc", "val_acc"):  # another file's /history: one line, not a traceback
            if not isinstance(h, h5py.Group) or not isinstance(h.get(name), h5py.Dataset):
                raise KeyError(f"no dataset /history/{name}")
        out = {name: np.asarray(h[name][()]) for name in h}
        out["steps_per_epoch"] = int(f.attrs.get("steps_per_epoch", 0)) or None
        best = float(f["best"].attrs["best_val_acc"]) if "best" in f else None
        # A run without validation stores -1 there (and NaN in /history/val_acc): no best to draw.
        out["best_val_acc"] = best if best is not None and best >= 0 else None
    return out


def smooth(values, window):
    """Moving average over `window` steps (shorter at the start), for noisy per-step losses."""
    if window <= 1 or len(values) < 2:
        return values
    c = np.cumsum(np.insert(values.astype(np.float64), 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def epochs_of(hist):
    """The x values of the per-check histories, in epochs (step / steps_per_epoch)."""
    steps = hist.get("check_step")
    spe = hist.get("steps_per_epoch")
    if steps is not None and spe:
        return steps / spe
    return np.arange(len(hist["val_acc"]))


def draw_runs(axes, runs, smooth_window=None, loss_log=False, legend_title=None, acc_ylim=None, prefix=""):
    """Draws loss | train acc | val acc of runs (list of (label, history)) on three axes."""
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, hist) in enumerate(runs):
        color = colors[i % len(colors)]
        loss = hist["loss"]
        window = smooth_window or max(1, len(loss) // 60)
        axes[0].plot(np.arange(1, len(loss) + 1), loss, color=color, alpha=0.15, linewidth=0.6)
        axes[0].plot(np.arange(1, len(loss) + 1), smooth(loss, window), color=color, label=label,
                     linewidth=1.4)
        ep = epochs_of(hist)
        axes[1].plot(ep, hist["train_acc"], "-o", color=color, markersize=3, label=label)
        axes[2].plot(ep, hist["val_acc"], "-o", color=color, markersize=3, label=label)
    axes[0].set_title(prefix + "Training loss")
    axes[0].set_xlabel("Iteration")
    if loss_log:
        axes[0].set_yscale("log")
    axes[1].set_title(prefix + "Training accuracy")
    axes[2].set_title(prefix + "Validation accuracy")
    for ax in axes[1:]:
        ax.set_xlabel("Epoch")
        if acc_ylim:
            ax.set_ylim(*acc_ylim)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[2].legend(loc="lower right", fontsize=8, title=legend_title)


def plot_runs(runs, out, title=None, **kwargs):
    """runs: list of (label, history dict). Writes loss | train acc | val acc side by side to out."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    draw_runs(axes, runs, **kwargs)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save(fig, out)


def plot_single(label, hist, out, title=None):
    """One run: training loss | train and val accuracy on one axis, zoomed on the epochs after the
    first (the step-0 check at chance level would flatten the interesting part; the title says when it
    is off the scale)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    loss = hist["loss"]
    x = np.arange(1, len(loss) + 1)
    axes[0].plot(x, loss, color="C0", alpha=0.2, linewidth=0.6, label="per step")
    axes[0].plot(x, smooth(loss, max(1, len(loss) // 60)), color="C0", linewidth=1.5, label="moving average")
    axes[0].set_title("Training loss")
    axes[0].set_xlabel("Iteration")
    axes[0].legend(loc="upper right", fontsize=8)
    ep = epochs_of(hist)
    axes[1].plot(ep, hist["train_acc"], "--o", color="C1", markersize=3, label="train (1000-row sample)")
    axes[1].plot(ep, hist["val_acc"], "-o", color="C2", markersize=3, label="validation")
    best = hist.get("best_val_acc")
    if best is not None:
        axes[1].axhline(best, color="C2", alpha=0.4, linewidth=0.8, linestyle=":", label=f"best val {best:.4f}")
    later = np.concatenate([hist["train_acc"][1:], hist["val_acc"][1:]])
    later = later[np.isfinite(later)]  # NaN: no validation, or a check that diverged
    acc_title = "Accuracy"  # not title: that is the figure's (--title), drawn below
    if len(later):
        lo, hi = max(0.0, float(np.min(later)) - 0.02), min(1.0, float(np.max(later)) + 0.02)
        axes[1].set_ylim(lo, hi)
        # Epoch 0 is usually at chance level, below the zoomed axis, but not always (--init-from a trained
        # net): the title says so only when one of its points is really off the scale.
        first = np.array([hist["train_acc"][0], hist["val_acc"][0]], dtype=np.float64)
        if np.any(np.isfinite(first) & ((first < lo) | (first > hi))):
            acc_title = f"Accuracy (epoch 0 off scale: train {fmt_acc(first[0])}, val {fmt_acc(first[1])})"
    axes[1].set_title(acc_title)
    axes[1].set_xlabel("Epoch")
    axes[1].legend(loc="lower right", fontsize=8)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.suptitle(title or label)
    fig.tight_layout()
    save(fig, out)


def fmt_acc(x):
    return f"{x:.3f}" if np.isfinite(x) else "n/a"


def save(fig, out):
    """Writes fig to exactly out (format from its extension, PNG without one: matplotlib would otherwise
    append .png to the name printed), whole (whole_file: no half plot after a failed write)."""
    try:
        write_whole(out, lambda name: fig.savefig(name, dpi=90, format=plot_format(out)))
    finally:
        plt.close(fig)


def plot_format(out):
    return os.path.splitext(out)[1][1:].lower() or "png"


def one_line(e):
    return " ".join(str(e).split())


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", metavar="[LABEL=]CHECKPOINT")
    parser.add_argument("--out", help="PNG to write (default: history.png beside the first checkpoint)")
    parser.add_argument("--title")
    args = parser.parse_args(argv)
    runs, paths = [], []
    for spec in args.checkpoints:
        label, sep, path = spec.partition("=")
        if not sep or not os.path.exists(path):
            label, path = os.path.basename(os.path.dirname(os.path.abspath(spec))), spec
        try:
            runs.append((label, load_history(path)))
            paths.append(path)
        except (OSError, KeyError) as e:
            # one line: HDF5's reasons can hold newlines (a directory's read failure does)
            print(f"plot_history.py: {path}: not a readable fcnet checkpoint ({one_line(e)})", file=sys.stderr)
            return 2
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(paths[0])), "history.png")
    formats = dict(plt.figure().canvas.get_supported_filetypes())
    if not shutil.which(matplotlib.rcParams["pgf.texsystem"]):  # pgf runs LaTeX to measure text
        formats.pop("pgf", None)
    if plot_format(out) not in formats:
        known = ", ".join(sorted(formats))
        print(f"plot_history.py: --out {out}: no plot format '{plot_format(out)}' (known: {known})", file=sys.stderr)
        return 2
    try:
        if len(runs) == 1:
            plot_single(runs[0][0], runs[0][1], out, title=args.title)
        else:
            plot_runs(runs, out, title=args.title)
    except OSError as e:
        print(f"plot_history.py: --out {out}: cannot write the plot ({e.strerror or one_line(e)})", file=sys.stderr)
        return 1
    try:
        print(out, flush=True)
    except OSError as e:  # a full disk or a closed pipe behind stdout: one line, not a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush would fail again
        if not isinstance(e, BrokenPipeError):
            print(f"plot_history.py: stdout: cannot print the plot's path ({e.strerror}); {out} is written",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
