#!/usr/bin/env bash
# A run never replaces checkpoints it was not told to (README "Checkpoints"): a fresh run, or one resumed
# from elsewhere, into an --out that holds checkpoint.h5 or checkpoint-step*.h5 is refused with exit 2
# and one line, and the files stay bitwise as they were; a run resumed from a checkpoint in --out (its
# checkpoint.h5 or an older numbered copy) continues there; --overwrite replaces them. 2 ranks each.
#
#   tests/test_overwrite.sh FCNET_SYNTH H5CMP [MPIEXEC]       (FCNET_DIST, BAD_INPUTS from the environment)
set -uo pipefail
# shellcheck source=tests/ckpt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
# The handover case below kills a job's mpirun with SIGKILL, and then nothing removes its ranks' shared-memory
# segments (4 MB each, /dev/shm/vader_segment.*): kept in the scratch directory, they go with it instead of piling
# up in /dev/shm over every run of the suite.
MPI_FLAGS+=(--mca btl_vader_backing_directory "$W")

"$SYNTH" --out d.h5 --train 200 --val 40 --features 6 --classes 3 --seed 4 >/dev/null || exit 1
# 200 rows / batch 20: 10 steps per epoch; 3 epochs.
RUN=(train --data "$W/d.h5" --hidden 8 --norm batchnorm --optim adam --batch-size 20 --epochs 3 --print-every 1000)

# refused WHAT TEXT... -- ARG...: exit 2 with one line holding every TEXT; a/ unchanged bit for bit.
refused() {
    local what=$1 texts=() before after rc
    shift
    while [ "$1" != -- ]; do texts+=("$1"); shift; done
    shift
    before=$(cd a && cksum -- * | sort)
    timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "$@" >refused.out 2>refused.err
    rc=$?
    expect_error "$what" 2 refused.out refused.err $rc "${texts[@]}"
    after=$(cd a && cksum -- * | sort)
    [ "$before" = "$after" ] || fail "$what: a/ changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
}

# Run A: 12 steps (stopped inside epoch 2) with numbered copies at steps 10 and 12.
must_run 2 log.a "${RUN[@]}" --seed 1 --max-steps 12 --keep-last 5 --out a || exit 1
[ "$(attr a/checkpoint.h5 /@step)" = 12 ] || fail "run A: checkpoint at step $(attr a/checkpoint.h5 /@step), want 12"
[ -f a/checkpoint-step10.h5 ] || fail "run A: no copy of step 10"

refused "fresh run into a/" "--out: a already holds checkpoint.h5 of an earlier run" "--resume a/checkpoint.h5" \
    "--overwrite" -- "${RUN[@]}" --seed 2 --out a
refused "fresh run into a/ given as ./a/ (another spelling)" "already holds checkpoint.h5" -- \
    "${RUN[@]}" --seed 2 --out ./a/
must_run 2 log.b "${RUN[@]}" --seed 3 --max-steps 10 --out b || exit 1
refused "run resumed from b/ into a/" "--out: a already holds checkpoint.h5 of a run other than the resumed one" -- \
    train --resume b/checkpoint.h5 --out a
# A file inside a/ that is another run's checkpoint is not a continuation of a/'s run: a link to b/'s
# checkpoint (the link is followed), and a copy of it (its run_id differs from a/checkpoint.h5's).
ln -s ../b/checkpoint.h5 a/link-to-b.h5 && cp b/checkpoint.h5 a/copy-of-b.h5 || exit 1
refused "run resumed from a link in a/ to b/'s checkpoint" "of a run other than the resumed one" -- \
    train --resume a/link-to-b.h5 --out a
refused "run resumed from a copy in a/ of b/'s checkpoint" "of a run other than the resumed one" -- \
    train --resume a/copy-of-b.h5 --out a
rm -f a/link-to-b.h5 a/copy-of-b.h5
# Numbered copies alone are work too (checkpoint.h5 deleted by hand, say); the message names the latest.
mkdir copies && cp a/checkpoint-step10.h5 a/checkpoint-step12.h5 copies/ || exit 1
before=$(cksum copies/*)
timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "${RUN[@]}" --seed 2 --keep-last 1 --out copies \
    >copies.out 2>copies.err
expect_error "fresh run into a folder holding only numbered copies" 2 copies.out copies.err $? \
    "copies already holds checkpoint-step12.h5" "--resume copies/checkpoint-step12.h5"
[ "$(cksum copies/*)" = "$before" ] || fail "the numbered copies changed"

# Allowed: continuing a/ from its checkpoint.h5 (4 more steps), then from its older copy of step 10.
# expect_step WHAT STEP: a/checkpoint.h5 is at STEP.
expect_step() {
    local got
    got=$(attr a/checkpoint.h5 /@step)
    if [ "$got" = "$2" ]; then pass "$1: step $2"; else fail "$1: checkpoint at step $got, want $2"; fi
}
must_run 2 log.resume train --resume a/checkpoint.h5 --out a --max-steps 4 &&
    expect_step "resume from a/checkpoint.h5 into a/" 16
# Going back abandons the later steps: the copy of step 12 goes at the first save, as checkpoint.h5 (step 16) is
# replaced (kept, it would count for --keep-last among the new run's copies, and be the folder's latest). Only
# then: the new run's own copies of steps after 10 (its saves at the epoch's end, 20, and at the stop, 21) stay.
if must_run 2 log.rewind train --resume a/checkpoint-step10.h5 --out a --max-steps 11 --keep-last 5; then
    expect_step "resume from the copy a/checkpoint-step10.h5 into a/" 21
    grep -q "going back to step 10 in a: its 1 numbered copy of later steps (up to step 12)" log.rewind &&
        pass "going back: the run says which copies it abandons" || fail "going back: no line naming the copy of step 12"
    [ "$(cd a && echo checkpoint-step*.h5)" = "checkpoint-step10.h5 checkpoint-step20.h5 checkpoint-step21.h5" ] &&
        pass "going back: the copy of step 12 removed; that of step 10 and the new run's of 20 and 21 kept" ||
        fail "going back: $(cd a && echo checkpoint-step*.h5) left, want steps 10, 20 and 21"
fi

# --overwrite: the fresh run of seed 3 replaces a/checkpoint.h5 and equals run B bit for bit. A file that only
# has a numbered copy's name (notes, not a checkpoint of any run) is not its to delete.
printf 'notes, not a checkpoint\n' >a/checkpoint-step99.h5
if must_run 2 log.over "${RUN[@]}" --seed 3 --max-steps 10 --keep-last 2 --out a --overwrite; then
    if "$H5CMP" a/checkpoint.h5 b/checkpoint.h5 "${STATE[@]}" >cmp.out 2>&1; then
        pass "--overwrite: a/checkpoint.h5 replaced by a run equal to b/ bitwise"
    else
        fail "--overwrite: a/checkpoint.h5 differs from b/: $(head -3 cmp.out | tr '\n' ' ')"
    fi
    # and the numbered copies of run A (steps 10 and 12) went with it: what is left is the new run's.
    want=$(attr b/checkpoint.h5 /@run_id) left=0
    [ "$(cat a/checkpoint-step99.h5 2>/dev/null)" = "notes, not a checkpoint" ] &&
        pass "--overwrite: a/checkpoint-step99.h5, a text file, left alone" ||
        fail "--overwrite: the text file a/checkpoint-step99.h5 was removed or changed"
    for f in a/checkpoint-step*.h5; do
        [ -e "$f" ] && [ "$f" != a/checkpoint-step99.h5 ] || continue
        left=$((left + 1))
        [ "$(attr "$f" /@run_id)" = "$want" ] || fail "--overwrite: $f of the replaced run is still there"
    done
    if [ "$left" -ge 1 ]; then pass "--overwrite: $left numbered copies left, all of the new run"
    else fail "--overwrite: no numbered copy of the new run (--keep-last 2)"; fi
fi
# The same configuration again with --overwrite (a rerun, another rank count or a regenerated dataset of the
# same shape: the run_id is the same): the replaced run's copy of step 10, ahead of this run's 4 steps, goes
# too (it stayed, as "this run's", and was then counted by --keep-last or resumed as the latest copy).
if must_run 2 log.over2 "${RUN[@]}" --seed 3 --max-steps 4 --keep-last 2 --out a --overwrite; then
    [ ! -e a/checkpoint-step10.h5 ] && [ -f a/checkpoint-step4.h5 ] &&
        pass "--overwrite by the same configuration: the replaced run's copies are gone" ||
        fail "--overwrite by the same configuration: $(cd a && echo checkpoint-step*.h5) left, want step 4 only"
fi
# A numbered copy whose run_id is an array (a damaged or foreign file) is no run's checkpoint: --overwrite leaves
# it. Its 2^20 values were read into one int64 and ran past the stack: a crash at the first save.
mkdir -p idarray && "$BAD_INPUTS" ckpt run-id-array b/checkpoint.h5 idarray/checkpoint-step99.h5 || exit 1
before=$(cksum idarray/checkpoint-step99.h5)
if must_run 2 log.idarray "${RUN[@]}" --seed 3 --max-steps 2 --out idarray --overwrite; then
    [ "$(cksum idarray/checkpoint-step99.h5)" = "$before" ] &&
        pass "--overwrite: a numbered copy whose run_id is an array left alone" ||
        fail "--overwrite: idarray/checkpoint-step99.h5 (run_id an array) was removed or changed"
fi

# What lies in --out under the names the run writes must be what it expects, checked before the first step
# (exit 2, one line): .fcnet-lock a regular file, never followed through a symbolic link (that truncated
# the link's target, any file the user can write) nor a FIFO (that could block the open); checkpoint.h5 and
# checkpoint-step<N>.h5 no directory (with --overwrite its removal failed only at the first save, an epoch
# in, after checkpoint.h5 had been replaced). Each is left as it was.
# odd_out WHAT DIR TEXT... -- ARG...: exit 2 within 20 s, one line holding every TEXT, no checkpoint in DIR.
odd_out() {
    local what=$1 dir=$2 texts=() rc
    shift 2
    while [ "$1" != -- ]; do texts+=("$1"); shift; done
    shift
    timeout 20 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "$@" --out "$dir" >odd.out 2>odd.err
    rc=$?
    [ $rc != 124 ] || fail "$what: still running after 20 s"
    expect_error "$what" 2 odd.out odd.err $rc "${texts[@]}"
    [ ! -e "$dir/checkpoint.h5" ] || [ -d "$dir/checkpoint.h5" ] || fail "$what: $dir/checkpoint.h5 written"
}
printf 'a file of the user that runs fcnet\n' >victim.txt && cp victim.txt victim.orig &&
    mkdir lnk && ln -s ../victim.txt lnk/.fcnet-lock || exit 1
odd_out "a symbolic link as .fcnet-lock" lnk "--out: lnk/.fcnet-lock is a symbolic link; refusing to follow it" -- \
    "${RUN[@]}" --seed 2
cmp -s victim.txt victim.orig || fail "the target of lnk/.fcnet-lock changed: '$(head -c 80 victim.txt)'"
[ -L lnk/.fcnet-lock ] || fail "lnk/.fcnet-lock is no longer the symbolic link"
mkdir fifo && mkfifo fifo/.fcnet-lock || exit 1
odd_out "a FIFO as .fcnet-lock" fifo "--out: fifo/.fcnet-lock is a FIFO" -- "${RUN[@]}" --seed 2
# Another user, for the cases below of files the run's user cannot write or read: as root, user nobody runs the
# command (through setpriv, one rank without mpirun); as any other user, that user itself, its own file with the
# permission taken away standing in for another user's (these cases ran as root only, and not at all elsewhere).
other_user
if [ "${AS_OTHER[*]-}" = skip ]; then
    pass "# SKIP the cases of another user's files: as root without setpriv and user nobody"
elif [ ${#AS_OTHER[@]} -gt 0 ]; then
    chmod o+rx "$W" && chmod o+r d.h5 || exit 1
fi
have_other() { [ "${AS_OTHER[*]-}" != skip ]; }
# A FIFO this user cannot write (another user's) was opened for reading only: blocked until a writer came,
# forever, deaf to SIGTERM.
if have_other; then
    mkdir rofifo && mkfifo -m 444 rofifo/.fcnet-lock && chmod 777 rofifo || exit 1
    timeout -k 2 20 ${AS_OTHER[@]+"${AS_OTHER[@]}"} "$FCNET_DIST" "${RUN[@]}" --seed 2 --out rofifo \
        >rofifo.out 2>rofifo.err
    expect_error "a FIFO as .fcnet-lock that the user cannot write" 2 rofifo.out rofifo.err $? \
        "--out: rofifo/.fcnet-lock is a FIFO"
fi
# The temporary file of a save, <out>/.checkpoint.h5.tmp.<pid>, is created anew: a symbolic link planted
# under that name (the PID is predictable: here the shell's own, which exec hands to the one-rank run) was
# followed and its target overwritten with the checkpoint, and checkpoint.h5 became that link.
printf 'another file of the user\n' >victim2.txt && cp victim2.txt victim2.orig && mkdir tmplink || exit 1
timeout 60 sh -c 'ln -s ../victim2.txt "tmplink/.checkpoint.h5.tmp.$$" && exec "$0" "$@"' "$FCNET_DIST" \
    "${RUN[@]}" --seed 2 --max-steps 2 --out tmplink >log.tmplink 2>&1
rc=$?
if [ $rc = 0 ] && cmp -s victim2.txt victim2.orig && [ -f tmplink/checkpoint.h5 ] && [ ! -L tmplink/checkpoint.h5 ] &&
    [ "$(attr tmplink/checkpoint.h5 /@step)" = 2 ]; then
    pass "a symbolic link at the save's temporary name: not followed, checkpoint.h5 a real file"
else
    fail "a symbolic link at the save's temporary name: exit $rc, victim $(cmp -s victim2.txt victim2.orig &&
        echo unchanged || echo changed), checkpoint.h5 $(stat -c %F tmplink/checkpoint.h5 2>&1)"
fi
mkdir -p numdir/checkpoint-step2.h5 numdir2/checkpoint-step2.h5 || exit 1
odd_out "a directory named like a numbered copy, --overwrite" numdir \
    "--out: numdir/checkpoint-step2.h5 is a directory, not a checkpoint" -- "${RUN[@]}" --seed 2 --overwrite
odd_out "a directory named like a numbered copy" numdir2/ \
    "--out: numdir2/checkpoint-step2.h5 is a directory, not a checkpoint" -- "${RUN[@]}" --seed 2 --keep-last 3
for d in numdir numdir2; do [ -d $d/checkpoint-step2.h5 ] || fail "$d/checkpoint-step2.h5 is gone"; done

# Two runs on one --out at the same time: before either has saved, the look for another run's checkpoint
# cannot tell, so --out's lock refuses the second (exit 2, one line naming the first's PID) while the first
# runs; the first, held with SIGSTOP meanwhile so that it cannot save first, then stops and saves as usual.
# (One epoch of 450 000 small steps, a million rows less the tenth held out, at batch 2: about a second before its
# first save, against the 0-0.05 s this script takes to see the progress line at step 500 and hold the ranks. With
# 100 000 rows the epoch took 0.1 s at ~450 000 steps/s, and the ranks were held anywhere up to step 21 000 of its
# 45 000: a loaded machine could let the run save, or end, first.)
"$SYNTH" --out big.h5 --train 1000000 --val 0 --features 10 --classes 3 --seed 5 >/dev/null || exit 1
# hold_run DIR [ARG...]: starts that long run on DIR (2 ranks, seed 0, ARGs added) and holds its ranks with
# SIGSTOP once it is at step 500; sets HELD (the job), HELD_MPIRUN, HELD_RANK0 and HELD_RANKS. 1 when it made no
# progress or its ranks were not found.
hold_run() {
    local dir=$1
    shift
    rm -rf "$dir"
    timeout 120 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" train --data "$W/big.h5" --hidden 16 --batch-size 2 \
        --epochs 1 --print-every 500 --progress lines --out "$dir" "$@" >"log.$dir" 2>&1 &
    HELD=$!
    if ! wait_for_step "log.$dir" 500 60 "$HELD"; then
        fail "the run on $dir/ made no progress within 60 s: $(tail -2 "log.$dir")"
        kill -KILL "$HELD" 2>/dev/null
        return 1
    fi
    HELD_MPIRUN=$(pgrep -P "$HELD" | head -1)
    # Looked up once, here: the refusal below must name rank 0's PID, and a lookup then could race.
    HELD_RANK0=$(pid_of_rank "$HELD_MPIRUN" 0)
    HELD_RANKS="$HELD_RANK0 $(pid_of_rank "$HELD_MPIRUN" 1)"
    if [ "$(wc -w <<<"$HELD_RANKS")" -ne 2 ]; then # rank 0 or 1 not found
        fail "the run on $dir/: its two ranks under mpirun $HELD_MPIRUN not found (got '$HELD_RANKS')"
        kill -KILL "$HELD" "$HELD_MPIRUN" 2>/dev/null
        return 1
    fi
    # shellcheck disable=SC2086
    kill -STOP $HELD_RANKS
}
# waiting_for_lock JOB DIR: waits (up to 30 s) until a rank of the mpirun under JOB (a `timeout mpirun ...`
# job) has DIR/.fcnet-lock open: it has read its inputs and is waiting for the lock. 1 when none does.
waiting_for_lock() {
    local deadline=$(($(now_ms) + 30000)) p
    while [ "$(now_ms)" -lt "$deadline" ]; do
        for p in $(pgrep -P "$(pgrep -P "$1" | head -1)" 2>/dev/null); do
            ls -l "/proc/$p/fd" 2>/dev/null | grep -q "$2/.fcnet-lock" && return 0
        done
        sleep 0.02
    done
    fail "no rank under job $1 opened $2/.fcnet-lock within 30 s"
    return 1
}
# release_held: lets the held run go on and stop at its next step with a checkpoint (SIGUSR1); WAIT_RC is its
# exit status.
release_held() {
    # shellcheck disable=SC2086
    kill -CONT $HELD_RANKS
    kill -USR1 "$HELD_MPIRUN"
    wait_exit "$HELD" 30
}

if hold_run busy; then
    rc=0
    timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "${RUN[@]}" --seed 2 --out busy >busy2.out 2>busy2.err ||
        rc=$?
    expect_error "a second run on the --out of a running one" 2 busy2.out busy2.err $rc "--out: another fcnet run" \
        "PID $HELD_RANK0 on" "busy"
    [ ! -e busy/checkpoint.h5 ] || fail "busy/: the first run saved before the second was refused (the test raced)"
    release_held
    if [ "$WAIT_RC" = 0 ] && [ "$(attr busy/checkpoint.h5 /@seed)" = 0 ] && grep -q "stopped on signal" log.busy; then
        pass "the first run on busy/ stopped and saved as usual, its own checkpoint"
    else
        fail "the first run on busy/: exit $WAIT_RC, checkpoint seed '$(attr busy/checkpoint.h5 /@seed)'"
    fi
fi

# Once the running run has saved, its checkpoint is not "an earlier run's" to resume: the refusal names the
# run that is using --out, as before its first save (its saves every 100 steps are done by step 500).
if hold_run saved --checkpoint-every 100; then
    before=$(cksum saved/checkpoint.h5)
    rc=0
    timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "${RUN[@]}" --seed 2 --out saved >saved2.out \
        2>saved2.err || rc=$?
    expect_error "a second run on the --out of a running one that has saved" 2 saved2.out saved2.err $rc \
        "--out: another fcnet run" "PID $HELD_RANK0 on" "is using saved"
    [ "$(cksum saved/checkpoint.h5)" = "$before" ] || fail "saved/checkpoint.h5 changed under the refused run"
    release_held
    [ "$WAIT_RC" = 0 ] || fail "the first run on saved/: exit $WAIT_RC"
fi

# A run that was killed a moment ago may still hold --out's lock (its ranks take about a second to end when
# mpirun dies first): a new run waits up to 3 s for the lock instead of being refused. The running job is
# held with SIGSTOP, the new one started, and the held job killed a second later: the new one runs.
if hold_run handover; then
    timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "${RUN[@]}" --seed 7 --out handover >log.next 2>&1 &
    next=$!
    waiting_for_lock "$next" handover
    # shellcheck disable=SC2086
    kill -KILL $HELD_RANKS "$HELD_MPIRUN" 2>/dev/null
    wait "$HELD" 2>/dev/null
    wait_exit "$next" 60
    if [ "$WAIT_RC" = 0 ] && [ "$(attr handover/checkpoint.h5 /@seed)" = 7 ]; then
        pass "a run started while a killed run still held --out's lock waited for it and ran"
    else
        fail "the run after the killed one on handover/: exit $WAIT_RC: $(tail -2 log.next | tr '\n' ' ')"
    fi
fi
# A run refused after it created .fcnet-lock removes it, still holding the lock. A run that was waiting on
# that file then gets a lock on a file no longer under the name, which a third run would not see: it must
# take the lock again on a new .fcnet-lock. A stand-in for the refused run (python3's fcntl.lockf, the same
# POSIX record lock) holds the lock, and removes the file and ends once the run waits on it: as a local file
# system does (unlink), as an NFS client does with an open file (renamed to .nfsXXXX, its link count kept),
# and with the --out directory the refused run created (rmdir): the waiting run makes it again.
for how in unlink rename rmdir; do
    dir=gone-$how
    mkdir "$dir" || exit 1
    /usr/bin/python3 -c 'import fcntl, os, sys, time
dir, how = sys.argv[1], sys.argv[2]
fd = os.open(dir + "/.fcnet-lock", os.O_RDWR | os.O_CREAT, 0o666)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(dir + ".held", "w").close()
while not os.path.exists(dir + ".release"): time.sleep(0.02)
if how == "rename": os.rename(dir + "/.fcnet-lock", dir + "/.nfs0001")
else: os.unlink(dir + "/.fcnet-lock")
if how == "rmdir": os.rmdir(dir)' "$dir" "$how" &
    holder=$!
    for _ in $(seq 500); do [ -e "$dir.held" ] && break; sleep 0.02; done
    timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "${RUN[@]}" --seed 8 --out "$dir" >"log.$dir" 2>&1 &
    next=$!
    waiting_for_lock "$next" "$dir"
    : >"$dir.release"
    wait "$holder"
    wait_exit "$next" 60
    if [ "$WAIT_RC" = 0 ] && [ -f "$dir/.fcnet-lock" ] && [ "$(attr "$dir/checkpoint.h5" /@seed)" = 8 ]; then
        pass "a run whose lock file a refused run removed ($how) while it waited locked a new .fcnet-lock and ran"
    else
        fail "the run on $dir/ after its lock file was removed ($how): exit $WAIT_RC, $dir/ holds:" \
            "$(ls -A "$dir" | tr '\n' ' '); $(grep -m1 error "log.$dir")"
    fi
done
# What the waiting run looked at before the lock is looked at again under it: if the run it waited for saved
# meanwhile, a fresh run is refused (it would replace that checkpoint), and so is a run resumed from a
# checkpoint that save replaced (it would overwrite the newer one with older work).
if hold_run race; then
    timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" "${RUN[@]}" --seed 9 --out race >race.out 2>race.err &
    next=$!
    waiting_for_lock "$next" race
    release_held
    held_rc=$WAIT_RC
    wait_exit "$next" 60
    expect_error "a fresh run whose --out got a checkpoint while it waited for the lock" 2 race.out race.err \
        "$WAIT_RC" "--out: race already holds checkpoint.h5"
    [ "$held_rc" = 0 ] && [ "$(attr race/checkpoint.h5 /@seed)" = 0 ] ||
        fail "race/: the held run exited $held_rc, checkpoint seed '$(attr race/checkpoint.h5 /@seed)' (want its 0)"
fi
if hold_run race2 --checkpoint-every 100; then
    step_before=$(attr race2/checkpoint.h5 /@step)
    timeout 60 "$MPIEXEC" "${MPI_FLAGS[@]}" -n 2 "$FCNET_DIST" train --resume race2/checkpoint.h5 --out race2 \
        --max-steps 5 >race2.out 2>race2.err &
    next=$!
    waiting_for_lock "$next" race2
    release_held
    held_rc=$WAIT_RC
    wait_exit "$next" 60
    expect_error "a resume whose checkpoint another run's save replaced while it waited for the lock" 2 race2.out \
        race2.err "$WAIT_RC" "--resume: race2/checkpoint.h5 was replaced by another run's save"
    step_after=$(attr race2/checkpoint.h5 /@step)
    [ "$held_rc" = 0 ] && [ "$step_after" -gt "$step_before" ] ||
        fail "race2/: the held run exited $held_rc, checkpoint at step $step_after (was $step_before: want later)"
fi

# Temporary files that saves cut short left behind (kill -9 mid-save) are removed by the next run that holds
# --out's lock, so that they cannot fill a small disk; nothing else that merely looks like them is touched.
must_run 2 log.temps0 "${RUN[@]}" --seed 8 --max-steps 2 --out temps || exit 1
head -c 200000 /dev/zero >temps/.checkpoint.h5.tmp.4242
head -c 100000 /dev/zero >temps/checkpoint-step10.h5.tmp.4243
ln -s ../d.h5 temps/.checkpoint.h5.tmp.4244
touch temps/.checkpoint.h5.tmp.x12 temps/checkpoint-step10.h5.tmp. temps/notes.tmp.1 && mkdir temps/.checkpoint.h5.tmp.4245
must_run 2 log.temps train --resume temps/checkpoint.h5 --out temps --max-steps 1 || exit 1
if [ ! -e temps/.checkpoint.h5.tmp.4242 ] && [ ! -e temps/checkpoint-step10.h5.tmp.4243 ] && [ ! -L temps/.checkpoint.h5.tmp.4244 ] &&
    [ -f d.h5 ] && [ -e temps/.checkpoint.h5.tmp.x12 ] && [ -e temps/checkpoint-step10.h5.tmp. ] && [ -e temps/notes.tmp.1 ] &&
    [ -d temps/.checkpoint.h5.tmp.4245 ] &&
    grep -q -- "--out: removed 3 temporary files (0.3 MB) left by an earlier run's interrupted saves" log.temps; then
    pass "the temporary files of interrupted saves removed (3, 0.3 MB), look-alikes kept"
else
    fail "stale temporary files: $(ls -A temps | tr '\n' ' '); log: $(grep -- '--out: removed' log.temps)"
fi
rm -rf temps/.checkpoint.h5.tmp.x12 temps/checkpoint-step10.h5.tmp. temps/notes.tmp.1 temps/.checkpoint.h5.tmp.4245

# A .fcnet-lock this user cannot even read (another user's, written under umask 077): whether a run holds it
# cannot be seen, and the refusal says so. It called the checkpoint there an earlier run's to --resume (which
# that user cannot read either), and with --overwrite the lock file one it "cannot create".
if have_other; then
    must_run 2 log.private "${RUN[@]}" --seed 6 --max-steps 5 --out private || exit 1
    chmod 777 private && chmod 000 private/.fcnet-lock || exit 1
    before=$(ls -A private)
    for extra in "" --overwrite; do
        # shellcheck disable=SC2086 # $extra: no word or one
        timeout -k 2 30 ${AS_OTHER[@]+"${AS_OTHER[@]}"} "$FCNET_DIST" "${RUN[@]}" --seed 2 --out private $extra \
            >private.out 2>private.err
        expect_error "a .fcnet-lock this user cannot read${extra:+, $extra}" 2 private.out private.err $? \
            "--out: cannot open private/.fcnet-lock: Permission denied" "whether a run is using private cannot be told"
    done
    [ "$(ls -A private)" = "$before" ] ||
        fail "unreadable .fcnet-lock: private/ changed: $(ls -A private | tr '\n' ' ')"
    chmod 644 private/.fcnet-lock
fi

# --out shared between users: another user who can read the first user's lock file but not write it is refused,
# naming the remedy, with nothing changed (it took a read lock before, and read locks do not exclude each other:
# two such runs wrote into one --out at once); once the lock file is writable for it, it resumes the run in place
# under the write lock, which also lets it remove a leftover temporary file of an interrupted save.
if have_other; then
    must_run 2 log.mine "${RUN[@]}" --seed 6 --max-steps 5 --out shared || exit 1
    chmod 777 shared && chmod 444 shared/.fcnet-lock
    before=$(cd shared && cksum .fcnet-lock ./*)
    timeout -k 2 30 ${AS_OTHER[@]+"${AS_OTHER[@]}"} "$FCNET_DIST" train --resume shared/checkpoint.h5 --out shared \
        >shared.out 2>shared.err
    expect_error "a .fcnet-lock this user can read but not write" 2 shared.out shared.err $? \
        "--out: cannot write shared/.fcnet-lock: Permission denied" "(chmod g+w or a+w)"
    [ "$(cd shared && cksum .fcnet-lock ./*)" = "$before" ] ||
        fail "a .fcnet-lock this user cannot write: shared/ changed: $(ls -A shared | tr '\n' ' ')"
    chmod 666 shared/.fcnet-lock
    head -c 1000 /dev/zero >shared/.checkpoint.h5.tmp.4246
    if ${AS_OTHER[@]+"${AS_OTHER[@]}"} "$FCNET_DIST" train --resume shared/checkpoint.h5 --out shared >log.other 2>&1 &&
        [ "$(attr shared/checkpoint.h5 /@finished)" = 1 ] && [ ! -e shared/.checkpoint.h5.tmp.4246 ]; then
        pass "another user resumes in a shared --out once its lock file is writable (the leftover temporary removed)"
    else
        fail "another user's resume in shared/: $(tail -2 log.other | tr '\n' ' ')"
    fi
fi

finish
