#!/bin/bash
# The real timer on a real (private, one-node) Slurm: launch/slurm.sbatch submitted with -t 2
# --signal=B:USR1@60, so slurmctld itself sends SIGUSR1 to the batch shell 60-90 s before the 2-minute limit
# (it checks limits every 30 s). The small run is held (SIGSTOP) once training is under way (its first
# checkpoint; until then it runs in short slices, so it cannot finish first) — it stands for a long run and
# costs no CPU while the clock runs — and is continued once the signal is pending on every rank.
# The job must end COMPLETED with Restarts=1 and a final checkpoint bitwise equal to an uninterrupted
# mpirun -n 2 run's. Takes about 60-90 s, most of it waiting.
# usage: test_slurm_timer.sh FCNET_SYNTH   (FCNET_DIST in the environment)
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SYNTH=${1:?usage: test_slurm_timer.sh FCNET_SYNTH}
name="timer"

slurm_test_start slurm_timer
make_data "$SYNTH" data.h5
t0=$(now)
jid=$(sbatch --parsable -n 2 -t 2 --signal=B:USR1@60 --output=job.out "$SBATCH_SCRIPT" --data data.h5 \
    "${TRAIN_ARGS[@]}" "${JOB_ARGS[@]}" --out run)
if ! pids=$(stop_ranks_when 2 run/checkpoint.h5); then
    not_ok "$name: the job's 2 ranks did not write run/checkpoint.h5 (job $jid: $(job_field "$jid" JobState))"
    exit 1
fi
echo "# training under way and paused $(elapsed "$t0") s after submission; waiting for Slurm's signal"
# The uninterrupted run to compare with, while the clock runs.
reference_run ref &
ref_pid=$!
got=0
for _ in $(seq 1 10); do # each try waits up to 10 s
    # shellcheck disable=SC2086
    if wait_usr1_pending $pids 2>/dev/null; then got=1; break; fi
done
t_signal=$(elapsed "$t0")
# shellcheck disable=SC2086
kill -CONT $pids
if [ $got = 1 ] && awk -v t="$t_signal" 'BEGIN { exit !(t >= 25 && t <= 95) }'; then
    ok "$name: Slurm's --signal=B:USR1@60 reached every rank $t_signal s after submission (-t 2: expected 30-60 s)"
else
    not_ok "$name: SIGUSR1 pending on the ranks: $got after $t_signal s (want 1, within 25-95 s)"
    exit 1
fi
if wait_job_gone "$jid" 60; then
    echo "# job left the queue $(elapsed "$t0") s after submission"
else
    not_ok "$name: job $jid still queued 60 s after the signal"
    exit 1
fi
wait "$ref_pid" || { not_ok "reference run failed: $(tail -3 ref.log)"; exit 1; }
check_preempted_job "$jid" run ref "$name"
slurm_test_end
