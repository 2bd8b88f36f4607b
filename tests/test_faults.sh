#!/usr/bin/env bash
# shellcheck disable=SC2054 # "--hidden 50,40": the commas belong to the value, not array syntax
# Faults, from the command line, at -n 2 (issue 4):
#  1. kill -9 of rank 1 mid-run, past step 20 of 400, with --checkpoint-every 1 (a save every ~3 ms, so
#     the kill often lands while rank 0 writes): mpirun exits non-zero within 10 s and no rank is left
#     running; checkpoint.h5 is intact (it loads) and --resume finishes the run, BITWISE equal to the
#     uninterrupted run.
#  2. NaN/Inf: huge float features (noise 1e4, --preprocess none) and sgd with lr 1 overflow within a few
#     steps. Every rank exits 3 (recorded by a wrapper; orte_abort_on_non_zero_status=0 so mpirun does
#     not kill the second rank before it records its status), exactly one line on stderr naming the step;
#     checkpoint.h5 is untouched: it is still the same inode as the --keep-last copy of that step (every
#     save renames a new file over it), holds that step and only finite values, and resuming from it
#     diverges again at the same step (mpirun exits 3); into an --out without this run's checkpoint (none, or
#     another run's with --overwrite) the line says that none was written.
#  3. Injected write failure (FCNET_FAULT_CKPT=fail-write exported to the ranks with mpirun -x) while
#     resuming a good checkpoint: non-zero exit, one line naming the simulated failure, checkpoint.h5
#     byte-for-byte unchanged and no temporary file left; resuming without the fault then finishes.
#  4. A replica that differs (FCNET_FAULT_REPLICA=1 changes rank 1's batchnorm statistics): --check-replicas
#     stops the run with exit 1 and one line naming the step, the rank and the tensor.
#  5. An initial state that differs on one rank (FCNET_FAULT_INIT=1 changes rank 1's first parameter and
#     batchnorm statistic before the start-up broadcast): the run trains bitwise as the unfaulted one.
#
#   tests/test_faults.sh FCNET_SYNTH H5CMP [MPIEXEC]       (FCNET_DIST from the environment)
set -uo pipefail
# shellcheck source=tests/ckpt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"
N=2
LIMIT_S=10

"$SYNTH" --out s.h5 --train 3000 --val 200 --features 50 --classes 5 --seed 3 >/dev/null || exit 1
"$SYNTH" --out huge.h5 --train 400 --features 20 --classes 5 --seed 4 --noise 1e4 >/dev/null || exit 1
MODEL=(--data "$W/s.h5" --hidden 100,100 --norm batchnorm --keep 0.9 --optim adam --batch-size 30 --epochs 4
    --print-every 1)

# ---- 1. kill -9 of one rank ----
t=$(now_ms)
must_run $N log.full train "${MODEL[@]}" --out full || finish
echo "     uninterrupted run: $(elapsed_s "$t") s"
# Without -q: mpirun's own report of the killed rank is part of what the user sees.
timeout 300 "$MPIEXEC" --oversubscribe --bind-to none -n $N "$FCNET_DIST" train "${MODEL[@]}" --out k9 \
    --checkpoint-every 1 >log.k9 2>&1 &
BG=$!
MPIRUN_PID=""
for _ in $(seq 200); do
    MPIRUN_PID=$(pgrep -P "$BG" | head -1)
    [ -n "$MPIRUN_PID" ] && break
    sleep 0.02
done
if wait_for_step log.k9 20 60 "$BG"; then
    r0=$(pid_of_rank "$MPIRUN_PID" 0)
    r1=$(pid_of_rank "$MPIRUN_PID" 1)
    t0=$(now_ms)
    kill -KILL "$r1"
    wait_exit "$BG" $LIMIT_S
    took=$(elapsed_s "$t0")
    if [ "$WAIT_RC" = timeout ]; then
        fail "kill -9: mpirun still running $LIMIT_S s after rank 1 was killed"
    elif [ "$WAIT_RC" = 0 ]; then
        fail "kill -9: mpirun exited 0"
    else
        pass "kill -9 of rank 1: mpirun exited $WAIT_RC after $took s"
    fi
    # mpirun kills the survivors on its way out; give the kernel a moment to reap them.
    for _ in $(seq 100); do
        state=$(awk '{ print $3 }' "/proc/$r0/stat" 2>/dev/null)
        [ -z "$state" ] || [ "$state" = Z ] && break
        sleep 0.02
    done
    if [ -n "$state" ] && [ "$state" != Z ]; then
        fail "kill -9: rank 0 (pid $r0) still running 2 s after mpirun exited (state $state)"
        kill -KILL "$r0" 2>/dev/null
    fi
    step=$(attr k9/checkpoint.h5 /@step)
    if [ -z "$step" ] || [ "$step" -lt 20 ] || [ "$step" -ge 400 ]; then
        fail "kill -9: checkpoint.h5 holds step '$step' (20 <= step < 400 expected)"
    fi
    t1=$(now_ms)
    if must_run $N log.k9.resume train --resume k9/checkpoint.h5 --out k9; then
        if d=$("$H5CMP" full/checkpoint.h5 k9/checkpoint.h5 "${STATE[@]}"); then
            pass "kill -9: checkpoint of step $step intact; resumed to the end in $(elapsed_s "$t1") s, bitwise the uninterrupted run"
        else
            fail "kill -9: resumed run differs from the uninterrupted one:"
            echo "$d" | head -10 | sed 's/^/    /'
        fi
    fi
else
    fail "kill -9: no progress line at step >= 20 within 60 s"
    pkill -KILL -P "$BG" 2>/dev/null
fi

# ---- 2. NaN / Inf ----
NAN_MODEL=(--data "$W/huge.h5" --preprocess none --optim sgd --lr 1 --hidden 50,50 --batch-size 40 --epochs 5
    --checkpoint-every 1 --keep-last 2 --print-every 1000)
mkdir -p rc
FCNET_RC_DIR=$W/rc timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" --mca orte_abort_on_non_zero_status 0 -n $N \
    -x FCNET_RC_DIR sh -c '"$0" "$@"; rc=$?; echo $rc >"$FCNET_RC_DIR/rank$OMPI_COMM_WORLD_RANK"; exit 0' \
    "$FCNET_DIST" train "${NAN_MODEL[@]}" --out nan >nan.out 2>nan.err
ranks="$(cat rc/rank0 2>/dev/null) $(cat rc/rank1 2>/dev/null)"
[ "$ranks" = "3 3" ] || fail "NaN: ranks exited '$ranks' (expected '3 3')"
expect_error "NaN: every rank exited 3" 3 nan.out nan.err "${ranks%% *}" "diverged" "step" \
    "the last checkpoint is kept as it was"
step=$(grep -oE 'at step [0-9]+' nan.err | grep -oE '[0-9]+')
if [ -n "$step" ]; then
    saved=$(attr nan/checkpoint.h5 /@step)
    [ "$saved" = "$step" ] || fail "NaN: checkpoint.h5 holds step $saved, the message names step $step"
    [ "$(stat -c %i nan/checkpoint.h5)" = "$(stat -c %i "nan/checkpoint-step$step.h5" 2>/dev/null)" ] ||
        fail "NaN: checkpoint.h5 is not the file saved at step $step (rewritten?)"
    tmp=$(find nan -name '.*tmp*')
    [ -z "$tmp" ] || fail "NaN: temporary files left: $tmp"
    timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -n $N "$FCNET_DIST" train --resume nan/checkpoint.h5 --out nan2 \
        >nan2.out 2>nan2.err
    rc=$?
    # (into nan2/, which holds no checkpoint: the line does not claim one was kept)
    expect_error "NaN: the kept checkpoint loads and diverges again" 3 nan2.out nan2.err $rc "at step $step" \
        "no checkpoint written in --out, and nan/checkpoint.h5 is as it was (a resume keeps its --lr and --reg"
    # Into an --out holding another run's checkpoint (--overwrite, which replaces it only at the first save): that
    # file is not this run's, so the line does not claim it was kept either.
    mkdir -p nan3 && cp full/checkpoint.h5 nan3/
    timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -n $N "$FCNET_DIST" train --resume nan/checkpoint.h5 --out nan3 \
        --overwrite >nan3.out 2>nan3.err
    rc=$?
    expect_error "NaN: into --out holding another run's checkpoint, none claimed kept" 3 nan3.out nan3.err $rc \
        "at step $step" "no checkpoint written"
else
    fail "NaN: the error line names no 'at step N', so the kept checkpoint cannot be checked: $(head -1 nan.err)"
fi

# ---- 3. injected write failure ----
must_run $N log.fw train "${MODEL[@]}" --out fw --max-steps 5 || finish
cp fw/checkpoint.h5 before.h5
FCNET_FAULT_CKPT=fail-write timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -x FCNET_FAULT_CKPT -n $N "$FCNET_DIST" \
    train --resume fw/checkpoint.h5 --out fw --checkpoint-every 3 >fw.out 2>fw.err
rc=$?
[ "$rc" != 0 ] || fail "fail-write: exit 0"
expect_error "fail-write: non-zero exit, one line" 1 fw.out fw.err $rc "fw/checkpoint.h5" "FCNET_FAULT_CKPT=fail-write"
cmp -s before.h5 fw/checkpoint.h5 || fail "fail-write: checkpoint.h5 changed"
tmp=$(find fw -name '.*tmp*')
[ -z "$tmp" ] || fail "fail-write: temporary files left: $tmp"
if must_run $N log.fw.resume train --resume fw/checkpoint.h5 --out fw; then
    [ "$(attr fw/checkpoint.h5 /@finished)" = 1 ] && pass "fail-write: previous checkpoint intact; resume without the fault finished" ||
        fail "fail-write: the resumed run did not finish"
fi

# ---- 4. replicas that differ (--check-replicas) ----
# Rank 1's batchnorm statistics made to differ before the check at step 10: exit 1, one line naming the step,
# the rank and the tensor; the checkpoint of step 5 is the last one written. The same run without the fault
# passes its checks.
REPLICA=(train "${MODEL[@]}" --check-replicas 10 --checkpoint-every 5 --max-steps 20)
if must_run $N log.rep.ok "${REPLICA[@]}" --out rep.ok; then
    [ "$(attr rep.ok/checkpoint.h5 /@step)" = 20 ] && pass "check-replicas: a healthy run passes its checks" ||
        fail "check-replicas: the healthy run stopped at step $(attr rep.ok/checkpoint.h5 /@step)"
fi
FCNET_FAULT_REPLICA=1 timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -x FCNET_FAULT_REPLICA -n $N "$FCNET_DIST" \
    "${REPLICA[@]}" --out rep >rep.out 2>rep.err
rc=$?
expect_error "check-replicas: a differing replica stops the run" 1 rep.out rep.err $rc "replica mismatch at step 10" \
    "rank 1 differs from rank 0 in bn running statistics"
[ "$(attr rep/checkpoint.h5 /@step)" = 5 ] || fail "check-replicas: checkpoint.h5 holds step $(attr rep/checkpoint.h5 /@step), not 5"
# Without batchnorm the fault lands on rank 1's parameters. Under the default exchange the ranks of one node
# share one parameter array, so only the message path (FCNET_EXCHANGE=p2p: a copy per rank) can let them
# differ: the comparison of the parameters themselves must catch it.
REPLICA_P=(train --data "$W/s.h5" --hidden 20 --optim adam --batch-size 30 --check-replicas 10 --max-steps 20)
FCNET_EXCHANGE=p2p FCNET_FAULT_REPLICA=1 timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -x FCNET_EXCHANGE \
    -x FCNET_FAULT_REPLICA -n $N "$FCNET_DIST" "${REPLICA_P[@]}" --out rep.p >rep.p.out 2>rep.p.err
rc=$?
expect_error "check-replicas: differing parameters (message path, no batchnorm) stop the run" 1 rep.p.out rep.p.err \
    $rc "replica mismatch at step 10" "rank 1 differs from rank 0 in params"

# ---- 5. rank 0's initial state is everybody's ----
FCNET_FAULT_INIT=1 timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -x FCNET_FAULT_INIT -n $N "$FCNET_DIST" "${REPLICA[@]}" \
    --out init >init.out 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    fail "start-up broadcast: the run with rank 1's initial state changed exited $rc: $(tail -2 init.out)"
elif diff_out=$("$H5CMP" rep.ok/checkpoint.h5 init/checkpoint.h5 /params /bn /optim /history/loss); then
    pass "start-up broadcast: rank 1's changed initial state is replaced by rank 0's (checkpoint bitwise as the unfaulted run's)"
else
    fail "start-up broadcast: the run differs from the unfaulted one: $(head -2 <<<"$diff_out")"
fi
finish
