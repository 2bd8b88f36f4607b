#!/usr/bin/env bash
# Writes the checkpoints of tests/test_old_ckpt.sh: runs that fcnet accepted before it refused them (commit
# 66f5e3b and earlier), stopped at step 5 of 12 on 2 ranks. Build that commit's fcnet_dist, then
#   git worktree add /tmp/old 66f5e3b && cmake -S /tmp/old -B /tmp/old/build -DCMAKE_BUILD_TYPE=Release &&
#   cmake --build /tmp/old/build --target fcnet_dist
#   tests/ref/old_ckpt/make_old_ckpt.sh /tmp/old/build/fcnet_dist build/datasets/fcnet_synth
# It writes keep_tiny.h5 (--keep 1e-9, below 2^-24), bn_batch1.h5 (--norm batchnorm --batch-size 1) and
# ln_unit.h5 (--norm layernorm --hidden 8,1) next to itself. Each names its dataset as d.h5, relative: the test
# makes the same d.h5 with fcnet_synth in its scratch directory and resumes there.
set -euo pipefail
OLD=$(realpath "$1") SYNTH=$(realpath "$2") HERE=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
W=$(mktemp -d)
cd "$W"
"$SYNTH" --out d.h5 --train 60 --val 20 --features 4 --classes 3 --seed 11 >/dev/null
run() { # NAME ARG...
    local name=$1
    shift
    mpirun -q --oversubscribe -n 2 "$OLD" train --data d.h5 --epochs 2 --max-steps 5 --print-every 1000 \
        --out "$name" "$@" >/dev/null
    cp "$name/checkpoint.h5" "$HERE/$name.h5"
}
run keep_tiny --hidden 8 --keep 1e-9 --batch-size 10
run bn_batch1 --hidden 8 --norm batchnorm --batch-size 1 --epochs 1
run ln_unit --hidden 8,1 --norm layernorm --batch-size 10
rm -rf "$W"
