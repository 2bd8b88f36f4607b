# Shared by the Slurm tests (sourced). Each test gets its own scratch folder $T and its own private one-node
# Slurm ($T/slurm, free ports), torn down on exit by PID file — so Slurm tests may run side by side.
# Needs FCNET_DIST (the fcnet_dist binary) in the environment, as CTest's fcnet_script_test sets it.
# shellcheck shell=bash
set -euo pipefail
FCNET_CALLER_DIR=$PWD
slurm_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FCNET_ROOT=$(cd "$slurm_here/../.." && pwd)
export SBATCH_SCRIPT=$FCNET_ROOT/launch/slurm.sbatch
: "${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}"
export FCNET_DIST
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# The tests' jobs share two cores with other tests: do not pin every job's rank 0 to core 0.
export FCNET_MPIRUN_ARGS="--bind-to none"

# shellcheck source=tests/tap_lib.sh
source "$slurm_here/../tap_lib.sh"

# slurm_test_start NAME: scratch folder, private Slurm (exit 77 when it cannot run here), cleanup on exit.
slurm_test_start() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_$1.XXXXXX")
    chmod 0755 "$T" # munged (user munge) must reach its socket under $T/slurm/munge
    local rc=0
    slurm_t0=$(now)
    "$slurm_here/slurm_up.sh" "$T/slurm" || rc=$?
    if [ $rc -ne 0 ]; then
        rm -rf "$T"
        [ $rc -eq 77 ] && exit 77
        echo "not ok - private Slurm did not come up (exit $rc)"
        exit 1
    fi
    trap slurm_test_cleanup EXIT
    # shellcheck source=/dev/null
    source "$T/slurm/env"
    echo "# Slurm up in $(elapsed "$slurm_t0") s"
    cd "$T"
}

slurm_test_cleanup() {
    local rc=$?
    # Show the jobs' output when something failed.
    if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
        for f in "$T"/*.out; do
            [ -f "$f" ] || continue
            echo "# --- $f"
            tr '\r' '\n' <"$f" | grep -v 'samples/s' | sed 's/^/# /'
        done
        tail -20 "$T/slurm/log/slurmctld.log" 2>/dev/null | sed 's/^/# ctld: /'
    fi
    local t0
    t0=$(now)
    "$slurm_here/slurm_down.sh" "$T/slurm"
    echo "# Slurm down in $(elapsed "$t0") s"
    rm -rf "$T"
}

# slurm_test_end: the verdict.
slurm_test_end() {
    tap_end "$slurm_t0"
}

# job_field JID FIELD: one field of scontrol show job (JobState, Restarts, ExitCode, ...).
job_field() {
    scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# wait_job_gone JID SECONDS: polls until the job has left the queue (through any requeue); 1 on timeout.
wait_job_gone() {
    local jid=$1 limit=$2 t0
    t0=$(now)
    while [ -n "$(squeue -h -j "$jid" 2>/dev/null)" ]; do
        awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && return 1
        sleep 0.3
    done
    return 0
}

# wait_for_line FILE PATTERN SECONDS: waits until grep -q PATTERN FILE; 1 on timeout.
wait_for_line() {
    for _ in $(seq 1 $((${3} * 10))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# finished_attr CHECKPOINT: the root attribute 'finished' (1 complete, 0 stopped).
finished_attr() {
    h5dump -a /finished "$1" 2>/dev/null | sed -n 's/^[[:space:]]*(0):[[:space:]]*\([0-9-]*\).*/\1/p'
}

# same_checkpoint A B: every dataset and attribute equal (h5diff compares values exactly: no tolerance) and,
# when FCNET_H5CMP names the h5cmp tool, every dataset byte for byte.
same_checkpoint() {
    h5diff "$1" "$2" >h5diff.txt 2>&1 || return 1
    if [ -n "${FCNET_H5CMP:-}" ] && [ -x "$FCNET_H5CMP" ]; then
        "$FCNET_H5CMP" "$1" "$2" / >h5diff.txt 2>&1 || return 1
    fi
    return 0
}
bitwise_how() { [ -n "${FCNET_H5CMP:-}" ] && [ -x "$FCNET_H5CMP" ] && echo "h5diff + h5cmp" || echo h5diff; }

# make_data SYNTH FILE: the small synthetic set the Slurm tests train on.
make_data() {
    "$(cd "$FCNET_CALLER_DIR" && readlink -f "$1")" --out "$2" --train 2000 --val 300 --test 300 --features 32 --classes 5 --seed 8 >/dev/null
}
# The training run of the Slurm tests (with --data and --out added): 5 epochs of 40 steps. Jobs add
# JOB_ARGS: a checkpoint every 5 steps, whose file tells the test that training is under way.
# shellcheck disable=SC2054  # 64,64 is one argument
TRAIN_ARGS=(--hidden 64,64 --norm batchnorm --keep 0.9 --optim adam --batch-size 50 --epochs 5 --print-every 5
    --seed 3)
# shellcheck disable=SC2034  # used by the tests that source this file
JOB_ARGS=(--checkpoint-every 5)

# reference_run DIR: the uninterrupted run under plain mpirun -n 2 (no Slurm), in DIR (log in DIR.log).
reference_run() {
    mpirun -n 2 --oversubscribe --bind-to none "$FCNET_DIST" --data data.h5 "${TRAIN_ARGS[@]}" --out "$1" \
        >"$1.log" 2>&1
}

# check_preempted_job JID OUTDIR REFDIR NAME: the job ended COMPLETED after exactly one requeue, its output shows
# the stop on a signal and the resume, and its final checkpoint is finished and bitwise equal to the reference.
check_preempted_job() {
    local jid=$1 out=$2 ref=$3 name=$4 state restarts code
    state=$(job_field "$jid" JobState)
    restarts=$(job_field "$jid" Restarts)
    code=$(job_field "$jid" ExitCode)
    if [ "$state" = COMPLETED ] && [ "$restarts" = 1 ] && [ "$code" = 0:0 ]; then
        ok "$name: job $jid COMPLETED, Restarts=1, ExitCode=0:0"
    else
        not_ok "$name: job $jid JobState=$state Restarts=$restarts ExitCode=$code (want COMPLETED, 1, 0:0)"
    fi
    if grep -q 'stopped on signal at step' job.out && grep -q 'resuming from' job.out; then
        ok "$name: stopped on the signal at step $(sed -n 's/.*stopped on signal at step \([0-9]*\).*/\1/p' job.out | head -1), resumed after the requeue"
    else
        not_ok "$name: the output shows no stop on a signal followed by a resume"
    fi
    if [ "$(finished_attr "$out/checkpoint.h5")" = 1 ]; then
        ok "$name: final checkpoint has finished=1"
    else
        not_ok "$name: final checkpoint $out/checkpoint.h5 missing or not finished"
    fi
    if same_checkpoint "$ref/checkpoint.h5" "$out/checkpoint.h5"; then
        ok "$name: final checkpoint bitwise equal to the uninterrupted run's ($(bitwise_how))"
    else
        not_ok "$name: final checkpoint differs from the uninterrupted run's: $(head -5 h5diff.txt)"
    fi
}

# job_rank_pids: the PIDs of this test cluster's fcnet_dist processes (the running job's ranks): the program
# is $FCNET_DIST and the environment names this cluster's SLURM_CONF (other tests' clusters have their own).
job_rank_pids() {
    local p
    for p in /proc/[0-9]*; do
        [[ $p/exe -ef $FCNET_DIST ]] || continue
        grep -qzx "SLURM_CONF=$SLURM_CONF" "$p/environ" 2>/dev/null && echo "${p#/proc/}"
    done
    return 0
}

# stop_ranks_when N FILE: waits for the job's N ranks to start, then lets them run only in short slices
# (SIGCONT, ~5 ms, SIGSTOP) until FILE exists, and returns with them stopped; prints their PIDs. However fast
# or slow this machine is, the ranks are then held just after FILE appeared (a checkpoint: training under
# way), and a signal sent now is pending when they continue. 1 if that does not happen within 120 s.
stop_ranks_when() {
    local n=$1 file=$2 pids="" t0=$SECONDS
    while [ "$(echo "$pids" | grep -c .)" -lt "$n" ]; do
        [ $((SECONDS - t0)) -lt 60 ] || return 1
        pids=$(job_rank_pids)
        sleep 0.01
    done
    pids=$(echo "$pids" | tr '\n' ' ')
    # shellcheck disable=SC2086
    kill -STOP $pids
    while [ ! -e "$file" ]; do
        [ $((SECONDS - t0)) -lt 120 ] || return 1
        # shellcheck disable=SC2086
        kill -CONT $pids 2>/dev/null || return 1
        sleep 0.005
        # shellcheck disable=SC2086
        kill -STOP $pids 2>/dev/null || return 1
    done
    # shellcheck disable=SC2086
    wait_stopped $pids || return 1
    echo "$pids"
}

# wait_stopped PIDS...: until every process is in state T (stopped); 1 after 5 s.
wait_stopped() {
    local pid all
    for _ in $(seq 1 500); do
        all=1
        for pid in "$@"; do
            [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] || all=0
        done
        [ $all = 1 ] && return 0
        sleep 0.01
    done
    return 1
}

# wait_usr1_pending PIDS... : waits (up to 10 s) until SIGUSR1 is pending on every (stopped) process.
wait_usr1_pending() {
    local pid all
    for _ in $(seq 1 100); do
        all=1
        for pid in "$@"; do
            # ShdPnd: signals pending for the whole process, a hex mask; SIGUSR1 (10) is bit 9 (0x200).
            local mask
            mask=$(sed -n 's/^ShdPnd:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
            [ -n "$mask" ] && [ $((0x$mask & 0x200)) -ne 0 ] || all=0
        done
        [ $all = 1 ] && return 0
        sleep 0.1
    done
    return 1
}
