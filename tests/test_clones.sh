#!/bin/bash
# The vector kernels' forms against each other through whole training runs. fcnet_dist runs the forms this CPU
# picks (GCC's AVX-512 or AVX2 clones of the elementwise kernels and the optimizer sweep, the widest Philox
# form); fcnet_dist_baseline is the same program on the core built with only the baseline forms
# (FC_BASELINE_ONLY, include/fcnet/common.h). A run of either alone, and a run whose ranks are a mix of the two
# (as on a cluster whose nodes have different CPUs), must write bitwise the checkpoint of fcnet_dist's run:
# parameters, optimizer state, batchnorm statistics, the best parameters and the history. On a CPU without AVX2,
# or in a build without clones (Clang; Debug builds have no test_clones), both run the baseline forms and the
# comparisons hold trivially; the first line says which forms this CPU has.
# usage: test_clones.sh FCNET_DIST_BASELINE FCNET_SYNTH H5CMP [MPIEXEC]   (FCNET_DIST in the environment)
# shellcheck disable=SC2054 # "--hidden 37,70": the commas belong to the value
set -euo pipefail
usage="usage: test_clones.sh FCNET_DIST_BASELINE FCNET_SYNTH H5CMP [MPIEXEC]"
BASE=${1:?$usage}
SYNTH=${2:?$usage}
H5CMP=${3:?$usage}
MPIEXEC=${4:-mpirun}
DIST=${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch clones

forms=baseline
grep -qw avx2 /proc/cpuinfo 2>/dev/null && forms=AVX2
grep -qw avx512f /proc/cpuinfo 2>/dev/null && forms=AVX-512
echo "# this CPU's widest forms: $forms, against the baseline forms"

# Widths that are no multiple of a vector (remainders in every sweep), shards of uneven size at 2 and 3 ranks.
"$SYNTH" --out s.h5 --train 500 --val 60 --test 0 --features 45 --classes 7 >/dev/null
mpi=("$MPIEXEC" --oversubscribe --bind-to none)

# same NAME GROUPS A B: ok when run B's checkpoint holds run A's bits in every group of GROUPS (a list).
same() {
    # shellcheck disable=SC2086 # the groups are a list
    same_h5 "$1" "$3/checkpoint.h5" "$4/checkpoint.h5" $2
}

# run OUT COMMAND...: COMMAND with its output in OUT.log; "not ok" and status 1 when it fails.
run() {
    local out=$1
    shift
    "$@" >"$out.log" 2>&1 || { not_ok "$out: exit $?"; tail -5 "$out.log" | sed 's/^/    /'; return 1; }
}

k=0
while IFS='|' read -r name groups opts; do
    common="--data s.h5 --batch-size 50 --epochs 2 --val-size 60 $opts"
    # In the two-rank mix the baseline program takes rank 0 and rank 1 in turn.
    first=$BASE second=$DIST which=0
    [ $((k % 2)) -eq 1 ] && first=$DIST second=$BASE which=1
    k=$((k + 1))
    # shellcheck disable=SC2086 # $common is a list of options
    {
        run "$name-native1" "${mpi[@]}" -n 1 "$DIST" train $common --out "$name-native1" &&
            run "$name-base1" "${mpi[@]}" -n 1 "$BASE" train $common --out "$name-base1" &&
            same "$name, one rank: baseline forms" "$groups" "$name-native1" "$name-base1"
        run "$name-native2" "${mpi[@]}" -n 2 "$DIST" train $common --out "$name-native2" &&
            run "$name-mixed2" "${mpi[@]}" -n 1 "$first" train $common --out "$name-mixed2" : \
                -n 1 "$second" train $common --out "$name-mixed2" &&
            same "$name, two ranks: rank $which on the baseline forms, rank $((1 - which)) on $forms" "$groups" \
                "$name-native2" "$name-mixed2"
    } </dev/null
done <<'EOF'
batchnorm adam|/params /optim /bn /best /history|--hidden 37,70 --norm batchnorm --keep 0.8 --optim adam --reg 0.01
layernorm rmsprop|/params /optim /best /history|--hidden 33,19 --norm layernorm --keep 0.9 --optim rmsprop --reg 0.003
no norm sgd_momentum|/params /optim /best /history|--hidden 50,21 --keep 0.5 --optim sgd_momentum --reg 0.001
batchnorm sgd|/params /optim /bn /best /history|--hidden 40 --norm batchnorm --optim sgd
no hidden layer|/params /optim /best /history|--hidden none --optim adam --reg 0.01
EOF

# Three ranks, the middle one on the baseline forms, through both exchanges (shared memory, messages).
opts=(--data s.h5 --batch-size 50 --epochs 2 --val-size 60 --hidden 37,70 --norm batchnorm --keep 0.8 --optim adam)
for exchange in auto p2p; do
    if run "native3-$exchange" env FCNET_EXCHANGE=$exchange "${mpi[@]}" -x FCNET_EXCHANGE -n 3 "$DIST" train \
        "${opts[@]}" --out "native3-$exchange" </dev/null &&
        run "mixed3-$exchange" env FCNET_EXCHANGE=$exchange "${mpi[@]}" -x FCNET_EXCHANGE \
            -n 1 "$DIST" train "${opts[@]}" --out "mixed3-$exchange" : \
            -n 1 "$BASE" train "${opts[@]}" --out "mixed3-$exchange" : \
            -n 1 "$DIST" train "${opts[@]}" --out "mixed3-$exchange" </dev/null; then
        same "three ranks, FCNET_EXCHANGE=$exchange: rank 1 on the baseline forms" "/params /optim /bn /best /history" \
            "native3-$exchange" "mixed3-$exchange"
    fi
done
tap_end "$t0"
