#!/usr/bin/env bash
# shellcheck disable=SC2054 # "--hidden 50,40": the commas belong to the value, not array syntax
# Checkpoint on signal, from the command line, at -n 2 (issue 4). A 400-step run (4 epochs of 100
# steps, batchnorm + dropout + adam) is started in the background with --checkpoint-every 1 (a save per
# step: ~3 ms, so the run lasts ~1 s even on an idle machine and a signal often lands during a save;
# saving does not change the trajectory); once its log shows a progress line at step >= 10:
#  1. SIGUSR1 to mpirun (which forwards it to every rank): exit 0 within 10 s, a log line saying it
#     stopped on the signal at step S and wrote the checkpoint, the checkpoint holds step S < 400; then
#     --resume to the end equals the uninterrupted run BITWISE (params, BN, optimizer, histories, best).
#  2. SIGTERM to rank 1 only (kill -TERM <pid>): the ranks agree on the stop at the next step boundary
#     (a rank that stopped alone would leave the other waiting in a collective: a hang, caught by the
#     10 s limit), exit 0, checkpoint written; the resume again equals the uninterrupted run bitwise.
#  3. SIGUSR1 to both ranks 12 times, 10 ms apart (the later ones arrive while the checkpoint is written):
#     exit 0, the checkpoint loads and the resume equals the uninterrupted run bitwise; no temporary
#     file is left behind.
#  4. Ctrl-C to a run without mpirun: checkpoint, then death by SIGINT (130); the resume is bitwise. 4b: a SIGTERM
#     after the Ctrl-C does not turn that death into exit 0. 4c: a Ctrl-C after a SIGTERM still makes it one.
#  4d. A hangup (SIGHUP, twice) to a run without mpirun: checkpoint, then death by SIGHUP (129); the resume is
#     bitwise. The second one during the stop's save changes nothing (wider layers). Started with SIGHUP ignored
#     (nohup), a hangup changes nothing.
#  5. A run without mpirun whose standard output closes (`| head -1`): checkpoint, one warning line on
#     stderr, then death by SIGPIPE (141); the resume is bitwise.
#  5b. Under mpirun, standard output closed (`mpirun ... | head -1`, every step printed): mpirun ends the job with
#     SIGTERM and, 1 s later, SIGKILL; the ranks save the stop's checkpoint in between. 5c: a stop sets standard
#     output aside without touching the file it shares with other processes: the next command of a pipeline whose
#     run was SIGKILLed during the stop writes to it as before.
#  6. Under mpirun, a SIGPIPE to one rank (a socket to a peer or to orted gone; mpirun handles a closed
#     output itself) is not taken for a closed standard output: no such line, and the job ends (non-zero)
#     rather than that rank alone dying of SIGPIPE after a checkpoint the others report as a clean stop.
#  7. SIGTERM and SIGUSR1 end gradcheck, which saves nothing, at once: it dies of the signal (a training
#     run would write its checkpoint first; a command that ignored them would defeat `kill` and `timeout`).
#  8. Ctrl-C during the final test evaluation of a finished run (its checkpoint complete): death by SIGINT
#     (130) at once, the finished checkpoint intact, no temporary file. A hangup likewise: death by SIGHUP (129).
#     8b. Either one during the final save itself: the save completes, then death by it (no evaluation).
#  9. Under gdb (where installed), `signal SIGINT` then `continue` past the final raise(SIGINT) that gdb keeps:
#     exit 130, not 0. 9b: the same with the SIGINT delivered during the final save. 9c: the README's example of
#     one rank under gdb in an MPMD launch stops at its breakpoint and then finishes.
# Every resume runs with --print-every 1 and must print step S + 1 first: a run that ignored the checkpoint and
# trained again from step 0 would end on the same bits as the uninterrupted run (training is deterministic).
#
#   tests/test_signals.sh FCNET_SYNTH H5CMP [MPIEXEC]       (FCNET_DIST from the environment)
set -uo pipefail
README=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/README.md # case 9c runs its gdb example (before the cd below)
# shellcheck source=tests/ckpt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"
N=2
LIMIT_S=10

"$SYNTH" --out s.h5 --train 3000 --val 200 --features 50 --classes 5 --seed 3 >/dev/null || exit 1
MODEL=(--data "$W/s.h5" --hidden 100,100 --norm batchnorm --keep 0.9 --optim adam --batch-size 30 --epochs 4
    --print-every 1)
t=$(now_ms)
must_run $N log.full train "${MODEL[@]}" --out full || finish
echo "     uninterrupted run: $(elapsed_s "$t") s"

# start NAME: starts the run in the background; sets BG (the timeout wrapper) and MPIRUN_PID.
start() {
    rm -rf "$1"
    : >"log.$1"
    timeout 300 "$MPIEXEC" "${MPI_FLAGS[@]}" -n $N "$FCNET_DIST" train "${MODEL[@]}" --out "$1" \
        --checkpoint-every 1 >"log.$1" 2>&1 &
    BG=$!
    MPIRUN_PID=""
    for _ in $(seq 200); do
        MPIRUN_PID=$(pgrep -P "$BG" | head -1)
        [ -n "$MPIRUN_PID" ] && break
        sleep 0.02
    done
}

# resumed_at NAME STEP: the resume's log (log.NAME.resume, run with --print-every 1) starts at step STEP + 1. The
# bitwise comparison with the uninterrupted run cannot tell a resume from a run that ignored the checkpoint and
# trained again from step 0: training is deterministic, so both end on the same bits.
resumed_at() {
    local first
    first=$(grep -m1 -oE '^\(step [0-9]+ /' "log.$1.resume" | grep -oE '[0-9]+')
    [ "$first" = $(($2 + 1)) ] && return 0
    fail "$1: the resume's first step is '$first', not $(($2 + 1)): it did not continue from the checkpoint's step $2"
    return 1
}

# stopped NAME RC T0: checks a run stopped by a signal: exit 0 within the limit, the log line, the
# checkpoint's step, no temporary files; then resumes it and compares with the uninterrupted run.
stopped() {
    local name=$1 rc=$2 t0=$3 took
    took=$(elapsed_s "$t0")
    if [ "$rc" != 0 ]; then
        fail "$name: exit $rc after the signal (expected 0, within $LIMIT_S s)"
        tail -5 "log.$name" | sed 's/^/    /'
        return
    fi
    local line step saved
    line=$(grep -o "stopped on signal at step [0-9]*.*" "log.$name")
    step=$(echo "$line" | grep -oE 'step [0-9]+' | head -1 | grep -oE '[0-9]+')
    saved=$(attr "$name/checkpoint.h5" /@step)
    [ -n "$line" ] || { fail "$name: no 'stopped on signal' log line"; return; }
    [ "$saved" = "$step" ] || fail "$name: log says step $step, checkpoint holds step $saved"
    [ -n "$step" ] && [ "$step" -lt 400 ] || fail "$name: stopped at step $step, not mid-run"
    local tmp
    tmp=$(find "$name" -name '.*tmp*')
    [ -z "$tmp" ] || fail "$name: temporary files left: $tmp"
    pass "$name: exit 0 ${took} s after the signal; '$line'"
    local t1
    t1=$(now_ms)
    must_run $N "log.$name.resume" train --resume "$name/checkpoint.h5" --out "$name" --print-every 1 || return
    resumed_at "$name" "$step" || return
    local d
    if d=$("$H5CMP" full/checkpoint.h5 "$name/checkpoint.h5" "${STATE[@]}"); then
        pass "$name: resumed from step $step to the end in $(elapsed_s "$t1") s: bitwise the uninterrupted run"
    else
        fail "$name: resumed run differs from the uninterrupted one:"
        echo "$d" | head -10 | sed 's/^/    /'
    fi
}

# ---- 1. SIGUSR1 to mpirun ----
start usr1
if wait_for_step log.usr1 10 60 "$BG"; then
    t0=$(now_ms)
    kill -USR1 "$MPIRUN_PID"
    wait_exit "$BG" $LIMIT_S
    stopped usr1 "$WAIT_RC" "$t0"
else
    fail "usr1: no progress line at step >= 10 within 60 s"
    kill -KILL "$BG" 2>/dev/null
fi

# ---- 2. SIGTERM to rank 1 only ----
start term
if wait_for_step log.term 10 60 "$BG"; then
    r1=$(pid_of_rank "$MPIRUN_PID" 1)
    if [ -z "$r1" ]; then
        fail "term: cannot find the pid of rank 1"
    else
        t0=$(now_ms)
        kill -TERM "$r1"
        wait_exit "$BG" $LIMIT_S
        stopped term "$WAIT_RC" "$t0"
    fi
else
    fail "term: no progress line at step >= 10 within 60 s"
fi
kill -KILL "$BG" 2>/dev/null

# ---- 3. a burst of SIGUSR1 to both ranks: the later ones land during the agreement and the save ----
# (Sent to the ranks, not to mpirun: once its job is over mpirun stops forwarding and a late SIGUSR1
# would kill mpirun itself, exit 138 -- after the checkpoint is complete, but not what is tested here.)
start burst
if wait_for_step log.burst 10 60 "$BG"; then
    ranks="$(pid_of_rank "$MPIRUN_PID" 0) $(pid_of_rank "$MPIRUN_PID" 1)"
    t0=$(now_ms)
    for _ in $(seq 12); do
        # shellcheck disable=SC2086
        kill -USR1 $ranks 2>/dev/null
        sleep 0.01
    done
    wait_exit "$BG" $LIMIT_S
    stopped burst "$WAIT_RC" "$t0"
else
    fail "burst: no progress line at step >= 10 within 60 s"
fi
kill -KILL "$BG" 2>/dev/null

# resume_one_rank NAME STEP: resumes NAME/checkpoint.h5 (saved at STEP) without mpirun to the end and compares it
# with the uninterrupted one-rank run (full1).
resume_one_rank() {
    local d
    "$FCNET_DIST" train --resume "$1/checkpoint.h5" --out "$1" --print-every 1 >"log.$1.resume" 2>&1 ||
        fail "$1: resume failed"
    resumed_at "$1" "$2" || return
    if d=$("$H5CMP" full1/checkpoint.h5 "$1/checkpoint.h5" "${STATE[@]}"); then
        pass "$1: resumed to the end: bitwise the uninterrupted one-rank run"
    else
        fail "$1: resumed run differs from the uninterrupted one:"
        echo "$d" | head -10 | sed 's/^/    /'
    fi
}

# stop_run SIG NAME BEFORE AFTER [ARGS...]: a run without mpirun (ARGS added to MODEL) into NAME, log.NAME, gets
# signal SIG (INT: a Ctrl-C, HUP: a hangup) once it has printed step 10, signal BEFORE just before it and signal
# AFTER 20 ms after it ("none": no such signal). Sets WAIT_RC, LINE (its "stopped on signal" line), STEP (that
# line's step) and T0 (when SIG went); fails and returns 1 when no progress line came.
stop_run() {
    local sig=$1 name=$2 before=$3 after=$4 pid
    shift 4
    rm -rf "$name"
    # (A script's background job starts with SIGINT ignored, and fcnet_dist then leaves it ignored.)
    timeout 300 env --default-signal="$sig" "$FCNET_DIST" train "${MODEL[@]}" "$@" --out "$name" >"log.$name" 2>&1 &
    BG=$!
    if ! wait_for_step "log.$name" 10 60 "$BG"; then
        kill -KILL "$BG" 2>/dev/null
        fail "$name: no progress line at step >= 10 within 60 s"
        return 1
    fi
    T0=$(now_ms)
    pid=$(pgrep -P "$BG" -x fcnet_dist || echo "$BG")
    # BEFORE and SIG reach a stopped process: however long a loaded machine holds this shell between the two
    # kills, the run cannot save and end on BEFORE alone (exit 0, a false failure) before SIG is pending.
    [ "$before" = none ] || { kill -STOP "$pid" && kill "-$before" "$pid"; }
    kill "-$sig" "$pid"
    [ "$before" = none ] || kill -CONT "$pid"
    if [ "$after" != none ]; then
        sleep 0.02
        kill "-$after" "$pid" 2>/dev/null # (a small run may have ended by then)
    fi
    wait_exit "$BG" $LIMIT_S
    kill -KILL "$BG" 2>/dev/null
    LINE=$(grep -o "stopped on signal at step [0-9]*.*" "log.$name")
    STEP=$(echo "$LINE" | grep -oE 'step [0-9]+' | head -1 | grep -oE '[0-9]+')
    return 0
}

# died_of SIG NAME WHAT: after stop_run SIG NAME, whether the run died of SIG (128 + its number) mid-run, with its
# checkpoint at the step its line names; passes as "NAME: WHAT ..." or fails, showing the end of its log.
died_of() {
    local at want=$((128 + $(kill -l "$1")))
    at=$(attr "$2/checkpoint.h5" /@step)
    if [ "$WAIT_RC" = "$want" ] && [ -n "$STEP" ] && [ "$STEP" -lt 400 ] && [ "$at" = "$STEP" ]; then
        pass "$2: $3: died of SIG$1 ($want), checkpoint at step $STEP"
    else
        fail "$2: $3: exit $WAIT_RC (want $want), log step '${STEP}', checkpoint step $at"
        tail -3 "log.$2" | sed 's/^/    /'
        return 1
    fi
}

# ---- 4. Ctrl-C (SIGINT) to a run started without mpirun, as under gdb or valgrind ----
# It writes the checkpoint at the next step boundary and then dies of SIGINT (status 130), so that a shell
# loop around it stops too; the resume equals an uninterrupted run of its own (one rank) bitwise.
"$FCNET_DIST" train "${MODEL[@]}" --out full1 >log.full1 2>&1 || fail "uninterrupted one-rank run failed"
if stop_run INT int none none --checkpoint-every 1 &&
    died_of INT int "$(elapsed_s "$T0") s after Ctrl-C, '$LINE'"; then
    resume_one_rank int "$STEP"
fi

# ---- 4b. a SIGTERM after the Ctrl-C (a batch system's, or `timeout`'s, landing before or during the save) ----
# The Ctrl-C still decides: death by SIGINT (130) after the checkpoint; the later SIGTERM made it exit 0. Wider
# layers make the save take some 100 ms, so the SIGTERM, 20 ms after the Ctrl-C has been taken, lands before the
# run has decided how it ends (sent together, the kernel runs SIGTERM's handler first, SIGINT's last).
if stop_run INT intterm none TERM --hidden 2000,2000; then
    died_of INT intterm "Ctrl-C then SIGTERM"
fi

# ---- 4c. a Ctrl-C after a SIGTERM (the user's, while a batch system's stop is being saved) ----
# The first stop signal decides, except that a Ctrl-C always wins: death by SIGINT (130) after the checkpoint,
# not the SIGTERM's exit 0. Both are pending together when the process continues, and SIGTERM's handler runs first.
if stop_run INT termint TERM none --hidden 2000,2000; then
    died_of INT termint "SIGTERM then Ctrl-C"
fi

# ---- 4d. a hangup (the terminal or ssh session of a run started in the foreground closes) ----
# It killed the run with nothing saved since the last checkpoint. Now as Ctrl-C: the checkpoint at the next step
# boundary, then death by SIGHUP (129); the resume is bitwise. Sent twice, as a hangup often arrives (the kernel's
# to the foreground process group, the shell's to its jobs): the second must not kill the run during the save.
if stop_run HUP hup none HUP --checkpoint-every 1 &&
    died_of HUP hup "$(elapsed_s "$T0") s after two hangups, '$LINE'"; then
    resume_one_rank hup "$STEP"
fi
# The second hangup while the stop's checkpoint is being saved: with the small model above the run may have ended
# before it (a handler reset by the first one passed such a case in about 3 runs of 8). Wider layers make the save
# take some 100 ms, so the hangup 20 ms after the first lands in it, as in 4b.
if stop_run HUP hup2 none HUP --hidden 2000,2000; then
    died_of HUP hup2 "a second hangup during the save"
fi
# Started with SIGHUP ignored (nohup, or a script's background job under `huponexit`): a hangup changes nothing,
# the run trains to its end.
rm -rf nohup
timeout 300 env --ignore-signal=HUP "$FCNET_DIST" train "${MODEL[@]}" --out nohup >log.nohup 2>&1 &
BG=$!
if ! wait_for_step log.nohup 10 60 "$BG"; then
    fail "nohup: no progress line at step >= 10 within 60 s"
else
    kill -HUP "$(pgrep -P "$BG" -x fcnet_dist || echo "$BG")"
    wait_exit "$BG" 120
    if [ "$WAIT_RC" = 0 ] && [ "$(attr nohup/checkpoint.h5 /@step)" = 400 ] && ! grep -q "stopped on signal" log.nohup; then
        pass "nohup: started with SIGHUP ignored, a hangup changed nothing: exit 0 at step 400"
    else
        fail "nohup: exit $WAIT_RC (want 0), checkpoint step $(attr nohup/checkpoint.h5 /@step 2>&1) (want 400)"
        tail -3 log.nohup | sed 's/^/    /'
    fi
fi
kill -KILL "$BG" 2>/dev/null

# ---- 5. standard output closed (`| head`) under a run without mpirun ----
# Rank 0's next progress line raises SIGPIPE, whose default action killed the run silently with nothing
# saved (exit 141, no checkpoint). It stops as Ctrl-C does: the checkpoint at the next step boundary, one
# warning line on stderr (stdout is gone), then death by SIGPIPE (141); the resume is bitwise.
rm -rf pipe
( timeout 300 env --default-signal=PIPE "$FCNET_DIST" train "${MODEL[@]}" --out pipe 2>log.pipe
    echo $? >rc.pipe ) | head -1 >/dev/null
line=$(grep -o "standard output was closed (SIGPIPE): stopped at step [0-9]*.*" log.pipe)
step=$(echo "$line" | grep -oE 'step [0-9]+' | head -1 | grep -oE '[0-9]+')
# The line's resume command names --out too: without it the resumed run would write to the default fcnet-out.
if [ "$(cat rc.pipe)" = 141 ] && [ "$(wc -l <log.pipe)" = 1 ] && [ -n "$step" ] && [ "$step" -lt 400 ] &&
    [[ "$line" == *"resume with --resume pipe/checkpoint.h5 --out pipe" ]] &&
    [ "$(attr pipe/checkpoint.h5 /@step)" = "$step" ]; then
    pass "pipe: died of SIGPIPE (141) after its output closed, checkpoint at step $step: '$line'"
    resume_one_rank pipe "$step"
else
    fail "pipe: exit $(cat rc.pipe) (want 141), stderr '$(cat log.pipe)', checkpoint step $(attr pipe/checkpoint.h5 /@step 2>&1)"
fi

# ---- 5b. standard output closed under mpirun ----
# mpirun, whose write fails, stops reading the ranks' output and ends the job: SIGTERM to the ranks, SIGKILL 1 s
# later (Open MPI 4.1: SIGCONT, 1 s, SIGTERM, 1 s, SIGKILL). Rank 0, printing every step, had by then filled its
# terminal's buffer that nobody drained and sat in write() through the SIGTERM until the SIGKILL: the run died
# with nothing saved since the last epoch's checkpoint (6 of 6 runs). A stop now sets standard output aside
# (src/output_aside.c), so the ranks stop at the next step boundary with the checkpoint. 27000 steps per epoch: a
# checkpoint only at an epoch's end (or none) is the old loss. mpirun itself then mostly crashes in its teardown
# (exit 139; else 141), which is Open MPI's.
rm -rf pipe_mpirun
"$SYNTH" --out long.h5 --train 60000 --features 50 --classes 5 --seed 3 >/dev/null || exit 1
( timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n $N "$FCNET_DIST" train "${MODEL[@]}" --data "$W/long.h5" \
    --batch-size 2 --epochs 100 --out pipe_mpirun 2>log.pipe_mpirun
    echo $? >rc.pipe_mpirun ) 2>/dev/null | head -1 >/dev/null # (the subshell's note of mpirun's own crash, below)
saved=$(attr pipe_mpirun/checkpoint.h5 /@step 2>/dev/null)
per=$(attr pipe_mpirun/checkpoint.h5 /@steps_per_epoch 2>/dev/null)
if [ "$(cat rc.pipe_mpirun)" != 124 ] && [ -n "$saved" ] && [ -n "$per" ] && [ "$saved" -gt 0 ] &&
    [ $((saved % per)) != 0 ]; then
    pass "pipe_mpirun: mpirun's output closed (mpirun exit $(cat rc.pipe_mpirun)): the ranks saved step $saved"
else
    fail "pipe_mpirun: exit $(cat rc.pipe_mpirun), checkpoint step '$saved' of epochs of '$per' steps (want a stop's \
checkpoint, not an epoch's end)"
fi

# ---- 5c. a run killed during its stop leaves the shared output as it was ----
# A first version made standard output non-blocking (O_NONBLOCK, a flag of the open file that the pipeline's other
# commands share) until the stop's save: a run SIGKILLed in between (`timeout -k`) left it set, and the next
# command's writes to the slow reader failed ("seq: write error: Resource temporarily unavailable"; helper-179).
{ timeout -s USR1 -k 0.05 2 "$FCNET_DIST" train "${MODEL[@]}" --hidden 2000,2000 --epochs 1000 --out aside_kill \
    2>/dev/null </dev/null
    echo $? >rc.aside_run
    seq 1 200000
    echo $? >rc.aside_seq; } 2>/dev/null | { sleep 1; grep -c '^[0-9]*$' >lines.aside_seq; }
if [ "$(cat rc.aside_run)" = 137 ] && [ "$(cat rc.aside_seq)" = 0 ] && [ "$(cat lines.aside_seq)" = 200000 ]; then
    pass "aside_kill: the pipeline's next command wrote all 200000 lines after a run killed during its stop"
else
    fail "aside_kill: run exit $(cat rc.aside_run) (want 137), seq exit $(cat rc.aside_seq), $(cat lines.aside_seq) \
lines reached the reader (want 0, 200000)"
fi

# ---- 6. SIGPIPE to rank 1 under mpirun: a socket's, not a closed standard output's ----
# The handler of case 5 is for runs without mpirun. Caught under mpirun it made rank 1 print "standard output
# was closed" (it was not) and die of SIGPIPE alone after the agreed stop, while rank 0 reported a clean one.
start pipe_mpi
if wait_for_step log.pipe_mpi 10 60 "$BG"; then
    r1=$(pid_of_rank "$MPIRUN_PID" 1)
    if [ -z "$r1" ]; then
        fail "pipe_mpi: cannot find the pid of rank 1"
    else
        kill -PIPE "$r1"
        wait_exit "$BG" 30
        if [ "$WAIT_RC" != 0 ] && [ "$WAIT_RC" != timeout ] && ! grep -q "standard output was closed" log.pipe_mpi; then
            pass "pipe_mpi: SIGPIPE to rank 1 under mpirun ends the job (exit $WAIT_RC), no 'standard output was closed'"
        else
            fail "pipe_mpi: exit $WAIT_RC (want non-zero), log: $(grep -m1 "standard output was closed\|signal" log.pipe_mpi)"
        fi
    fi
else
    fail "pipe_mpi: no progress line at step >= 10 within 60 s"
fi
kill -KILL "$BG" 2>/dev/null

# ---- 7. SIGTERM / SIGUSR1 to gradcheck (a large model: it would take ~20 s to the end) ----
for sig in TERM USR1; do
    "$FCNET_DIST" gradcheck --hidden 3000,3000 --batch-size 64 >"log.gc_$sig" 2>&1 &
    BG=$!
    sleep 0.5
    t0=$(now_ms)
    kill -"$sig" "$BG"
    wait_exit "$BG" $LIMIT_S
    want=$((128 + $(kill -l "$sig")))
    if [ "$WAIT_RC" = "$want" ]; then
        pass "gradcheck: died of SIG$sig ($want) $(elapsed_s "$t0") s after it"
    else
        fail "gradcheck: exit $WAIT_RC after SIG$sig (want $want, within $LIMIT_S s)"
    fi
done

# ---- 8. Ctrl-C during the final test evaluation, after training finished and its checkpoint is complete ----
# Nothing is left to save there, so Ctrl-C ends it at once with 130, as during loading and setup (before, the
# handler swallowed it: the evaluation ran on to the end and the process exited 0, so a shell loop around it
# went on). A test split of 60000 rows through a 1000,1000 net: the evaluation takes ~2 s after the last
# progress line; the checkpoint must be the finished one, complete, with no temporary file beside it.
"$SYNTH" --out ft.h5 --train 300 --val 100 --test 60000 --features 20 --classes 5 --seed 3 >/dev/null || exit 1
# died_finished NAME RC WANT WHAT: the run NAME, stopped by WHAT, exited RC; it passes when RC is WANT (death by
# the signal), no test accuracy line was printed, and the checkpoint is the finished one (step 3) with no temporary.
died_finished() {
    local name=$1 rc=$2 want=$3 what=$4
    if [ "$rc" = "$want" ] && ! grep -q "test accuracy" "log.$name" &&
        [ "$(attr "$name/checkpoint.h5" /@finished)" = 1 ] && [ "$(attr "$name/checkpoint.h5" /@step)" = 3 ] &&
        [ -z "$(find "$name" -name '.*tmp*')" ]; then
        pass "$name: died of $what ($want); checkpoint finished"
    else
        fail "$name: exit $rc after $what (want $want, no test accuracy line, the finished checkpoint at step 3:" \
            "finished=$(attr "$name/checkpoint.h5" /@finished) step=$(attr "$name/checkpoint.h5" /@step))"
        tail -3 "log.$name" | sed 's/^/    /'
    fi
}
# A hangup there likewise (129): its handler is not reset by a first one, and it swallowed the hangup the same way.
for sig in INT HUP; do
    name=fin$([ $sig = INT ] || echo hup)
    want=$((128 + $(kill -l $sig)))
    rm -rf "$name"
    timeout 300 env --default-signal=$sig "$FCNET_DIST" train --data "$W/ft.h5" --hidden 1000,1000 --batch-size 100 \
        --epochs 1 --out "$name" >"log.$name" 2>&1 &
    BG=$!
    deadline=$(($(now_ms) + 60000))
    while ! grep -q "(epoch 1 / 1) step 3:" "log.$name" && kill -0 "$BG" 2>/dev/null &&
        [ "$(now_ms)" -lt "$deadline" ]; do
        sleep 0.02
    done
    sleep 0.3 # the final save (a few ms) is over; the evaluation is under way
    t0=$(now_ms)
    pid=$(pgrep -P "$BG" -x fcnet_dist || echo "$BG")
    kill -$sig "$pid"
    wait_exit "$BG" $LIMIT_S
    died_finished "$name" "$WAIT_RC" $want "SIG$sig in the final evaluation ($(elapsed_s "$t0") s to exit)"
done

# ---- 8b. the same signals during the final save itself ----
# Case 8 sends its signal 0.3 s after the last progress line, assuming the final save is over by then; a slower save
# (a busy disk's fsync) took the signal in the handler, and the evaluation then ran to its end and exited 0. Raised
# here as the save's temporary file is created (signal_on_create, FCNET_SIGNAL_ON_CREATE from CTest): the save
# completes, then the run dies of the signal without the evaluation.
if [ -n "${FCNET_SIGNAL_ON_CREATE:-}" ]; then
    for sig in INT HUP; do
        name=finsave$([ $sig = INT ] || echo hup)
        want=$((128 + $(kill -l $sig)))
        rm -rf "$name"
        rc=0
        FCNET_TEST_SIGNAL_ON_CREATE=$(kill -l $sig) LD_PRELOAD=$FCNET_SIGNAL_ON_CREATE timeout 300 \
            env --default-signal=$sig "$FCNET_DIST" train --data "$W/ft.h5" --hidden 1000,1000 --batch-size 100 \
            --epochs 1 --out "$name" >"log.$name" 2>&1 || rc=$?
        died_finished "$name" "$rc" $want "SIG$sig during the final save"
    done
    # 8c. The same during the final save of a run stopped by --max-steps (not finished): the signal came after the
    # last step's agreement, so the run took it for no stop of its own and exited 0 (helper-166): the one Ctrl-C
    # was lost, and a loop of `--resume ... --max-steps N` around it went on.
    for sig in INT HUP; do
        name=maxsave$([ $sig = INT ] || echo hup)
        want=$((128 + $(kill -l $sig)))
        rm -rf "$name"
        rc=0
        FCNET_TEST_SIGNAL_ON_CREATE=$(kill -l $sig) LD_PRELOAD=$FCNET_SIGNAL_ON_CREATE timeout 300 \
            env --default-signal=$sig "$FCNET_DIST" train --data "$W/ft.h5" --hidden 30 --batch-size 100 \
            --epochs 2 --max-steps 2 --out "$name" >"log.$name" 2>&1 || rc=$?
        if [ "$rc" = "$want" ] && [ "$(attr "$name/checkpoint.h5" /@step)" = 2 ] &&
            [ "$(attr "$name/checkpoint.h5" /@finished)" = 0 ] && grep -q "stopped after --max-steps 2" "log.$name"; then
            pass "$name: SIG$sig during the final save of a --max-steps stop: died of it ($want), checkpoint at step 2"
        else
            fail "$name: exit $rc after SIG$sig during the final save of a --max-steps stop (want $want, the" \
                "checkpoint at step 2: step=$(attr "$name/checkpoint.h5" /@step))"
            tail -3 "log.$name" | sed 's/^/    /'
        fi
    done
fi

# ---- 9. Ctrl-C under gdb: `signal SIGINT` at its prompt, then `continue` past the final raise(SIGINT) ----
# gdb keeps SIGINT to itself (`handle SIGINT nopass`), so the process's own raise(SIGINT) after the checkpoint
# stops in gdb and `continue` drops it: the process goes on past the raise. It must still end with 130, as the
# README's Debugging section says; it returned its run status 0, which reads as a finished run. Needs gdb.
# Skipped where gdb cannot start a program at all (a container without ptrace): that is not fcnet's doing.
if command -v gdb >/dev/null && timeout 60 gdb -nx -batch -ex run --args /bin/true 2>&1 | grep -q "exited normally"; then
    rm -rf gdbint
    timeout 120 gdb -nx -batch -ex 'break fc_net_backward' -ex run -ex delete -ex 'signal SIGINT' -ex continue \
        --args "$FCNET_DIST" train "${MODEL[@]}" --out gdbint >log.gdbint 2>&1
    exited=$(grep -o 'exited [a-z]*[ a-z0-9]*\]' log.gdbint | head -1)
    if grep -q "stopped on signal at step 1 " log.gdbint && [ "$exited" = "exited with code 0202]" ] &&
        [ "$(attr gdbint/checkpoint.h5 /@step)" = 1 ]; then
        pass "gdb: signal SIGINT, then continue past the final raise: exit 130 (gdb: $exited), checkpoint at step 1"
    else
        fail "gdb: after signal SIGINT and continue: '${exited:-no exit line}' (want 'exited with code 0202]', 130)," \
            "checkpoint step $(attr gdbint/checkpoint.h5 /@step) (want 1)"
        tail -5 log.gdbint | sed 's/^/    /'
    fi
    # 9b. The same during the final save (case 8b under gdb): the raise after the save is kept by gdb, the evaluation
    # runs, and the exit is still 130, not 0.
    rm -rf gdbsave
    timeout 120 gdb -nx -batch -ex 'break fc_ckpt_save' -ex run -ex delete -ex 'signal SIGINT' -ex continue \
        -ex continue --args "$FCNET_DIST" train --data "$W/ft.h5" --hidden 1000,1000 --batch-size 100 --epochs 1 \
        --out gdbsave >log.gdbsave 2>&1
    exited=$(grep -o 'exited [a-z]*[ a-z0-9]*\]' log.gdbsave | head -1)
    if [ "$exited" = "exited with code 0202]" ] && [ "$(attr gdbsave/checkpoint.h5 /@finished)" = 1 ]; then
        pass "gdb: signal SIGINT in the final save, then continue past both raises: exit 130 (gdb: $exited)"
    else
        fail "gdb: signal SIGINT in the final save: '${exited:-no exit line}' (want 'exited with code 0202]', 130)," \
            "checkpoint finished=$(attr gdbsave/checkpoint.h5 /@finished) (want 1)"
        tail -5 log.gdbsave | sed 's/^/    /'
    fi
    # 9c. The README's example of one rank under gdb in an MPMD launch, with the function it breaks on: the stop
    # must happen (a function training no longer calls was never hit, and the job then ended with exit 1), the
    # backtrace must show it, and `delete` + `continue` must let the run finish (exit 0).
    fn=$(grep -o "mpirun --oversubscribe -n 1 gdb -batch -ex 'break [A-Za-z0-9_]*'" "$README" | head -1 |
        sed "s/.*'break \([A-Za-z0-9_]*\)'/\1/")
    rm -rf gdbmpmd
    args=(train --data "$W/s.h5" --hidden 16,8 --norm batchnorm --epochs 1 --out gdbmpmd)
    rc=0
    timeout 120 "$MPIEXEC" --oversubscribe -n 1 gdb -nx -batch -ex "break ${fn:-none}" -ex run -ex bt -ex delete \
        -ex continue --args "$FCNET_DIST" "${args[@]}" : -n 1 "$FCNET_DIST" "${args[@]}" >log.gdbmpmd 2>&1 || rc=$?
    if [ -n "$fn" ] && [ "$rc" -eq 0 ] && grep -q "Breakpoint 1, .*$fn" log.gdbmpmd && grep -q "^#0 .*$fn" log.gdbmpmd &&
        [ "$(attr gdbmpmd/checkpoint.h5 /@finished)" = 1 ]; then
        pass "gdb: the README's MPMD example stops in $fn and the run then finishes (exit 0)"
    else
        fail "gdb: the README's MPMD example (break '${fn:-<not found in README.md>}'): exit $rc," \
            "breakpoint hit $(grep -c "Breakpoint 1, " log.gdbmpmd) time(s), finished=$(attr gdbmpmd/checkpoint.h5 /@finished)"
        tail -5 log.gdbmpmd | sed 's/^/    /'
    fi
else
    echo "     gdb cases skipped: no gdb, or gdb cannot run a program here (ptrace refused)"
fi
finish
