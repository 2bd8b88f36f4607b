"""Independent float64 reference of fcnet's semantics (the README's Semantics section; the project's design notes, section 1), written from the cs231n
formulas, not translated from the C code. make_fixtures.py validates it (numerical gradients, PyTorch)
and writes the fixtures that tests/test_ref.c compares fcnet against.

Only the random-number packing is copied from fcnet by necessity: it is part of fcnet's contract
(src/rng.c), so the reference must draw the very same bits.
"""
import math

import numpy as np

MASK32 = 0xFFFFFFFF

# ---------------------------------------------------------------------------------------------------
# Philox4x32-10 (Salmon et al., SC'11; constants as in Random123)
# ---------------------------------------------------------------------------------------------------
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85

# Stream ids of fcnet/rng.h.
RNG_INIT = 1
RNG_DROPOUT = 2
RNG_PERM = 3
RNG_SUBSAMPLE = 4
RNG_TEST = 5


def philox4x32(ctr, key, rounds=10):
    """Four 32-bit words from a 4-word counter and a 2-word key (Python ints, exact)."""
    c0, c1, c2, c3 = (int(v) & MASK32 for v in ctr)
    k0, k1 = (int(v) & MASK32 for v in key)
    for _ in range(rounds):
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        hi0, lo0 = p0 >> 32, p0 & MASK32
        hi1, lo1 = p1 >> 32, p1 & MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + PHILOX_W0) & MASK32
        k1 = (k1 + PHILOX_W1) & MASK32
    return (c0, c1, c2, c3)


def rng_block(seed, stream, a, b, c, index):
    """fcnet's packing: counter = (index, c, stream << 24 | b, a), key = (seed low 32, seed high 32)."""
    assert 0 <= b < (1 << 24) and 0 <= stream < 256 and 0 <= a <= MASK32
    ctr = (index & MASK32, c & MASK32, (stream << 24) | b, a)
    key = (seed & MASK32, (seed >> 32) & MASK32)
    return philox4x32(ctr, key)


def unit_float(w):
    """Uniform in [0, 1) with 24 bits: exactly representable in float32, so the C float build's
    comparison u < keep sees the same u."""
    return (w >> 8) / 16777216.0


def unit_double(hi, lo):
    """Uniform in [0, 1) with 53 bits from two words (rng.h's formula)."""
    return (((hi << 21) ^ (lo >> 11)) & ((1 << 53) - 1)) / 9007199254740992.0


def normal_fill(n, seed, tensor_id, std):
    """N(0, std) by Box-Muller: element e uses block e // 2 (index = low 32 bits, c = high 32 bits),
    u1 from words (0, 1), u2 from (2, 3); even e takes the cosine, odd e the sine. 1 - u1 keeps the
    log argument in (0, 1]."""
    out = np.empty(n, dtype=np.float64)
    for e in range(0, n, 2):
        blk = e >> 1
        w = rng_block(seed, RNG_INIT, tensor_id, 0, blk >> 32, blk & MASK32)
        u1 = unit_double(w[0], w[1])
        u2 = unit_double(w[2], w[3])
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        out[e] = std * r * math.cos(2.0 * math.pi * u2)
        if e + 1 < n:
            out[e + 1] = std * r * math.sin(2.0 * math.pi * u2)
    return out


def permutation(n, seed, stream, a):
    """Fisher-Yates from the top: for i = n-1 .. 1, u = 53-bit uniform of position i (block i // 2,
    words (0, 1) for even i and (2, 3) for odd i), j = floor(u * (i + 1)), swap perm[i] and perm[j]."""
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        blk = i >> 1
        w = rng_block(seed, stream, a, 0, blk >> 32, blk & MASK32)
        u = unit_double(w[2], w[3]) if i & 1 else unit_double(w[0], w[1])
        j = min(int(u * (i + 1)), i)
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=np.int64)


def dropout_mask(keep, seed, step, layer, row, unit):
    """Mask value of one unit: (u < keep) / keep with u from block unit // 4 of
    (seed, DROPOUT, a = step, b = layer, c = global row), word unit % 4. keep >= 1 means no dropout."""
    if keep >= 1.0:
        return 1.0
    w = rng_block(seed, RNG_DROPOUT, step, layer, row, unit // 4)[unit % 4]
    return (1.0 / keep) if unit_float(w) < keep else 0.0


def dropout_masks(keep, seed, step, layer, row0, batch, n):
    """(batch, n) masks for global rows row0 .. row0 + batch - 1."""
    m = np.ones((batch, n), dtype=np.float64)
    if keep >= 1.0:
        return m
    for i in range(batch):
        for j0 in range(0, n, 4):
            w = rng_block(seed, RNG_DROPOUT, step, layer, row0 + i, j0 // 4)
            for k in range(min(4, n - j0)):
                m[i, j0 + k] = (1.0 / keep) if unit_float(w[k]) < keep else 0.0
    return m


# ---------------------------------------------------------------------------------------------------
# Layers (cs231n formulas)
# ---------------------------------------------------------------------------------------------------
BN_EPS = 1e-5
LN_EPS = 1e-5


def affine_forward(x, w, b):
    return x @ w + b


def affine_backward(dout, x, w):
    """Returns dx, dw, db."""
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(dout, out):
    return np.where(out > 0, dout, 0.0)


def batchnorm_forward_train(x, gamma, beta, running_mean, running_var, momentum=0.9):
    """Batch mean and *biased* variance (cs231n); running = momentum * running + (1 - momentum) * batch
    for the mean and the biased variance. Returns out, cache, new running mean, new running var."""
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + BN_EPS)
    xhat = (x - mu) * inv_std
    out = gamma * xhat + beta
    rm = momentum * running_mean + (1.0 - momentum) * mu
    rv = momentum * running_var + (1.0 - momentum) * var
    return out, (xhat, inv_std, gamma), rm, rv


def batchnorm_forward_test(x, gamma, beta, running_mean, running_var):
    return gamma * (x - running_mean) / np.sqrt(running_var + BN_EPS) + beta


def batchnorm_backward(dout, cache):
    """cs231n's simplified form: dx = gamma * inv_std / N * (N dout - sum(dout) - xhat sum(dout xhat))."""
    xhat, inv_std, gamma = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * inv_std / n * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta):
    """Per row over features, biased variance, eps inside the sqrt. inv_std is per row."""
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + LN_EPS)
    xhat = (x - mu) * inv_std
    out = gamma * xhat + beta
    return out, (xhat, inv_std[:, 0], gamma)


def layernorm_backward(dout, cache):
    """Batchnorm's formula transposed: the normalisation runs over the D features of each row."""
    xhat, inv_std, gamma = cache
    d = dout.shape[1]
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = dout * gamma
    dx = (inv_std[:, None] / d) * (d * dxhat - dxhat.sum(axis=1, keepdims=True)
                                   - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta


def softmax_loss(scores, y, global_batch=None):
    """Sum over rows of -log softmax(scores)[y], divided by global_batch (default: the rows here);
    dscores = (p - onehot) / global_batch. Max subtraction keeps exp from overflowing."""
    n = scores.shape[0]
    gb = n if global_batch is None else global_batch
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_z
    loss = -log_p[np.arange(n), y].sum() / gb
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1.0
    return loss, dscores / gb


def moments_columns(x):
    """Per-feature (mean, M2 = sum of squared deviations)."""
    mean = x.mean(axis=0)
    return mean, ((x - mean) ** 2).sum(axis=0)


def moments_merge(na, mean_a, m2_a, nb, mean_b, m2_b):
    """Chan et al.'s pairwise merge."""
    if nb == 0:
        return na, mean_a.copy(), m2_a.copy()
    n = na + nb
    delta = mean_b - mean_a
    mean = mean_a + delta * (nb / n)
    m2 = m2_a + m2_b + delta * delta * (na * nb / n)
    return n, mean, m2


# ---------------------------------------------------------------------------------------------------
# Whole network
# ---------------------------------------------------------------------------------------------------
def param_names(n_hidden, norm):
    """cs231n names in fcnet's layer order (W, b, then gamma, beta of the normalised hidden layer)."""
    names = []
    for l in range(1, n_hidden + 2):
        names += ["W%d" % l, "b%d" % l]
        if l <= n_hidden and norm != "none":
            names += ["gamma%d" % l, "beta%d" % l]
    return names


def init_params(dims, norm, weight_scale, rng):
    """Explicit (not fcnet-seeded) parameters for fixtures: weights N(0, weight_scale), and nonzero
    biases, gamma and beta so that every term of every gradient is exercised."""
    p = {}
    n_layers = len(dims) - 1
    for l in range(1, n_layers + 1):
        p["W%d" % l] = weight_scale * rng.standard_normal((dims[l - 1], dims[l]))
        p["b%d" % l] = 0.1 * rng.standard_normal(dims[l])
        if l < n_layers and norm != "none":
            p["gamma%d" % l] = 1.0 + 0.2 * rng.standard_normal(dims[l])
            p["beta%d" % l] = 0.1 * rng.standard_normal(dims[l])
    return p


def seeded_params(dims, norm, weight_scale, seed, he=False):
    """fcnet's own initialisation (fc_net_init_params): W_l row-major from
    normal_fill(seed, tensor_id = l, std) with std = weight_scale, or sqrt(2 / fan_in) for He;
    biases 0, gamma 1, beta 0. The tensor id is the layer number, so adding norm layers leaves the
    weights unchanged."""
    p = {}
    n_layers = len(dims) - 1
    for l in range(1, n_layers + 1):
        std = math.sqrt(2.0 / dims[l - 1]) if he else weight_scale
        p["W%d" % l] = normal_fill(dims[l - 1] * dims[l], seed, l, std).reshape(dims[l - 1], dims[l])
        p["b%d" % l] = np.zeros(dims[l])
        if l < n_layers and norm != "none":
            p["gamma%d" % l] = np.ones(dims[l])
            p["beta%d" % l] = np.zeros(dims[l])
    return p


def net_loss(params, x, y, n_hidden, norm, keep, reg, seed, step, row0=0, running=None,
             bn_momentum=0.9, mode="train", trace=None):
    """One train-mode forward/backward of {affine - [norm] - relu - [dropout]} x (L-1) - affine - softmax.

    Returns (loss, grads, new_running, scores). loss = mean CE + 0.5 reg sum W^2 (weights only);
    grads include reg * W. Dropout layer l (1-based hidden index) uses masks keyed by
    (seed, step, l, row0 + i). running maps 'running_mean<l>'/'running_var<l>' (default zeros).
    mode 'test' returns only the scores (running statistics, no dropout). trace, when a list,
    receives (affine output, ReLU input) of every hidden layer.
    """
    n_layers = n_hidden + 1
    batch = x.shape[0]
    running = {} if running is None else dict(running)
    new_running = {}
    caches = []
    h = x
    for l in range(1, n_layers):
        w, b = params["W%d" % l], params["b%d" % l]
        a = affine_forward(h, w, b)
        affine_out = a
        norm_cache = None
        if norm == "batchnorm":
            rm = running.get("running_mean%d" % l, np.zeros(w.shape[1]))
            rv = running.get("running_var%d" % l, np.zeros(w.shape[1]))
            if mode == "train":
                a, norm_cache, rm2, rv2 = batchnorm_forward_train(
                    a, params["gamma%d" % l], params["beta%d" % l], rm, rv, bn_momentum)
                new_running["running_mean%d" % l] = rm2
                new_running["running_var%d" % l] = rv2
            else:
                a = batchnorm_forward_test(a, params["gamma%d" % l], params["beta%d" % l], rm, rv)
        elif norm == "layernorm":
            a, norm_cache = layernorm_forward(a, params["gamma%d" % l], params["beta%d" % l])
        if trace is not None:
            trace.append((affine_out, a))
        r = relu_forward(a)
        mask = None
        h_next = r
        if mode == "train" and keep < 1.0:
            mask = dropout_masks(keep, seed, step, l, row0, batch, r.shape[1])
            h_next = r * mask
        caches.append((h, norm_cache, r, mask))
        h = h_next
    wl, bl = params["W%d" % n_layers], params["b%d" % n_layers]
    scores = affine_forward(h, wl, bl)
    if mode == "test":
        return scores
    data_loss, dscores = softmax_loss(scores, y)
    reg_loss = 0.5 * reg * sum((params["W%d" % l] ** 2).sum() for l in range(1, n_layers + 1))
    grads = {}
    dh, grads["W%d" % n_layers], grads["b%d" % n_layers] = affine_backward(dscores, h, wl)
    for l in range(n_layers - 1, 0, -1):
        h_in, norm_cache, relu_out, mask = caches[l - 1]
        if mask is not None:
            dh = dh * mask
        da = relu_backward(dh, relu_out)
        if norm == "batchnorm":
            da, grads["gamma%d" % l], grads["beta%d" % l] = batchnorm_backward(da, norm_cache)
        elif norm == "layernorm":
            da, grads["gamma%d" % l], grads["beta%d" % l] = layernorm_backward(da, norm_cache)
        dh, grads["W%d" % l], grads["b%d" % l] = affine_backward(da, h_in, params["W%d" % l])
    for l in range(1, n_layers + 1):
        grads["W%d" % l] = grads["W%d" % l] + reg * params["W%d" % l]
    return data_loss + reg_loss, grads, new_running, scores


# ---------------------------------------------------------------------------------------------------
# Optimizers (cs231n formulas; config dicts hold the slots)
# ---------------------------------------------------------------------------------------------------
OPTIM_DEFAULTS = {
    "sgd": dict(lr=1e-2),
    "sgd_momentum": dict(lr=1e-2, momentum=0.9),
    "rmsprop": dict(lr=1e-2, decay_rate=0.99, eps=1e-8),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
}
OPTIM_SLOTS = {"sgd": [], "sgd_momentum": ["velocity"], "rmsprop": ["cache"], "adam": ["m", "v"]}


def optim_step(kind, w, dw, cfg, state):
    """One update; returns new w and updates state (slots, and t for adam) in place."""
    lr = cfg["lr"]
    if kind == "sgd":
        return w - lr * dw
    if kind == "sgd_momentum":
        v = state.get("velocity", np.zeros_like(w))
        v = cfg["momentum"] * v - lr * dw
        state["velocity"] = v
        return w + v
    if kind == "rmsprop":
        c = state.get("cache", np.zeros_like(w))
        c = cfg["decay_rate"] * c + (1.0 - cfg["decay_rate"]) * dw * dw
        state["cache"] = c
        return w - lr * dw / (np.sqrt(c) + cfg["eps"])
    if kind == "adam":
        t = state.get("t", 0) + 1  # t is incremented before the update (cs231n)
        m = state.get("m", np.zeros_like(w))
        v = state.get("v", np.zeros_like(w))
        b1, b2 = cfg["beta1"], cfg["beta2"]
        m = b1 * m + (1.0 - b1) * dw
        v = b2 * v + (1.0 - b2) * dw * dw
        state.update(t=t, m=m, v=v)
        mhat = m / (1.0 - b1 ** t)
        vhat = v / (1.0 - b2 ** t)
        return w - lr * mhat / (np.sqrt(vhat) + cfg["eps"])
    raise ValueError(kind)
