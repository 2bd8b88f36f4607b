#!/bin/bash
# Whole training runs from the command line (and an INI file) against the numpy reference Solver
# (tests/ref/make_cli_fixture.py wrote tests/ref/cli/), covering what train12 (test_train_reference) does
# not: seeded normal and He initialisation, --preprocess standardize, uint8 data, the validation split cut
# from /train by a fraction and by a count, non-default --momentum, --bn-momentum, --beta1/--beta2/--eps
# (from the INI file) and --decay-rate/--eps, a short last batch under batchnorm, a six-layer net, no hidden
# layer, every epoch's checks, the best-validation copy, and eval's test accuracy and confusion matrix.
#
# Four runs (flags below, as in the generator), each in the double and the float build at -n 1, the two
# batchnorm runs also in the double build at -n 3 (statistics over three ranks' slices of the short
# batches); eval's report of each float checkpoint, last and best parameters. Tolerances, |got - want| <= atol + natol * max|want| + rtol * |want| per element:
#  * double build: rtol 1e-9, natol 1e-9 (measured worst 2e-14 of the tensor's scale; the reference does
#    not round x to float32, and neither does this build);
#  * float build: rtol 1e-4, natol 1e-5 (measured worst 3e-6 of the scale);
#  * step, epoch, t, lr, the lr history, the check steps, best_step, and the accuracies (counts; the
#    reference's smallest top-2 score gap is 1.3e-4, far above float error): exact (1e-12).
# Biases that feed batchnorm have gradient 0 in exact arithmetic: the reference's are ~1e-17, fcnet's
# rounding noise (~1e-17 in double, ~1e-9 in float) times lr. These runs use sgd and sgd_momentum there,
# so the noise is not amplified (tests/ref/README.md); they are held to an absolute bound (double 1e-12,
# float 1e-6, measured up to 6.3e-8; velocities 1e-8) instead of their tensor's ~0 scale.
# usage: test_cli_reference.sh H5COMPARE FCNET_DIST_F64 [MPIEXEC]   (FCNET_DIST in the environment)
set -euo pipefail
H5COMPARE=${1:?usage: test_cli_reference.sh H5COMPARE FCNET_DIST_F64 [MPIEXEC]}
DIST_F64=${2:?usage: test_cli_reference.sh H5COMPARE FCNET_DIST_F64 [MPIEXEC]}
MPIEXEC=${3:-mpirun}
DIST=${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}
FIX=${FCNET_TEST_DATA:?FCNET_TEST_DATA must name the tests directory}/ref/cli
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_test_cli_ref.XXXXXX")
trap 'rm -rf "$T"' EXIT

RUNS="momentum_bn_std adam_ln_ini deep_bn_sgd softmax_rmsprop"
declare -A DATA=([momentum_bn_std]=data_a.h5 [adam_ln_ini]=data_a.h5 [deep_bn_sgd]=data_b.h5
                 [softmax_rmsprop]=data_b.h5)
declare -A ARGS=(
    [momentum_bn_std]="--hidden 10,7 --norm batchnorm --optim sgd_momentum --momentum 0.5 --lr 0.05 --lr-decay 0.7
                       --bn-momentum 0.8 --reg 0.05 --val-size 0.15 --preprocess standardize --init he
                       --batch-size 32 --epochs 3 --seed 11"
    [adam_ln_ini]="--config $FIX/adam_ln.ini --lr 3e-3"
    [deep_bn_sgd]="--hidden 8,7,6,5,4 --norm batchnorm --keep 0.8 --optim sgd --lr 0.1 --lr-decay 0.9 --reg 0.02
                   --init he --batch-size 27 --epochs 2 --seed 6"
    [softmax_rmsprop]="--hidden none --optim rmsprop --decay-rate 0.5 --eps 1e-4 --lr 3e-2 --reg 0.1
                       --weight-scale 0.5 --preprocess standardize --batch-size 64 --epochs 3 --seed 2"
)
declare -A BN_FED=([momentum_bn_std]="1 2" [deep_bn_sgd]="1 2 3 4 5") # hidden layers whose bias feeds batchnorm

tolerances() { # tolerances RUN float|double
    local run=$1 build=$2 l
    local rtol=1e-9 natol=1e-9 b_atol=1e-12 v_atol=1e-12
    [ "$build" = float ] && rtol=1e-4 natol=1e-5 b_atol=1e-6 v_atol=1e-8
    echo "--rtol $rtol --natol $natol --atol 0 /params /optim /history/loss /preprocess /best/params"
    [ -n "${BN_FED[$run]:-}" ] && echo "/bn /best/bn"
    echo "--rtol 1e-12 --natol 0 --atol 0 /history/lr /history/check_step /history/train_acc /history/val_acc
          /@step /@epoch /optim@lr /best@best_step /best@best_val_acc"
    [ "$run" = adam_ln_ini ] && echo "/optim@t"
    for l in ${BN_FED[$run]:-}; do
        echo "--rtol 0 --natol 0 --atol $b_atol /params/b$l /best/params/b$l"
        [ "$run" = momentum_bn_std ] && echo "--atol $v_atol /optim/b$l/velocity"
    done
    return 0
}

# eval's test report reduced to "correct/rows m00 m01 ...", the matrix row-major (rows: true classes).
eval_line() { # eval_line CHECKPOINT BINARY [--best]   (one rank, no mpirun: a singleton MPI job)
    local ck=$1 bin=$2
    shift 2
    "$bin" eval --checkpoint "$ck" --split test "$@" >"$T/eval.txt"
    local acc
    acc=$(sed -n 's/^accuracy: .*(\([0-9]*\/[0-9]*\)).*/\1/p' "$T/eval.txt")
    echo "$acc$(awk '/^confusion matrix/ { m = 1; getline; next } m && NF { for (i = 2; i <= NF; i++) printf " %s", $i }' \
        "$T/eval.txt")"
}

for run in $RUNS; do
    specs=("double 1" "float 1")
    [ -n "${BN_FED[$run]:-}" ] && specs+=("double 3") # batchnorm's statistics over the ranks' short slices
    for spec in "${specs[@]}"; do
        read -r build n <<<"$spec"
        bin=$DIST
        [ "$build" = double ] && bin=$DIST_F64
        out="$T/$run-$build-n$n"
        # shellcheck disable=SC2086
        if ! "$MPIEXEC" -n "$n" --oversubscribe --bind-to none "$bin" train --data "$FIX/${DATA[$run]}" \
            ${ARGS[$run]} --out "$out" --print-every 1000 >"$out.log" 2>&1 || [ ! -f "$out/checkpoint.h5" ]; then
            not_ok "$build -n $n $run: training failed"
            cat "$out.log"
            continue
        fi
        # shellcheck disable=SC2046
        compare_h5 "$run $build -n $n vs reference" "$out/checkpoint.h5" "$FIX/expected_$run.h5" \
            $(tolerances "$run" "$build")
        # eval of the product build's checkpoint (the double build's /params and /best are held to 1e-9
        # above; eval's rank-count independence is test_eval's)
        [ "$build" = float ] || continue
        for which in final best; do
            want=$(awk -v w=$which '$1 == w { $1 = ""; sub(/^ /, ""); print }' "$FIX/expected_$run.eval")
            flags=()
            [ "$which" = best ] && flags=(--best)
            got=$(eval_line "$out/checkpoint.h5" "$bin" "${flags[@]}")
            label="eval${flags[*]/#/ }"
            check "$run $build: $label, test split: $got" [ "$got" = "$want" ]
        done
    done
done

tap_end "$t0"
[ "$passed" -eq 18 ] # 4 runs x (2 builds + 2 eval reports) + 2 comparisons at -n 3
