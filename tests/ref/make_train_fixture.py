#!/usr/bin/python3
"""Writes tests/ref/train12/: a tiny dataset, initial parameters, and the state reached after 12 steps
of the float64 reference Solver (reference.py) in four runs, for tests/test_train_reference.sh.

Run: /usr/bin/python3 tests/ref/make_train_fixture.py   (numpy and h5py from Debian; ~5 s)

The runs it reproduces (tests/test_train_reference.sh passes the same flags; each expected file keeps
them in its attribute `fcnet_args`):

  fcnet_dist train --data data.h5 --init-from INIT --hidden 16,12,10 --keep 0.8
      --reg 0.01 --batch-size 32 --epochs 3 --max-steps 12 --preprocess center
      adam:              --norm batchnorm --optim adam --lr 2e-3 --lr-decay 0.5 --seed 12345678901
      sgd_momentum:      --norm batchnorm --optim sgd_momentum --lr 2e-2 --momentum 0.9 --lr-decay 0.5 --seed 7
      rmsprop_layernorm: --norm layernorm --optim rmsprop --lr 2e-3 --decay-rate 0.95 --eps 1e-6
                         --lr-decay 0.7 --seed 4242
      sgd_nonorm:        --norm none --optim sgd --lr 5e-2 --lr-decay 0.8 --seed 99
  INIT is init.h5 (weights, biases, gamma, beta) for the normalised runs, init_nonorm.h5 (the same
  weights and biases, no gamma or beta) for sgd_nonorm.

150 training rows / batch 32 = 5 steps per epoch (32, 32, 32, 32, then a short batch of 22), so the
12 steps cross two epoch ends (three permutations, two lr decays, three accuracy checks) and end two
steps into the third epoch. Everything follows the README's Semantics section from its text, not from fcnet's
code; only the random-number packing (reference.py) is shared, because it is part of the contract.

The output is deterministic: rerunning gives byte-identical files.
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train12")

N_TRAIN, N_VAL, D, C = 150, 30, 20, 5
HIDDEN = [16, 12, 10]
KEEP = 0.8
REG = 0.01
BATCH = 32
EPOCHS = 3
MAX_STEPS = 12
BN_MOMENTUM = 0.9
COMMON_ARGS = ("--hidden 16,12,10 --keep 0.8 --reg 0.01 --batch-size 32 --epochs 3 "
               "--max-steps 12 --preprocess center")

# The runs: every update rule and every normalisation once. adam is the acceptance check; its scale
# invariance turns the float32 rounding noise in the gradient of a bias feeding batchnorm (0 in exact
# arithmetic) into steps of up to ~lr, so those biases and their layers' running means can only be held
# to an lr-sized bound there. sgd_momentum moves them by lr * noise (~1e-10), so the second run checks
# them, and the test-mode accuracies that depend on them, tightly. Under layernorm (per-row statistics)
# and without normalisation no gradient is 0 in exact arithmetic, so rmsprop's division by sqrt(cache)
# meets no such noise; those runs use non-default hyperparameters so that every flag reaches the update.
CONFIGS = {
    "adam": dict(norm="batchnorm", optim="adam", lr=2e-3, lr_decay=0.5, seed=12345678901,  # seed above 2^32
                 hyper=dict(beta1=0.9, beta2=0.999, eps=1e-8), init="init.h5",
                 args="--norm batchnorm --optim adam --lr 2e-3 --lr-decay 0.5 --seed 12345678901"),
    "sgd_momentum": dict(norm="batchnorm", optim="sgd_momentum", lr=2e-2, lr_decay=0.5, seed=7,
                         hyper=dict(momentum=0.9), init="init.h5",
                         args="--norm batchnorm --optim sgd_momentum --lr 2e-2 --momentum 0.9 --lr-decay 0.5 "
                              "--seed 7"),
    "rmsprop_layernorm": dict(norm="layernorm", optim="rmsprop", lr=2e-3, lr_decay=0.7, seed=4242,
                              hyper=dict(decay_rate=0.95, eps=1e-6), init="init.h5",
                              args="--norm layernorm --optim rmsprop --lr 2e-3 --decay-rate 0.95 --eps 1e-6 "
                                   "--lr-decay 0.7 --seed 4242"),
    "sgd_nonorm": dict(norm="none", optim="sgd", lr=5e-2, lr_decay=0.8, seed=99, hyper={}, init="init_nonorm.h5",
                       args="--norm none --optim sgd --lr 5e-2 --lr-decay 0.8 --seed 99"),
}
SLOTS = {"adam": ("m", "v"), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "sgd": ()}


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32)


def make_data(rng):
    """Five Gaussian classes in 20 dimensions around an offset of 2 (so centering matters), float32."""
    centers = rng.standard_normal((C, D))
    def split(n):
        y = rng.integers(0, C, n).astype(np.int32)
        x = f32(2.0 + centers[y] + 1.5 * rng.standard_normal((n, D)))
        return x, y
    return split(N_TRAIN), split(N_VAL)


def make_init(rng):
    """Non-default starting point (He-scaled weights, nonzero biases, gamma != 1, beta != 0), float32,
    so --init-from is what sets every value."""
    dims = [D] + HIDDEN + [C]
    p = {}
    for l in range(1, len(dims)):
        p["W%d" % l] = f32(np.sqrt(2.0 / dims[l - 1]) * rng.standard_normal((dims[l - 1], dims[l])))
        p["b%d" % l] = f32(0.1 * rng.standard_normal(dims[l]))
        if l < len(dims) - 1:
            p["gamma%d" % l] = f32(1.0 + 0.1 * rng.standard_normal(dims[l]))
            p["beta%d" % l] = f32(0.1 * rng.standard_normal(dims[l]))
    return p


def accuracy(params, running, x, y, norm):
    """Test-mode accuracy and the smallest gap between the top score and the runner-up (a gap far
    above float rounding means fcnet must count exactly the same rows)."""
    scores = ref.net_loss(params, x, y, len(HIDDEN), norm, 1.0, REG, 0, 0, running=running, mode="test")
    top2 = np.sort(scores, axis=1)[:, -2:]
    return float(np.mean(scores.argmax(axis=1) == y)), float(np.min(top2[:, 1] - top2[:, 0]))


def train(cfg, x_train, y_train, x_val, y_val, init):
    """The Solver of the README's Semantics section: per-epoch permutation from (seed, epoch); step k of an epoch takes
    perm[k*B:(k+1)*B] (the last batch short); dropout keyed by (seed, global step, layer, row in the
    global batch); the update rule per parameter (adam: t incremented first); lr *= lr_decay at each
    epoch end; accuracies (test mode) at step 0 and at each epoch end, train accuracy on all rows
    (150 < 1000, and the order of the subsample does not change a count)."""
    n_hidden = len(HIDDEN)
    norm = cfg["norm"]
    names = ref.param_names(n_hidden, norm)
    params = {k: v.astype(np.float64) for k, v in init.items() if k in names}
    assert sorted(names) == sorted(params)
    running = {}
    for l in range(1, n_hidden + 1 if norm == "batchnorm" else 1):
        running["running_mean%d" % l] = np.zeros(HIDDEN[l - 1])
        running["running_var%d" % l] = np.zeros(HIDDEN[l - 1])
    state = {k: {} for k in names}
    lr = cfg["lr"]
    hist = dict(loss=[], lr=[], train_acc=[], val_acc=[], margin=[], step_lr=[])

    def check():
        tr, m1 = accuracy(params, running, x_train, y_train, norm)
        va, m2 = accuracy(params, running, x_val, y_val, norm)
        hist["train_acc"].append(tr)
        hist["val_acc"].append(va)
        hist["lr"].append(lr)
        hist["margin"].append(min(m1, m2))

    check()
    steps_per_epoch = -(-N_TRAIN // BATCH)
    step = 0
    epoch = 0
    while step < MAX_STEPS:
        perm = ref.permutation(N_TRAIN, cfg["seed"], ref.RNG_PERM, epoch)
        for k in range(steps_per_epoch):
            idx = perm[k * BATCH:(k + 1) * BATCH]
            loss, grads, running, _ = ref.net_loss(params, x_train[idx], y_train[idx], n_hidden, norm, KEEP,
                                                   REG, cfg["seed"], step, row0=0, running=running,
                                                   bn_momentum=BN_MOMENTUM)
            for name in names:
                params[name] = ref.optim_step(cfg["optim"], params[name], grads[name],
                                              dict(cfg["hyper"], lr=lr), state[name])
            hist["loss"].append(loss)
            hist["step_lr"].append(lr)
            step += 1
            if step == MAX_STEPS and k + 1 < steps_per_epoch:
                break
        else:
            epoch += 1
            lr *= cfg["lr_decay"]
            check()
    return params, running, state, hist, epoch, step, lr


def write(path, fill):
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        fill(f)
    os.replace(tmp, path)


def write_expected(name, cfg, mean, result):
    params, running, state, hist, epoch, step, lr = result
    assert step == MAX_STEPS and epoch == 2

    # A bias feeding batchnorm has gradient 0 in exact arithmetic, rounding noise in fcnet's float32.
    # adam: |m_hat / sqrt(v_hat)| <= 1.061 for t <= 12 with beta1 0.9, beta2 0.999 (Cauchy-Schwarz), so
    # the noise moves such a bias by at most 1.061 * (sum of the lrs so far), and its batchnorm layer's
    # running mean, 0.1 * sum_k 0.9^(11-k) * mean of step k, by at most that sum with the bound of step k
    # (counted after step k, which overestimates by one step).
    if cfg["optim"] == "adam" and cfg["norm"] == "batchnorm":
        drift = 1.061 * np.cumsum(hist["step_lr"])
        rm_drift = sum(0.1 * BN_MOMENTUM ** (MAX_STEPS - 1 - s) * drift[s] for s in range(MAX_STEPS))
    else:
        drift, rm_drift = [0.0], 0.0

    def fill(f):
        f.attrs["generator"] = "tests/ref/make_train_fixture.py"
        f.attrs["fcnet_args"] = COMMON_ARGS + " " + cfg["args"]
        f.attrs["step"] = np.int64(step)
        f.attrs["epoch"] = np.int64(epoch)
        f.attrs["bias_drift_bound"] = float(drift[-1])
        f.attrs["running_mean_drift_bound"] = float(rm_drift)
        f.attrs["min_score_margin"] = float(min(hist["margin"]))
        g = f.create_group("params")
        for k in sorted(params):
            g.create_dataset(k, data=params[k])
        if running:
            g = f.create_group("bn")
            for k in sorted(running):
                g.create_dataset(k, data=running[k])
        g = f.create_group("optim")
        g.attrs["lr"] = float(lr)
        if cfg["optim"] == "adam":
            g.attrs["t"] = np.int64(state["W1"]["t"])
        for k in sorted(state):
            for slot in SLOTS[cfg["optim"]]:
                g.create_dataset("%s/%s" % (k, slot), data=state[k][slot])
        g = f.create_group("history")
        for k in ("loss", "lr", "train_acc", "val_acc"):
            g.create_dataset(k, data=np.array(hist[k], dtype=np.float64))
        f.create_dataset("preprocess/mean", data=mean)

    write(os.path.join(OUT_DIR, "expected_%s.h5" % name), fill)
    print("%s: loss %s" % (name, " ".join("%.4f" % v for v in hist["loss"])))
    print("  train acc %s, val acc %s, lr %s; smallest top-2 score gap %.3g" % (
        " ".join("%.4f" % v for v in hist["train_acc"]), " ".join("%.4f" % v for v in hist["val_acc"]),
        hist["lr"], min(hist["margin"])))
    if cfg["optim"] == "adam" and cfg["norm"] == "batchnorm":
        print("  bound on a batchnorm-fed bias's drift %.4g, on its running mean's %.4g" % (drift[-1], rm_drift))


def main():
    rng = np.random.default_rng(20241123)
    (x_train, y_train), (x_val, y_val) = make_data(rng)
    init = make_init(rng)

    # --preprocess center: the training split's mean in float64, x rounded once to float32 (the README's Datasets section).
    mean = x_train.astype(np.float64).mean(axis=0)
    xc_train = f32(x_train.astype(np.float64) - mean).astype(np.float64)
    xc_val = f32(x_val.astype(np.float64) - mean).astype(np.float64)

    os.makedirs(OUT_DIR, exist_ok=True)

    def fill_data(f):
        f.attrs["num_classes"] = np.int32(C)
        for name, x, y in (("train", x_train, y_train), ("val", x_val, y_val)):
            g = f.create_group(name)
            g.create_dataset("x", data=x)
            g.create_dataset("y", data=y)

    def fill_init(names):
        def fill(f):
            g = f.create_group("params")
            for k in sorted(names):
                g.create_dataset(k, data=init[k])
        return fill

    write(os.path.join(OUT_DIR, "data.h5"), fill_data)
    write(os.path.join(OUT_DIR, "init.h5"), fill_init(init))
    # Without normalisation the model has no gamma or beta, and --init-from refuses tensors it lacks.
    write(os.path.join(OUT_DIR, "init_nonorm.h5"), fill_init(ref.param_names(len(HIDDEN), "none")))
    for name, cfg in CONFIGS.items():
        write_expected(name, cfg, mean, train(cfg, xc_train, y_train, xc_val, y_val, init))
    total = sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in sorted(os.listdir(OUT_DIR)))
    print("wrote %s (%d bytes in all)" % (OUT_DIR, total))


if __name__ == "__main__":
    main()
