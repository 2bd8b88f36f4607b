# shellcheck shell=bash
# Shared helpers of the checkpoint end-to-end scripts (test_resume.sh, test_signals.sh, test_faults.sh,
# test_fault_soak.sh, test_overwrite.sh); sourced with the script's arguments, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"     (arguments: FCNET_SYNTH H5CMP [MPIEXEC])
# It sets SYNTH, H5CMP, MPIEXEC and TEST_NAME (the script's name) and moves into a fresh scratch directory
# $W. FCNET_DIST comes from the environment (CTest sets it). Every mpirun is wrapped in timeout so that a
# hang fails the test instead of stalling CI.

[ $# -ge 2 ] || { echo "usage: $0 FCNET_SYNTH H5CMP [MPIEXEC]" >&2; exit 2; }
# shellcheck disable=SC2034 # SYNTH is used by the scripts that source this file
SYNTH=$1 H5CMP=$2 MPIEXEC=${3:-mpirun}
TEST_NAME=$(basename "$0" .sh)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
: "${FCNET_DIST:?set FCNET_DIST to the fcnet_dist binary}"
# -q: no Open MPI banner when a rank exits non-zero, so stderr holds fcnet's own line only.
MPI_FLAGS=(-q --oversubscribe --bind-to none)
failures=0
T_START=$(date +%s%N)

# The scratch directory: removed on success, kept (and named) on failure.
W=$(mktemp -d "${TMPDIR:-/tmp}/fcnet-$TEST_NAME.XXXXXX")
cd "$W" || exit 1

# Everything a checkpoint holds that an exact resume must reproduce (h5cmp object list: groups,
# root attributes /@name, attributes of groups group@name).
# shellcheck disable=SC2034 # used by the scripts that source this file
STATE=(/params /bn /optim /history /best /preprocess /@epoch /@step /@epoch_step /@finished /optim@t
    /optim@lr /best@best_val_acc /best@best_step)

now_ms() { echo $(($(date +%s%N) / 1000000)); }
elapsed_s() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
pass() { echo "ok   $*"; }

# fcnet N LOG ARG...: runs fcnet_dist ARG... on N ranks, stdout+stderr appended to LOG; returns its status.
fcnet() {
    local n=$1 log=$2
    shift 2
    timeout 300 "$MPIEXEC" "${MPI_FLAGS[@]}" -n "$n" "$FCNET_DIST" "$@" >>"$log" 2>&1
}

# must_run N LOG ARG...: like fcnet, but a non-zero status is a test failure (with the log's tail).
must_run() {
    local n=$1 log=$2
    fcnet "$@"
    local rc=$?
    if [ $rc -ne 0 ]; then
        fail "fcnet_dist -n $n ${*:3} exited $rc; log $log:"
        tail -5 "$log" | sed 's/^/    /'
    fi
    return $rc
}

# attr FILE OBJ@ATTR: prints one attribute (or dataset) of an HDF5 file.
attr() { "$H5CMP" --get "$1" "$2" 2>/dev/null; }

# expect_error WHAT RC_WANTED STDOUT_FILE STDERR_FILE RC_GOT TEXT...: exactly one line on stderr holding
# every TEXT, the expected status; for exit 2 (refused before training) also nothing on stdout.
expect_error() {
    local what=$1 want=$2 out=$3 err=$4 got=$5
    shift 5
    local -a lines=()
    mapfile -t lines <"$err"
    local why=""
    [ "$got" = "$want" ] || why="$why exit $got (expected $want);"
    [ "${#lines[@]}" -eq 1 ] || why="$why ${#lines[@]} lines on stderr;"
    [ "$want" != 2 ] || [ ! -s "$out" ] || why="$why output on stdout;"
    local t
    for t in "$@"; do [[ "${lines[0]:-}" == *"$t"* ]] || why="$why line lacks '$t';"; done
    if [ -n "$why" ]; then
        fail "$what:$why"
        sed 's/^/    stderr: /' "$err" | head -10
        return 1
    fi
    pass "$what: exit $got, '${lines[0]}'"
}

# pid_of_rank MPIRUN_PID RANK: the pid of that rank's process (a child of mpirun with its rank in the
# environment), or nothing.
pid_of_rank() {
    local p
    for p in $(pgrep -P "$1"); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$p"
            return 0
        fi
    done
}

# wait_for_step LOG STEP TIMEOUT_S PID: waits until LOG shows a progress line at step >= STEP (the bar
# "step 17/300" on a terminal or "(step 17 / 300)" otherwise) while PID lives; 0 when seen.
wait_for_step() {
    local log=$1 want=$2 deadline=$(($(now_ms) + $3 * 1000)) pid=$4 s
    while [ "$(now_ms)" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
        s=$(tr '\r' '\n' <"$log" 2>/dev/null | grep -oE '\(?step [0-9]+ ?/' | grep -oE '[0-9]+' | tail -1)
        [ -n "$s" ] && [ "$s" -ge "$want" ] && return 0
        sleep 0.05
    done
    return 1
}

# wait_exit PID TIMEOUT_S: waits for a background job of this shell (not in a subshell: only the shell
# that started a job can wait for it); sets WAIT_RC to its status, or "timeout" after killing it.
wait_exit() {
    local pid=$1 deadline=$(($(now_ms) + $2 * 1000))
    while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.02; done
    if kill -0 "$pid" 2>/dev/null; then
        pkill -KILL -P "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        # shellcheck disable=SC2034 # read by the caller
        WAIT_RC=timeout
        return
    fi
    wait "$pid"
    # shellcheck disable=SC2034
    WAIT_RC=$?
}

finish() {
    echo "$TEST_NAME: $failures failure(s), $(elapsed_s $((T_START / 1000000))) s"
    if [ "$failures" -eq 0 ]; then
        rm -rf "$W"
        exit 0
    fi
    echo "kept $W for inspection"
    exit 1
}
