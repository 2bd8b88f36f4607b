#!/usr/bin/env bash
# shellcheck disable=SC2054 # "--hidden 100,100": the commas belong to the value, not array syntax
# Faults at random moments against "nothing is lost" (test_faults.sh hits one moment; this draws many). Each
# iteration trains at 1, 2 or 3 ranks with a save every step (so a fault often lands inside a save), over the
# shared-memory exchange or FCNET_EXCHANGE=p2p, or at 4 ranks as 2 nodes of 2 (FCNET_TEST_RANKS_PER_NODE: the
# exchange between nodes), with --keep-last 0 or 2, and at a random moment (or right after
# the first progress line) does one of: kill -9 of a rank, kill -9 of mpirun, SIGTERM or SIGUSR1 to a rank,
# SIGINT to mpirun. Then:
#  - mpirun ends within 15 s and no rank of the run is left (after kill -9 of mpirun, within 10 s more);
#  - stderr holds no crash report (segfault, abort, HDF5 error stack, sanitizer);
#  - --out holds only checkpoint.h5, checkpoint-step<N>.h5 copies of their own step, the lock file and at most
#    an interrupted save's temporary file, and the checkpoint left, if any, loads (eval exits 0);
#  - resuming from it (starting again where nothing was saved) finishes bitwise as the uninterrupted run, with
#    no temporary file left and --keep-last numbered copies.
# usage: tests/test_fault_soak.sh FCNET_SYNTH H5CMP [MPIEXEC]        (FCNET_DIST from the environment)
#   FCNET_SOAK_ITERATIONS=N (default 8), or FCNET_SOAK_SECONDS=S: iterations until S seconds have passed;
#   FCNET_SOAK_SEED=K (default 7: its first 8 draws include 3 runs as 2 nodes of 2) draws the sequence of faults
#   (their timing still varies with the machine).
set -uo pipefail
# shellcheck source=tests/ckpt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"
# kill -9 of mpirun leaves Open MPI's files behind (README, Failures): its shared-memory segments and its session
# directory go to the scratch directory, removed with it, instead of adding up in /dev/shm and $TMPDIR.
export TMPDIR=$W
MPI_FLAGS+=(--mca btl_vader_backing_directory "$W")
ITERATIONS=${FCNET_SOAK_ITERATIONS:-8}
SECONDS_MAX=${FCNET_SOAK_SECONDS:-0}
RANDOM=${FCNET_SOAK_SEED:-7}
FAULTS=(kill9_rank kill9_mpirun term_rank usr1_rank int_mpirun)
# What a crash leaves on stderr (a segfault, an abort, HDF5's error stack, a sanitizer's report).
CRASH_WORDS='segmentation|core dumped|backtrace|sanitizer|double free|corrupted|assert|HDF5-DIAG|abort'

"$SYNTH" --out s.h5 --train 3000 --val 200 --features 50 --classes 5 --seed 3 >/dev/null || exit 1
MODEL=(--data "$W/s.h5" --hidden 100,100 --norm batchnorm --keep 0.9 --optim adam --batch-size 30 --epochs 4
    --print-every 1)

# reference N: the uninterrupted run at N ranks, made once.
reference() {
    [ -e "ref$1/checkpoint.h5" ] || must_run "$1" "ref$1.log" train "${MODEL[@]}" --out "ref$1"
}

# on_ranks N ARG...: fcnet_dist ARG... on N ranks over the exchange EXCH names (auto: the environment's
# FCNET_EXCHANGE removed; p2p: FCNET_EXCHANGE=p2p passed to every rank; nodes: pairs of ranks as nodes), in a
# timeout.
on_ranks() {
    local n=$1
    shift
    if [ "$EXCH" = p2p ]; then
        FCNET_EXCHANGE=p2p timeout 300 "$MPIEXEC" "${MPI_FLAGS[@]}" -x FCNET_EXCHANGE -n "$n" "$FCNET_DIST" "$@"
    elif [ "$EXCH" = nodes ]; then
        env -u FCNET_EXCHANGE FCNET_TEST_RANKS_PER_NODE=2 timeout 300 "$MPIEXEC" "${MPI_FLAGS[@]}" \
            -x FCNET_TEST_RANKS_PER_NODE -n "$n" "$FCNET_DIST" "$@"
    else
        env -u FCNET_EXCHANGE timeout 300 "$MPIEXEC" "${MPI_FLAGS[@]}" -n "$n" "$FCNET_DIST" "$@"
    fi
}

# mpirun_below PID: the mpirun process among PID's descendants (on_ranks in the background is a subshell
# around timeout around mpirun), or nothing.
mpirun_below() {
    local c
    for c in $(pgrep -P "$1"); do
        case $(cat "/proc/$c/comm" 2>/dev/null) in mpirun | mpiexec | orterun) echo "$c" && return 0 ;; esac
        mpirun_below "$c" && return 0
    done
    return 1
}

# start_run N LOG ARG...: on_ranks N ARG... in the background; sets BG (its process), MPIRUN and RANKS (every
# rank's pid, once all N are up; empty if the run ended first).
start_run() {
    local n=$1 log=$2
    shift 2
    on_ranks "$n" "$@" >"$log.out" 2>"$log.err" &
    BG=$!
    MPIRUN="" RANKS=""
    local deadline=$(($(now_ms) + 30000)) r pid pids
    while [ "$(now_ms)" -lt "$deadline" ] && kill -0 "$BG" 2>/dev/null; do
        [ -n "$MPIRUN" ] || MPIRUN=$(mpirun_below "$BG")
        if [ -n "$MPIRUN" ]; then
            pids=""
            for ((r = 0; r < n; r++)); do
                pid=$(pid_of_rank "$MPIRUN" $r)
                [ -n "$pid" ] && pids="$pids $pid"
            done
            if [ "$(echo "$pids" | wc -w)" -eq "$n" ]; then
                RANKS=$pids
                return
            fi
        fi
        sleep 0.005
    done
}

# fault KIND N: hits the running job (a random rank for the rank faults); FIRED=1 when the target was still there.
fault() {
    local -a ranks
    read -r -a ranks <<<"$RANKS"
    local rank_pid=${ranks[$((RANDOM % $2))]:-}
    FIRED=1
    case $1 in
    kill9_rank) kill -KILL "$rank_pid" 2>/dev/null || FIRED=0 ;;
    term_rank) kill -TERM "$rank_pid" 2>/dev/null || FIRED=0 ;;
    usr1_rank) kill -USR1 "$rank_pid" 2>/dev/null || FIRED=0 ;;
    kill9_mpirun) kill -KILL "$MPIRUN" 2>/dev/null || FIRED=0 ;;
    int_mpirun) kill -INT "$MPIRUN" 2>/dev/null || FIRED=0 ;;
    esac
}

# ranks_left: those of RANKS still running (not zombies) after up to 10 s.
ranks_left() {
    local deadline=$(($(now_ms) + 10000)) left p state
    while :; do
        left=""
        for p in $RANKS; do
            state=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)
            [ -n "$state" ] && [ "$state" != Z ] && grep -q fcnet_dist "/proc/$p/cmdline" 2>/dev/null && left="$left $p"
        done
        [ -z "$left" ] || [ "$(now_ms)" -ge "$deadline" ] && break
        sleep 0.02
    done
    echo "$left"
}

# check_out DIR: what --out holds after a fault (why on stdout, nothing when fine).
check_out() {
    local dir=$1 f step
    for f in "$dir"/* "$dir"/.[!.]*; do
        [ -e "$f" ] || continue
        case ${f##*/} in
        checkpoint.h5 | .fcnet-lock | .checkpoint.h5.tmp.* | .checkpoint-step*.h5.tmp.* | checkpoint-step*.h5.tmp.*) ;;
        checkpoint-step*.h5)
            step=${f##*checkpoint-step}
            [ "$(attr "$f" /@step)" = "${step%.h5}" ] || echo "${f##*/} holds step '$(attr "$f" /@step)';" ;;
        *) echo "unexpected file ${f##*/};" ;;
        esac
    done
    if [ -e "$dir/checkpoint.h5" ] && ! timeout 60 "$FCNET_DIST" eval --checkpoint "$dir/checkpoint.h5" --split val \
        >"$dir.eval" 2>&1; then
        echo "eval of checkpoint.h5 failed: $(tail -1 "$dir.eval");"
    fi
}

T0=$(now_ms)
it=0
while :; do
    if [ "$SECONDS_MAX" -gt 0 ]; then [ $(($(now_ms) - T0)) -lt $((SECONDS_MAX * 1000)) ] || break
    else [ $it -lt "$ITERATIONS" ] || break; fi
    it=$((it + 1))
    n=$((RANDOM % 3 + 1))
    kind=${FAULTS[$((RANDOM % ${#FAULTS[@]}))]}
    EXCH=auto
    [ $((RANDOM % 4)) -eq 0 ] && EXCH=p2p
    if [ $((RANDOM % 5)) -eq 0 ]; then # one in five: 4 ranks as 2 nodes of 2, the exchange between nodes
        EXCH=nodes
        n=4
    fi
    keep=0
    [ $((RANDOM % 3)) -eq 0 ] && keep=2
    delay_ms=$((RANDOM % 1000)) # after every rank is up (a run takes 1-2 s); or -1: right after the first progress line
    [ $((RANDOM % 6)) -eq 0 ] && delay_ms=-1
    what="iteration $it: -n $n, $kind at $([ $delay_ms -ge 0 ] && echo "$delay_ms ms" || echo "step 1"), $EXCH exchange, --keep-last $keep"
    reference $n || continue
    out=run$it
    start_run $n "$out" train "${MODEL[@]}" --checkpoint-every 1 --keep-last $keep --out "$out"
    if [ $delay_ms -ge 0 ]; then
        sleep "$(awk -v m=$delay_ms 'BEGIN { printf "%.3f", m / 1000 }')"
    else
        wait_for_step "$out.out" 1 60 "$BG"
    fi
    fault "$kind" $n
    t=$(now_ms)
    wait_exit "$BG" 15
    why=""
    [ "$WAIT_RC" != timeout ] || why="$why mpirun still running 15 s after the fault;"
    took=$(elapsed_s "$t")
    left=$(ranks_left)
    if [ -n "$left" ]; then
        why="$why ranks left running:$left;"
        # shellcheck disable=SC2086 # one pid per word
        kill -KILL $left 2>/dev/null
    fi
    crash=$(grep -iE "$CRASH_WORDS" "$out.err" | head -1)
    [ -z "$crash" ] || why="$why crash report on stderr: $crash;"
    why="$why$(check_out "$out")"
    step=$(attr "$out/checkpoint.h5" /@step)
    # The rest of the run: a resume from what was saved, or a new start where nothing was.
    if [ -e "$out/checkpoint.h5" ]; then
        rest=(train --resume "$out/checkpoint.h5" --print-every 1 --checkpoint-every 1 --keep-last "$keep" --out "$out")
    else
        rest=(train "${MODEL[@]}" --checkpoint-every 1 --keep-last "$keep" --out "$out")
    fi
    rc=0
    on_ranks $n "${rest[@]}" >"$out.rest" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        why="$why the rest of the run exited $rc: $(tail -1 "$out.rest");"
    else
        "$H5CMP" "ref$n/checkpoint.h5" "$out/checkpoint.h5" "${STATE[@]}" >"$out.cmp" 2>&1 ||
            why="$why the finished run differs from the uninterrupted one: $(head -1 "$out.cmp");"
        tmp=$(find "$out" -name '*.tmp.*' | head -1)
        [ -z "$tmp" ] || why="$why temporary file ${tmp##*/} left after the finished run;"
        copies=$(find "$out" -name 'checkpoint-step*.h5' | wc -l)
        [ "$copies" -eq $keep ] || why="$why $copies numbered copies with --keep-last $keep;"
    fi
    if [ -n "$why" ]; then
        fail "$what:$why"
        continue
    fi
    pass "$what: mpirun exited $WAIT_RC $took s after it$([ "$FIRED" = 1 ] || echo " (the run had ended)"), checkpoint of step ${step:-none}, finished bitwise as the uninterrupted run"
    rm -rf "$out" "$out".*
done
finish
