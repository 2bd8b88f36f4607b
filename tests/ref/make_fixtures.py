#!/usr/bin/python3
"""Validates reference.py and writes tests/ref/fixtures.h5 for tests/test_ref.c.

Run: /usr/bin/python3 tests/ref/make_fixtures.py   (numpy, h5py and torch from Debian)

Validation (any failure aborts before the file replaces the committed one):
  * Philox4x32-10 against the Random123 known-answer vectors;
  * every layer's and every whole-net case's gradients against fourth-order central differences
    taken in long double (cs231n relative error < 1e-7; in practice ~1e-10);
  * batchnorm, layernorm, softmax cross-entropy and the whole net against torch autograd in double,
    and the four update rules against torch.optim.
Fixture inputs are float32-representable, whole-net draws keep ReLU inputs away from the kink and
normalised standard deviations away from 0, so the float build is judged on its arithmetic alone.
The output is deterministic: rerunning gives a byte-identical file.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.h5")
rng = np.random.default_rng(20240531)

BATCH, D, C = 7, 9, 5
MASK32 = 0xFFFFFFFF
# Not cs231n's default 0.9 (that one is covered by the whole-net and training fixtures): a layer that
# ignored its momentum argument and used the default would otherwise pass.
BN_LAYER_MOMENTUM = 0.75


def f32r(a):
    """Rounds to the nearest float32 value. Every fixture *input* is float32-representable, so the
    float build of fcnet starts from exactly the reference's inputs and any difference comes from its
    arithmetic, not from converting the inputs (a score of 1000 would otherwise be off by 3e-5)."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def randn(shape, scale=1.0, shift=0.0):
    return f32r(shift + scale * rng.standard_normal(shape))


# ---------------------------------------------------------------------------------------------------
# Checking helpers
# ---------------------------------------------------------------------------------------------------
def rel_error(a, b):
    """cs231n's relative error: max |a-b| / max(1e-8, |a|+|b|) over elements."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


# Numerical derivatives are taken in long double (x86 80-bit, eps 1.1e-19) so their rounding noise,
# about eps * |f| / h, stays near 1e-15 instead of the 1e-12 of float64 -- which alone would push
# rel_error past 1e-7 on gradient entries of size 1e-5. An analytic gradient that is zero in exact
# arithmetic (a bias feeding batchnorm, a unit dropped for every row) still has rel_error ~1 against
# any noise, so entries where both sides are below NOISE are held to an absolute bound instead.
NOISE = 1e-11
RTOL_NUM = 1e-7
WORST = [0.0]  # worst relative error seen, for the summary line


def ld(*arrays):
    """Long-double copies for the numerical derivatives (the reference is dtype-generic)."""
    out = tuple(np.array(a, dtype=np.longdouble) for a in arrays)
    return out if len(out) > 1 else out[0]


def check_numeric(label, analytic, numeric):
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    small = (np.abs(a) < NOISE) & (np.abs(n) < NOISE)
    err = rel_error(a[~small], n[~small]) if (~small).any() else 0.0
    abs_small = float(np.max(np.abs(a - n)[small], initial=0.0))
    WORST[0] = max(WORST[0], err)
    assert err < RTOL_NUM and abs_small < NOISE, "%s: rel error %.3g, abs error on ~0 entries %.3g" % (
        label, err, abs_small)
    return err


def num_grad(f, x, h=1e-4):
    """Fourth-order central difference of scalar f w.r.t. array x (modified in place, restored):
    truncation O(h^4) and rounding ~eps/h both stay far below the 1e-7 relative target."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        vals = []
        for step in (2 * h, h, -h, -2 * h):
            x[i] = old + step
            vals.append(f())
        x[i] = old
        g[i] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * h)
    return g


def num_grad_array(f, x, dout, h=1e-4):
    """Numerical gradient of sum(f() * dout) w.r.t. x: the vector-Jacobian product a layer's backward
    computes for upstream dout."""
    return num_grad(lambda: (f() * dout).sum(), x, h)


def close_torch(label, a, t, rtol=1e-12, atol=1e-13):
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert np.allclose(a, t, rtol=rtol, atol=atol), "%s vs torch: max abs diff %.3g" % (
        label, float(np.max(np.abs(a - t))))


def put(group, name, value):
    """Everything is stored as float64 arrays (integers included: all fit in 53 bits exactly)."""
    group.create_dataset(name, data=np.asarray(value, dtype=np.float64))


# ---------------------------------------------------------------------------------------------------
# Random numbers
# ---------------------------------------------------------------------------------------------------
def make_rng(f):
    kat = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
           ((MASK32,) * 4, (MASK32,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
           ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for ctr, key, want in kat:
        got = ref.philox4x32(ctr, key)
        assert got == want, "Philox KAT failed for ctr %s: %s" % (ctr, [hex(v) for v in got])
    g = f.create_group("philox")
    put(g, "ctr", [k[0] for k in kat])
    put(g, "key", [k[1] for k in kat])
    put(g, "out", [k[2] for k in kat])

    # fc_rng_block packing: rows (seed_lo, seed_hi, stream, a, b, c, index).
    rows, outs = [], []
    for seed, stream, a, b, c, index in [(0, 1, 0, 0, 0, 0), (42, 2, 7, 3, 5, 1),
                                         (0x123456789ABCDEF0, 3, 0xFFFFFFFF, 0xFFFFFF, 0xFFFFFFFF, 9),
                                         (2**64 - 1, 5, 123456, 77, 1, 0xFFFFFFFF)]:
        rows.append([seed & MASK32, seed >> 32, stream, a, b, c, index])
        outs.append(ref.rng_block(seed, stream, a, b, c, index))
    g = f.create_group("rng_block")
    put(g, "args", rows)
    put(g, "out", outs)

    g = f.create_group("rng_normal")
    seed, tensor_id, std, n = 0xDEADBEEF12345, 4, 0.5, 11  # odd n: the last element takes a cosine only
    put(g, "args", [seed & MASK32, seed >> 32, tensor_id, std])
    x = ref.normal_fill(n, seed, tensor_id, std)
    big = ref.normal_fill(20000, 7, 1, 1.0)
    assert abs(big.mean()) < 0.03 and abs(big.std() - 1.0) < 0.03, "normal fill is not N(0,1)"
    put(g, "x", x)

    g = f.create_group("rng_perm")
    seed, stream, a, n = 987654321, ref.RNG_PERM, 3, 13
    perm = ref.permutation(n, seed, stream, a)
    assert sorted(perm.tolist()) == list(range(n))
    put(g, "args", [seed & MASK32, seed >> 32, stream, a])
    put(g, "perm", perm)

    # Single mask values: rows (keep, seed_lo, seed_hi, step, layer, row, unit) -> mask.
    rows, masks = [], []
    for i in range(24):
        keep = [0.5, 0.7, 0.9, 1.0][i % 4]
        seed = [1, 0xABCDEF0123][i % 2]
        step, layer, row, unit = 3 * i, 1 + i % 3, 100 + i, (5 * i) % 19
        rows.append([keep, seed & MASK32, seed >> 32, step, layer, row, unit])
        masks.append(ref.dropout_mask(keep, seed, step, layer, row, unit))
    g = f.create_group("rng_dropout_mask")
    put(g, "args", rows)
    put(g, "mask", masks)
    assert any(m == 0 for m in masks) and any(m > 1 for m in masks)


# ---------------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------------
def make_layers(f):
    g = f.create_group("layers")
    n_out = 8

    # affine; parameter gradients accumulate into dw0/db0.
    a = g.create_group("affine")
    x = randn((BATCH, D))
    w = randn((D, n_out))
    b = randn(n_out)
    dout = randn((BATCH, n_out))
    dw0, db0 = randn((D, n_out)), randn(n_out)
    out = ref.affine_forward(x, w, b)
    dx, dw, db = ref.affine_backward(dout, x, w)
    xl, wl, bl = ld(x, w, b)
    fwd = lambda: ref.affine_forward(xl, wl, bl)
    check_numeric("affine dx", dx, num_grad_array(fwd, xl, dout))
    check_numeric("affine dw", dw, num_grad_array(fwd, wl, dout))
    check_numeric("affine db", db, num_grad_array(fwd, bl, dout))
    for k, v in dict(x=x, w=w, b=b, dout=dout, dw0=dw0, db0=db0, out=out, dx=dx, dw=dw0 + dw,
                     db=db0 + db).items():
        put(a, k, v)

    # relu
    r = g.create_group("relu")
    x = randn((BATCH, n_out))
    x[0, :3] = 0.0  # ReLU'(0) = 0: the gate is out > 0
    dout = randn((BATCH, n_out))
    out = ref.relu_forward(x)
    dx = ref.relu_backward(dout, out)
    for k, v in dict(x=x, dout=dout, out=out, dx=dx).items():
        put(r, k, v)

    # batchnorm: non-trivial mean and scale, nonzero starting running statistics.
    bn = g.create_group("batchnorm")
    x = randn((BATCH, n_out), 3.0, 2.0)
    gamma = randn(n_out, 0.3, 1.0)
    beta = randn(n_out, 0.2)
    rm0, rv0 = randn(n_out), f32r(0.5 + rng.random(n_out))
    dout = randn((BATCH, n_out))
    dgamma0, dbeta0 = randn(n_out), randn(n_out)
    out, cache, rm, rv = ref.batchnorm_forward_train(x, gamma, beta, rm0, rv0, BN_LAYER_MOMENTUM)
    dx, dgamma, dbeta = ref.batchnorm_backward(dout, cache)
    xl, gl, bl = ld(x, gamma, beta)
    fwd = lambda: ref.batchnorm_forward_train(xl, gl, bl, rm0, rv0, BN_LAYER_MOMENTUM)[0]
    check_numeric("batchnorm dx", dx, num_grad_array(fwd, xl, dout))
    check_numeric("batchnorm dgamma", dgamma, num_grad_array(fwd, gl, dout))
    check_numeric("batchnorm dbeta", dbeta, num_grad_array(fwd, bl, dout))
    out_test = ref.batchnorm_forward_test(x, gamma, beta, rm, rv)
    check_bn_torch(x, gamma, beta, rm0, rv0, dout, out, dx, dgamma, dbeta, rm, rv, out_test)
    for k, v in dict(x=x, gamma=gamma, beta=beta, running_mean0=rm0, running_var0=rv0, momentum=[BN_LAYER_MOMENTUM],
                     out=out, xhat=cache[0], inv_std=cache[1], running_mean=rm, running_var=rv,
                     out_test=out_test, dout=dout, dgamma0=dgamma0, dbeta0=dbeta0, dx=dx,
                     dgamma=dgamma0 + dgamma, dbeta=dbeta0 + dbeta).items():
        put(bn, k, v)

    # layernorm
    ln = g.create_group("layernorm")
    x = randn((BATCH, n_out), 2.0, -1.0)
    gamma = randn(n_out, 0.3, 1.0)
    beta = randn(n_out, 0.2)
    dout = randn((BATCH, n_out))
    dgamma0, dbeta0 = randn(n_out), randn(n_out)
    out, cache = ref.layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = ref.layernorm_backward(dout, cache)
    xl, gl, bl = ld(x, gamma, beta)
    fwd = lambda: ref.layernorm_forward(xl, gl, bl)[0]
    check_numeric("layernorm dx", dx, num_grad_array(fwd, xl, dout))
    check_numeric("layernorm dgamma", dgamma, num_grad_array(fwd, gl, dout))
    check_numeric("layernorm dbeta", dbeta, num_grad_array(fwd, bl, dout))
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    ot = F.layer_norm(xt, (n_out,), gt, bt, eps=ref.LN_EPS)
    ot.backward(torch.tensor(dout))
    close_torch("layernorm out", out, ot)
    close_torch("layernorm dx", dx, xt.grad)
    close_torch("layernorm dgamma", dgamma, gt.grad)
    close_torch("layernorm dbeta", dbeta, bt.grad)
    for k, v in dict(x=x, gamma=gamma, beta=beta, out=out, xhat=cache[0], inv_std=cache[1], dout=dout,
                     dgamma0=dgamma0, dbeta0=dbeta0, dx=dx, dgamma=dgamma0 + dgamma,
                     dbeta=dbeta0 + dbeta).items():
        put(ln, k, v)

    # dropout: row0 != 0 (a rank's slice inside the global batch), a seed with high bits.
    dr = g.create_group("dropout")
    x = randn((BATCH, n_out + 2))  # width 10: the last block is partly used
    keep, seed, step, layer, row0 = 0.7, 0x5EED00000017, 12, 2, 3
    mask = ref.dropout_masks(keep, seed, step, layer, row0, BATCH, x.shape[1])
    for i in range(BATCH):
        for j in range(x.shape[1]):
            assert mask[i, j] == ref.dropout_mask(keep, seed, step, layer, row0 + i, j)
    put(dr, "x", x)
    put(dr, "args", [keep, seed & MASK32, seed >> 32, step, layer, row0])
    put(dr, "mask", mask)
    put(dr, "out", x * mask)

    # softmax cross-entropy: plain, a local batch inside a larger global one, huge scores, and extremes:
    # mixed signs near the float maximum (a label score 6e38 below the max: finite loss in float64, Inf if the
    # difference is taken in float32), rows of equal scores, a tie for the max. The extreme case is written
    # out, not drawn, so the cases after it keep their random draws; central differences cannot resolve
    # scores of 3e38, so it is checked against torch only.
    sm = g.create_group("softmax")
    extreme = f32r([[3e38, -3e38, 1, 2, 3],
                    [-3.4e38, 3.4e38, 0, 0, 0],
                    [1e30, -1e30, 5, 0, -5],
                    [7, 7, 7, 7, 7],
                    [3e38, 3e38, 3e38, 3e38, 3e38],
                    [-3e38, -3e38, -3e38, -3e38, -3e38],
                    [1e4, -1e4, 1e4, 0, -3e38]])
    cases = [(randn((BATCH, C)), BATCH, None),
             (randn((BATCH, C)), 11, None),
             (randn((BATCH, C), 30.0, np.array([1000.0, -1000.0, 0, 500, 700])), BATCH, None),
             (extreme, BATCH, np.array([1, 0, 1, 2, 4, 0, 2]))]
    for ci, (scores, gb, y) in enumerate(cases):
        numeric = y is None
        if y is None:
            y = rng.integers(0, C, BATCH)
        loss, dscores = ref.softmax_loss(scores, y, gb)
        assert np.isfinite(loss) and np.all(np.isfinite(dscores))
        s = ld(scores)
        if numeric:
            check_numeric("softmax dscores %d" % ci, dscores, num_grad(lambda: ref.softmax_loss(s, y, gb)[0], s))
        st = torch.tensor(scores, requires_grad=True)
        lt = F.cross_entropy(st, torch.tensor(y), reduction="sum") / gb
        lt.backward()
        close_torch("softmax loss %d" % ci, loss, lt)
        close_torch("softmax dscores %d" % ci, dscores, st.grad)
        c = sm.create_group("case%d" % ci)
        for k, v in dict(scores=scores, y=y, global_batch=[gb], loss=[loss], dscores=dscores).items():
            put(c, k, v)

    # moments and Chan's merge: the merged split equals the whole.
    mo = g.create_group("moments")
    x = randn((BATCH, n_out), 1.0, 5.0)
    mean, m2 = ref.moments_columns(x)
    split = 3
    ma, m2a = ref.moments_columns(x[:split])
    mb, m2b = ref.moments_columns(x[split:])
    n, mm, m2m = ref.moments_merge(split, ma, m2a, BATCH - split, mb, m2b)
    assert n == BATCH and np.allclose(mm, mean, 1e-14) and np.allclose(m2m, m2, 1e-13)
    for k, v in dict(x=x, split=[split], mean=mean, m2=m2, mean_a=ma, m2_a=m2a, mean_b=mb, m2_b=m2b,
                     mean_merged=mm, m2_merged=m2m).items():
        put(mo, k, v)


def check_bn_torch(x, gamma, beta, rm0, rv0, dout, out, dx, dgamma, dbeta, rm, rv, out_test):
    """torch's batch_norm with momentum 1 - m is cs231n's momentum m for the running mean. torch's
    running_var uses the *unbiased* batch variance; fcnet (cs231n) uses the biased one, so the two
    running_var differ by (1 - m) * (unbiased - biased) -- checked as such, not matched."""
    torch_momentum = 1.0 - BN_LAYER_MOMENTUM
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    rmt, rvt = torch.tensor(rm0), torch.tensor(rv0)
    ot = F.batch_norm(xt, rmt, rvt, gt, bt, training=True, momentum=torch_momentum, eps=ref.BN_EPS)
    ot.backward(torch.tensor(dout))
    close_torch("batchnorm out", out, ot)
    close_torch("batchnorm dx", dx, xt.grad)
    close_torch("batchnorm dgamma", dgamma, gt.grad)
    close_torch("batchnorm dbeta", dbeta, bt.grad)
    close_torch("batchnorm running_mean", rm, rmt)
    n = x.shape[0]
    var_b = x.var(axis=0)
    close_torch("batchnorm running_var (unbiased->biased)", rv, rvt.numpy() - torch_momentum * var_b * (n / (n - 1) - 1))
    assert not np.allclose(rv, rvt.numpy(), rtol=1e-6), "torch's running_var was expected to differ"
    tt = F.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv), torch.tensor(gamma),
                      torch.tensor(beta), training=False, eps=ref.BN_EPS)
    close_torch("batchnorm test mode", out_test, tt)


# ---------------------------------------------------------------------------------------------------
# Whole network
# ---------------------------------------------------------------------------------------------------
NORMS = {"none": 0, "batchnorm": 1, "layernorm": 2}
KINK_MARGIN = 1e-3
MIN_NORM_STD = 0.3


def torch_net(params, x, y, n_hidden, norm, keep, reg, seed, step):
    """The same network in torch autograd (masks from the reference's Philox): an independent check of
    the reference's hand-written backward."""
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(x)
    for l in range(1, n_hidden + 1):
        a = h @ tp["W%d" % l] + tp["b%d" % l]
        if norm == "batchnorm":
            a = F.batch_norm(a, None, None, tp["gamma%d" % l], tp["beta%d" % l], training=True,
                             eps=ref.BN_EPS)
        elif norm == "layernorm":
            a = F.layer_norm(a, (a.shape[1],), tp["gamma%d" % l], tp["beta%d" % l], eps=ref.LN_EPS)
        h = torch.relu(a)
        if keep < 1.0:
            h = h * torch.tensor(ref.dropout_masks(keep, seed, step, l, 0, x.shape[0], h.shape[1]))
    L = n_hidden + 1
    scores = h @ tp["W%d" % L] + tp["b%d" % L]
    loss = F.cross_entropy(scores, torch.tensor(y))
    loss = loss + 0.5 * reg * sum((tp["W%d" % l] ** 2).sum() for l in range(1, L + 1))
    loss.backward()
    return float(loss), {k: v.grad.numpy() for k, v in tp.items()}


def well_conditioned(norm, trace):
    """A normalisation multiplies the rounding error of its input by gamma / std: a row (layernorm)
    or column (batchnorm) with std 0.08 amplifies the float build's error 12x per layer, forward and
    again backward, and a deep case then misses a 1e-5 tolerance that says nothing about fcnet.
    Keeping every normalised std >= MIN_NORM_STD bounds that gain at ~3 per layer."""
    if norm == "none":
        return True
    axis = 1 if norm == "layernorm" else 0
    return all(a.std(axis=axis).min() >= MIN_NORM_STD for a, _ in trace[: len(trace) // 2])


def make_net(f):
    g = f.create_group("net")
    hidden_sets = [[], [8], [8, 6], [8, 6, 7]]
    cases = []
    for hidden in hidden_sets:
        if not hidden:
            cases += [(hidden, "none", 1.0, 0.0), (hidden, "none", 1.0, 0.1)]
            continue
        for norm in NORMS:
            for keep in (1.0, 0.7):
                for reg in (0.0, 0.1):
                    cases.append((hidden, norm, keep, reg))
    seed = 0x0123456789ABCDEF
    worst = 0.0
    for ci, (hidden, norm, keep, reg) in enumerate(cases):
        step = 5 + ci
        # Half the batchnorm cases use a momentum other than the default, so a network that ignored
        # its bn_momentum setting fails them.
        bn_momentum = 0.9 if reg == 0.0 else 0.7
        dims = [D] + hidden + [C]
        nh = len(hidden)
        # Redraw until no ReLU input lies within KINK_MARGIN of 0 (near the kink the finite
        # differences straddle it, and the float build's rounding could flip the ReLU and fail the C
        # test for nothing; train and test mode both count) and the normalisations are well
        # conditioned (see well_conditioned).
        for _ in range(100):
            params = {k: f32r(v) for k, v in ref.init_params(dims, norm, 0.4, rng).items()}
            x = randn((BATCH, D))
            y = rng.integers(0, C, BATCH)
            # Nonzero starting running statistics of a plausible size: they exercise the momentum
            # update, and test mode stays well conditioned (after one step from 0, running_var is a
            # tenth of the batch variance and each batchnorm layer amplifies float rounding ~3x).
            running0 = {}
            if norm == "batchnorm":
                for l in range(1, nh + 1):
                    running0["running_mean%d" % l] = randn(dims[l], 0.2)
                    running0["running_var%d" % l] = f32r(0.5 + rng.random(dims[l]))
            pre = []
            _, _, running, _ = ref.net_loss(params, x, y, nh, norm, keep, reg, seed, step,
                                            running=running0, bn_momentum=bn_momentum, trace=pre)
            ref.net_loss(params, x, y, nh, norm, keep, reg, seed, step, running=running, mode="test",
                         trace=pre)
            if all(np.abs(a).min() > KINK_MARGIN for _, a in pre) and well_conditioned(norm, pre):
                break
        else:
            raise RuntimeError("no draw kept the ReLU inputs away from 0")
        loss, grads, running, _ = ref.net_loss(params, x, y, nh, norm, keep, reg, seed, step,
                                               running=running0, bn_momentum=bn_momentum)
        params_l = {k: ld(v) for k, v in params.items()}
        x_l = ld(x)
        for name in ref.param_names(nh, norm):
            ng = num_grad(lambda: ref.net_loss(params_l, x_l, y, nh, norm, keep, reg, seed, step,
                                               running=running0, bn_momentum=bn_momentum)[0],
                            params_l[name])
            worst = max(worst, check_numeric("net case%02d %s" % (ci, name), grads[name], ng))
        tl, tg = torch_net(params, x, y, nh, norm, keep, reg, seed, step)
        close_torch("net case%02d loss" % ci, loss, tl)
        for name in grads:
            close_torch("net case%02d d%s" % (ci, name), grads[name], tg[name])
        scores_test = ref.net_loss(params, x, y, nh, norm, keep, reg, seed, step, running=running,
                                   mode="test")
        c = g.create_group("case%02d" % ci)
        c.attrs["description"] = "hidden %s, norm %s, keep %g, reg %g, bn_momentum %g" % (
            hidden, norm, keep, reg, bn_momentum)
        # config: (D, C, n_hidden, norm 0/1/2, keep, reg, seed_lo, seed_hi, step, bn_momentum)
        put(c, "config", [D, C, nh, NORMS[norm], keep, reg, seed & MASK32, seed >> 32, step, bn_momentum])
        if hidden:
            put(c, "hidden", hidden)
        put(c, "x", x)
        put(c, "y", y)
        put(c, "loss", [loss])
        put(c, "scores_test", scores_test)
        for name in params:
            put(c, "params/" + name, params[name])
            put(c, "grads/" + name, grads[name])
        for name, v in running0.items():
            put(c, "running0/" + name, v)
        for name, v in running.items():
            put(c, "running/" + name, v)
    put(g, "n_cases", [len(cases)])
    print("net: %d cases, worst numerical-gradient rel error %.2e" % (len(cases), worst))


def make_init(f):
    """fcnet's seeded initialisation: normal weights (with batchnorm: gamma 1, beta 0) and He."""
    g = f.create_group("init")
    cases = [([8, 6], "batchnorm", 0.05, False, 0xFEEDFACE0001), ([8], "none", 1.0, True, 3)]
    for ci, (hidden, norm, ws, he, seed) in enumerate(cases):
        dims = [D] + hidden + [C]
        p = ref.seeded_params(dims, norm, ws, seed, he)
        w = p["W1"].ravel()
        assert abs(w.std() / (np.sqrt(2.0 / D) if he else ws) - 1.0) < 0.25
        c = g.create_group("case%d" % ci)
        # config: (D, C, n_hidden, norm 0/1/2, weight_scale, init 0 normal / 1 he, seed_lo, seed_hi)
        put(c, "config", [D, C, len(hidden), NORMS[norm], ws, int(he), seed & MASK32, seed >> 32])
        put(c, "hidden", hidden)
        for name, v in p.items():
            put(c, "params/" + name, v)
    put(g, "n_cases", [len(cases)])


# ---------------------------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------------------------
OPTIM_KINDS = {"sgd": 0, "sgd_momentum": 1, "rmsprop": 2, "adam": 3}


def full_config(kind, over=None):
    """(lr, lr_decay, momentum, decay_rate, beta1, beta2, eps) with cs231n defaults."""
    c = dict(lr=None, lr_decay=1.0, momentum=0.9, decay_rate=0.99, beta1=0.9, beta2=0.999, eps=1e-8)
    c.update(ref.OPTIM_DEFAULTS[kind])
    c.update(over or {})
    return c


def make_optim(f):
    g = f.create_group("optim")
    n_steps, n = 5, 20
    # Pairwise distinct, so a rule that read another rule's coefficient (sgd_momentum's mu for adam's
    # beta1, rmsprop's decay_rate for beta2) fails the custom cases.
    custom = dict(lr=0.05, lr_decay=0.5, momentum=0.7, decay_rate=0.95, beta1=0.85, beta2=0.99, eps=1e-6)
    for kind, k in OPTIM_KINDS.items():
        for variant, over, epoch_end in (("", None, [0] * n_steps), ("_custom", custom, [0, 1, 0, 1, 0])):
            cfg = full_config(kind, over)
            w0 = randn(n)
            dws = randn((n_steps, n), np.array([1.0, 0.1, 1e-3, 2.0, 0.5])[:, None])
            dws[:, 0] = 0.0  # a coordinate with zero gradient: rmsprop/adam divide 0 by eps
            w, state, lr = w0.copy(), {}, cfg["lr"]
            ws, slots, ts = [], {s: [] for s in ref.OPTIM_SLOTS[kind]}, []
            for s in range(n_steps):
                w = ref.optim_step(kind, w, dws[s], dict(cfg, lr=lr), state)
                ws.append(w.copy())
                for name in slots:
                    slots[name].append(state[name].copy())
                ts.append(state.get("t", 0))
                if epoch_end[s]:
                    lr *= cfg["lr_decay"]
            c = g.create_group(kind + variant)
            put(c, "config", [k, cfg["lr"], cfg["lr_decay"], cfg["momentum"], cfg["decay_rate"],
                              cfg["beta1"], cfg["beta2"], cfg["eps"]])
            put(c, "epoch_end", epoch_end)
            put(c, "w0", w0)
            put(c, "dw", dws)
            put(c, "w", ws)
            put(c, "t", ts)
            for name, v in slots.items():
                put(c, name, v)
    check_optim_torch()


def check_optim_torch():
    """All four rules against torch.optim in double. torch's momentum SGD keeps v' = -v / lr
    (v' = mu v' + dw; w -= lr v'), the same iterates as cs231n's at a constant lr; its RMSprop and
    Adam use cs231n's formulas (eps outside the sqrt, Adam's bias corrections)."""
    w0 = rng.standard_normal(6)
    dws = rng.standard_normal((5, 6))
    makers = {
        "sgd": lambda p: torch.optim.SGD(p, lr=1e-2),
        "sgd_momentum": lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8),
        "adam": lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8),
    }
    for kind, make in makers.items():
        wt = torch.tensor(w0, requires_grad=True)
        opt = make([wt])
        w, state = w0.copy(), {}
        for s in range(5):
            wt.grad = torch.tensor(dws[s])
            opt.step()
            w = ref.optim_step(kind, w, dws[s], full_config(kind), state)
        close_torch(kind, w, wt, rtol=1e-12, atol=1e-14)


def main():
    tmp = OUT + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["generator"] = "tests/ref/make_fixtures.py"
        f.attrs["layout"] = "see tests/ref/README.md"
        make_rng(f)
        make_layers(f)
        make_net(f)
        make_init(f)
        make_optim(f)
    os.replace(tmp, OUT)
    print("numerical gradients: worst rel error %.2e (limit %g)" % (WORST[0], RTOL_NUM))
    print("wrote %s (%d bytes)" % (OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
