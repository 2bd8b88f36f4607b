#!/usr/bin/env bash
# Random nets, data and settings, each trained several ways that must agree: the fixed cases of test_train,
# test_resume and test_cli_reference, spread over the space of options. Each trial draws a dataset (features,
# classes, rows, uint8 or float, with or without its own /val), a net (0-3 hidden layers of 1-30 units, a
# norm, dropout, L2, init), an update rule with lr decay, preprocessing, a validation split, a batch size
# (beyond the data, or fewer rows than ranks), a seed, shuffled or not, rank counts R (2-6) and R2 (1-6) and a
# stop k within S steps (epoch ends, short last batches and the lr decay fall where they may), then checks:
#   1. double build: -n R trains as -n 1 (rounding only; see the tolerances below);
#   2. double build: -n R stopped at step k and resumed at -n R2 trains as -n 1;
#   3. float build (what users run): -n R stopped at step k and resumed at -n R ends bitwise equal to S
#      straight steps (every dataset of the checkpoint, and the run's position);
# each run exchanging in a way drawn for it (shared memory, messages, nodes of 2 or 3 ranks; the node's copy of the
# data or private ones), all of which give the same bits;
# every run with --check-replicas 1, so replicas that drift apart fail it too. Each trial's options are printed
# before its checks; a failing run's line gives its command, and the seed repeats the trial.
#   test_random_nets.sh SYNTH H5CMP MPIEXEC DIST_F64
# FCNET_RANDOM_SEED (1) and FCNET_RANDOM_TRIALS (12) draw other or more trials.
set -uo pipefail
# absolute PATH: a path with a slash made absolute (the scratch directory becomes the working directory), a
# bare command name left to PATH.
absolute() { case $1 in /*) echo "$1" ;; */*) echo "$PWD/$1" ;; *) echo "$1" ;; esac }
synth=$(absolute "$1")
H5CMP=$(absolute "$2") # also same_h5's (tap_lib.sh)
mpiexec=$(absolute "$3")
dist64=$(absolute "$4")
dist32=$(absolute "${FCNET_DIST:?}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch random_nets

# A generator of our own (an LCG) rather than bash's RANDOM, whose sequence for a seed changed in bash 5.1:
# the same seed draws the same trials with any bash.
state=$((${FCNET_RANDOM_SEED:-1} & 0x7fffffff)) # kept below 2^31: the products stay in 64 bits
# draw N: r = a number in [0, N).
draw() {
    state=$(((state * 1103515245 + 12345) % 2147483648))
    r=$(((state >> 8) % $1))
}
# pick WORD...: r = one of the words.
pick() {
    local words=("$@")
    draw ${#words[@]}
    r=${words[r]}
}

# Tolerances of checks 1 and 2. The loss of every step and the accuracies of every check within 1e-8 (relative): the
# rank counts differ only in the order of the sums over rows. Every other dataset (parameters, statistics, optimizer
# state, the best copy) within 1e-4 relative + 1e-6 absolute, not 1e-12 (seeds 1-12, 278 checks: at most 4e-14 apart
# in the loss, 9e-9 elsewhere): rmsprop and adam divide a gradient by its own running magnitude, so a component whose
# sum over rows nearly cancels turns rounding of 1e-16 into a step of 1e-10 at once (seen: a layernorm layer's beta
# 2e-12 apart after one step), and such differences grow with the steps. An error (a wrong shard, mask, statistic or
# resumed state) moves the loss by 1e-3 or more. The biases of the layers batchnorm follows are left out: batchnorm
# subtracts them again, so their gradient is rounding alone, which rmsprop and adam blow up (seen: 1.4e-7 apart after
# 42 steps). Checked by a build whose dropout masks follow each rank's own rows instead of the global ones: the six
# trials of seed 1 that drop units fail checks 1 and 2, their losses 0.003-0.46 apart (relative).
# The run's position and schedule, attributes that h5cmp compares only when named (an object such as / covers the
# datasets below it).
position=(/@step /@epoch /@epoch_step /@finished /optim@t /optim@lr /best@best_step /best@best_val_acc)
agree() { # agree NAME GOT WANT DEPTH NORM
    local name=$1 got=$2 want=$3 depth=$4 norm=$5 skip=()
    if [ "$norm" = batchnorm ] && [ "$depth" -gt 0 ]; then
        for ((i = 1; i <= depth; i++)); do
            skip+=(--skip "/params/b$i" --skip "/best/params/b$i" --skip "/optim/b$i/*")
        done
    fi
    if "$H5CMP" --rtol 1e-8 --atol 1e-12 "$got" "$want" /history "${position[@]}" \
        >"$T/cmp.txt" 2>&1 &&
        "$H5CMP" --rtol 1e-4 --atol 1e-6 --skip "/history/*" "${skip[@]}" "$got" "$want" / >"$T/cmp.txt" 2>&1; then
        ok "$name"
    else
        not_ok "$name"
        head -5 "$T/cmp.txt" | sed 's/^/    /'
        return 1
    fi
}

# layout N: with = a way drawn for N ranks to exchange gradients and statistics, every one giving the same bits:
# through the node's shared memory (the default), as MPI messages (FCNET_EXCHANGE=p2p), or between nodes of 2 or 3
# consecutive ranks (FCNET_TEST_RANKS_PER_NODE, where such nodes divide N); and, one run in four, a private copy of
# the data per rank instead of the node's shared one.
layout() {
    local n=$1
    with=()
    pick shared messages nodes
    case $r in
    messages) with+=(FCNET_EXCHANGE=p2p) ;;
    nodes)
        draw 2
        for size in $((r + 2)) $((3 - r)); do
            if [ "$n" -gt "$size" ] && [ $((n % size)) -eq 0 ]; then
                with+=("FCNET_TEST_RANKS_PER_NODE=$size")
                break
            fi
        done
        ;;
    esac
    pick shared shared shared private
    [ "$r" = private ] && with+=(FCNET_DATA_COPIES=private)
}

# run NAME RANKS PROGRAM TRAIN-ARGS...: trains into $T/tTRIAL-NAME in a layout drawn for it (named in a line when it
# is not the default); on failure not ok with the last lines of its output (the error).
run() {
    local name=$1 n=$2 program=$3
    shift 3
    layout "$n"
    [ ${#with[@]} -gt 0 ] && echo "#   $name: -n $n with ${with[*]}"
    env "${with[@]}" timeout 120 "$mpiexec" -q --oversubscribe --bind-to none -n "$n" "$program" train "$@" \
        >"$T/t$t-$name.log" 2>&1 && return 0
    not_ok "trial $t: $name: ${with[*]:+${with[*]} }-n $n $(basename "$program") train $*: exit status not 0"
    tail -n 3 "$T/t$t-$name.log" | sed 's/^/    /'
    return 1
}

trials=${FCNET_RANDOM_TRIALS:-12}
[[ $trials =~ ^[1-9][0-9]*$ ]] || { echo "not ok - FCNET_RANDOM_TRIALS=$trials: not a positive count"; exit 1; }
for ((t = 1; t <= trials; t++)); do
    draw 40 && features=$((r + 1))
    draw 7 && classes=$((r + 2))
    draw 150 && rows=$((r + 8))
    pick float32 uint8 && dtype=$r
    draw 4 && depth=$r
    pick none batchnorm layernorm && norm=$r
    hidden=none
    for ((i = 0; i < depth; i++)); do
        # A 1-unit layernorm layer is refused (its output is 0 for every row): 2 units and more there.
        if [ "$norm" = layernorm ]; then draw 29 && width=$((r + 2)); else draw 30 && width=$((r + 1)); fi
        if [ "$hidden" = none ]; then hidden=$width; else hidden+=,$width; fi
    done
    pick 1 1 0.5 0.8 && keep=$r
    pick sgd sgd_momentum rmsprop adam && optim=$r
    pick none center standardize && preprocess=$r
    pick 0 0.01 0.5 && reg=$r
    pick normal he && init=$r
    pick 1 0.5 && lr_decay=$r
    # The validation rows: none, a fraction (0.1 of fewer than 10 rows holds out none, which is refused: a count
    # there), a count, or the file's own /val.
    pick 0 0.1 5 file && val=$r
    [ "$val" = 0.1 ] && [ "$rows" -lt 10 ] && val=5
    draw 40 && batch=$((r + 2))
    # Batchnorm over 2 or 3 rows amplifies rounding step after step (seen: -n 1 and -n 2 1e-12 apart after 10 steps,
    # 7e-9 after 20, 3e-5 after 30, in W of a batch of 2), beyond any tolerance that still means something: 4 rows
    # and more there (test_sync_bn checks the smallest batches, one row per rank).
    [ "$norm" = batchnorm ] && [ "$batch" -lt 4 ] && batch=$((batch + 2))
    draw 5 && ranks=$((r + 2))
    draw 6 && ranks2=$((r + 1))
    draw 40 && steps=$((r + 4))
    draw $((steps - 1)) && stop=$((r + 1))
    pick shuffle shuffle shuffle no-shuffle && order=$r
    draw 100000 && seed=$r
    data=$T/data$t.h5
    synth_args=(--out "$data" --train "$rows" --test 20 --features "$features" --classes "$classes" --dtype "$dtype"
        --seed "$t")
    [ "$val" = file ] && synth_args+=(--val 7)
    "$synth" "${synth_args[@]}" >/dev/null || { not_ok "trial $t: fcnet_synth ${synth_args[*]}"; continue; }
    args=(--data "$data" --hidden "$hidden" --norm "$norm" --keep "$keep" --optim "$optim" --lr 1e-2
        --lr-decay "$lr_decay" --preprocess "$preprocess" --reg "$reg" --init "$init" --weight-scale 0.1
        --batch-size "$batch" --seed "$seed" --epochs 1000 --progress lines --print-every 1000 --check-replicas 1)
    [ "$val" != file ] && args+=(--val-size "$val")
    [ "$order" = no-shuffle ] && args+=(--no-shuffle)
    echo "# trial $t: $rows rows in /train of $features $dtype features, $classes classes," \
        "-n $ranks (resumed at -n $ranks2), $steps steps (stopped after $stop): ${args[*]}"
    d=$T/t$t
    # 1. -n R against -n 1 in the double build.
    if run one 1 "$dist64" "${args[@]}" --max-steps "$steps" --out "$d-one" &&
        run many "$ranks" "$dist64" "${args[@]}" --max-steps "$steps" --out "$d-many"; then
        agree "trial $t: double: -n $ranks trains as -n 1" "$d-many/checkpoint.h5" "$d-one/checkpoint.h5" \
            "$depth" "$norm"
        # 2. Stopped at k, resumed at -n R2.
        if run stop "$ranks" "$dist64" "${args[@]}" --max-steps "$stop" --out "$d-moved" &&
            run moved "$ranks2" "$dist64" --resume "$d-moved/checkpoint.h5" --max-steps $((steps - stop)) \
                --out "$d-moved"; then
            agree "trial $t: double: -n $ranks stopped after $stop steps, resumed at -n $ranks2, trains as -n 1" \
                "$d-moved/checkpoint.h5" "$d-one/checkpoint.h5" "$depth" "$norm"
        fi
    fi
    # 3. Stopped at k and resumed at -n R, in the float build: bitwise the straight run.
    if run straight "$ranks" "$dist32" "${args[@]}" --max-steps "$steps" --out "$d-straight" &&
        run first "$ranks" "$dist32" "${args[@]}" --max-steps "$stop" --out "$d-resumed" &&
        run resumed "$ranks" "$dist32" --resume "$d-resumed/checkpoint.h5" --max-steps $((steps - stop)) \
            --out "$d-resumed"; then
        same_h5 "trial $t: float: -n $ranks stopped after $stop steps and resumed ends bitwise as $steps straight" \
            "$d-resumed/checkpoint.h5" "$d-straight/checkpoint.h5" / "${position[@]}"
    fi
    rm -rf "$d"-* "$data"
done
# Every trial makes its three checks or says what failed; a pass count short of that is a defect of this script.
[ "$failed" -gt 0 ] || [ "$passed" -eq $((3 * trials)) ] || not_ok "$passed checks passed, not 3 per trial"
tap_end "$t0"
