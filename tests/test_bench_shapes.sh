#!/bin/bash
# The benchmark's sgemm bound is the time of "exactly the GEMMs of one step" (README, Performance): held here to
# the GEMMs fcnet_dist really makes. tests/sgemm_log.c, preloaded, logs every cblas_sgemm call of a short
# training run at 1 and 2 ranks; sgemm_bound lists its GEMMs for the same net, global batch and rank count.
#  - The backward GEMMs (one operand transposed) occur only in training steps: each of the bound's appears
#    once per step on the rank with the most rows, and the step makes no other (no layer-1 dx, none missing).
#  - Each of the bound's forward GEMMs appears at least once per step (the accuracy checks add more forwards
#    of other row counts, so the forward list is not compared the other way).
#  - Every call has the operand layout the bound times (packed rows, C overwritten: beta 0).
#   tests/test_bench_shapes.sh FCNET_SYNTH SGEMM_BOUND SGEMM_LOG [MPIEXEC]     (FCNET_DIST from the environment)
set -uo pipefail
SYNTH=${1:?usage: $0 FCNET_SYNTH SGEMM_BOUND SGEMM_LOG [MPIEXEC]}
BOUND=${2:?}
SGEMM_LOG=${3:?}
MPIEXEC=${4:-mpirun}
: "${FCNET_DIST:?set FCNET_DIST to the fcnet_dist binary}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
W=$(mktemp -d "${TMPDIR:-/tmp}/fcnet-bench-shapes.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1

STEPS=3
"$SYNTH" --out d.h5 --train 60 --val 0 --features 20 --classes 5 --seed 2 >/dev/null || exit 1
# Batch 15 splits into 8 + 7 rows at 2 ranks (rank 0, whose calls are compared, has the most); three hidden
# layers, batchnorm and dropout, as in the benchmark's nets.
for ranks in 1 2; do
    rm -f log.*
    FCNET_TEST_SGEMM_LOG=$W/log timeout 60 "$MPIEXEC" --oversubscribe --bind-to none -n $ranks \
        -x LD_PRELOAD="$SGEMM_LOG" -x FCNET_TEST_SGEMM_LOG "$FCNET_DIST" train --data d.h5 --hidden 16,12,8 \
        --norm batchnorm --keep 0.9 --optim adam --batch-size 15 --val-size 0 --max-steps $STEPS --out run$ranks \
        >train$ranks.log 2>&1 || { not_ok "-n $ranks: the logged training run failed: $(tail -2 train$ranks.log)"; continue; }
    "$BOUND" --dims 20,16,12,8,5 --batch 15 --ranks $ranks --threads 1 --min-time 0.0001 --trials 1 >bound$ranks.txt ||
        { not_ok "-n $ranks: sgemm_bound failed"; continue; }
    # "TA TB m n k" of each of the bound's GEMMs (its table: what layer trans m n k ...), and of each logged call.
    awk '$1 ~ /^(fwd|dW|dx)$/ { print substr($3, 1, 1), substr($3, 2, 1), $4, $5, $6 }' bound$ranks.txt |
        sort >bound$ranks.shapes
    awk '{ print $1, $2, $3, $4, $5 }' log.0 | sort >logged$ranks.shapes
    n_bound=$(wc -l <bound$ranks.shapes)
    check "-n $ranks: sgemm_bound lists 4 forward, 4 weight and 3 input-gradient GEMMs (no layer-1 dx)" \
        test "$n_bound $(grep -c '^N N' bound$ranks.shapes)" = "11 4"
    # Backward: every one of the bound's once per step, and no other in the run.
    want=$(grep -v '^N N' bound$ranks.shapes | awk -v s=$STEPS '{ for (i = 0; i < s; i++) print }' | sort)
    got=$(grep -v '^N N' logged$ranks.shapes)
    if [ -n "$want" ] && [ "$got" = "$want" ]; then
        ok "-n $ranks: the run's backward GEMMs are the bound's, $STEPS times each"
    else
        not_ok "-n $ranks: backward GEMMs differ (bound x $STEPS < >  logged): $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' ';')"
    fi
    # Operands packed as the bound times them (leading dimension = row length) and C overwritten (beta 0).
    bad=$(awk '!(($1 $2 == "NN" && $6 == $5 && $7 == $4 && $8 == $4) || ($1 $2 == "TN" && $6 == $3 && $7 == $4 &&
          $8 == $4) || ($1 $2 == "NT" && $6 == $5 && $7 == $5 && $8 == $4)) || $9 != 0' log.0 | head -2)
    check "-n $ranks: every logged GEMM has packed operands and beta 0, as the bound's${bad:+ (not: $bad)}" test -z "$bad"
    missing=0
    while read -r shape; do
        [ "$(grep -cx "$shape" logged$ranks.shapes)" -ge $STEPS ] || { missing=$((missing + 1)); echo "# not logged $STEPS times: $shape"; }
    done < <(grep '^N N' bound$ranks.shapes)
    check "-n $ranks: each of the bound's forward GEMMs made at least once per step" test $missing = 0
done
tap_end "$t0"
