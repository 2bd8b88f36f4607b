# Shared by the multi-host tests (sourced). Each test gets a scratch folder $T and its own namespace hosts
# ($T/hosts, unique names), removed on exit. Needs FCNET_DIST (the fcnet_dist binary) in the environment.
# shellcheck shell=bash
set -euo pipefail
FCNET_CALLER_DIR=$PWD
netns_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}"
FCNET_DIST=$(readlink -f "$FCNET_DIST")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

# shellcheck source=tests/tap_lib.sh
source "$netns_here/../tap_lib.sh"

# netns_test_start NAME N SLOTS: scratch folder and N hosts (exit 77 where namespaces cannot be made).
netns_test_start() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_$1.XXXXXX")
    H=$T/hosts
    netns_t0=$(now)
    local rc=0
    "$netns_here/netns_up.sh" "$H" "$2" "$3" || rc=$?
    if [ $rc -ne 0 ]; then
        "$netns_here/netns_down.sh" "$H" >/dev/null 2>&1 || true
        rm -rf "$T"
        [ $rc -eq 77 ] && exit 77
        echo "not ok - namespace hosts not made (exit $rc)"
        exit 1
    fi
    trap netns_test_cleanup EXIT
    echo "# $2 hosts up in $(elapsed "$netns_t0") s"
    mapfile -t HOST_ARGS <"$H/mpirun_args"
    # The same BLAS settings on every rank of every host (ssh-like launches start from a clean environment,
    # and OPENBLAS_CORETYPE changes the kernels, hence the last bits).
    local v
    for v in ${!OPENBLAS_@}; do HOST_ARGS+=(-x "$v"); done
    cd "$T"
}

netns_test_cleanup() {
    local rc=$? t0
    if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            echo "# --- $f"
            # (|| true: grep finds nothing in an empty log, and under pipefail and -e that ended this trap
            # before the hosts below were removed)
            tr '\r' '\n' <"$f" | grep -v 'samples/s' | tail -25 | sed 's/^/# /' || true
        done
    fi
    t0=$(now)
    "$netns_here/netns_down.sh" "$H"
    echo "# hosts removed in $(elapsed "$t0") s"
    rm -rf "$T"
}

netns_test_end() {
    tap_end "$netns_t0"
}

# on_hosts ARGS...: mpirun on node1 (the "head node") across the hosts: on_hosts --host node1,node2 -n 2 ...
# Wrapped in timeout; stdout and stderr as the caller redirects them.
on_hosts() {
    "$H/on" node1 timeout 300 mpirun "${HOST_ARGS[@]}" "$@"
}

# one_host N ARGS...: plain mpirun -n N on this machine (shared memory), the single-host reference.
one_host() {
    local n=$1
    shift
    timeout 300 mpirun -n "$n" --oversubscribe --bind-to none "$@"
}

make_data() {
    "$(cd "$FCNET_CALLER_DIR" && readlink -f "$1")" --out "$2" --train 2000 --val 300 --test 300 --features 32 \
        --classes 5 --seed 8 >/dev/null
}
# The run of the multi-host tests (add --data and --out): 2 epochs of 40 steps with synchronised batchnorm,
# dropout and adam: every exchange fcnet makes (gradients, BN moments, loss) crosses the hosts.
# shellcheck disable=SC2054,SC2034  # 64,64 is one argument; used by the tests that source this file
TRAIN_ARGS=(--hidden 64,64 --norm batchnorm --keep 0.9 --optim adam --batch-size 50 --epochs 2 --print-every 1000
    --seed 5)

finished_attr() {
    h5dump -a /finished "$1" 2>/dev/null | sed -n 's/^[[:space:]]*(0):[[:space:]]*\([0-9-]*\).*/\1/p'
}
step_attr() {
    h5dump -a /step "$1" 2>/dev/null | sed -n 's/^[[:space:]]*(0):[[:space:]]*\([0-9-]*\).*/\1/p'
}

# same_checkpoint A B NAME: every dataset and attribute equal (h5diff compares values exactly, no tolerance)
# and, when FCNET_H5CMP names the h5cmp tool, every dataset byte for byte.
same_checkpoint() {
    local how=h5diff rc=0
    h5diff "$1" "$2" >h5diff.txt 2>&1 || rc=1
    if [ $rc = 0 ] && [ -n "${FCNET_H5CMP:-}" ] && [ -x "$FCNET_H5CMP" ]; then
        how="h5diff + h5cmp"
        "$FCNET_H5CMP" "$1" "$2" / >h5diff.txt 2>&1 || rc=1
    fi
    if [ $rc = 0 ]; then
        ok "$3: checkpoint bitwise equal ($how: $1 $2)"
    else
        not_ok "$3: checkpoints differ: $(head -4 h5diff.txt | tr '\n' ' ')"
    fi
}

# host_ranks HOST: the PIDs of the fcnet_dist processes running on a namespace host.
host_ranks() {
    local p
    for p in $(host_pids "$1"); do
        [[ /proc/$p/exe -ef $FCNET_DIST ]] && echo "$p"
    done
    return 0
}

# stop_ranks_when FILE HOST:N...: waits until each HOST runs N fcnet_dist ranks, then lets them run only in
# short slices (SIGCONT, ~5 ms, SIGSTOP) until FILE exists, and returns with them stopped; prints their PIDs.
# However fast this machine is, the run is then held just after FILE (a checkpoint) appeared. 1 after 120 s.
stop_ranks_when() {
    local file=$1 spec pids t0=$SECONDS
    shift
    while :; do
        pids=""
        local complete=1
        for spec in "$@"; do
            local got
            got=$(host_ranks "${spec%:*}")
            [ "$(echo "$got" | grep -c .)" -ge "${spec#*:}" ] || complete=0
            pids="$pids $got"
        done
        [ $complete = 1 ] && break
        [ $((SECONDS - t0)) -lt 60 ] || return 1
        sleep 0.01
    done
    pids=$(echo "$pids" | xargs)
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
    local pid
    for _ in $(seq 1 500); do
        local all=1
        for pid in $pids; do
            [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] || all=0
        done
        [ $all = 1 ] && break
        sleep 0.01
    done
    echo "$pids"
}

# host_pids HOST: the PIDs of the processes running on a namespace host.
host_pids() { ip netns pids "$(sed -n 's/^prefix=//p' "$H/info")$1" 2>/dev/null | tr '\n' ' '; }
host_ns() { echo "$(sed -n 's/^prefix=//p' "$H/info")$1"; }

# wait_pid_exit PID SECONDS: 0 once PID has exited, 1 on timeout.
wait_pid_exit() {
    for _ in $(seq 1 $(($2 * 20))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}
