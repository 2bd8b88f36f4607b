#!/bin/bash
# A plain scancel on a real (private, one-node) Slurm: Slurm sends SIGTERM to every process of the job and
# sets its state to COMPLETING. launch/slurm.sbatch hands mpirun the signal as SIGUSR1 as for a preemption,
# so the ranks checkpoint; but the job is being cancelled, and the script must not requeue it (it did, and
# the job came back after every scancel). The job must end CANCELLED with Restarts=0, its log naming the
# cancel and the checkpoint's step, and the checkpoint must be a readable, unfinished one.
# usage: test_slurm_cancel.sh FCNET_SYNTH   (FCNET_DIST in the environment)
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SYNTH=${1:?usage: test_slurm_cancel.sh FCNET_SYNTH}

slurm_test_start slurm_cancel
make_data "$SYNTH" data.h5
t0=$(now)
# 100 epochs: far longer than the test, so the cancel always comes mid-run.
jid=$(sbatch --parsable -n 2 --output=job.out "$SBATCH_SCRIPT" --data data.h5 "${TRAIN_ARGS[@]}" --epochs 100 \
    "${JOB_ARGS[@]}" --out run)
for _ in $(seq 1 600); do
    [ -f run/checkpoint.h5 ] && break
    sleep 0.1
done
if [ ! -f run/checkpoint.h5 ]; then
    not_ok "cancel: job $jid wrote no checkpoint within 60 s (JobState=$(job_field "$jid" JobState))"
    exit 1
fi
scancel "$jid"
if ! wait_job_gone "$jid" 60; then
    not_ok "cancel: job $jid still queued 60 s after scancel (requeued?)"
    scancel "$jid"
    exit 1
fi
echo "# job left the queue $(elapsed "$t0") s after submission"
state=$(job_field "$jid" JobState)
restarts=$(job_field "$jid" Restarts)
if [ "$state" = CANCELLED ] && [ "$restarts" = 0 ]; then
    ok "cancel: job $jid ended CANCELLED, not requeued (Restarts=0)"
else
    not_ok "cancel: job $jid JobState=$state Restarts=$restarts (want CANCELLED, 0)"
fi
if grep -q "slurm.sbatch\[$jid\.0\]: job $jid cancelled (JobState=[A-Z]*): checkpoint at step [0-9]*; not requeued" job.out &&
    ! grep -q "requeueing job" job.out; then
    ok "cancel: the log says so: $(grep "cancelled (JobState" job.out)"
else
    not_ok "cancel: no 'cancelled ... not requeued' line in the job output: $(tail -3 job.out | tr '\n' ' ')"
fi
if [ "$(finished_attr run/checkpoint.h5)" = 0 ] && h5dump -a /step run/checkpoint.h5 >/dev/null 2>&1; then
    ok "cancel: run/checkpoint.h5 is readable and unfinished (resumable)"
else
    not_ok "cancel: run/checkpoint.h5 unreadable or finished=$(finished_attr run/checkpoint.h5)"
fi
slurm_test_end
