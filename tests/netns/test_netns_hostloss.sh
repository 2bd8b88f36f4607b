#!/bin/bash
# Losing a host mid-run: fcnet_dist on 2 network-namespace hosts x 1 rank (mpirun on node1, rank 0 there),
# a checkpoint every 5 steps. Once training is under way, host node2 is lost:
#   kill      every process on node2 (its orted and rank) is killed with SIGKILL — the job must end within
#             10 s (mpirun: 205 "lost communication with a remote daemon", or 137);
#   linkdown  node2's eth0 goes down, its processes still running — mpirun must notice within 15 s through
#             the TCP keepalives (oob_tcp_keepalive_*; the defaults take minutes) or, when it has a message in
#             flight to node2, TCP's retransmission limit (the hosts' tcp_retries2, see netns_up.sh).
# Until the first checkpoint the ranks run in short slices (SIGCONT/SIGSTOP) and they are held at the
# fault, so the small run cannot finish first however fast this machine is; they continue right after it. Then: the last checkpoint must be intact (readable, finished=0), and --resume with
# 2 ranks on the remaining host must finish the run with a checkpoint bitwise equal to an uninterrupted
# mpirun -n 2 run's. Skipped (77) where network namespaces cannot be made.
# usage: test_netns_hostloss.sh FCNET_SYNTH kill|linkdown   (FCNET_DIST in the environment)
# shellcheck source=tests/netns/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SYNTH=${1:?usage: test_netns_hostloss.sh FCNET_SYNTH kill|linkdown}
MODE=${2:?usage: test_netns_hostloss.sh FCNET_SYNTH kill|linkdown}
case $MODE in
kill) limit=10 what="node2's processes killed" ;;
linkdown) limit=15 what="node2's link down" ;;
*) echo "mode must be kill or linkdown" >&2; exit 2 ;;
esac

netns_test_start "netns_$MODE" 2 2
# 4 epochs: 160 steps, so the window after the first checkpoint is long.
RUN_ARGS=("${TRAIN_ARGS[@]}" --epochs 4)
make_data "$SYNTH" data.h5
# The uninterrupted run to compare with, on one host.
one_host 2 "$FCNET_DIST" --data data.h5 "${RUN_ARGS[@]}" --out ref >ref.log 2>&1 || {
    not_ok "reference run failed"
    exit 1
}

t0=$(now)
on_hosts --host node1,node2 -n 2 "$FCNET_DIST" --data data.h5 "${RUN_ARGS[@]}" --checkpoint-every 5 \
    --out run >run.log 2>&1 &
run_pid=$!
if ! held=$(stop_ranks_when run/checkpoint.h5 node1:1 node2:1); then
    not_ok "$MODE: the 2 ranks did not write run/checkpoint.h5 within 120 s"
    exit 1
fi
echo "# training under way across node1 and node2 (first checkpoint, ranks held) after $(elapsed "$t0") s"
pids2=$(host_pids node2)
if [ "$MODE" = kill ]; then
    t_fault=$(now)
    # shellcheck disable=SC2086
    kill -KILL $pids2
else
    ip -n "$(host_ns node2)" link set eth0 down
    t_fault=$(now)
fi
# shellcheck disable=SC2086
kill -CONT $held 2>/dev/null || true
if ! kill -0 "$run_pid" 2>/dev/null; then
    not_ok "$MODE: the run ended before the fault (too fast?)"
fi
if wait_pid_exit "$run_pid" 30; then
    t_end=$(now)
    rc=0
    wait "$run_pid" || rc=$?
    took=$(elapsed "$t_fault" "$t_end")
    why=$(grep -m1 -E 'lost communication|killed|terminated|ORTE|exited on signal' run.log | sed 's/^ *//' || true)
    if [ "$rc" -ne 0 ] && awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t <= l) }'; then
        ok "$MODE: $what -> mpirun exited $rc after $took s (limit $limit s): $why"
    else
        not_ok "$MODE: $what -> mpirun exited $rc after $took s (want non-zero within $limit s)"
    fi
else
    not_ok "$MODE: $what -> mpirun still running after 30 s"
    kill -TERM "$run_pid" 2>/dev/null || true
    exit 1
fi
sleep 0.5
left=$(host_pids node1)
if [ -z "$left" ]; then
    ok "$MODE: nothing left running on node1"
else
    not_ok "$MODE: processes left on node1: $(ps -o pid=,args= -p "${left// /,}" 2>/dev/null | head -3)"
fi

ckpt=run/checkpoint.h5
step=$(step_attr "$ckpt")
if [ -n "$step" ] && [ "$step" -gt 0 ] && [ "$(finished_attr "$ckpt")" = 0 ]; then
    ok "$MODE: last checkpoint intact (step $step, finished=0)"
else
    not_ok "$MODE: last checkpoint unreadable or wrong (step '$step', finished '$(finished_attr "$ckpt")')"
fi
t0=$(now)
rc=0
"$H/on" node1 timeout 300 mpirun "${HOST_ARGS[@]}" --host node1:2 -n 2 "$FCNET_DIST" --data data.h5 \
    "${RUN_ARGS[@]}" --resume "$ckpt" --out run >resume.log 2>&1 || rc=$?
if [ $rc -eq 0 ] && [ "$(finished_attr "$ckpt")" = 1 ]; then
    ok "$MODE: --resume with 2 ranks on node1 alone finished the run ($(elapsed "$t0") s)"
else
    not_ok "$MODE: --resume on node1 exited $rc, finished=$(finished_attr "$ckpt")"
fi
same_checkpoint ref/checkpoint.h5 "$ckpt" "$MODE: resumed run vs the uninterrupted run"
netns_test_end
