#!/usr/bin/python3
"""Move a fully-connected net between PyTorch and fcnet, and evaluate it in PyTorch.

usage:
  results/torch_interop.py export MODEL.pt PARAMS.h5
  results/torch_interop.py import CHECKPOINT.h5 MODEL.pt [--best]
  results/torch_interop.py eval MODEL --data DATA.h5 [--split test|val|train] [--preprocess-from CHECKPOINT.h5]

export   MODEL.pt (torch.save of an nn.Sequential shaped like fcnet's net: {Linear, [BatchNorm1d | LayerNorm],
         ReLU, [Dropout]} x (L-1), Linear) to PARAMS.h5 holding /params (W<l> as weight.T: fcnet's W is
         (fan_in, fan_out)) and, for batchnorm, /bn (PyTorch's running statistics as they are, so test mode
         computes the same function); prints the fcnet_dist options that build the same net.
import   an fcnet checkpoint's /params (/best/params with --best) and /bn as that nn.Sequential, saved with
         torch.save. Its inputs must be preprocessed as the checkpoint's /preprocess says (fcnet_inputs()).
eval     MODEL (a .pt, or an fcnet checkpoint or --init-from file, imported on the fly) in test mode on a
         split of DATA.h5; prints the accuracy and confusion matrix lines of fcnet_dist eval, so the two
         reports can be compared line for line. Inputs get the /preprocess of --preprocess-from (default:
         MODEL when it is an HDF5 file with one; else none; a --preprocess-from without one is refused); uint8
         features are scaled by 1/255 as fcnet does.

The same functions serve from Python: build(), export(), load(), fcnet_inputs(). Conventions (README,
"Semantics"): fcnet's batchnorm and layernorm use eps 1e-5 (PyTorch's default; other values are refused),
--bn-momentum M is PyTorch's momentum 1 - M, --keep P is PyTorch's Dropout(1 - P); fcnet's running_var is
the biased batch variance and PyTorch's the unbiased one, which changes training from the imported
statistics only, never a test-mode prediction. Needs /usr/bin/python3 with numpy, h5py and torch. A .pt is
a pickle, which runs code when loaded: give export and eval only model files you trust.
"""
import argparse
import io
import math
import os
import stat
import sys

import h5py
import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whole_file import write_whole  # noqa: E402

EPS = 1e-5  # fcnet's batchnorm and layernorm eps, inside the sqrt


class InteropError(Exception):
    """A problem with an input, reported as one line naming the file and the reason (exit 2)."""


def _one_line(err):
    return " ".join(str(err).split())


def _regular(path):
    """Refuses an input that is no regular file: opening a FIFO blocks for good, a device reads forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # the opener says why
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise InteropError(f"{path}: cannot open: not a regular file (a FIFO, socket or device)")


def _h5(path):
    """h5py.File(path, "r"); a failure as one line naming the file (HDF5's reason may hold newlines and no name)."""
    _regular(path)
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise InteropError(f"{path}: {_one_line(err)}") from err


def _write_whole(path, write, source):
    """whole_file.write_whole (no partial file after a failed write), a failure as one line naming the file. Refused
    before anything is written: an output that is the input file source (or whose PATH.tmp is), which the write would
    replace or remove, and a FIFO or socket, whose open would wait for a reader for good."""
    for out in (path, path + ".tmp"):
        if source and os.path.exists(out) and os.path.exists(source) and os.path.samefile(out, source):
            what = "it" if out == path else out
            raise InteropError(f"{path}: cannot write it: {what} is the input {source}, which the write would replace")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise InteropError(f"{path}: cannot write it: a FIFO or socket, not a file")
    try:
        write_whole(path, write)
    except (OSError, RuntimeError) as err:  # torch.save: RuntimeError for a missing folder
        raise InteropError(f"{path}: cannot write it ({_one_line(err)})") from err


def build(n_input, hidden, n_classes, norm="none", keep=1.0, bn_momentum=0.9):
    """The nn.Sequential computing fcnet's net: {Linear, [norm], ReLU, [Dropout]} per hidden layer, Linear."""
    layers, fan_in = [], n_input
    for width in hidden:
        layers.append(nn.Linear(fan_in, width))
        if norm == "batchnorm":
            layers.append(nn.BatchNorm1d(width, eps=EPS, momentum=1.0 - bn_momentum))
        elif norm == "layernorm":
            layers.append(nn.LayerNorm(width, eps=EPS))
        elif norm != "none":
            raise InteropError(f"norm '{norm}': none, batchnorm or layernorm expected")
        layers.append(nn.ReLU())
        if keep < 1.0:
            layers.append(nn.Dropout(1.0 - keep))
        fan_in = width
    layers.append(nn.Linear(fan_in, n_classes))
    return nn.Sequential(*layers)


def _layers(model, where):
    """[(linear, norm or None, dropout p)] per layer of an fcnet-shaped nn.Sequential, checked."""
    if not isinstance(model, nn.Sequential):
        raise InteropError(f"{where}: a {type(model).__name__}, not an nn.Sequential")
    mods, out, i = list(model), [], 0
    while i < len(mods):
        lin = mods[i]
        if not isinstance(lin, nn.Linear):
            raise InteropError(f"{where}: module {i} is a {type(lin).__name__}, nn.Linear expected")
        i += 1
        if i == len(mods):
            out.append((lin, None, 0.0))
            return out
        norm = None
        if isinstance(mods[i], (nn.BatchNorm1d, nn.LayerNorm)):
            norm = mods[i]
            if norm.eps != EPS:
                raise InteropError(f"{where}: module {i} has eps {norm.eps}; fcnet's is {EPS}")
            if isinstance(norm, nn.BatchNorm1d) and not norm.track_running_stats:
                raise InteropError(f"{where}: module {i} keeps no running statistics (track_running_stats=False), "
                                   "which fcnet's test mode uses")
            if isinstance(norm, nn.LayerNorm) and tuple(norm.normalized_shape) != (lin.out_features,):
                raise InteropError(f"{where}: module {i} normalises over {tuple(norm.normalized_shape)}, "
                                   f"fcnet over the layer's {lin.out_features} units")
            i += 1
        if i == len(mods):
            raise InteropError(f"{where}: ends with a {type(mods[i - 1]).__name__}; the last module must be an "
                               "nn.Linear")
        if not isinstance(mods[i], nn.ReLU):
            raise InteropError(f"{where}: module {i} is a {type(mods[i]).__name__}, the hidden layer's nn.ReLU "
                               "expected (fcnet: {Linear, [BatchNorm1d | LayerNorm], ReLU, [Dropout]} per layer)")
        i += 1
        p = 0.0
        if i < len(mods) and isinstance(mods[i], nn.Dropout):
            p = mods[i].p
            i += 1
        out.append((lin, norm, p))
    raise InteropError(f"{where}: empty, or not ending with an nn.Linear")


def _fcnet_options(layers, where):
    """The fcnet_dist train options of the net export() wrote, after checking fcnet can express it."""
    hidden = [lin.out_features for lin, _, _ in layers[:-1]]
    kinds = {type(n) for _, n, _ in layers[:-1]}
    drops = {p for _, _, p in layers[:-1]}
    if len(kinds) > 1:
        raise InteropError(f"{where}: hidden layers normalised differently; fcnet's --norm applies to every "
                           "hidden layer")
    if len(drops) > 1:
        raise InteropError(f"{where}: dropout probabilities {sorted(drops)} differ; fcnet's --keep applies to "
                           "every layer")
    kind = kinds.pop() if kinds else type(None)
    norm = {nn.BatchNorm1d: "batchnorm", nn.LayerNorm: "layernorm"}.get(kind, "none")
    opts = ["--hidden", ",".join(map(str, hidden)) or "none", "--norm", norm]
    p = drops.pop() if drops else 0.0
    if p > 0:
        if not 1.0 - p >= 2.0 ** -24:  # fcnet_dist: 2^-24 <= --keep <= 1
            raise InteropError(f"{where}: dropout probability {p}: fcnet's --keep = 1 - p must be at least 2^-24")
        opts += ["--keep", repr(1.0 - p)]  # the shortest text that reads back as the same double
    moms = {n.momentum for _, n, _ in layers[:-1] if isinstance(n, nn.BatchNorm1d)}
    if moms and not (len(moms) == 1 and None not in moms and math.isclose(next(iter(moms)), 0.1)):
        if len(moms) > 1 or None in moms:
            raise InteropError(f"{where}: batchnorm momentum {sorted(moms, key=str)}: fcnet needs one fixed blend "
                               "(--bn-momentum)")
        momentum = moms.pop()
        m = 1.0 - momentum
        if not 0.0 <= m < 1.0:  # fcnet_dist: 0 <= --bn-momentum < 1
            raise InteropError(f"{where}: batchnorm momentum {momentum!r}: fcnet's --bn-momentum = 1 - momentum, "
                               f"{m!r} in double, must be in [0, 1)")
        opts += ["--bn-momentum", repr(m)]
    return opts


def export(model, path, where="model", source=None):
    """Writes /params (and /bn) of an fcnet-shaped nn.Sequential for fcnet_dist train --init-from; returns the
    train options that build the same net. where names the model in error messages; source, the file it was loaded
    from, is not overwritten."""
    layers = _layers(model, where)
    opts = _fcnet_options(layers, where)

    def arr(t):
        return t.detach().cpu().numpy()

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            for l, (lin, norm, _) in enumerate(layers, 1):
                f[f"params/W{l}"] = arr(lin.weight).T  # fcnet: (fan_in, fan_out)
                f[f"params/b{l}"] = arr(lin.bias) if lin.bias is not None else np.zeros(lin.out_features, np.float32)
                if norm is None:
                    continue
                affine = norm.weight is not None
                f[f"params/gamma{l}"] = arr(norm.weight) if affine else np.ones(lin.out_features, np.float32)
                f[f"params/beta{l}"] = arr(norm.bias) if affine else np.zeros(lin.out_features, np.float32)
                if isinstance(norm, nn.BatchNorm1d):
                    f[f"bn/running_mean{l}"] = arr(norm.running_mean)
                    f[f"bn/running_var{l}"] = arr(norm.running_var)

    _write_whole(path, write, source)
    return ["--init-from", path] + opts


def _attr_str(f, name, default):
    v = f.attrs.get(name, default)
    return v.decode() if isinstance(v, bytes) else str(v)


def load(path, best=False):
    """The nn.Sequential (test mode) holding an fcnet checkpoint's (or --init-from file's) parameters."""
    try:
        return _load(path, best)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as err:
        # a malformed file (a missing b<l>, a W of the wrong shape) is the file's problem: one line naming it
        raise InteropError(f"{path}: not a net fcnet writes ({type(err).__name__}: {_one_line(err)})") from err


def _load(path, best):
    with _h5(path) as f:
        root = "best/" if best else ""
        if root + "params" not in f:
            raise InteropError(f"{path}: /{root}params: missing in the file")
        p = f[root + "params"]
        bn = f.get(root + "bn")
        n_layers = sum(1 for k in p if k.startswith("W"))
        W = [p[f"W{l}"] for l in range(1, n_layers + 1) if f"W{l}" in p]
        if not W or len(W) != n_layers:
            raise InteropError(f"{path}: /{root}params: W1..W{n_layers} expected, found {sorted(p)}")
        norm = _attr_str(f, "norm", "batchnorm" if bn is not None else "layernorm" if "gamma1" in p else "none")
        model = build(W[0].shape[0], [w.shape[1] for w in W[:-1]], W[-1].shape[1], norm,
                      float(f.attrs.get("keep", 1.0)), float(f.attrs.get("bn_momentum", 0.9)))
        layers = _layers(model, path)

        def put(tensor, dataset, transpose=False):
            a = np.asarray(dataset[()], np.float32)
            tensor.copy_(torch.from_numpy(a.T if transpose else a))

        with torch.no_grad():
            for l, (lin, nrm, _) in enumerate(layers, 1):
                put(lin.weight, W[l - 1], transpose=True)  # fcnet: (fan_in, fan_out)
                put(lin.bias, p[f"b{l}"])
                if nrm is None:
                    continue
                put(nrm.weight, p[f"gamma{l}"])
                put(nrm.bias, p[f"beta{l}"])
                if isinstance(nrm, nn.BatchNorm1d):
                    if bn is None:
                        raise InteropError(f"{path}: /{root}bn: missing in the file, and the model has batchnorm")
                    put(nrm.running_mean, bn[f"running_mean{l}"])
                    put(nrm.running_var, bn[f"running_var{l}"])
    return model.eval()


def fcnet_inputs(x, checkpoint=None, required=False):
    """Rows as fcnet feeds them to the net: uint8 scaled by 1/255, then the checkpoint's /preprocess (fitted
    on its training split), in double and rounded once to float32 as fcnet does. A file without /preprocess
    (an --init-from file) applies none, unless required: then it is refused."""
    x = np.asarray(x)
    x = (x.astype(np.float64) / 255.0).astype(np.float32) if x.dtype == np.uint8 else x.astype(np.float32)
    if checkpoint is None:
        return x
    with _h5(checkpoint) as f:
        if "preprocess" not in f:
            # Every fcnet checkpoint has one (kind "none" too): a file asked for by name without it is the wrong
            # file, and applying nothing would only lower the accuracy, silently.
            if required:
                raise InteropError(f"{checkpoint}: /preprocess: missing in the file (not an fcnet checkpoint, which "
                                   "always has one)")
            return x
        n_input = f.attrs.get("n_input")  # every checkpoint's: kind "none" has no /preprocess/mean to compare
        if n_input is not None and int(n_input) != x.shape[1]:
            raise InteropError(f"{checkpoint}: a net of {int(n_input)} features, the data {x.shape[1]}")
        kind = _attr_str(f["preprocess"], "kind", "none")
        if kind == "none":
            return x
        mean = f["preprocess/mean"][()]
        if mean.shape != x.shape[1:]:
            raise InteropError(f"{checkpoint}: /preprocess/mean has {mean.size} features, the data {x.shape[1]}")
        y = x.astype(np.float64) - mean
        if kind == "standardize":
            y /= f["preprocess/std"][()]
        return y.astype(np.float32)


def report(model, x, y, n_classes):
    """fcnet_dist eval's accuracy and confusion-matrix lines for the model's test-mode predictions."""
    with torch.no_grad():
        scores = model.eval()(torch.from_numpy(x)).numpy()
    ok = np.isfinite(scores).all(axis=1)  # fcnet: a row with a NaN or Inf score has no class
    pred = scores.argmax(axis=1)  # the first maximum on a tie, as fcnet
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (y[ok], pred[ok]), 1)
    correct = int(np.trace(matrix))
    lines = [f"accuracy:   {correct / max(len(y), 1):.4f} ({correct}/{len(y)})"]
    if (~ok).any():
        lines.append(f"no class:   {int((~ok).sum())} rows with NaN or infinite scores, counted as wrong "
                     "(in no column of the matrix)")
    cw = max(len(str(matrix.max())), 4, len(str(n_classes - 1)))
    lines += ["", "confusion matrix (rows: true class, columns: predicted class):",
              "  " + "true\\pred".rjust(9) + "".join(f" {p:>{cw}}" for p in range(n_classes))]
    lines += [f"  {t:>9}" + "".join(f" {c:>{cw}}" for c in row) for t, row in enumerate(matrix)]
    return "\n".join(lines)


def _load_pt(path):
    """A whole model saved with torch.save (a pickle: torch 2.6 and later load only tensors by default).
    Unpickling runs code the file names: load only files you trust."""
    _regular(path)
    try:
        return torch.load(path, weights_only=False)
    except (OSError, InteropError):
        raise
    except Exception as err:  # torch.load's errors for a file that is no saved model have no common base
        raise InteropError(f"{path}: not a model saved with torch.save ({type(err).__name__}: {err})") from err


def _print_report(text):
    """The report on standard output; one that cannot be written (closed, a full disk, a closed pipe) is an error,
    not a lost report with exit 0."""
    if sys.stdout is None:
        raise InteropError("standard output is closed: the report is lost")
    try:
        print(text)
        sys.stdout.flush()
    except OSError as err:
        raise InteropError(f"cannot write to standard output ({err.strerror or err}): the report is lost") from err


def main(argv):
    ap = argparse.ArgumentParser(prog="torch_interop.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="an nn.Sequential saved with torch.save -> /params (+ /bn) for --init-from")
    e.add_argument("model")
    e.add_argument("params")
    i = sub.add_parser("import", help="an fcnet checkpoint -> an nn.Sequential saved with torch.save")
    i.add_argument("checkpoint")
    i.add_argument("model")
    i.add_argument("--best", action="store_true", help="the best-validation parameters (/best)")
    v = sub.add_parser("eval", help="test-mode accuracy and confusion matrix in PyTorch")
    v.add_argument("model", help="a .pt from torch.save, or an fcnet checkpoint or --init-from file")
    v.add_argument("--data", required=True)
    v.add_argument("--split", default="test", choices=["test", "val", "train"])
    v.add_argument("--preprocess-from", metavar="CHECKPOINT", help="apply this checkpoint's /preprocess")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "export":
            opts = export(_load_pt(a.model), a.params, a.model, source=a.model)
            print("fcnet_dist train " + " ".join(opts) + " ...")
        elif a.cmd == "import":
            model = load(a.checkpoint, a.best)
            buf = io.BytesIO()  # torch.save into a file that fails aborts the process (C++ terminate), exit 134
            torch.save(model, buf)

            def write(tmp):
                with open(tmp, "wb") as fh:
                    fh.write(buf.getbuffer())
            _write_whole(a.model, write, a.checkpoint)
        else:
            _regular(a.model)
            is_h5 = h5py.is_hdf5(a.model)
            model = load(a.model) if is_h5 else _load_pt(a.model)
            with _h5(a.data) as f:
                if a.split not in f:
                    raise InteropError(f"{a.data}: /{a.split}: missing in the file (fcnet_dist eval cuts a missing "
                                       "/val out of /train; this script reads stored splits only)")
                x, y = f[a.split]["x"][()], f[a.split]["y"][()].astype(np.int64)
            layers = _layers(model, a.model)
            n_input, n_classes = layers[0][0].in_features, layers[-1][0].out_features
            if x.ndim != 2 or x.shape[1] != n_input:
                raise InteropError(f"{a.data}: /{a.split}/x: shape {x.shape}, the model takes {n_input} features")
            x = fcnet_inputs(x, a.preprocess_from or (a.model if is_h5 else None), required=bool(a.preprocess_from))
            if len(y) and (y.min() < 0 or y.max() >= n_classes):
                raise InteropError(f"{a.data}: /{a.split}/y: labels {y.min()}..{y.max()}, the model has {n_classes} "
                                   "classes")
            _print_report(report(model, x, y, n_classes))
    except (InteropError, OSError, KeyError) as err:
        print(f"torch_interop.py: error: {_one_line(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
