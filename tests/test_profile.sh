#!/usr/bin/env bash
# --profile's report: every phase, shares that add up, GEMM inside forward+backward, and at several ranks
# how the shared parameters are written, every rank's own line and the fastest and slowest rank by GEMM
# time, which must repeat the lines of the ranks with the smallest and the largest GEMM time (the largest
# being the table's "of which GEMM").
#   test_profile.sh SYNTH [MPIEXEC]
set -euo pipefail
synth=$1
mpiexec=${2:-mpirun}
dist=${FCNET_DIST:?}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" --out "$work/data.h5" --train 400 --val 0 --test 0 --features 60 --classes 5 --seed 4 >/dev/null
train=(train --data "$work/data.h5" --hidden 40,30 --norm batchnorm --keep 0.8 --optim adam --batch-size 40
    --epochs 1 --max-steps 10 --val-size 0 --progress lines --profile)
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
fail() { not_ok "$*"; }
# check NAME RANKS: the report of one run (stdout in NAME.out).
check() {
    local name=$1 ranks=$2
    awk -v ranks="$ranks" '
        function bad(msg) { print "'"$name"': " msg; errors++ }
        /^profile over [0-9]+ steps/ { seen = 1; next }
        !seen { next }
        /^  (data gather|forward\+loss|backward|gradient reduction|update \()/ {
            phases++; ms += $(NF - 2); share += $NF + 0
            if ($0 ~ /forward|backward/) fwdbwd += $(NF - 2)
            next
        }
        /^  (evaluation|checkpoint) +[0-9.]+ s total$/ { totals++; next }
        /of which GEMM \(OpenBLAS\) +[0-9.]+ ms/ { gemm = $(NF - 2); next }
        /of which bn sync \+ loss gathers +[0-9.]+ ms/ { gathers = $(NF - 2); next }
        /^  (fastest|slowest) GEMM: rank [0-9]+, [0-9.]+ ms \(its step [0-9.]+ ms, of which gathers [0-9.]+ ms\)$/ {
            split($0, f, /[ ,()]+/)
            rank = f[5] + 0
            if (rank < 0 || rank >= ranks) bad("rank " rank " out of range")
            named[$1] = rank; line[$1] = f[6] " " f[10] " " f[15]
            extremes++
            next
        }
        /^  parameter stores: (non-temporal|ordinary) \(/ { stores++; next }
        /^  training data: one copy in shared memory for the [0-9]+ ranks of rank 0.s node$/ {
            data++; if ($10 + 0 != ranks) bad("training data shared by " $10 " ranks, want " ranks); next
        }
        /^  rank [0-9]+: GEMM [0-9.]+ ms, step [0-9.]+ ms, of which gathers [0-9.]+ ms$/ {
            split($0, f, /[ :,]+/)
            rank = f[3] + 0
            if (rank != per_rank) bad("rank lines out of order at " rank)
            own[rank] = f[5] " " f[8] " " f[13]; gemm_of[rank] = f[5]; step_of[rank] = f[8]; gathers_of[rank] = f[13]
            # 3e-4: the five phases and the step are each printed to 4 decimals (0.5e-4 off at most), and a rank
            # that is the slowest in every phase has a step equal to their sum (steps of ~0.02 ms here)
            if (step_of[rank] > ms * 1.0001 + 3e-4) bad("rank " rank "'"'"'s step exceeds the sum of the slowest phases " ms)
            if (gathers_of[rank] > gathers * 1.0001 + 1e-4) bad("rank " rank "'"'"'s gathers exceed the slowest rank'"'"'s")
            per_rank++
            next
        }
        END {
            if (!seen) bad("no profile block")
            if (phases != 5) bad(phases " step phases, want 5")
            if (totals != 2) bad(totals " totals (evaluation, checkpoint), want 2")
            if (share < 99.5 || share > 100.5) bad("shares add up to " share "%")
            if (!(gemm > 0) || gemm > fwdbwd * 1.0001) bad("GEMM " gemm " ms not inside forward+backward " fwdbwd " ms")
            if (ranks == 1 && (gathers != 0 || per_rank + extremes != 0)) bad("one rank: gathers " gathers ", rank lines " per_rank + extremes)
            if (ranks > 1 && (per_rank != ranks || extremes != 2)) bad(per_rank " rank lines and " extremes " extremes, want " ranks " and 2")
            if (stores != (ranks > 1)) bad(stores + 0 " parameter stores lines, want " (ranks > 1))
            if (data != (ranks > 1)) bad(data + 0 " shared training data lines, want " (ranks > 1))
            if (ranks > 1) {
                # the fastest and slowest lines repeat the lines of the ranks they name, whose GEMM times are
                # the smallest and the largest, and the largest is the table'"'"'s "of which GEMM"
                lo = hi = 0
                for (q = 1; q < ranks; q++) {
                    if (gemm_of[q] + 0 < gemm_of[lo] + 0) lo = q
                    if (gemm_of[q] + 0 > gemm_of[hi] + 0) hi = q
                }
                if (line["fastest"] != own[named["fastest"]]) bad("fastest line differs from rank " named["fastest"] "'"'"'s line")
                if (line["slowest"] != own[named["slowest"]]) bad("slowest line differs from rank " named["slowest"] "'"'"'s line")
                if (gemm_of[named["fastest"]] != gemm_of[lo]) bad("fastest GEMM is not the smallest")
                if (gemm_of[named["slowest"]] != gemm_of[hi]) bad("slowest GEMM is not the largest")
                if (gemm_of[hi] != gemm) bad("slowest GEMM " gemm_of[hi] " differs from the table'"'"'s " gemm)
            }
            exit errors > 0
        }' "$work/$name.out" || fail "$name: report malformed (above)"
}
for ranks in 1 2 3; do
    timeout 120 "$mpiexec" -q --oversubscribe --bind-to none -n "$ranks" "$dist" "${train[@]}" --out "$work/n$ranks" \
        >"$work/n$ranks.out" 2>"$work/n$ranks.err" || fail "-n $ranks: exit $?"
    check "n$ranks" "$ranks"
done
if [ "$failed" -ne 0 ]; then
    for f in "$work"/*.out; do echo "--- $f"; cat "$f"; done
    exit 1
fi
echo "profile reports well formed at 1, 2 and 3 ranks"
