#!/usr/bin/env bash
# shellcheck disable=SC2054 # "--hidden 50,40": the commas belong to the value, not array syntax
# Exact resume from the command line (issue 4):
#  1. same rank count, -n 1, 2 and 4: `--max-steps 13` then `--resume` (without --data: the checkpoint
#     names its dataset) to the end equals the uninterrupted run BITWISE in every dataset under /params
#     /bn /optim /history /best /preprocess and the attributes epoch, step, epoch_step, finished, adam's t,
#     the current lr and the best validation accuracy and step. Model: batchnorm + dropout + adam + L2 +
#     lr decay, 3 epochs of 12 steps; step 13 is the first step of epoch 2, so the position inside an
#     epoch, the epoch's permutation, the dropout masks and the decayed lr must all be restored. Also at -n 4
#     stopped as 2 nodes of 2 (FCNET_TEST_RANKS_PER_NODE: the exchange between nodes) and resumed on one node.
#  2. another rank count, 4 -> 2 and 2 -> 3: the first 13 losses are kept bitwise, the schedule (step,
#     epoch, lr, adam's t) is exact, and the rest agrees with the uninterrupted runs (4 -> 2: at -n 4 and
#     -n 2; 2 -> 3: at -n 2) within float rounding: loss history rtol 1e-4; W, gamma, beta, BN running variances and the optimizer
#     slots rtol 1e-4 + atol 1e-6; accuracies within 0.02. The biases in front of batchnorm (b1, b2) and
#     the BN running means (which integrate those biases) are left out and their spread is printed:
#     their true gradient is exactly 0, so the reduced gradient is pure rounding noise, which adam
#     divides by its own RMS into lr-sized steps. They do not change the model's function.
#  3. --checkpoint-minutes: far below a step's time it saves after every step (a copy per step, the same
#     final state, a resume from a mid-epoch copy bitwise equal); the default adds no save to a short run.
#  4. refusals: a changed hyperparameter (--lr) -> exit 2 naming --lr and both values; a checkpoint
#     whose shapes do not fit (another feature count, class count or architecture, for --resume and
#     --init-from) -> exit 2 naming the dataset and both shapes; nothing written. Other rows of the same shape
#     -> exit 2 naming data_hash; a copy of the data under another name resumes bitwise.
#
#   tests/test_resume.sh FCNET_SYNTH H5CMP [MPIEXEC]       (FCNET_DIST from the environment)
set -uo pipefail
# shellcheck source=tests/ckpt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"

"$SYNTH" --out d.h5 --train 600 --val 100 --test 100 --features 20 --classes 5 --seed 1 >/dev/null || exit 1
"$SYNTH" --out d30.h5 --train 600 --val 100 --features 30 --classes 5 --seed 2 >/dev/null || exit 1
"$SYNTH" --out d7.h5 --train 600 --val 100 --features 20 --classes 7 --seed 2 >/dev/null || exit 1
MODEL=(--data "$W/d.h5" --hidden 50,40 --norm batchnorm --keep 0.8 --optim adam --reg 0.01 --lr-decay 0.9
    --batch-size 50 --epochs 3 --print-every 1000)

# ---- 1. same rank count: bitwise ----
for n in 1 2 4; do
    t=$(now_ms)
    must_run "$n" log.full$n train "${MODEL[@]}" --out full$n || continue
    must_run "$n" log.stop$n train "${MODEL[@]}" --out stop$n --max-steps 13 || continue
    [ "$(attr stop$n/checkpoint.h5 /@step)" = 13 ] || fail "-n $n: --max-steps 13 saved step $(attr stop$n/checkpoint.h5 /@step)"
    grep -q "stopped after --max-steps 13 at step 13 (epoch 2 of 3, 1 of its 12 steps done); checkpoint stop$n/checkpoint.h5 written; resume with --resume stop$n/checkpoint.h5 --out stop$n\$" log.stop$n ||
        fail "-n $n: no --max-steps log line with the position (epochs from 1) and the resume command"
    must_run "$n" log.res$n train --resume stop$n/checkpoint.h5 --out res$n || continue
    grep -q "resuming from stop$n/checkpoint.h5" log.res$n || fail "-n $n: no 'resuming from' line"
    if diff_out=$("$H5CMP" full$n/checkpoint.h5 res$n/checkpoint.h5 "${STATE[@]}"); then
        pass "-n $n: stop at 13 + resume == uninterrupted, bitwise ($(elapsed_s "$t") s for 3 runs)"
    else
        fail "-n $n: resumed run differs from the uninterrupted one:"
        echo "$diff_out" | head -20 | sed 's/^/    /'
    fi
done

# Another placement of the same 4 ranks: stopped as 2 nodes of 2 (the exchange between nodes, pairs of ranks
# taken as nodes), resumed on one node: the uninterrupted -n 4 run bitwise, since both exchanges add in rank order.
t=$(now_ms)
if FCNET_TEST_RANKS_PER_NODE=2 must_run 4 log.stop4n train "${MODEL[@]}" --out stop4n --max-steps 13 --profile &&
    must_run 4 log.res4n train --resume stop4n/checkpoint.h5 --out res4n; then
    if ! grep -q "gradient exchange: shared memory within each of 2 nodes of 2 ranks" log.stop4n; then
        fail "-n 4 as 2 nodes: the stopped run did not exchange between nodes: $(grep 'gradient exchange' log.stop4n)"
    elif diff_out=$("$H5CMP" full4/checkpoint.h5 res4n/checkpoint.h5 "${STATE[@]}"); then
        pass "-n 4: stopped at 13 as 2 nodes of 2, resumed on one node == uninterrupted, bitwise ($(elapsed_s "$t") s)"
    else
        fail "-n 4: stopped as 2 nodes, resumed on one node: differs from the uninterrupted run:"
        echo "$diff_out" | head -20 | sed 's/^/    /'
    fi
fi

# The double build too, at -n 2: its checkpoints hold float64 arrays, so its resume is bitwise as well.
if [ -n "${FCNET_DIST_F64:-}" ]; then
    FCNET_DIST=$FCNET_DIST_F64 must_run 2 log.full64 train "${MODEL[@]}" --out full64 &&
        FCNET_DIST=$FCNET_DIST_F64 must_run 2 log.stop64 train "${MODEL[@]}" --out stop64 --max-steps 13 &&
        FCNET_DIST=$FCNET_DIST_F64 must_run 2 log.res64 train --resume stop64/checkpoint.h5 --out res64
    if ! h5dump -H -d /params/W1 res64/checkpoint.h5 2>/dev/null | grep -q H5T_IEEE_F64LE; then
        fail "double build: /params/W1 is not stored as float64"
    elif diff_out=$("$H5CMP" full64/checkpoint.h5 res64/checkpoint.h5 "${STATE[@]}"); then
        pass "double build, -n 2: float64 checkpoints; stop at 13 + resume == uninterrupted, bitwise"
    else
        fail "double build, -n 2: resumed run differs from the uninterrupted one:"
        echo "$diff_out" | head -20 | sed 's/^/    /'
    fi
fi

# ---- 2. another rank count: within float rounding ----
TOL=(--rtol 1e-4 --atol 1e-6 --skip '*/b[12]' --skip '*/b[12]/*' --skip '*running_mean*')
SCHEDULE=(/history/lr /history/check_step /@epoch /@step /@epoch_step /@finished /optim@t /optim@lr)
cross() { # cross FROM TO REF...: resume FROM's step-13 checkpoint on TO ranks, compare with full<REF>
    local from=$1 to=$2 out=r$1$2
    shift 2
    must_run "$to" log.$out train --resume stop$from/checkpoint.h5 --out $out || return
    grep -qF "resuming from stop$from/checkpoint.h5 (step 13, saved by $from rank(s))" log.$out ||
        fail "$from -> $to: the start line does not say the step and the ranks that saved it"
    local ws
    ws=$(attr $out/checkpoint.h5 /@world_size)
    [ "$ws" = "$to" ] || fail "$from -> $to: world_size $ws saved"
    "$H5CMP" --first 13 full$from/checkpoint.h5 $out/checkpoint.h5 /history/loss >/dev/null ||
        fail "$from -> $to: the 13 losses before the switch changed"
    local ref d
    for ref in "$@"; do
        if ! d=$("$H5CMP" full$ref/checkpoint.h5 $out/checkpoint.h5 "${SCHEDULE[@]}"); then
            fail "$from -> $to vs -n $ref: schedule differs:"
            echo "$d" | sed 's/^/    /'
        fi
        if ! d=$("$H5CMP" "${TOL[@]}" full$ref/checkpoint.h5 $out/checkpoint.h5 /history/loss /params /bn /optim \
            /best/params /best/bn); then
            fail "$from -> $to vs -n $ref: beyond float rounding:"
            echo "$d" | head -20 | sed 's/^/    /'
        fi
        if ! d=$("$H5CMP" --atol 0.02 full$ref/checkpoint.h5 $out/checkpoint.h5 /history/train_acc /history/val_acc); then
            fail "$from -> $to vs -n $ref: accuracies differ by more than 0.02:"
            echo "$d" | sed 's/^/    /'
        fi
    done
    local loss params
    loss=$("$H5CMP" -v --rtol 1 full$from/checkpoint.h5 $out/checkpoint.h5 /history/loss | grep -oE 'max rel [0-9.e+-]+' || echo 'identical')
    params=$("$H5CMP" -v --rtol 1 --skip '*/b[12]' --skip '*/b[12]/*' --skip '*running_mean*' full$from/checkpoint.h5 $out/checkpoint.h5 /params |
        grep -oE 'max rel [0-9.e+-]+' | sort -t' ' -k3 -g | tail -1)
    pass "$from -> $to: schedule exact; vs uninterrupted -n $from: loss $loss, W/gamma/beta/b3 worst $params"
    local gap=""
    for d in /params/b1 /params/b2 /bn/running_mean1 /bn/running_mean2; do
        gap="$gap ${d##*/} $("$H5CMP" -v --rtol 1e9 full$from/checkpoint.h5 $out/checkpoint.h5 $d |
            grep -oE 'max abs diff [0-9.e+-]+' | sed 's/max abs diff //' || echo 0);"
    done
    echo "     not compared (adam on rounding noise, see the header), max abs diff:$gap"
}
t=$(now_ms)
cross 4 2 4 2
cross 2 3 2
echo "     (cross-count resumes: $(elapsed_s "$t") s)"

# ---- 3. time-based saves (--checkpoint-minutes) ----
# A limit far below a step's time saves after every step, deterministically: a numbered copy of every step,
# the same final state as the run that saved only at epoch ends (saving changes nothing), and a resume from a
# mid-epoch copy equal to it too. The default (15 minutes) adds nothing to this short run.
copies() { ls "$1" | sed -n 's/^checkpoint-step\([0-9]*\)\.h5$/\1/p' | sort -n | tr '\n' ' '; }
t=$(now_ms)
if must_run 2 log.tm train "${MODEL[@]}" --out tm --checkpoint-minutes 1e-9 --keep-last 100 &&
    must_run 2 log.td train "${MODEL[@]}" --out td --keep-last 100; then
    want_all=$(seq 1 36 | tr '\n' ' ')
    [ "$(copies tm)" = "$want_all" ] || fail "--checkpoint-minutes 1e-9: copies at steps $(copies tm), not 1..36"
    [ "$(copies td)" = "12 24 36 " ] || fail "default --checkpoint-minutes: copies at steps $(copies td), not 12 24 36"
    "$H5CMP" full2/checkpoint.h5 tm/checkpoint.h5 "${STATE[@]}" >/dev/null ||
        fail "a save after every step changed the final state"
    if must_run 2 log.tmr train --resume tm/checkpoint-step17.h5 --out tmr &&
        "$H5CMP" full2/checkpoint.h5 tmr/checkpoint.h5 "${STATE[@]}" >/dev/null; then
        pass "-n 2: --checkpoint-minutes 1e-9 saves every step (36 copies), the default only at epoch ends; same final state; resume from the time-based copy at step 17 == uninterrupted, bitwise ($(elapsed_s "$t") s)"
    else
        fail "resume from the time-based copy at step 17 differs from the uninterrupted run"
    fi
fi

# ---- 4. refusals ----
refuse() { # refuse WHAT N TEXTS -- ARGS: exit 2, one line with every TEXT, no --out directory
    local what=$1 n=$2
    shift 2
    local -a texts=()
    while [ "$1" != "--" ]; do texts+=("$1"); shift; done
    shift
    rm -rf never
    timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -n "$n" "$FCNET_DIST" "$@" --out never >refuse.out 2>refuse.err
    local rc=$?
    expect_error "$what" 2 refuse.out refuse.err "$rc" "${texts[@]}"
    [ ! -e never ] || fail "$what: created the --out directory"
}
refuse "resume with --lr changed" 2 "--lr" "0.01" "0.001" "stop2/checkpoint.h5" -- \
    train --resume stop2/checkpoint.h5 --lr 0.01
refuse "resume on 30 features" 2 "stop2/checkpoint.h5" "/preprocess/mean" "(20,)" "(30,)" -- \
    train --resume stop2/checkpoint.h5 --data "$W/d30.h5"
refuse "resume on 7 classes" 2 "stop2/checkpoint.h5" "/params/W3" "(40, 5)" "(40, 7)" -- \
    train --resume stop2/checkpoint.h5 --data "$W/d7.h5"
must_run 1 log.pn train --data "$W/d.h5" --hidden 50,40 --preprocess none --max-steps 1 --out pn
refuse "resume (no preprocessing) on 30 features" 2 "pn/checkpoint.h5" "/params/W1" "(20, 50)" "(30, 50)" -- \
    train --resume pn/checkpoint.h5 --data "$W/d30.h5"
# The same shape is not the same data (a relative --data resumed from another directory finds another file of
# that name): other values are refused by the checkpoint's data_hash; the same rows under another name resume
# exactly.
"$SYNTH" --out d_seed5.h5 --train 600 --val 100 --test 100 --features 20 --classes 5 --seed 5 >/dev/null || exit 1
refuse "resume on other rows of the same shape" 2 "stop2/checkpoint.h5" "data_hash" "d_seed5.h5" -- \
    train --resume stop2/checkpoint.h5 --data "$W/d_seed5.h5"
cp d.h5 d_copy.h5
if must_run 2 log.copy train --resume stop2/checkpoint.h5 --data "$W/d_copy.h5" --out rcopy; then
    if "$H5CMP" full2/checkpoint.h5 rcopy/checkpoint.h5 "${STATE[@]}" >/dev/null; then
        pass "resume on a copy of the data under another name == uninterrupted, bitwise"
    else
        fail "resume on a copy of the data under another name differs from the uninterrupted run"
    fi
fi
refuse "--init-from another architecture" 2 "stop2/checkpoint.h5" "/params/W2" "(50, 40)" "(50, 30)" -- \
    train --data "$W/d.h5" --hidden 50,30 --norm batchnorm --init-from stop2/checkpoint.h5
# The resume checks the stored lr against the configured one decayed once per finished epoch, computed as the
# trainer does (one multiply per epoch): after 1046 halvings lr is subnormal (1.3e-317), where pow() and any
# relative tolerance would disagree with what the run itself wrote. One step per epoch, so 1046 epochs are quick.
"$SYNTH" --out d50.h5 --train 50 --val 10 --features 4 --classes 3 --seed 3 >/dev/null || exit 1
DECAY=(--data "$W/d50.h5" --hidden 4 --optim sgd --lr 0.01 --lr-decay 0.5 --batch-size 50 --epochs 1050
    --print-every 100000)
if must_run 1 log.decay train "${DECAY[@]}" --max-steps 1046 --out decay &&
    must_run 1 log.decay2 train "${DECAY[@]}" --resume decay/checkpoint.h5 --out decay; then
    pass "resume after 1046 lr halvings (a subnormal lr) is taken"
fi
# The resume command that a stopped run prints can be pasted: an --out with a space or a quote is one shell word
# in it (it printed `--resume my run/checkpoint.h5 --out my run`, which the shell splits; helper-166), and the
# checkpoint's path has no doubled slash when --out ends in one.
out_q="my run's"
if must_run 1 log.quoted train --data "$W/d.h5" --hidden 8 --max-steps 1 --out "$out_q/" --print-every 1000; then
    cmd=$(sed -n 's/.*; resume with //p' log.quoted)
    if [ "$cmd" = "--resume 'my run'\''s/checkpoint.h5' --out 'my run'\''s/'" ] &&
        eval "set -- $cmd" && [ "$2" = "$out_q/checkpoint.h5" ] && [ "$4" = "$out_q/" ] &&
        eval "must_run 1 log.quoted2 train $cmd --max-steps 2" && [ "$(attr "$out_q/checkpoint.h5" /@step)" = 3 ]; then
        pass "the printed resume command with an --out of a space and a quote runs as printed ($cmd)"
    else
        fail "the printed resume command for --out \"$out_q/\" is '$cmd'; as a command it gave: $(tail -1 log.quoted2 2>&1)"
    fi
fi
finish
