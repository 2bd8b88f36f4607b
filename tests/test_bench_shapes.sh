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
tap_scratch bench_shapes

STEPS=3
"$SYNTH" --out d.h5 --train 60 --val 0 --features 20 --classes 5 --seed 2 >/dev/null || exit 1
# Batch 15 splits into 8 + 7 rows at 2 ranks (rank 0, whose calls are compared, has the most); three hidden
# layers, batchnorm and dropout, as in the benchmark's nets.
for ranks in 1 2; do
    rm -f log.*
    FCNET_TEST_SGEMM_LOG=$T/log timeout 60 "$MPIEXEC" --oversubscribe --bind-to none -n $ranks \
        -x LD_PRELOAD="$SGEMM_LOG" -x FCNET_TEST_SGEMM_LOG "$FCNET_DIST" train --data d.h5 --hidden 16,12,8 \
        --norm batchnorm --keep 0.9 --optim adam --batch-size 15 --val-size 0 --max-steps $STEPS --out run$ranks \
        >train$ranks.log 2>&1 || { not_ok "-n $ranks: the logged training run failed: $(tail -2 train$ranks.log)"; continue; }
    "$BOUND" --dims 20,16,12,8,5 --batch 15 --ranks $ranks --threads 1 --min-time 0.0001 --trials 1 >bound$ranks.txt ||
        { not_ok "-n $ranks: sgemm_bound failed"; continue; }
    # "TA TB m n k lda ldb ldc" of each of the bound's GEMMs (its table: what layer trans m n k usec GFLOP/s lda
    # ldb ldc), and of each logged call: the bound times the operand layout fcnet passes, not only the shape.
    awk '$1 ~ /^(fwd|dW|dx)$/ { print substr($3, 1, 1), substr($3, 2, 1), $4, $5, $6, $9, $10, $11 }' bound$ranks.txt |
        sort >bound$ranks.shapes
    awk '{ print $1, $2, $3, $4, $5, $6, $7, $8 }' log.0 | sort >logged$ranks.shapes
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
# The bound's arithmetic, on a net big enough for --json's 6 decimals of GFLOP: dims 300,100,100,100,10, global
# batch 200 over 2 ranks = local batch 100 (layers 2 and 3 share a shape: timed once, counted twice).
#   forward  2*100*(300*100 + 100*100 + 100*100 + 100*10) = 10,200,000 FLOP; dW the same
#   dx (layers 2..4) 2*100*(100*100 + 100*100 + 100*10) = 4,200,000    -> 24,600,000 FLOP = 0.024600 GFLOP
# gemm_seconds is the sum of every listed GEMM's time (the shared shape's twice), the bound is the GLOBAL batch
# over it, and GFLOP/s the step's FLOP over it. Only equal shapes share a time: fwd 1 (k 300) and fwd 2 (k 100)
# have the same m, n and transposes, and must not be taken for one shape.
"$BOUND" --dims 300,100,100,100,10 --batch 200 --ranks 2 --threads 1 --min-time 0.0001 --trials 3 --json \
    >bound_json.txt || not_ok "sgemm_bound --json failed"
why=$(tail -1 bound_json.txt | /usr/bin/python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
shapes = sorted((g["what"], g["m"], g["n"], g["k"]) for g in j["gemms"])
want = sorted([("fwd", 100, 100, 300), ("fwd", 100, 100, 100), ("fwd", 100, 100, 100), ("fwd", 100, 10, 100),
               ("dW", 300, 100, 100), ("dW", 100, 100, 100), ("dW", 100, 100, 100), ("dW", 100, 10, 100),
               ("dx", 100, 100, 100), ("dx", 100, 100, 100), ("dx", 100, 100, 10)])
total = sum(g["seconds"] for g in j["gemms"])
key = lambda g: (g["what"], g["m"], g["n"], g["k"])
flop = lambda g: g["m"] * g["n"] * g["k"]
close = lambda a, b: abs(a - b) <= 1e-6 * abs(b) + 2e-9 * len(j["gemms"])
if j["local_batch"] != 100 or shapes != want:
    print("local batch %s, shapes %s" % (j["local_batch"], shapes))
elif j["gflop_per_step"] != 0.0246:
    print("gflop_per_step %s, not 0.024600" % j["gflop_per_step"])
elif any((a["seconds"] == b["seconds"]) != (key(a) == key(b)) for a in j["gemms"] for b in j["gemms"]
         if key(a) == key(b) or max(flop(a), flop(b)) >= 2 * min(flop(a), flop(b))):
    print("a shape timed once must share its time, shapes 2x apart in FLOP cannot: %s" % j["gemms"])
elif not close(j["gemm_seconds"], total):
    print("gemm_seconds %s, the GEMMs add up to %s" % (j["gemm_seconds"], total))
elif not abs(j["bound_samples_per_s"] * j["gemm_seconds"] - 200) <= 1e-3 * 200:
    print("bound %s samples/s, 200 / gemm_seconds is %s" % (j["bound_samples_per_s"], 200 / j["gemm_seconds"]))
elif not abs(j["gflops"] * j["gemm_seconds"] - 0.0246) <= 1e-3 * 0.0246:
    print("%s GFLOP/s, 0.0246 / gemm_seconds is %s" % (j["gflops"], 0.0246 / j["gemm_seconds"]))
' 2>&1)
check "sgemm_bound --json: 24.6 MFLOP per step at local batch 100, gemm_seconds the sum of all 11 GEMMs, bound 200 / it${why:+ (not: $why)}" test -z "$why"
tap_end "$t0"
