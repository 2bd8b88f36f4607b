#!/bin/bash
# Tears down the private Slurm that tests/slurm/slurm_up.sh DIR started, and only that: cancels this
# cluster's jobs, then stops slurmd, slurmctld and munged by the PIDs in DIR's PID files (after checking that
# each PID still runs the expected program), then removes DIR. Safe to call twice or on a half-started DIR.
#   tests/slurm/slurm_down.sh DIR [--keep]     --keep: leave DIR (logs) in place
set -uo pipefail
D=${1:?usage: slurm_down.sh DIR [--keep]}
keep=${2:-}
[ -d "$D" ] || exit 0

# pid_of PIDFILE PROGRAM: the PID in PIDFILE when /proc/PID/exe is PROGRAM (else nothing: gone already, or
# the PID now belongs to someone else).
pid_of() {
    local pidfile=$1 want pid exe
    want=$(readlink -f "$(command -v "$2" 2>/dev/null || echo "/nonexistent/$2")")
    [ -s "$pidfile" ] || return 0
    pid=$(tr -dc '0-9' <"$pidfile")
    [ -n "$pid" ] || return 0
    exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)
    [ "$exe" = "$want" ] && echo "$pid"
    return 0
}

if [ -f "$D/slurm.conf" ] && [ -s "$D/slurmctld.pid" ]; then
    export SLURM_CONF=$D/slurm.conf
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        for _ in $(seq 1 100); do
            [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
fi
# Each daemon takes ~2 s to exit on SIGTERM: stop all three at once, SIGKILL what is left after 10 s.
pids="$(pid_of "$D/slurmd.pid" slurmd) $(pid_of "$D/slurmctld.pid" slurmctld) $(pid_of "$D/munge/munged.pid" munged)"
for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
for _ in $(seq 1 100); do
    alive=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [ -z "$alive" ] && break
    sleep 0.1
done
for pid in $alive; do kill -KILL "$pid" 2>/dev/null; done
if [ "$keep" != --keep ]; then
    rm -rf "$D"
fi
exit 0
