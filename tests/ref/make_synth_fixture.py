#!/usr/bin/python3
"""Writes tests/ref/synth_fixture.h5: what fcnet_synth must write for two commands, computed here from
fcnet_synth's documented definition (its header comment and the README's Datasets section), not from
its code. tests/test_convert.sh runs the commands and compares every dataset with this file.

Run: /usr/bin/python3 tests/ref/make_synth_fixture.py   (numpy and h5py from Debian; < 1 s)

  f32: fcnet_synth --train 50 --val 10 --test 20 --features 7 --classes 3 --seed 5
  u8:  the same with --dtype uint8 --noise 3 (wide enough that some values clamp at 0 and 255)

The definition: every value is a pure function of (seed, split, row, feature) through fcnet's
counter-based generator, stream TEST (5). Each class has two Gaussian blobs; the 2 * classes centres
(centre index = label * 2 + blob) are drawn once, feature j of centre k = (2.5 / sqrt(D)) * normal
number j of (a = 0, row k). Row i of a split (a = 1 train, 2 val, 3 test) takes label = w[0] % classes
and blob = w[1] % 2 from block (seed, TEST, a, b = 1, c = i, index 0), and feature j = centre[j] +
noise * normal number j of (a, row i). Normal number j of (a, row) is Box-Muller on block
(seed, TEST, a, b = 0, c = row, index = j // 2): u1 from words 0 and 1, u2 from words 2 and 3 (53-bit
uniforms), r = sqrt(-2 log(1 - u1)), r cos(2 pi u2) for even j, r sin(2 pi u2) for odd j. float32 x is
the value rounded to float32; uint8 x is clamp(floor(127.5 + 32 v + 0.5), 0, 255).

Only the generator (Philox packing and the 53-bit uniform) comes from reference.py, which shares it
with fcnet because it is part of the contract. The file is deterministic: reruns are byte-identical.
"""
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import RNG_TEST, rng_block, unit_double  # noqa: E402

SEED, FEATURES, CLASSES = 5, 7, 3
SPLITS = (("train", 1, 50), ("val", 2, 10), ("test", 3, 20))
DRAW_CENTRES = 0


def normal(seed, a, row, j):
    w = rng_block(seed, RNG_TEST, a, 0, row, j // 2)
    u1, u2 = unit_double(w[0], w[1]), unit_double(w[2], w[3])
    r = math.sqrt(-2.0 * math.log(1.0 - u1))
    t = 2.0 * math.pi * u2
    return r * (math.sin(t) if j % 2 else math.cos(t))


def synth(seed, d, classes, noise):
    """{split: (values (n, d) float64, labels (n,) uint8)}"""
    scale = 2.5 / math.sqrt(d)
    centres = np.array([[scale * normal(seed, DRAW_CENTRES, k, j) for j in range(d)] for k in range(2 * classes)])
    out = {}
    for name, a, n in SPLITS:
        v = np.empty((n, d))
        y = np.empty(n, dtype=np.uint8)
        for i in range(n):
            w = rng_block(seed, RNG_TEST, a, 1, i, 0)
            label, blob = w[0] % classes, w[1] % 2
            y[i] = label
            for j in range(d):
                v[i, j] = centres[label * 2 + blob, j] + noise * normal(seed, a, i, j)
        out[name] = (v, y)
    return out


def to_uint8(v):
    return np.clip(np.floor(127.5 + 32.0 * v + 0.5), 0, 255).astype(np.uint8)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "synth_fixture.h5")
    tmp = path + ".tmp"
    f32 = synth(SEED, FEATURES, CLASSES, 1.0)
    u8 = synth(SEED, FEATURES, CLASSES, 3.0)
    # The uint8 case must exercise both clamps and the float case every class.
    q = np.concatenate([to_uint8(v).ravel() for v, _ in u8.values()])
    assert (q == 0).any() and (q == 255).any(), "no clamping in the uint8 case"
    assert set(f32["train"][1].tolist()) == set(range(CLASSES))
    with h5py.File(tmp, "w", track_order=False) as f:
        f.attrs["f32_command"] = "fcnet_synth --train 50 --val 10 --test 20 --features 7 --classes 3 --seed 5"
        f.attrs["u8_command"] = f.attrs["f32_command"] + " --dtype uint8 --noise 3"
        for name, (v, y) in f32.items():
            f.create_dataset(f"f32/{name}/x", data=v.astype("<f4"), track_times=False)
            f.create_dataset(f"f32/{name}/y", data=y.astype("<u1"), track_times=False)
        for name, (v, y) in u8.items():
            f.create_dataset(f"u8/{name}/x", data=to_uint8(v).astype("<u1"), track_times=False)
            f.create_dataset(f"u8/{name}/y", data=y.astype("<u1"), track_times=False)
    os.replace(tmp, path)
    print(f"wrote {path}: {int((q == 0).sum())} values clamped at 0, {int((q == 255).sum())} at 255 (uint8 case)")


if __name__ == "__main__":
    main()
