#!/bin/bash
# A job whose data file is bad, on a real (private, one-node) Slurm: launch/slurm.sbatch -n 2 with --data
# pointing at a file that is not HDF5. fcnet_dist exits 2 with one error line; the job must end FAILED with
# ExitCode 2:0, show that one line in its output (no Open MPI banner), and not be requeued (Restarts=0).
# Then a job with -n 1 -c 2: its rank must get 2 BLAS threads and both CPUs, not one core.
# usage: test_slurm_badfile.sh   (FCNET_DIST in the environment)
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

slurm_test_start slurm_badfile
echo "this is not an HDF5 file" >bad.h5
t0=$(now)
jid=$(sbatch --parsable -n 2 --output=job.out "$SBATCH_SCRIPT" --data bad.h5 "${TRAIN_ARGS[@]}" --out run)
if ! wait_job_gone "$jid" 60; then
    not_ok "bad data: job $jid still queued after 60 s"
    exit 1
fi
echo "# job left the queue after $(elapsed "$t0") s"
state=$(job_field "$jid" JobState)
restarts=$(job_field "$jid" Restarts)
code=$(job_field "$jid" ExitCode)
if [ "$state" = FAILED ] && [ "$code" = 2:0 ]; then
    ok "bad data: job $jid FAILED with ExitCode=2:0"
else
    not_ok "bad data: job $jid JobState=$state ExitCode=$code (want FAILED, 2:0)"
fi
if [ "$restarts" = 0 ] && [ "$(grep -c 'restart' job.out)" -eq 0 ]; then
    ok "bad data: not requeued (Restarts=0)"
else
    not_ok "bad data: Restarts=$restarts (want 0)"
fi
errors=$(grep -c '^fcnet_dist: .*error' job.out || true)
if [ "$errors" -eq 1 ] && grep -q '^fcnet_dist: .*error: bad.h5: ' job.out; then
    ok "bad data: one error line in the job output: $(grep '^fcnet_dist: .*error' job.out)"
else
    not_ok "bad data: $errors fcnet_dist error lines in the job output (want 1 naming bad.h5)"
fi
# mpirun -q: the job's output ends with fcnet's line, without Open MPI's banner about the exit code.
if ! grep -qE 'Primary job|mpirun detected|^-{20,}$' job.out; then
    ok "bad data: no Open MPI banner in the job output"
else
    not_ok "bad data: Open MPI's banner in the job output: $(grep -E 'Primary job|mpirun detected' job.out | head -2)"
fi
if [ ! -e run/checkpoint.h5 ]; then
    ok "bad data: no checkpoint written"
else
    not_ok "bad data: a checkpoint was written"
fi

# --cpus-per-task 2 (the script's own placement: no FCNET_MPIRUN_ARGS, no OPENBLAS_NUM_THREADS): the rank
# gets 2 BLAS threads and may run on both CPUs. A stand-in program reports what it was given. Before,
# mpirun bound the rank to one core, where its 2 threads took turns.
cat >probe.sh <<'PROBE'
#!/bin/bash
echo "probe: cpus=$(nproc) blas=${OPENBLAS_NUM_THREADS:-unset}"
PROBE
chmod +x probe.sh
if jid=$(env -u FCNET_MPIRUN_ARGS -u OPENBLAS_NUM_THREADS FCNET_DIST="$T/probe.sh" \
    sbatch --parsable -n 1 -c 2 --output=cpt.out "$SBATCH_SCRIPT" --data data.h5 --out cpt 2>cpt.err); then
    wait_job_gone "$jid" 60 || true
    if grep -qx 'probe: cpus=2 blas=2' cpt.out; then
        ok "-n 1 -c 2: the rank runs 2 BLAS threads on the job's 2 CPUs"
    else
        not_ok "-n 1 -c 2: $(grep -E '^probe|rror' cpt.out | head -2) (want cpus=2 blas=2)"
    fi
else
    echo "# -n 1 -c 2 not checked: sbatch refused it ($(head -1 cpt.err)): fewer than 2 CPUs here"
fi
slurm_test_end
