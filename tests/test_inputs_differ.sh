#!/usr/bin/env bash
# Ranks that read different inputs — on a cluster, a node-local --out holding an older checkpoint or a stale
# copy of the data — must be refused before the first step: exit 2 on every rank, one line naming what
# differs and the lowest rank that read it differently, no hang, and the checkpoints untouched. Without the
# check the ranks disagree on the schedule and wait for each other forever. Open MPI's MPMD syntax
# (`-n 1 A : -n 1 B`) gives each rank its own command line, as separate nodes' file systems would.
# A case broken only by stderr lines that are not fcnet_dist's runs once more (expect).
set -euo pipefail
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
synth=$1
mpiexec=${2:-mpirun}
dist=${FCNET_DIST:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
"$synth" --out "$work/a.h5" --train 60 --val 20 --features 6 --classes 3 --seed 1 >/dev/null
"$synth" --out "$work/b.h5" --train 70 --val 20 --features 6 --classes 3 --seed 1 >/dev/null
"$synth" --out "$work/c.h5" --train 60 --val 20 --test 13 --features 6 --classes 3 --seed 1 >/dev/null
"$synth" --out "$work/e.h5" --train 60 --val 20 --test 20 --features 6 --classes 3 --seed 1 >/dev/null
common=(train --hidden 8 --norm batchnorm --optim adam --epochs 4 --batch-size 10 --progress lines)
# Two checkpoints of the same run at different steps (6 steps per epoch): the "current" and a stale one.
timeout 60 "$mpiexec" -q -n 2 --oversubscribe --bind-to none "$dist" "${common[@]}" --data "$work/a.h5" \
    --max-steps 9 --out "$work/stale" >/dev/null
cp -r "$work/stale" "$work/current"
timeout 60 "$mpiexec" -q -n 2 --oversubscribe --bind-to none "$dist" train --resume "$work/current/checkpoint.h5" \
    --max-steps 8 --out "$work/current" --progress lines >/dev/null
# A checkpoint at the stale one's position (step 9) but with other parameters: the same run on one rank, whose
# sums over the batch go in another order (other data would be refused by the checkpoint's data_hash first).
timeout 60 "$mpiexec" -q -n 1 --oversubscribe --bind-to none "$dist" "${common[@]}" --data "$work/a.h5" \
    --max-steps 9 --out "$work/other" >/dev/null
sums() { md5sum "$work"/stale/checkpoint.h5 "$work"/current/checkpoint.h5 "$work"/other/checkpoint.h5; }
before=$(sums)

# expect NAME WANT-IN-MESSAGE -- RANK0-ARGS... -- RANK1-ARGS...   (rank 1 runs $DIST1 where set)
expect() {
    local name=$1 want=$2
    shift 3
    local a=() b=()
    while [ "$1" != -- ]; do a+=("$1"); shift; done
    shift
    b=("$@")
    local start=$SECONDS rc why="" foreign="" try own lines
    local env=()
    [ -z "${FCNET_DATA_COPIES:-}" ] || env=(-x FCNET_DATA_COPIES)
    # A second run only when the first broke no rule but lines on stderr that are not fcnet_dist's (Open MPI's
    # own, as test_bad_inputs.sh explains); a second fcnet_dist line or any other fault fails at once.
    for try in 1 2; do
        rc=0
        timeout 60 "$mpiexec" -q --oversubscribe --bind-to none "${env[@]}" -n 1 "$dist" "${a[@]}" : -n 1 "${DIST1:-$dist}" "${b[@]}" \
            >"$work/stdout" 2>"$work/stderr" || rc=$?
        lines=$(grep -c . "$work/stderr" || true)
        own=$(grep -c '^fcnet_dist: ' "$work/stderr" || true)
        why=""
        [ $rc -eq 2 ] || why="$why exit $rc, want 2 (124 = hang);"
        [ "$own" -eq 1 ] || why="$why $own lines of fcnet_dist's on stderr;"
        grep -qE "rank 1 (read|was started with) $want" "$work/stderr" || why="$why message does not name rank 1 and '$want';"
        [ "$(sums)" = "$before" ] || why="$why a checkpoint changed;"
        [ -n "$why" ] || [ "$lines" -eq 1 ] || [ $try = 2 ] || {
            foreign=$(grep -v '^fcnet_dist: ' "$work/stderr" | grep . | head -3 | paste -sd ' ')
            continue
        }
        [ "$lines" -eq "$own" ] || why="$why $lines lines on stderr;"
        break
    done
    [ -z "$foreign" ] || echo "# $name: run again; the first run printed besides fcnet's line: $foreign"
    if [ -z "$why" ]; then
        ok "$name ($((SECONDS - start)) s): $(grep '^fcnet_dist: ' "$work/stderr" | head -c 200)"
    else
        not_ok "$name:$why"
        sed 's/^/    stderr: /' "$work/stderr" | head -5
    fi
}

out=(--out "$work/new")
# Other data on another node: each node's reader reads its own file, as every rank does with private copies.
FCNET_DATA_COPIES=private expect data-rows "the dataset's shape" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/b.h5" "${out[@]}"
# Only the test split differs: the final test accuracy's gathers run over another number of rows.
FCNET_DATA_COPIES=private expect test-rows "the dataset's shape" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/c.h5" "${out[@]}"
# The same shape, other values (a stale copy of a regenerated set): without the check each node trains on its own
# rows, silently.
"$synth" --out "$work/a2.h5" --train 60 --val 20 --features 6 --classes 3 --seed 2 >/dev/null
# The line points at the data, not at --out (no --resume here): "(is --out on a node-local disk?)" misled.
FCNET_DATA_COPIES=private expect data-values \
    "the dataset's training and validation rows .*\(a stale copy of --data on rank 1's node\?\)$" -- "${common[@]}" \
    --data "$work/a.h5" "${out[@]}" -- "${common[@]}" --data "$work/a2.h5" "${out[@]}"
# Only the test split's values differ (the same shape): training is the same, but each node's ranks would count
# their part of the final test accuracy on their own copy's rows and report a mix, silently.
if command -v h5copy >/dev/null; then
    "$synth" --out "$work/e2.h5" --train 60 --val 20 --test 20 --features 6 --classes 3 --seed 2 >/dev/null
    for obj in /train /val; do h5copy -i "$work/e.h5" -o "$work/e-test2.h5" -s $obj -d $obj; done
    h5copy -i "$work/e2.h5" -o "$work/e-test2.h5" -s /test -d /test
    FCNET_DATA_COPIES=private expect test-values "the dataset's test rows" -- "${common[@]}" --data "$work/e.h5" \
        "${out[@]}" -- "${common[@]}" --data "$work/e-test2.h5" "${out[@]}"
else
    ok "test-values # SKIP no h5copy"
fi
# Another file on the same node, where rank 0 reads the one shared copy: rank 1's file is never read, so it
# is refused by name (even with the same contents), not silently replaced by rank 0's.
cp "$work/a.h5" "$work/a-copy.h5"
expect data-node "--data .*a-copy.h5, another file than the .*a.h5 that rank 0 reads" -- "${common[@]}" \
    --data "$work/a.h5" "${out[@]}" -- "${common[@]}" --data "$work/a-copy.h5" "${out[@]}"
ln -s "$work/a.h5" "$work/a-link.h5"
expect settings "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --lr 0.002
# Seeds that differ only below a double's precision (2^60 and 2^60 + 1): compared as integers, not doubles.
expect seed-above-2^53 "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" --seed 1152921504606846976 -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --seed 1152921504606846977
# Another build on rank 1 (the double fcnet_dist_f64 beside the float fcnet_dist): every buffer has another
# element size, so without the check the setup ends in an assertion (or, rank 0 double, a silent MPI abort).
if [ -n "${3:-}" ]; then
    DIST1=$3 expect build "another build of fcnet_dist than rank 0's \(.* float\)" -- "${common[@]}" \
        --data "$work/a.h5" "${out[@]}" -- "${common[@]}" --data "$work/a.h5" "${out[@]}"
    DIST1=$3 expect eval-build "another build" -- eval --data "$work/a.h5" --split val --checkpoint "$work/current/checkpoint.h5" \
        -- eval --data "$work/a.h5" --split val --checkpoint "$work/current/checkpoint.h5"
fi
expect command "another command" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- gradcheck --hidden 5
# --profile on one rank only: the profile's gathers would wait for a rank that never joins them.
expect profile "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --profile
# --checkpoint-every on one rank only: the saves' agreements would wait for a rank that never saves.
expect checkpoint-every "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --checkpoint-every 2
# --checkpoint-minutes likewise (the step's gather agrees on the time-based save, but the setting must agree too)
expect checkpoint-minutes "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --checkpoint-minutes 1e-9
# The other run-control settings that change the schedule, each on rank 1 only: --max-steps (one rank
# stops early), --check-replicas (the comparison's gather), --keep-last (the saves' agreement on the copies).
expect max-steps "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --max-steps 2
expect check-replicas "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --check-replicas 2
expect keep-last "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --keep-last 2
# Another architecture on rank 1: every buffer has another size, so this must be caught before the first
# collective over one (an MPI truncation error, not a one-line refusal, without the early check).
expect hidden "the settings" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" -- \
    "${common[@]}" --data "$work/a.h5" "${out[@]}" --hidden 9,4 --norm none --optim sgd
# eval: another checkpoint, another split size, another --split.
evaluate=(eval --data "$work/a.h5" --split val)
expect eval-checkpoint "the parameters from --checkpoint" -- "${evaluate[@]}" --checkpoint "$work/current/checkpoint.h5" -- \
    "${evaluate[@]}" --checkpoint "$work/stale/checkpoint.h5"
expect eval-data-rows "the split's shape" -- "${evaluate[@]}" --checkpoint "$work/current/checkpoint.h5" --split train -- \
    eval --data "$work/b.h5" --checkpoint "$work/current/checkpoint.h5" --split train
expect eval-split "the split's shape" -- "${evaluate[@]}" --checkpoint "$work/current/checkpoint.h5" --split val -- \
    "${evaluate[@]}" --checkpoint "$work/current/checkpoint.h5" --split train
# Another --split of the same shape (e.h5's val and test: 20 rows each): the split's name is compared too.
expect eval-split-same-rows "the split's shape" -- eval --data "$work/e.h5" --checkpoint "$work/current/checkpoint.h5" \
    --split val -- eval --data "$work/e.h5" --checkpoint "$work/current/checkpoint.h5" --split test
resume=(train --progress lines --max-steps 3)
expect resume-stale "the position in training" -- "${resume[@]}" --resume "$work/current/checkpoint.h5" \
    --out "$work/current" -- "${resume[@]}" --resume "$work/stale/checkpoint.h5" --out "$work/current"
# Checkpoints at the same position with other parameters, on one node, where the ranks' parameters become one
# shared array: compared while each rank still holds its own copy (after, every rank would see the same
# array, a mix of both files). --init-from's likewise, before the broadcast that would make them equal.
expect resume-params "the parameters" -- "${resume[@]}" --resume "$work/stale/checkpoint.h5" --data "$work/a.h5" \
    --out "$work/new" -- "${resume[@]}" --resume "$work/other/checkpoint.h5" --data "$work/a.h5" --out "$work/new"
expect init-from "the parameters from --init-from" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" \
    --init-from "$work/stale/checkpoint.h5" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" \
    --init-from "$work/other/checkpoint.h5"
# --init-from or --resume given to one rank only: the ranks would take different collectives (a hang, or an MPI
# error with nothing said) unless the way the run starts is agreed first.
expect init-from-one-rank "other --resume/--init-from options" -- "${common[@]}" --data "$work/a.h5" "${out[@]}" \
    --init-from "$work/stale/checkpoint.h5" -- "${common[@]}" --data "$work/a.h5" "${out[@]}"
expect resume-one-rank "other --resume/--init-from options" -- "${resume[@]}" --resume "$work/current/checkpoint.h5" \
    --out "$work/new" -- "${common[@]}" --data "$work/a.h5" "${out[@]}"
[ ! -e "$work/new" ] || not_ok "an output directory was created"
# The same inputs on both ranks still train (the check must not refuse a good run).
rc=0
timeout 60 "$mpiexec" -q --oversubscribe --bind-to none -n 1 "$dist" "${resume[@]}" \
    --resume "$work/current/checkpoint.h5" --out "$work/current" : \
    -n 1 "$dist" "${resume[@]}" --resume "$work/current/checkpoint.h5" --out "$work/current" \
    >"$work/stdout" 2>"$work/stderr" || rc=$?
if [ $rc -eq 0 ]; then
    ok "same-inputs: resumed and trained"
else
    not_ok "same-inputs: exit $rc"
    sed 's/^/    stderr: /' "$work/stderr" | head -5
fi
# The same file through another name (a link) is the same data: the node's one copy serves both ranks.
rc=0
timeout 60 "$mpiexec" -q --oversubscribe --bind-to none -n 1 "$dist" "${common[@]}" --data "$work/a.h5" \
    --out "$work/linked" : -n 1 "$dist" "${common[@]}" --data "$work/a-link.h5" --out "$work/linked" \
    >"$work/stdout" 2>"$work/stderr" || rc=$?
if [ $rc -eq 0 ] && [ -f "$work/linked/checkpoint.h5" ]; then
    ok "same-file-linked: trained"
else
    not_ok "same-file-linked: exit $rc"
    sed 's/^/    stderr: /' "$work/stderr" | head -5
fi
# eval with the same inputs on both ranks still evaluates.
rc=0
timeout 60 "$mpiexec" -q --oversubscribe --bind-to none -n 1 "$dist" "${evaluate[@]}" \
    --checkpoint "$work/current/checkpoint.h5" : -n 1 "$dist" "${evaluate[@]}" \
    --checkpoint "$work/current/checkpoint.h5" >"$work/stdout" 2>"$work/stderr" || rc=$?
if [ $rc -eq 0 ] && grep -q "^accuracy:" "$work/stdout"; then
    ok "same-inputs: eval reported its accuracy"
else
    not_ok "same-inputs eval: exit $rc"
    sed 's/^/    stderr: /' "$work/stderr" | head -5
fi
tap_end "$t0"
