#!/usr/bin/env bash
# shellcheck disable=SC2054 # "--hidden 16,12": the commas belong to the value, not array syntax
# The way the update writes the node's shared parameters (non-temporal or ordinary stores) changes timing
# only: runs with either way fixed (FCNET_PARAM_STORES) and a run that measures both on its first steps and
# switches mid-run (the default) leave bitwise identical checkpoints, at 2 and 3 ranks, also a run whose watch
# switches back to non-temporal stores after the trial (forced by the test hook FCNET_FAULT_STORES); --profile
# names the way and the trial's times; an unknown value is refused on every rank (exit 2, one line).
#   test_param_stores.sh SYNTH H5CMP [MPIEXEC]
set -uo pipefail
synth=$1
h5cmp=$2
mpiexec=${3:-mpirun}
dist=${FCNET_DIST:?}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" --out "$work/d.h5" --train 400 --val 40 --features 20 --classes 4 --seed 3 >/dev/null || exit 1
# 40 steps per epoch, 8 epochs: 320 steps, more than the 258 the trial takes and the watch's first block after it.
train=(train --data "$work/d.h5" --hidden 16,12 --norm batchnorm --keep 0.8 --optim adam --batch-size 10
    --epochs 8 --progress lines --print-every 1000 --profile)
state=(/params /bn /optim /history /best /@step /optim@t)
number='[0-9]+\.[0-9]+'
FC_WARMUP=2 # FC_STORES_WARMUP in store_choice.h

# run RANKS WAY [FAULT]: trains into $work/nRANKS-WAY[-FAULT] with FCNET_PARAM_STORES=WAY ('' = unset) and
# FCNET_FAULT_STORES=FAULT; stdout in .out.
run() {
    local out="$work/n$1-${2:-auto}${3:+-$3}"
    FCNET_PARAM_STORES=$2 FCNET_FAULT_STORES=${3:-} timeout 120 "$mpiexec" -q --oversubscribe --bind-to none -n "$1" \
        "$dist" "${train[@]}" --out "$out" >"$out.out" 2>"$out.err" ||
        { not_ok "-n $1 ${2:-auto} ${3:-}: exit $?: $(head -2 "$out.err")"; return 1; }
}
for ranks in 2 3; do
    if ! { run "$ranks" streaming && run "$ranks" ordinary && run "$ranks" ""; }; then continue; fi
    base="$work/n$ranks"
    for way in streaming ordinary; do
        if grep -qE "^  parameter stores: $( [ $way = streaming ] && echo non-temporal || echo ordinary) \(FCNET_PARAM_STORES\)$" \
            "$base-$way.out"; then ok "-n $ranks $way: named in --profile"
        else not_ok "-n $ranks $way: --profile line: $(grep 'parameter stores' "$base-$way.out")"; fi
    done
    line=$(grep "parameter stores" "$base-auto.out")
    # The block length follows the step time (test_store_choice checks how); these steps are well under 1 ms,
    # so 32 steps unless a loaded machine stretched the warm-up.
    # Or, where the watch saw ordinary stores' update slow after the trial chose them (store_choice.h), the
    # switch to non-temporal and its times.
    trial="\(trial, 8 blocks of ([0-9]+) steps: $number ms per step, (ordinary|non-temporal) $number ms\)"
    watched="non-temporal after [0-9]+ steps \(trial, 8 blocks of ([0-9]+) steps: ordinary $number ms per step, "
    watched+="non-temporal $number ms; then ordinary's update took $number ms per step, $number ms in the trial\)"
    if { [[ $line =~ ^\ \ parameter\ stores:\ (non-temporal|ordinary)\ $trial$ ]] &&
        [ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[3]}" ] && block=${BASH_REMATCH[2]}; } ||
        { [[ $line =~ ^\ \ parameter\ stores:\ $watched$ ]] && block=${BASH_REMATCH[1]}; }; then
        if [ "$block" -ge 4 ] && [ "$block" -le 32 ]; then ok "-n $ranks auto: trial decided: ${line#  }"
        else not_ok "-n $ranks auto: blocks of $block steps: '$line'"; fi
    else not_ok "-n $ranks auto: no decision in --profile: '$line'"; fi
    # The watch's whole path in a real run: the test hook makes the trial choose ordinary stores and the watch
    # see them slow, so every rank switches to non-temporal at the end of the first block after the trial.
    watch_ok=0
    if run "$ranks" "" slow-ordinary; then
        line=$(grep "parameter stores" "$base-auto-slow-ordinary.out")
        if [[ $line =~ ^\ \ parameter\ stores:\ $watched$ ]] && block=${BASH_REMATCH[1]} &&
            [[ $line == *" after $((FC_WARMUP + 9 * block)) steps "* ]]; then
            ok "-n $ranks: the watch switched after the trial and one block: ${line#  }"
            watch_ok=1
        else not_ok "-n $ranks: the watch did not switch as forced: '$line'"; fi
    fi
    for other in ordinary auto auto-slow-ordinary; do
        [ $other = auto-slow-ordinary ] && [ $watch_ok = 0 ] && continue
        if "$h5cmp" "$base-streaming/checkpoint.h5" "$base-$other/checkpoint.h5" "${state[@]}" >"$work/cmp.out" 2>&1; then
            ok "-n $ranks: streaming and $other bitwise equal"
        else not_ok "-n $ranks: streaming and $other differ: $(head -3 "$work/cmp.out" | tr '\n' ' ')"; fi
    done
done

# An unknown value: every rank stops before the first step, one line.
rc=0
FCNET_PARAM_STORES=fast timeout 60 "$mpiexec" -q --oversubscribe --bind-to none -n 2 "$dist" "${train[@]}" \
    --out "$work/bad" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
if [ $rc -eq 2 ] && [ "$(grep -c . "$work/bad.err")" -eq 1 ] &&
    grep -q "FCNET_PARAM_STORES: unknown value 'fast' (expected auto, streaming or ordinary)" "$work/bad.err"; then
    ok "unknown value refused: $(cat "$work/bad.err")"
else not_ok "unknown value: exit $rc, stderr: $(head -3 "$work/bad.err" | tr '\n' ' ')"; fi
tap_end "$t0"
