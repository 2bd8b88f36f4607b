#!/usr/bin/python3
"""Writes tests/ref/cli/: two small datasets, an INI file, and the state that four whole training runs of
the float64 reference Solver (reference.py) reach, for tests/test_cli_reference.sh.

Run: /usr/bin/python3 tests/ref/make_cli_fixture.py   (numpy and h5py from Debian; ~2 s)

train12/ (make_train_fixture.py) starts every run from --init-from and a file with /val, centres x, and
sets only a few hyperparameters away from their defaults. These runs take the paths it leaves out, each
end to end from the command line (or the INI file) to the checkpoint and to eval's report:

  seeded initialisation (normal with --weight-scale, and he) instead of --init-from;
  --preprocess standardize (its /preprocess/std); uint8 x (scaled by 1/255);
  the validation split carved from /train by a fraction and by a row count, and a file's /val;
  sgd_momentum's --momentum, --bn-momentum, adam's --beta1 --beta2 --eps, rmsprop's --decay-rate --eps,
  all away from their defaults, adam's given in the INI file (with the command line's --lr winning);
  a short last batch under batchnorm, a six-layer net, a net with no hidden layer (--hidden none);
  every epoch's checks, the best-validation copy (/best) and its step, and eval's test-split accuracy
  and confusion matrix for the last and the best parameters.

  momentum_bn_std  data_a.h5  --hidden 10,7 --norm batchnorm --optim sgd_momentum --momentum 0.5 --lr 0.05
                   --lr-decay 0.7 --bn-momentum 0.8 --reg 0.05 --val-size 0.15 --preprocess standardize
                   --init he --batch-size 32 --epochs 3 --seed 11
  adam_ln_ini      data_a.h5  --config adam_ln.ini --lr 3e-3   (layernorm, keep 0.7, adam beta1 0.8,
                   beta2 0.95, eps 1e-6, val_size 25, weight_scale 0.05, reg 0.01, seed 77; the file's lr 9
                   is overridden)
  deep_bn_sgd      data_b.h5  --hidden 8,7,6,5,4 --norm batchnorm --keep 0.8 --optim sgd --lr 0.1
                   --lr-decay 0.9 --reg 0.02 --init he --batch-size 27 --epochs 2 --seed 6
  softmax_rmsprop  data_b.h5  --hidden none --optim rmsprop --decay-rate 0.5 --eps 1e-4 --lr 3e-2 --reg 0.1
                   --weight-scale 0.5 --preprocess standardize --batch-size 64 --epochs 3 --seed 2

data_a: 203 float32 training rows (no /val; 12 features with unequal offsets and scales, so that
standardize differs from center), 57 test rows, 4 classes. data_b: uint8, train 150, val 40, test 50,
9 features, 3 classes. Batches: data_a's 173 training rows (30 held out) in batches of 32 end in 13 rows,
178 (25 held out) in batches of 40 in 18; data_b's 150 in batches of 27 in 15, of 64 in 22.

The deep run uses sgd and the batchnorm runs no adam or rmsprop: a bias feeding batchnorm has gradient 0 in
exact arithmetic, and those rules turn float32 noise in it into lr-sized steps (tests/ref/README.md), which
would blur the test-mode checks; with sgd and momentum the noise moves such biases by lr * noise.

Everything here follows the README's Semantics section, in float64, with no rounding of x to float32 (so
fcnet's double build is held to ~1e-9). The output is deterministic: reruns give byte-identical files.
"""
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli")

INI = """\
; tests/ref/cli/adam_ln.ini: the adam_ln_ini run of make_cli_fixture.py (test_cli_reference.sh)
[model]
hidden = 9,6
norm: layernorm
keep = 0.7
reg = 0.01
weight_scale = 0.05

[optimizer]
optim = adam
beta1 = 0.8
beta2 = 0.95
eps = 1e-6
lr = 9                ; the command line's --lr 3e-3 wins
lr-decay = 0.9

[data]
val_size = 25
batch-size = 40
epochs = 3
seed = 77
"""

BASE = dict(hidden=[100, 100], norm="none", keep=1.0, reg=0.0, weight_scale=1e-2, init="normal", optim="sgd",
            lr=1e-2, lr_decay=1.0, bn_momentum=0.9, batch_size=100, epochs=10, seed=0, val_size=0.1,
            preprocess="center", hyper={})

RUNS = {
    "momentum_bn_std": dict(
        data="data_a.h5",
        args="--hidden 10,7 --norm batchnorm --optim sgd_momentum --momentum 0.5 --lr 0.05 --lr-decay 0.7 "
             "--bn-momentum 0.8 --reg 0.05 --val-size 0.15 --preprocess standardize --init he --batch-size 32 "
             "--epochs 3 --seed 11",
        cfg=dict(hidden=[10, 7], norm="batchnorm", optim="sgd_momentum", hyper=dict(momentum=0.5), lr=0.05,
                 lr_decay=0.7, bn_momentum=0.8, reg=0.05, val_size=0.15, preprocess="standardize", init="he",
                 batch_size=32, epochs=3, seed=11)),
    "adam_ln_ini": dict(
        data="data_a.h5",
        args="--config adam_ln.ini --lr 3e-3",
        cfg=dict(hidden=[9, 6], norm="layernorm", keep=0.7, reg=0.01, weight_scale=0.05, optim="adam",
                 hyper=dict(beta1=0.8, beta2=0.95, eps=1e-6), lr=3e-3, lr_decay=0.9, val_size=25, batch_size=40,
                 epochs=3, seed=77)),
    "deep_bn_sgd": dict(
        data="data_b.h5",
        args="--hidden 8,7,6,5,4 --norm batchnorm --keep 0.8 --optim sgd --lr 0.1 --lr-decay 0.9 --reg 0.02 "
             "--init he --batch-size 27 --epochs 2 --seed 6",
        cfg=dict(hidden=[8, 7, 6, 5, 4], norm="batchnorm", keep=0.8, optim="sgd", lr=0.1, lr_decay=0.9, reg=0.02,
                 init="he", batch_size=27, epochs=2, seed=6)),
    "softmax_rmsprop": dict(
        data="data_b.h5",
        args="--hidden none --optim rmsprop --decay-rate 0.5 --eps 1e-4 --lr 3e-2 --reg 0.1 --weight-scale 0.5 "
             "--preprocess standardize --batch-size 64 --epochs 3 --seed 2",
        cfg=dict(hidden=[], optim="rmsprop", hyper=dict(decay_rate=0.5, eps=1e-4), lr=3e-2, reg=0.1,
                 weight_scale=0.5, preprocess="standardize", batch_size=64, epochs=3, seed=2)),
}
SLOTS = {"adam": ("m", "v"), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "sgd": ()}


def make_data(rng):
    """data_a: float32, no /val; data_b: uint8 with /val. Class means in a few features, plus per-feature
    offsets and scales (standardize must divide by each feature's own std)."""
    def gauss(n, d, c, centers, offset, scale):
        y = rng.integers(0, c, n).astype(np.int32)
        return offset + scale * (centers[y] + rng.standard_normal((n, d))), y

    d, c = 12, 4
    centers = 0.8 * rng.standard_normal((c, d))
    offset = rng.uniform(-3, 3, d)
    scale = np.exp(rng.uniform(-1.5, 1.5, d))
    a = {}
    for split, n in (("train", 203), ("test", 57)):
        x, y = gauss(n, d, c, centers, offset, scale)
        a[split] = (x.astype(np.float32), y)

    d, c = 9, 3
    centers = 0.7 * rng.standard_normal((c, d))
    offset = rng.uniform(90, 160, d)
    scale = rng.uniform(15, 40, d)
    b = {}
    for split, n in (("train", 150), ("val", 40), ("test", 50)):
        x, y = gauss(n, d, c, centers, offset, scale)
        b[split] = (np.clip(np.round(x), 0, 255).astype(np.uint8), y.astype(np.uint8))
    return a, b


def as_float(x):
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def splits(data, val_size):
    """train/val/test in float64: /val if the file has one, else the last rows of /train (a fraction rounded
    down, or a count)."""
    xtr, ytr = as_float(data["train"][0]), data["train"][1].astype(np.int64)
    if "val" in data:
        xva, yva = as_float(data["val"][0]), data["val"][1].astype(np.int64)
    else:
        n = xtr.shape[0]
        k = int(math.floor(val_size * n)) if val_size < 1 else int(val_size)
        xtr, ytr, xva, yva = xtr[:n - k], ytr[:n - k], xtr[n - k:], ytr[n - k:]
    xte, yte = as_float(data["test"][0]), data["test"][1].astype(np.int64)
    return xtr, ytr, xva, yva, xte, yte


def preprocess(kind, xtr):
    """Fitted on the training rows: mean, and the biased std (features below 1e-8 left unscaled)."""
    d = xtr.shape[1]
    mean = xtr.mean(axis=0) if kind != "none" else np.zeros(d)
    std = np.ones(d)
    if kind == "standardize":
        s = np.sqrt(((xtr - mean) ** 2).mean(axis=0))
        std = np.where(s < 1e-8, 1.0, s)
    return mean, std


def scores(params, running, x, cfg, trace=None):
    return ref.net_loss(params, x, None, len(cfg["hidden"]), cfg["norm"], 1.0, 0.0, 0, 0, running=running,
                        mode="test", trace=trace)


def accuracy(params, running, x, y, cfg):
    """Test-mode accuracy and the smallest gap between a row's top score and its runner-up. Exact ties are
    left out of the gap: they occur where every unit of the last hidden layer is cut off by its ReLU, so
    the scores are the last bias exactly, in any precision (0 for every class at step 0, where batchnorm's
    running statistics are still 0), and fcnet, like numpy's argmax, takes the first maximum."""
    trace = []
    s = scores(params, running, x, cfg, trace)
    top2 = np.sort(s, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    tie = gap == 0
    if tie.any():
        assert trace and np.all(trace[-1][1][tie] <= 0), "a tie that is not a cut-off row"
    return float(np.mean(s.argmax(axis=1) == y)), float(np.min(gap[~tie], initial=np.inf))


def confusion(params, running, x, y, cfg, c):
    m = np.zeros((c, c), dtype=np.int64)
    np.add.at(m, (y, scores(params, running, x, cfg).argmax(axis=1)), 1)
    return m


def train(cfg, data, n_classes):
    """The Solver of the README's Semantics section, from fcnet's seeded initialisation: checks (test mode,
    train accuracy over all rows, since fewer than 1000) at step 0 and after every epoch's lr decay, the
    best copy taken when the validation accuracy beats the best so far (ties keep the earlier one)."""
    xtr, ytr, xva, yva, xte, yte = splits(data, cfg["val_size"])
    assert xtr.shape[0] <= 1000
    mean, std = preprocess(cfg["preprocess"], xtr)
    xtr, xva, xte = ((x - mean) / std for x in (xtr, xva, xte))
    n_hidden = len(cfg["hidden"])
    dims = [xtr.shape[1]] + cfg["hidden"] + [n_classes]
    params = ref.seeded_params(dims, cfg["norm"], cfg["weight_scale"], cfg["seed"], he=cfg["init"] == "he")
    names = ref.param_names(n_hidden, cfg["norm"])
    running = {}
    if cfg["norm"] == "batchnorm":
        for l in range(1, n_hidden + 1):
            running["running_mean%d" % l] = np.zeros(dims[l])
            running["running_var%d" % l] = np.zeros(dims[l])
    state = {k: {} for k in names}
    lr = cfg["lr"]
    hist = dict(loss=[], lr=[], train_acc=[], val_acc=[], check_step=[])
    best = dict(val_acc=-1.0)
    margins = []
    step = 0

    def check():
        tr, m1 = accuracy(params, running, xtr, ytr, cfg)
        va, m2 = accuracy(params, running, xva, yva, cfg)
        margins.extend((m1, m2))
        hist["train_acc"].append(tr)
        hist["val_acc"].append(va)
        hist["lr"].append(lr)
        hist["check_step"].append(step)
        if va > best["val_acc"]:
            best.update(val_acc=va, step=step, params={k: v.copy() for k, v in params.items()},
                        running={k: v.copy() for k, v in running.items()})

    check()
    n = xtr.shape[0]
    batch = cfg["batch_size"]
    for epoch in range(cfg["epochs"]):
        perm = ref.permutation(n, cfg["seed"], ref.RNG_PERM, epoch)
        for k in range(-(-n // batch)):
            idx = perm[k * batch:(k + 1) * batch]
            loss, grads, new_running, _ = ref.net_loss(params, xtr[idx], ytr[idx], n_hidden, cfg["norm"],
                                                       cfg["keep"], cfg["reg"], cfg["seed"], step, row0=0,
                                                       running=running, bn_momentum=cfg["bn_momentum"])
            running.update(new_running)
            for name in names:
                params[name] = ref.optim_step(cfg["optim"], params[name], grads[name], dict(cfg["hyper"], lr=lr),
                                              state[name])
            hist["loss"].append(loss)
            step += 1
        lr *= cfg["lr_decay"]
        check()
    evals = {}
    for which, p, r in (("final", params, running), ("best", best["params"], best["running"])):
        evals[which] = confusion(p, r, xte, yte, cfg, n_classes)
        margins.append(accuracy(p, r, xte, yte, cfg)[1])
    return dict(params=params, running=running, state=state, hist=hist, best=best, lr=lr, step=step,
                mean=mean, std=std, evals=evals, margin=min(margins))


def write(path, fill):
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        fill(f)
    os.replace(tmp, path)


def write_dataset(path, data, n_classes):
    def fill(f):
        f.attrs["num_classes"] = np.int32(n_classes)
        for split in ("train", "val", "test"):
            if split in data:
                f.create_dataset(split + "/x", data=data[split][0])
                f.create_dataset(split + "/y", data=data[split][1])
    write(path, fill)


def write_expected(name, run, res):
    cfg = run["cfg"]

    def fill(f):
        f.attrs["generator"] = "tests/ref/make_cli_fixture.py"
        f.attrs["fcnet_args"] = run["args"]
        f.attrs["data"] = run["data"]
        f.attrs["step"] = np.int64(res["step"])
        f.attrs["epoch"] = np.int64(cfg["epochs"])
        f.attrs["min_score_margin"] = res["margin"]
        for k in sorted(res["params"]):
            f.create_dataset("params/" + k, data=res["params"][k])
        for k in sorted(res["running"]):
            f.create_dataset("bn/" + k, data=res["running"][k])
        g = f.create_group("optim")
        g.attrs["lr"] = float(res["lr"])
        if cfg["optim"] == "adam":
            g.attrs["t"] = np.int64(res["state"]["W1"]["t"])
        for k in sorted(res["state"]):
            for slot in SLOTS[cfg["optim"]]:
                g.create_dataset("%s/%s" % (k, slot), data=res["state"][k][slot])
        for k in ("loss", "lr", "train_acc", "val_acc"):
            f.create_dataset("history/" + k, data=np.array(res["hist"][k], dtype=np.float64))
        f.create_dataset("history/check_step", data=np.array(res["hist"]["check_step"], dtype=np.int64))
        if cfg["preprocess"] != "none":
            f.create_dataset("preprocess/mean", data=res["mean"])
        if cfg["preprocess"] == "standardize":
            f.create_dataset("preprocess/std", data=res["std"])
        b = f.create_group("best")
        b.attrs["best_val_acc"] = res["best"]["val_acc"]
        b.attrs["best_step"] = np.int64(res["best"]["step"])
        for k in sorted(res["best"]["params"]):
            b.create_dataset("params/" + k, data=res["best"]["params"][k])
        for k in sorted(res["best"]["running"]):
            b.create_dataset("bn/" + k, data=res["best"]["running"][k])

    write(os.path.join(OUT_DIR, "expected_%s.h5" % name), fill)
    # eval's report on the test split, reduced to "correct/rows m00 m01 ... m(C-1)(C-1)" (row-major,
    # rows the true class), for the last and for the best parameters.
    with open(os.path.join(OUT_DIR, "expected_%s.eval" % name), "w") as f:
        for which in ("final", "best"):
            m = res["evals"][which]
            f.write("%s %d/%d %s\n" % (which, np.trace(m), m.sum(), " ".join(str(v) for v in m.ravel())))
    h = res["hist"]
    print("%s: %d steps, loss %.4f .. %.4f; val acc %s; best %.4f at step %d; test %d/%d, best %d/%d; "
          "smallest top-2 gap %.3g" % (name, res["step"], h["loss"][0], h["loss"][-1],
                                       " ".join("%.3f" % v for v in h["val_acc"]), res["best"]["val_acc"],
                                       res["best"]["step"], np.trace(res["evals"]["final"]),
                                       res["evals"]["final"].sum(), np.trace(res["evals"]["best"]),
                                       res["evals"]["best"].sum(), res["margin"]))


def main():
    rng = np.random.default_rng(20250301)
    data_a, data_b = make_data(rng)
    datasets = {"data_a.h5": (data_a, 4), "data_b.h5": (data_b, 3)}
    os.makedirs(OUT_DIR, exist_ok=True)
    for path, (data, c) in datasets.items():
        write_dataset(os.path.join(OUT_DIR, path), data, c)
    with open(os.path.join(OUT_DIR, "adam_ln.ini"), "w") as f:
        f.write(INI)
    for name, run in RUNS.items():
        cfg = dict(BASE, **run["cfg"])
        run = dict(run, cfg=cfg)
        data, c = datasets[run["data"]]
        res = train(cfg, data, c)
        # The float build must count the same rows in eval and in the accuracy checks: every test-mode
        # decision is far above float32 rounding (~1e-6 of the scores).
        assert res["margin"] > 1e-4 or os.environ.get("NOASSERT"), (name, res["margin"])
        write_expected(name, run, res)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in sorted(os.listdir(OUT_DIR)))
    print("wrote %s (%d bytes in all)" % (OUT_DIR, total))


if __name__ == "__main__":
    main()
