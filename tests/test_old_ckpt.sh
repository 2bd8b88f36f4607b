#!/usr/bin/env bash
# Checkpoints written before today's refusals (tests/ref/old_ckpt, made by commit 66f5e3b's fcnet_dist with
# make_old_ckpt.sh there, stopped at step 5) resumed on 2 ranks as the README says:
#  - --keep 1e-9 (below 2^-24): resumes to the end (step 12, finished) with one warning line from rank 0;
#  - --norm batchnorm --batch-size 1: refused, exit 2, one line naming the attribute and --init-from FILE;
#    --init-from FILE with --batch-size 2 then trains;
#  - --norm layernorm --hidden 8,1: resumes to the end with one warning line from rank 0 naming layer 2 and
#    saying that its output does not depend on its input.
#   tests/test_old_ckpt.sh FCNET_SYNTH H5CMP [MPIEXEC]       (FCNET_DIST from the environment)
set -uo pipefail
FIX=$(cd "$(dirname "${BASH_SOURCE[0]}")/ref/old_ckpt" && pwd)
# shellcheck source=tests/ckpt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"

# The checkpoints name their dataset as d.h5: the same one, made here.
"$SYNTH" --out d.h5 --train 60 --val 20 --features 4 --classes 3 --seed 11 >/dev/null || exit 1
cp "$FIX"/*.h5 . || exit 1

# resumes_with_warning NAME TEXT...: resumed to step 12, finished, and exactly one warning line holding TEXT
resumes_with_warning() {
    local name=$1
    shift
    fcnet 2 "log.$name" train --resume "$name.h5" --out "res_$name"
    local rc=$? why="" t
    local -a warns=()
    mapfile -t warns < <(grep 'warning' "log.$name")
    [ $rc = 0 ] || why="$why exit $rc;"
    [ "$(attr "res_$name/checkpoint.h5" /@step)" = 12 ] || why="$why step '$(attr "res_$name/checkpoint.h5" /@step)', not 12;"
    [ "$(attr "res_$name/checkpoint.h5" /@finished)" = 1 ] || why="$why not finished;"
    [ "${#warns[@]}" = 1 ] || why="$why ${#warns[@]} warning lines;"
    for t in "$@"; do [[ "${warns[0]:-}" == *"$t"* ]] || why="$why the warning lacks '$t';"; done
    if [ -n "$why" ]; then
        fail "$name:$why"
        tail -5 "log.$name" | sed 's/^/    /'
    else
        pass "$name: resumed to the end, '${warns[0]}'"
    fi
}

resumes_with_warning keep_tiny "[rank 0/2] warning: keep_tiny.h5: attribute 'keep' of / is 1e-09, below 2^-24" \
    "as it did before"
resumes_with_warning ln_unit "[rank 0/2] warning: ln_unit.h5: hidden layer 2 has 1 unit under --norm layernorm" \
    "the layer's output does not depend on its input" "resumes as it trained"

timeout 300 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" train --resume bn_batch1.h5 --out res_bn >out.bn 2>err.bn
expect_error "bn_batch1" 2 out.bn err.bn $? "bn_batch1.h5: attribute 'batch_size' of / is 1 with 60 training rows" \
    "--init-from bn_batch1.h5 and a --batch-size of 2 or more rows"
[ ! -e res_bn ] || fail "bn_batch1: the refused resume left res_bn"
if must_run 2 log.init train --init-from bn_batch1.h5 --data d.h5 --hidden 8 --norm batchnorm --batch-size 2 \
    --epochs 1 --out init_bn; then
    pass "bn_batch1: the way on, --init-from it with --batch-size 2, trains"
fi
finish
