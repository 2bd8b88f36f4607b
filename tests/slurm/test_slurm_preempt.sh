#!/bin/bash
# Preemption on a real (private, one-node) Slurm: submits launch/slurm.sbatch -n 2 with a small run and no
# --out (so the run writes to fcnet-<job id>/), waits until training is under way (the first periodic
# checkpoint exists), sends what #SBATCH --signal=B:USR1 sends (scancel -b --signal=USR1: the batch shell
# only), and polls until the job leaves the queue. The job must end COMPLETED with Restarts=1 — the script
# forwarded the signal, the ranks checkpointed, the script requeued the job and the restart resumed — and
# its final checkpoint must equal an uninterrupted mpirun -n 2 run's bitwise.
# With FCNET_LAUNCHER=srun the same chain runs with srun --mpi=pmix instead of mpirun. With
# FCNET_TEST_SIGNAL=TERM the signal is a preemption's SIGTERM, which the script hands mpirun as SIGUSR1.
# Until the first checkpoint the ranks run in short slices (SIGCONT/SIGSTOP) and they are held (SIGSTOP)
# while the signal travels, so the small run cannot finish first on a fast machine; they act on the pending
# signal once continued.
# usage: test_slurm_preempt.sh FCNET_SYNTH   (FCNET_DIST in the environment)
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SYNTH=${1:?usage: test_slurm_preempt.sh FCNET_SYNTH}
launcher=${FCNET_LAUNCHER:-mpirun}
sig=${FCNET_TEST_SIGNAL:-USR1}
name="preempt ($launcher, SIG$sig)"

slurm_test_start "slurm_preempt_${launcher}_$sig"
make_data "$SYNTH" data.h5
t0=$(now)
jid=$(sbatch --parsable -n 2 --output=job.out "$SBATCH_SCRIPT" --data data.h5 "${TRAIN_ARGS[@]}" \
    "${JOB_ARGS[@]}")
out=fcnet-$jid
if ! pids=$(stop_ranks_when 2 "$out/checkpoint.h5"); then
    not_ok "$name: the job's 2 ranks did not write $out/checkpoint.h5 (job $jid: $(job_field "$jid" JobState))"
    exit 1
fi
echo "# training under way (first checkpoint, ranks held) $(elapsed "$t0") s after submission"
ts=$(now)
scancel -b --signal="$sig" "$jid"
if [ "$launcher" = mpirun ]; then
    # shellcheck disable=SC2086
    if wait_usr1_pending $pids; then
        ok "$name: scancel -b --signal=$sig reached every rank (as SIGUSR1) through the script's trap and mpirun in $(elapsed "$ts") s"
    else
        not_ok "$name: SIGUSR1 did not reach the ranks within 10 s"
    fi
else
    # srun forwards the signal through slurmstepd: wait for the script's line, then give it a moment.
    # shellcheck disable=SC2086
    if wait_for_line job.out "received SIG$sig" 10 && wait_usr1_pending $pids; then
        ok "$name: scancel -b --signal=$sig reached every rank through the script's trap and srun in $(elapsed "$ts") s"
    else
        not_ok "$name: SIGUSR1 did not reach the ranks within 10 s"
    fi
fi
# shellcheck disable=SC2086
kill -CONT $pids
# The uninterrupted run (mpirun -n 2, no Slurm) to compare with, while the job waits to be requeued.
reference_run ref &
ref_pid=$!
if wait_job_gone "$jid" 120; then
    echo "# job left the queue $(elapsed "$t0") s after submission ($(elapsed "$ts") s after the signal)"
else
    not_ok "$name: job $jid still queued after 120 s"
    exit 1
fi
wait "$ref_pid" || { not_ok "reference run failed: $(tail -3 ref.log)"; exit 1; }
check_preempted_job "$jid" "$out" ref "$name"
slurm_test_end
