#!/usr/bin/env bash
# PBS job script (OpenPBS / PBS Pro; Torque: see the -l line below) for fcnet_dist: one MPI rank per
# allocated core, one OpenBLAS thread per rank, automatic --resume from the run's checkpoint when
# the job is requeued or resubmitted, and a clean stop (checkpoint written) before the walltime ends.
#
#   qsub launch/pbs.sh                                             # the defaults below
#   FCNET_ARGS="--hidden 1024,512 --epochs 30" qsub -v FCNET_OUT=runs/big,FCNET_ARGS launch/pbs.sh
#       (-v splits its list at commas, also inside a value such as 1024,512: a name without a value takes
#       it from qsub's environment, whole)
#   qsub -l select=4:ncpus=32:mpiprocs=32 launch/pbs.sh            # 4 nodes x 32 ranks
#
# Variables (qsub -v NAME=VALUE,...):
#   FCNET_DATA   dataset (default datasets/fashion-mnist.h5, relative to the submit directory)
#   FCNET_OUT    run directory holding checkpoint.h5 (default runs/pbs-<job name>, in an array job
#                runs/pbs-<job name>-<index>: each subjob its own run)
#   FCNET_ARGS   fcnet_dist train options for a fresh run (default: --config
#                results/configs/quickstart.ini; results/configs/fashion-mnist-0.90.ini reaches 0.90);
#                passed again on resume: run-control options may change (e.g. --epochs to extend),
#                model/optimizer/data-order options must equal the checkpoint's (else exit 2)
#   FCNET_BUILD_DIR       build directory with fcnet_dist (default build/, built once by hand:
#                         cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build)
#   FCNET_STOP_MARGIN     seconds before the walltime at which the ranks are told to stop and write
#                         their checkpoint (default 120; needs qstat to read the walltime)
#   FCNET_MPIRUN_ARGS     extra mpirun arguments
#   FCNET_RANKS           ranks (default: one per line of $PBS_NODEFILE)
# Stopping: qdel (SIGTERM) or the walltime margin sends SIGUSR1 to mpirun, which forwards it; every
# rank agrees to stop after the current step and rank 0 writes checkpoint.h5. Resubmitting the same
# script (or a requeue of a rerunnable job, -r y) continues from it. mpirun must come from an MPI
# built with PBS (tm) support, or reads $PBS_NODEFILE, which this script passes as the hostfile.
#PBS -N fcnet
#PBS -l select=1:ncpus=16:mpiprocs=16
## Torque instead: #PBS -l nodes=1:ppn=16
#PBS -l walltime=01:00:00
#PBS -j oe
#PBS -r y
# bash, not the login shell PBS would otherwise run a job script with (tcsh would fail on the first line)
#PBS -S /bin/bash
set -euo pipefail

workdir=${PBS_O_WORKDIR:-$(pwd)}
cd "$workdir"
# PBS runs a copy of the script from its spool directory, or feeds it to the shell on standard input (no
# BASH_SOURCE, which set -u would report on every job's first line): find the checkout from the submit dir.
root=$(cd "$(dirname "${BASH_SOURCE[0]:-.}")/.." 2>/dev/null && pwd)
[ -x "$root/launch/local.sh" ] || root=$workdir
[ -x "$root/launch/local.sh" ] || { echo "pbs.sh: submit from the fcnet checkout (launch/local.sh not found)" >&2; exit 2; }

data=${FCNET_DATA:-$root/datasets/fashion-mnist.h5}
# An array job's subjobs (PBS Pro's PBS_ARRAY_INDEX, Torque's PBS_ARRAYID) share the job name: without the index
# each would resume the run of the one before.
array_index=${PBS_ARRAY_INDEX:-${PBS_ARRAYID:-}}
out=${FCNET_OUT:-$root/runs/pbs-${PBS_JOBNAME:-fcnet}${array_index:+-$array_index}}
# FCNET_ARGS is split into words at blanks, never expanded as a glob (a file that matches cfg[1].ini must not
# replace it). The default is one path, whatever blanks the checkout's path holds.
if [ -n "${FCNET_ARGS:-}" ]; then
    set -f
    # shellcheck disable=SC2206  # FCNET_ARGS is a word list on purpose
    args=($FCNET_ARGS)
    set +f
else
    args=(--config "$root/results/configs/quickstart.ini")
fi
# The run directory and the data come from FCNET_OUT and FCNET_DATA only: an --out in FCNET_ARGS would win on
# fcnet_dist's command line (the last one does), and this script, looking for the checkpoint in FCNET_OUT,
# would never resume it.
for a in ${args[@]+"${args[@]}"}; do
    case $a in
    --out | --out=* | --data | --data=*)
        echo "pbs.sh: FCNET_ARGS has ${a%%=*}: give the run directory as FCNET_OUT and the dataset as FCNET_DATA" >&2
        exit 2
        ;;
    esac
done
margin=${FCNET_STOP_MARGIN:-120}
# Checked before anything starts: a bad value used to end this script only once mpirun was running.
if ! [[ $margin =~ ^[0-9]{1,7}$ ]]; then
    echo "pbs.sh: FCNET_STOP_MARGIN='$margin': not a whole number of seconds" >&2
    exit 2
fi

# Ranks: one per line of $PBS_NODEFILE (PBS writes one line per MPI process), else the local cores.
if [ -n "${PBS_NODEFILE:-}" ] && [ -r "$PBS_NODEFILE" ]; then
    export FCNET_RANKS=${FCNET_RANKS:-$(awk 'NF { n++ } END { print n + 0 }' "$PBS_NODEFILE")}
    hostfile=$PBS_NODEFILE
    # Open MPI counts a host's lines as its slots only when it is listed more than once: a host on one line gets
    # as many slots as it has cores, so 3 nodes of 1 rank each (select=3:mpiprocs=1) ran 2 ranks on the first and
    # none on the third. Give it each host's count instead ("host slots=N", in the node file's order).
    if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
        hostfile=$(mktemp "${TMPDIR:-/tmp}/fcnet-pbs-hosts.XXXXXX")
        trap 'rm -f "$hostfile"' EXIT
        awk 'NF { if (!($1 in n)) order[++k] = $1; n[$1]++ }
            END { for (i = 1; i <= k; i++) print order[i] " slots=" n[order[i]] }' "$PBS_NODEFILE" >"$hostfile"
    fi
    export FCNET_MPIRUN_ARGS="--hostfile $hostfile ${FCNET_MPIRUN_ARGS:-}"
fi

if [ -f "$out/checkpoint.h5" ]; then
    echo "pbs.sh: resuming from $out/checkpoint.h5"
    # FCNET_ARGS is passed again whole, in either spelling (--name VALUE, --name=VALUE, flags), so every
    # run-control option (--epochs, --max-steps, --keep-last, --profile, ...) reaches the resumed run.
    # fcnet_dist accepts model, optimizer and data-order options equal to the checkpoint's and refuses a
    # differing one by name (exit 2). Only a --resume/--init-from of the first start is dropped: this run
    # continues from its own checkpoint.
    kept=()
    for ((i = 0; i < ${#args[@]}; i++)); do
        case ${args[i]} in
        --resume | --init-from) i=$((i + 1)) ;;
        --resume=* | --init-from=*) ;;
        *) kept+=("${args[i]}") ;;
        esac
    done
    set -- --resume "$out/checkpoint.h5" --data "$data" --out "$out" ${kept[@]+"${kept[@]}"}
else
    set -- --data "$data" --out "$out" "${args[@]}"
fi
# qdel sends SIGTERM (then SIGKILL after the server's kill_delay): ask for the checkpoint at once. Trapped
# before local.sh starts: a SIGTERM between its start and the trap ended this script and left the run going.
# shellcheck disable=SC2317  # called through trap
stop() {
    echo "pbs.sh: $1: asking the ranks to checkpoint and stop"
    stop_asked=1
    [ -z "$mpirun_pid" ] || kill -USR1 "$mpirun_pid" 2>/dev/null || true
}
mpirun_pid=""
stop_asked=0
trap 'stop SIGTERM' TERM
trap 'stop SIGUSR1' USR1

echo "pbs.sh: job ${PBS_JOBID:-(not under PBS)} on $(hostname), ${FCNET_RANKS:-local cores} ranks: fcnet_dist $*"
if [ "$stop_asked" = 1 ]; then
    echo "pbs.sh: stopped before the run started; nothing to save, not started"
    exit 0
fi
# A stop from here on is repeated to the launch every 2 s until it ends (the wait loop below).
"$root/launch/local.sh" "$@" &
mpirun_pid=$!

# PBS has no warning signal before the walltime: read the walltime and send one ourselves.
timer_pid=""
if [ -n "${PBS_JOBID:-}" ] && command -v qstat >/dev/null 2>&1; then
    # || : a failing qstat must not end this script (set -e, pipefail) while mpirun runs on without it.
    walltime=$(qstat -f "$PBS_JOBID" 2>/dev/null | awk -F' = ' '/Resource_List.walltime/ {print $2; exit}') || walltime=""
    if ! [[ $walltime =~ ^([0-9]+):([0-9]+):([0-9]+)$ ]]; then
        echo "pbs.sh: walltime unknown (qstat -f $PBS_JOBID gave '${walltime}'); no stop before it, only on qdel"
    else
        seconds=$((10#${BASH_REMATCH[1]} * 3600 + 10#${BASH_REMATCH[2]} * 60 + 10#${BASH_REMATCH[3]}))
        if [ "$seconds" -gt $((2 * margin)) ]; then
            (
                trap 'kill "$sleep_pid" 2>/dev/null; exit 0' TERM
                sleep $((seconds - margin)) &
                sleep_pid=$!
                wait "$sleep_pid"
                echo "pbs.sh: ${margin} s of walltime left"
                kill -USR1 "$mpirun_pid" 2>/dev/null
            ) &
            timer_pid=$!
        else
            echo "pbs.sh: walltime $walltime is not over twice FCNET_STOP_MARGIN ($margin s): no stop before it"
        fi
    fi
elif [ -n "${PBS_JOBID:-}" ]; then
    echo "pbs.sh: walltime unknown (no qstat on this node's PATH); no stop before it, only on qdel"
else
    echo "pbs.sh: not in a PBS job (no PBS_JOBID): no walltime, no stop before it"
fi

# wait returns early when a trapped signal arrives; keep waiting for mpirun's own exit status.
status=0
while :; do
    if [ "$stop_asked" = 1 ]; then
        # mpirun drops a signal that comes before it has started the ranks: repeat it every 2 s until it
        # exits (the ranks stop at the first they see; later ones change nothing).
        sleep 2 &
        wait $! || true
        kill -0 "$mpirun_pid" 2>/dev/null || break
        kill -USR1 "$mpirun_pid" 2>/dev/null || true
        continue
    fi
    wait "$mpirun_pid" && status=0 || status=$?
    kill -0 "$mpirun_pid" 2>/dev/null || break
done
if [ "$stop_asked" = 1 ]; then # the loop saw mpirun end without its status, unless a wait above took it
    r=0
    wait "$mpirun_pid" || r=$?
    [ "$r" -eq 127 ] || status=$r
fi
# The timer may have fired and exited already (set -e: a failing kill must not become the exit status).
if [ -n "$timer_pid" ]; then kill "$timer_pid" 2>/dev/null || true; fi
# mpirun -q keeps its own account of a killed rank to itself; fcnet_dist's own exits are 0-3.
if [ "$status" -gt 128 ]; then
    why=""
    [ "$status" -eq 137 ] && why=" (SIGKILL: the OOM killer, or kill -9)"
    echo "pbs.sh: mpirun exited $status: a rank was killed by signal $((status - 128))$why; resubmit to resume from $out/checkpoint.h5" >&2
fi
exit "$status"
