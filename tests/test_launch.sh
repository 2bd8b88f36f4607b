#!/usr/bin/env bash
# launch/local.sh and launch/pbs.sh outside any batch system, with the real mpirun:
#  - local.sh starts one rank per physical core (or FCNET_RANKS), gives each one OpenBLAS thread unless
#    OPENBLAS_NUM_THREADS is set, and passes its arguments through (the ranks are a stand-in fcnet_dist
#    that records what it was given); with a host list and no FCNET_RANKS it gives Open MPI no -n;
#  - slurm.sbatch, run as a plain script, gives each rank OPENBLAS_NUM_THREADS, else SLURM_CPUS_PER_TASK,
#    else 1 BLAS thread (the Slurm tests set the variable themselves), with SLURM_CPUS_PER_TASK=2 leaves a rank
#    every CPU (also under a --map-by without PE=), and with srun (a stand-in) passes
#    --cpus-per-task, which srun of Slurm 22.05-23.02 does not take from the job;
#  - pbs.sh trains into FCNET_OUT, and run again on the same FCNET_OUT resumes from its checkpoint with
#    FCNET_ARGS passed again: every run-control option in both spellings takes effect, model options equal
#    to the checkpoint's are accepted and a differing one is refused (the real fcnet_dist); with a stand-in
#    qstat it stops the ranks cleanly FCNET_STOP_MARGIN seconds before the walltime, on SIGTERM (qdel), and
#    trains on when qstat fails; a SIGTERM just before it starts the launch starts nothing (exit 0).
#  - slurm.sbatch (stand-in mpirun and scontrol): requeues on SIGTERM and SIGUSR1 (also when mpirun exits 1 after
#    a SIGTERM), and on the time limit's when the ranks saved (not when nothing was saved), not after a cancel,
#    and on SIGINT stops the run (SIGUSR1 to mpirun) without a requeue, exit 130; its mpirun/srun arguments
#    (-x OPENBLAS_*, --bind-to none, --cpus-per-task) and a restart's dropped --resume/--init-from, recorded by
#    stand-ins.
#   test_launch.sh FCNET_SYNTH H5CMP   (FCNET_DIST in the environment)
set -uo pipefail
synth=$1
h5cmp=$2
dist=${FCNET_DIST:?}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# ---- local.sh ----
# stand_in DIR LINE: DIR/fcnet_dist, a stand-in that passes local.sh's start-up check (--version) and otherwise
# runs the shell line LINE (which reports what a rank saw into $FAKE_LOG).
stand_in() {
    # shellcheck disable=SC2016 # $1 is the stand-in's own
    mkdir "$1" && printf '#!/usr/bin/env bash\n[ "$1" = --version ] && exit 0\n%s\n' "$2" >"$1/fcnet_dist" &&
        chmod +x "$1/fcnet_dist" || exit 1
}
# shellcheck disable=SC2016 # the stand-in expands them
stand_in fake 'echo "size=$OMPI_COMM_WORLD_SIZE blas=$OPENBLAS_NUM_THREADS args=$*" >>"$FAKE_LOG"'
# local NAME: runs local.sh with the stand-in ranks; their lines, sorted, in NAME.log.
local_run() {
    FAKE_LOG=$work/$1.raw FCNET_BUILD_DIR=$work/fake timeout 60 "$root/launch/local.sh" train --data d.h5 --epochs 2 \
        >"$1.out" 2>&1 || { not_ok "$1: local.sh exited $?: $(head -3 "$1.out")"; return 1; }
    sort "$1.raw" >"$1.log"
}
# What README promises: physical cores (lscpu's core/socket pairs), never more than this process may use.
cores=$(lscpu -p=CORE,SOCKET 2>/dev/null | grep -v '^#' | sort -u | wc -l)
cpus=$(nproc)
[ "${cores:-0}" -gt 0 ] && [ "$cores" -lt "$cpus" ] || cores=$cpus
want="size=$cores blas=1 args=train --data d.h5 --epochs 2"
if (unset FCNET_RANKS OPENBLAS_NUM_THREADS && local_run cores) &&
    [ "$(grep -c . cores.log)" -eq "$cores" ] && [ "$(sort -u cores.log)" = "$want" ]; then
    ok "local.sh: $cores rank(s), one per physical core, one BLAS thread each, arguments passed on"
else
    not_ok "local.sh defaults: want $cores x '$want', got: $(sort -u cores.log 2>/dev/null | head -3)"
fi
# Only the cores of the CPUs in the affinity mask count: a stand-in lscpu makes CPUs 0 and 1 (the mask given)
# hyperthreads of one core, and CPUs 2 and 3 another core outside the mask: one rank (counting every core of
# the machine, as before, gave min(2 cores, 2 CPUs) = 2).
mkdir fakecpu
cat >fakecpu/lscpu <<'EOF'
#!/bin/sh
case "$1" in
-p=CPU,CORE,SOCKET) printf '# CPU,Core,Socket\n0,0,0\n1,0,0\n2,1,0\n3,1,0\n' ;;
-p=CORE,SOCKET) printf '# Core,Socket\n0,0\n0,0\n1,0\n1,0\n' ;;
*) exit 1 ;;
esac
EOF
chmod +x fakecpu/lscpu
if [ "$cpus" -lt 2 ]; then
    ok "# SKIP local.sh with hyperthreads in the mask: needs 2 CPUs"
elif (unset FCNET_RANKS OPENBLAS_NUM_THREADS && FAKE_LOG=$work/ht.raw FCNET_BUILD_DIR=$work/fake \
    PATH=$work/fakecpu:$PATH timeout 60 taskset -c 0,1 "$root/launch/local.sh" train >ht.out 2>&1) &&
    [ "$(grep -c . ht.raw)" -eq 1 ]; then
    ok "local.sh: two hyperthreads of one core in the affinity mask start one rank"
else
    not_ok "local.sh with hyperthreads in the mask: want 1 rank, got $(grep -c . ht.raw 2>/dev/null): $(head -3 ht.out)"
fi
if (unset OPENBLAS_NUM_THREADS && FCNET_RANKS=3 local_run three) && [ "$(grep -c . three.log)" -eq 3 ] &&
    [ "$(sort -u three.log)" = "size=3 blas=1 args=train --data d.h5 --epochs 2" ]; then
    ok "local.sh: FCNET_RANKS=3 starts 3 ranks (more than the cores: oversubscribed)"
else
    not_ok "local.sh FCNET_RANKS=3: $(sort -u three.log 2>/dev/null | head -3)"
fi
if (FCNET_RANKS=2 OPENBLAS_NUM_THREADS=4 local_run blas4) && [ "$(sort -u blas4.log)" = "size=2 blas=4 args=train --data d.h5 --epochs 2" ]; then
    ok "local.sh: OPENBLAS_NUM_THREADS=4 is kept"
else
    not_ok "local.sh OPENBLAS_NUM_THREADS=4: $(sort -u blas4.log 2>/dev/null | head -3)"
fi

# Every OPENBLAS_* setting goes to mpirun with -x (ranks on other hosts get no environment otherwise): seen
# through a stand-in mpirun that records its arguments.
mkdir fakempi
# (It also records the Open MPI root variables it was given, in $FAKE_MPIRUN_LOG.env.)
cat >fakempi/mpirun <<'EOF'
#!/bin/sh
[ "$1" = --version ] && { echo "mpirun (Open MPI) 4.1.4"; exit 0; }
echo "$*" >"$FAKE_MPIRUN_LOG"
echo "${OMPI_ALLOW_RUN_AS_ROOT:-unset} ${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-unset}" >"$FAKE_MPIRUN_LOG.env"
prev=""
for a in "$@"; do [ "$prev" = --hostfile ] && cat "$a" >"$FAKE_MPIRUN_LOG.hosts" 2>/dev/null; prev=$a; done
exit 0
EOF
chmod +x fakempi/mpirun
if (PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log OPENBLAS_CORETYPE=Haswell OPENBLAS_VERBOSE=2 \
    FCNET_BUILD_DIR=$work/fake "$root/launch/local.sh" train --data d.h5 >/dev/null 2>&1) &&
    grep -q -- "-x OPENBLAS_NUM_THREADS" mpirun_args.log && grep -q -- "-x OPENBLAS_CORETYPE" mpirun_args.log &&
    grep -q -- "-x OPENBLAS_VERBOSE" mpirun_args.log && grep -qE -- "(^| )-q " mpirun_args.log &&
    grep -q -- "--bind-to none" mpirun_args.log; then
    ok "local.sh: mpirun -q --bind-to none, and every OPENBLAS_* setting passed on with -x"
else
    not_ok "local.sh mpirun arguments: $(cat mpirun_args.log 2>/dev/null)"
fi
# More ranks than this machine's CPUs: --oversubscribe on this machine alone; with a host list, too many
# ranks for its slots must fail (and be reported), not overload the hosts.
over=$(($(nproc) + 1))
for hosts in "" "--hostfile h" "--host a,b" "-H a" "-host a" "-hostfile h" "--machinefile h" "--host=a" \
    "--default-hostfile h" "-default-hostfile h"; do
    rm -f mpirun_args.log
    (PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log FCNET_RANKS=$over FCNET_MPIRUN_ARGS="$hosts" \
        FCNET_BUILD_DIR=$work/fake "$root/launch/local.sh" train --data d.h5 >/dev/null 2>&1)
    want=1
    [ -n "$hosts" ] && want=0
    if [ "$(grep -c -- "--oversubscribe" mpirun_args.log 2>/dev/null)" = $want ]; then
        ok "local.sh: $over ranks, FCNET_MPIRUN_ARGS='$hosts': --oversubscribe $([ $want = 1 ] && echo added || echo not added)"
    else
        not_ok "local.sh $over ranks with '$hosts': $(cat mpirun_args.log 2>/dev/null)"
    fi
done

# No FCNET_RANKS and a host list: Open MPI's mpirun gets no -n and starts one rank per slot of the list (before:
# -n this machine's cores, on the first hosts); another mpirun (a stand-in saying HYDRA) keeps -n the cores.
mkdir fakehydra
sed 's/mpirun (Open MPI) 4.1.4/HYDRA build details:/' fakempi/mpirun >fakehydra/mpirun
chmod +x fakehydra/mpirun
for hosts in "--hostfile h" "--host a,b" "-H a" "--machinefile h"; do
    for mpi in fakempi fakehydra; do
        rm -f mpirun_args.log
        (unset FCNET_RANKS && PATH=$work/$mpi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log FCNET_MPIRUN_ARGS="$hosts" \
            FCNET_BUILD_DIR=$work/fake "$root/launch/local.sh" train --data d.h5 >/dev/null 2>&1)
        if [ $mpi = fakempi ] && [ -s mpirun_args.log ] && ! grep -qE -- "(^| )-n " mpirun_args.log; then
            ok "local.sh: no FCNET_RANKS, FCNET_MPIRUN_ARGS='$hosts', Open MPI: no -n (one rank per slot of the list)"
        elif [ $mpi = fakehydra ] && grep -q -- "^-n $cores " mpirun_args.log; then
            ok "local.sh: no FCNET_RANKS, FCNET_MPIRUN_ARGS='$hosts', another mpirun: -n $cores (the cores)"
        else
            not_ok "local.sh no FCNET_RANKS with '$hosts' ($mpi): $(cat mpirun_args.log 2>/dev/null)"
        fi
    done
done

# Exactly one rank per CPU fits this machine: no --oversubscribe.
rm -f mpirun_args.log
(PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log FCNET_RANKS=$cpus FCNET_BUILD_DIR=$work/fake \
    "$root/launch/local.sh" train --data d.h5 >/dev/null 2>&1)
if grep -q -- "-n $cpus " mpirun_args.log && ! grep -q -- "--oversubscribe" mpirun_args.log; then
    ok "local.sh: FCNET_RANKS=$cpus (the CPUs): -n $cpus without --oversubscribe"
else
    not_ok "local.sh FCNET_RANKS=$cpus: $(cat mpirun_args.log 2>/dev/null)"
fi
# The local limit is 16 ranks per CPU: 16 x CPUs start, one more is refused (exit 2, naming FCNET_RANKS);
# with a host list (FCNET_MPIRUN_ARGS) the count is the hosts' business and that many start.
# lim_run RANKS MPIRUN_ARGS: local.sh against the stand-in mpirun; its exit status.
lim_run() {
    rm -f mpirun_args.log
    PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log FCNET_RANKS=$1 FCNET_MPIRUN_ARGS=$2 \
        FCNET_BUILD_DIR=$work/fake timeout 20 "$root/launch/local.sh" train --data d.h5 >lim.out 2>lim.err
}
lim_run $((16 * cpus)) ""
rc=$?
if [ $rc = 0 ] && grep -q -- "-n $((16 * cpus)) " mpirun_args.log; then
    ok "local.sh: FCNET_RANKS=$((16 * cpus)) (16 per CPU) starts"
else
    not_ok "local.sh FCNET_RANKS=$((16 * cpus)): exit $rc: $(cat lim.err mpirun_args.log 2>/dev/null | head -2)"
fi
lim_run $((16 * cpus + 1)) ""
rc=$?
if [ $rc = 2 ] && [ "$(wc -l <lim.err)" = 1 ] && grep -q "FCNET_RANKS=$((16 * cpus + 1))" lim.err && [ ! -e mpirun_args.log ]; then
    ok "local.sh: FCNET_RANKS=$((16 * cpus + 1)) (over 16 per CPU) refused: exit 2, mpirun not started"
else
    not_ok "local.sh FCNET_RANKS=$((16 * cpus + 1)): exit $rc: $(head -2 lim.err)"
fi
lim_run $((16 * cpus + 1)) "--hostfile h"
rc=$?
if [ $rc = 0 ] && grep -q -- "-n $((16 * cpus + 1)) .*--hostfile h" mpirun_args.log; then
    ok "local.sh: FCNET_RANKS=$((16 * cpus + 1)) with --hostfile h starts that many"
else
    not_ok "local.sh FCNET_RANKS=$((16 * cpus + 1)) with --hostfile: exit $rc: $(cat lim.err mpirun_args.log 2>/dev/null | head -2)"
fi
# Open MPI refuses root without both OMPI_ALLOW_RUN_AS_ROOT variables: local.sh sets them as root (only).
rm -f mpirun_args.log.env
(unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM && PATH=$work/fakempi:$PATH \
    FAKE_MPIRUN_LOG=$work/mpirun_args.log FCNET_RANKS=2 FCNET_BUILD_DIR=$work/fake \
    "$root/launch/local.sh" train --data d.h5 >/dev/null 2>&1)
want="unset unset"
[ "$(id -u)" = 0 ] && want="1 1"
if [ "$(cat mpirun_args.log.env 2>/dev/null)" = "$want" ]; then
    ok "local.sh: user $(id -u), OMPI_ALLOW_RUN_AS_ROOT* unset: mpirun gets '$want'"
else
    not_ok "local.sh root variables: want '$want', got '$(cat mpirun_args.log.env 2>/dev/null)'"
fi

# Nonsense rank or thread counts: one line naming the variable, exit 2, mpirun never started (it took 0 as
# "all slots", failed silently on -1 and abc, and hung starting 100000 ranks).
for bad in FCNET_RANKS=0 FCNET_RANKS=-1 FCNET_RANKS=abc FCNET_RANKS=100000 OPENBLAS_NUM_THREADS=abc; do
    rm -f mpirun_args.log
    (export "${bad?}" && PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log FCNET_BUILD_DIR=$work/fake \
        timeout 20 "$root/launch/local.sh" train --data d.h5 >bad.out 2>bad.err)
    rc=$?
    if [ $rc = 2 ] && [ "$(wc -l <bad.err)" = 1 ] && grep -q "${bad%%=*}" bad.err && [ ! -e mpirun_args.log ]; then
        ok "local.sh: $bad refused: $(cat bad.err)"
    else
        not_ok "local.sh $bad: exit $rc, mpirun $([ -e mpirun_args.log ] && echo started || echo not started): $(head -2 bad.err)"
    fi
done

# mpirun -q hides mpirun's own failures (exit 1 and not a word): local.sh starts the program with --version
# first, without -q, and ends with exit 2 and mpirun's words; slurm.sbatch asks the same after a failed launch.
# (The tests' environment lets every mpirun oversubscribe: not these.)
printf 'localhost slots=1\n' >hosts1
for hosts in hosts1 nohosts; do
    env -u OMPI_MCA_rmaps_base_oversubscribe FCNET_RANKS=2 FCNET_MPIRUN_ARGS="--hostfile $work/$hosts" \
        FCNET_BUILD_DIR=$(dirname "$dist") timeout 60 "$root/launch/local.sh" --data d.h5 --out started >start.out 2>start.err
    rc=$?
    why="not enough slots"
    [ $hosts = nohosts ] && why="unable to open the hostfile"
    if [ $rc = 2 ] && head -1 start.err | grep -q "^local.sh: mpirun could not start 2 rank(s) of " &&
        grep -q "$why" start.err && [ ! -e started ]; then
        ok "local.sh: mpirun unable to start the ranks ($why): exit 2, mpirun's reason shown, nothing started"
    else
        not_ok "local.sh with --hostfile $hosts: exit $rc: $(head -3 start.err)"
    fi
done
# mpirun silent even without local.sh's -q (here: -q given again in FCNET_MPIRUN_ARGS): still exit 2, and
# the line says mpirun said nothing.
env -u OMPI_MCA_rmaps_base_oversubscribe FCNET_RANKS=2 FCNET_MPIRUN_ARGS="-q --hostfile $work/hosts1" \
    FCNET_BUILD_DIR=$(dirname "$dist") timeout 60 "$root/launch/local.sh" --data d.h5 --out started >start.out 2>start.err
rc=$?
if [ $rc = 2 ] && grep -q "^local.sh: mpirun could not start 2 rank(s)" start.err &&
    grep -q "(mpirun said nothing)" start.err && [ ! -e started ]; then
    ok "local.sh: mpirun failing without a word: exit 2, and the line says so"
else
    not_ok "local.sh with a silent mpirun: exit $rc: $(head -3 start.err)"
fi
env -u OMPI_MCA_rmaps_base_oversubscribe FCNET_DIST=$dist FCNET_MPIRUN_ARGS="-n 2 --hostfile $work/hosts1" \
    timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out started >start.out 2>&1
rc=$?
if [ $rc != 0 ] && grep -q "mpirun could not start the ranks (exit $rc" start.out && grep -q "not enough slots" start.out &&
    ! grep -q "fcnet_dist failed" start.out; then
    ok "slurm.sbatch: mpirun unable to start the ranks: exit $rc, mpirun's reason shown"
else
    not_ok "slurm.sbatch with too few slots: exit $rc: $(grep -v '^ ' start.out | tail -2)"
fi

# ---- slurm.sbatch's BLAS threads (the Slurm tests set OPENBLAS_NUM_THREADS themselves) ----
# sbatch_run NAME: slurm.sbatch run as a plain script (no SLURM_JOB_ID) with the stand-in ranks; mpirun
# without -n starts one rank per core here. The ranks' distinct lines, without the size, in NAME.log.
sbatch_run() {
    FAKE_LOG=$work/$1.raw FCNET_DIST=$work/fake/fcnet_dist timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out o \
        >"$1.out" 2>&1 || { not_ok "$1: slurm.sbatch exited $?: $(head -3 "$1.out")"; return 1; }
    sort -u "$1.raw" | sed 's/^size=[0-9]* //' >"$1.log"
}
if (unset OPENBLAS_NUM_THREADS SLURM_CPUS_PER_TASK && sbatch_run sb_default) && [ "$(cat sb_default.log)" = "blas=1 args=--data d.h5 --out o" ]; then
    ok "slurm.sbatch: one BLAS thread per rank when neither OPENBLAS_NUM_THREADS nor --cpus-per-task is given"
else
    not_ok "slurm.sbatch default threads: $(head -3 sb_default.log 2>/dev/null)"
fi
if (unset OPENBLAS_NUM_THREADS && SLURM_CPUS_PER_TASK=3 sbatch_run sb_cpt) && [ "$(cat sb_cpt.log)" = "blas=3 args=--data d.h5 --out o" ]; then
    ok "slurm.sbatch: SLURM_CPUS_PER_TASK=3 gives each rank 3 BLAS threads"
else
    not_ok "slurm.sbatch --cpus-per-task: $(head -3 sb_cpt.log 2>/dev/null)"
fi
if (OPENBLAS_NUM_THREADS=2 SLURM_CPUS_PER_TASK=3 sbatch_run sb_set) && [ "$(cat sb_set.log)" = "blas=2 args=--data d.h5 --out o" ]; then
    ok "slurm.sbatch: an OPENBLAS_NUM_THREADS of the submitting shell wins"
else
    not_ok "slurm.sbatch OPENBLAS_NUM_THREADS=2: $(head -3 sb_set.log 2>/dev/null)"
fi
# --cpus-per-task 2 with mpirun: each rank may run on more than one core (mpirun --bind-to none; Open MPI binds
# each of 1-2 ranks to one core by default), also with a --map-by that says nothing about cores (node,
# ppr:1:node: before, any --map-by kept the default binding); a --map-by ...:PE=2 binds the ranks itself.
# A stand-in program reports its CPUs. Needs 2 CPUs.
cat >fake/cpus_dist <<'EOF2'
#!/bin/sh
echo "cpus=$(nproc) blas=$OPENBLAS_NUM_THREADS" >>"$FAKE_LOG"
EOF2
chmod +x fake/cpus_dist
if [ "$(nproc)" -ge 2 ]; then
    for map in "" "--map-by node" "--map-by ppr:1:node"; do
        rm -f "$work/sb_bind.raw"
        if (unset OPENBLAS_NUM_THREADS && FAKE_LOG=$work/sb_bind.raw FCNET_DIST=$work/fake/cpus_dist SLURM_CPUS_PER_TASK=2 \
            FCNET_MPIRUN_ARGS="-n 1 $map" timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out o >sb_bind.out 2>&1) &&
            [ "$(cat sb_bind.raw)" = "cpus=$(nproc) blas=2" ]; then
            ok "slurm.sbatch: SLURM_CPUS_PER_TASK=2${map:+ and $map}: the rank runs on every CPU, 2 BLAS threads"
        else
            not_ok "slurm.sbatch SLURM_CPUS_PER_TASK=2${map:+ and $map}: $(cat sb_bind.raw 2>/dev/null) (want cpus=$(nproc) blas=2): $(grep -v '^ ' sb_bind.out | tail -1)"
        fi
    done
    rm -f "$work/sb_bind.raw"
    if (unset OPENBLAS_NUM_THREADS && FAKE_LOG=$work/sb_bind.raw FCNET_DIST=$work/fake/cpus_dist SLURM_CPUS_PER_TASK=2 \
        FCNET_MPIRUN_ARGS="-n 1 --map-by slot:PE=2" timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out o \
        >sb_bind.out 2>&1) && [ "$(cat sb_bind.raw)" = "cpus=2 blas=2" ] && ! grep -q -- "--bind-to none" sb_bind.out; then
        ok "slurm.sbatch: SLURM_CPUS_PER_TASK=2 and --map-by slot:PE=2: the user's binding kept (no --bind-to none)"
    else
        not_ok "slurm.sbatch SLURM_CPUS_PER_TASK=2 and --map-by slot:PE=2: $(cat sb_bind.raw 2>/dev/null): $(grep -v '^ ' sb_bind.out | tail -1)"
    fi
else
    echo "# slurm.sbatch's binding with --cpus-per-task 2 not checked: one CPU here"
fi
# FCNET_LAUNCHER=srun: srun of Slurm 22.05-23.02 does not read SLURM_CPUS_PER_TASK, so the script passes
# --cpus-per-task itself (before: each task one CPU for its 3 BLAS threads). A stand-in srun records its options.
mkdir fakesrun
cat >fakesrun/srun <<'EOF2'
#!/bin/bash
echo "$*" >"$FAKE_SRUN_LOG"
while [ "${1#-}" != "$1" ]; do shift; done
exec "$@"
EOF2
chmod +x fakesrun/srun
if (unset OPENBLAS_NUM_THREADS && PATH=$work/fakesrun:$PATH FAKE_SRUN_LOG=$work/srun.args FCNET_LAUNCHER=srun \
    SLURM_CPUS_PER_TASK=3 sbatch_run sb_srun) && [ "$(cat sb_srun.log)" = "blas=3 args=--data d.h5 --out o" ] &&
    grep -q -- "^--mpi=pmix --cpus-per-task=3 " srun.args; then
    ok "slurm.sbatch with srun: SLURM_CPUS_PER_TASK=3 gives srun --cpus-per-task=3 and each rank 3 BLAS threads"
else
    not_ok "slurm.sbatch srun --cpus-per-task: srun $(cut -c1-60 srun.args 2>/dev/null); ranks: $(head -2 sb_srun.log 2>/dev/null)"
fi

# slurm.sbatch's mpirun arguments (the stand-in mpirun records them): -x for every OPENBLAS_* setting (ranks on
# other nodes get no environment otherwise), and --bind-to none exactly when -c is above 1 and FCNET_MPIRUN_ARGS
# does not bind the ranks itself (--bind-to=..., --cpus-per-rank or a --map-by with PE= win; a --map-by without
# PE= says nothing about cores).
for c in "-|-|0" "1|-|0" "3|-|1" "3|--map-by core|1" "3|--map-by slot:PE=3|0" "3|--bind-to=core|0" \
    "3|-n 2 --cpus-per-rank 3|0" "3|-n 2|1"; do
    IFS='|' read -r cpt margs want <<<"$c"
    rm -f mpirun_args.log
    # shellcheck disable=SC2030,SC2031 # each case sets the variable in its own subshell, on purpose
    (unset OPENBLAS_NUM_THREADS SLURM_CPUS_PER_TASK FCNET_MPIRUN_ARGS && { [ "$cpt" = - ] || export SLURM_CPUS_PER_TASK=$cpt; } &&
        { [ "$margs" = - ] || export FCNET_MPIRUN_ARGS=$margs; } && PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log \
        OPENBLAS_CORETYPE=Haswell FCNET_DIST=$work/fake/fcnet_dist timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out o \
        >sbargs.out 2>&1)
    rc=$?
    if [ $rc = 0 ] && grep -q -- "-x OPENBLAS_NUM_THREADS" mpirun_args.log && grep -q -- "-x OPENBLAS_CORETYPE" mpirun_args.log &&
        [ "$(grep -c -- "--bind-to none" mpirun_args.log)" = "$want" ]; then
        ok "slurm.sbatch: SLURM_CPUS_PER_TASK=$cpt, FCNET_MPIRUN_ARGS='$margs': -x OPENBLAS_*, --bind-to none $([ "$want" = 1 ] && echo added || echo not added)"
    else
        not_ok "slurm.sbatch mpirun arguments with SLURM_CPUS_PER_TASK=$cpt, FCNET_MPIRUN_ARGS='$margs' (exit $rc): $(cat mpirun_args.log 2>/dev/null)"
    fi
done
# srun: a -c/--cpus-per-task of FCNET_SRUN_ARGS wins, and without -c above 1 none is added.
for c in "3|--cpus-per-task=2|--cpus-per-task=2" "3|-c2|-c2" "-||" "1||"; do
    IFS='|' read -r cpt sargs want <<<"$c"
    rm -f srun.args
    # shellcheck disable=SC2030,SC2031 # each case sets the variable in its own subshell, on purpose
    (unset OPENBLAS_NUM_THREADS SLURM_CPUS_PER_TASK && { [ "$cpt" = - ] || export SLURM_CPUS_PER_TASK=$cpt; } &&
        PATH=$work/fakesrun:$PATH FAKE_SRUN_LOG=$work/srun.args FCNET_LAUNCHER=srun FCNET_SRUN_ARGS=$sargs \
        FAKE_LOG=$work/srunc.raw FCNET_DIST=$work/fake/fcnet_dist timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out o \
        >srunc.out 2>&1)
    rc=$?
    if [ $rc = 0 ] && [ "$(grep -o -- ' \(-c\|--cpus-per-task\)[=0-9][0-9]*' srun.args | tr -d ' ')" = "$want" ]; then
        ok "slurm.sbatch with srun: SLURM_CPUS_PER_TASK=$cpt, FCNET_SRUN_ARGS='$sargs': srun gets '${want:-no -c}'"
    else
        not_ok "slurm.sbatch srun with SLURM_CPUS_PER_TASK=$cpt, FCNET_SRUN_ARGS='$sargs' (exit $rc): srun $(cat srun.args 2>/dev/null) $(tail -1 srunc.out)"
    fi
done
# ---- pbs.sh ----
"$synth" --out d.h5 --train 200 --val 40 --features 6 --classes 3 --seed 2 >/dev/null || exit 1
# pbs NAME ARGS: pbs.sh as a batch system would run it, two ranks, the real fcnet_dist, into $work/${RUN:-run}.
pbs() {
    PBS_O_WORKDIR=$work FCNET_OUT=$work/${RUN:-run} FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") \
        FCNET_ARGS=$2 timeout 120 bash "$root/launch/pbs.sh" >"$1.out" 2>&1
}
if pbs first "--hidden 8 --batch-size 20 --epochs 1" && [ "$("$h5cmp" --get run/checkpoint.h5 /@step)" = 10 ] &&
    grep -q 'fcnet_dist --data .*/d.h5 --out .*/run --hidden 8' first.out &&
    grep -q "pbs.sh: not in a PBS job (no PBS_JOBID): no walltime, no stop before it" first.out; then
    ok "pbs.sh: a fresh run trains into FCNET_OUT (10 steps), saying it has no walltime outside a PBS job"
else
    not_ok "pbs.sh first run: $(tail -3 first.out)"
fi
# Resubmitted with more epochs: resumes with FCNET_ARGS passed again (the model options equal the checkpoint's).
if pbs second "--hidden 8 --batch-size 20 --epochs 2" && grep -q "pbs.sh: resuming from $work/run/checkpoint.h5" second.out &&
    grep -qE 'fcnet_dist --resume .*/run/checkpoint.h5 --data .*/d.h5 --out .*/run --hidden 8 --batch-size 20 --epochs 2$' second.out &&
    [ "$("$h5cmp" --get run/checkpoint.h5 /@step)" = 20 ]; then
    ok "pbs.sh: run again, it resumes from FCNET_OUT's checkpoint and trains to --epochs 2 (20 steps)"
else
    not_ok "pbs.sh second run: $(grep 'pbs.sh' second.out | head -3) / $(tail -2 second.out)"
fi
# Every run-control option reaches the resumed run, in both spellings and as a flag: --max-steps=8 (of this
# run: 12 -> 20), --epochs=20, --keep-last 2 (numbered copies at 15 and 20 replace the first run's 10 and 12),
# --profile. The first run already used --max-steps=12.
copies() { (cd "$1" && shopt -s nullglob && echo checkpoint-step*.h5); }
if RUN=ctl pbs ctl1 "--hidden 8 --batch-size 20 --epochs 3 --keep-last 2 --checkpoint-every 5 --max-steps=12" &&
    [ "$("$h5cmp" --get ctl/checkpoint.h5 /@step)" = 12 ] && [ "$(copies ctl)" = "checkpoint-step10.h5 checkpoint-step12.h5" ]; then
    ok "pbs.sh: --max-steps=12 stops the first run at step 12, --keep-last 2 keeps 2 numbered copies"
else
    not_ok "pbs.sh run-control first run: step $("$h5cmp" --get ctl/checkpoint.h5 /@step 2>/dev/null), copies '$(copies ctl)': $(tail -2 ctl1.out)"
fi
if RUN=ctl pbs ctl2 "--hidden 8 --batch-size 20 --epochs=20 --max-steps=8 --keep-last 2 --checkpoint-every 5 --profile" &&
    grep -q "pbs.sh: resuming from $work/ctl/checkpoint.h5" ctl2.out && grep -q "stopped after --max-steps 8 at step 20 (" ctl2.out &&
    grep -q "(epoch 2 / 20)" ctl2.out && [ "$("$h5cmp" --get ctl/checkpoint.h5 /@step)" = 20 ] &&
    [ "$(copies ctl)" = "checkpoint-step15.h5 checkpoint-step20.h5" ] && grep -q "^profile over 8 steps" ctl2.out; then
    ok "pbs.sh: the resume keeps --max-steps=8 (step 20), --epochs=20, --keep-last 2 (copies 15, 20) and --profile"
else
    not_ok "pbs.sh run-control resume: step $("$h5cmp" --get ctl/checkpoint.h5 /@step 2>/dev/null), copies '$(copies ctl)': $(grep -E 'pbs.sh|stopped|profile' ctl2.out | head -4)"
fi
# A model option that differs from the checkpoint's is refused by name (exit 2), not silently ignored.
RUN=ctl pbs ctl3 "--hidden 9 --batch-size 20 --epochs 20"
rc=$?
if [ "$rc" = 2 ] && grep -q -- "--hidden: 9 given but the checkpoint .*/ctl/checkpoint.h5 has 8" ctl3.out &&
    [ "$("$h5cmp" --get ctl/checkpoint.h5 /@step)" = 20 ]; then
    ok "pbs.sh: a resume with another --hidden is refused by name (exit 2), the checkpoint untouched"
else
    not_ok "pbs.sh resume with another --hidden (exit $rc): $(grep -E 'pbs.sh|rror' ctl3.out | head -3)"
fi

# The walltime margin and qdel, with a stand-in qstat; the real fcnet_dist would train far longer than the
# test waits. pbs_stop NAME: pbs.sh in the background on a fresh FCNET_OUT (PBS_JOBID set: it asks qstat).
mkdir bin
cat >bin/qstat <<'EOF'
#!/bin/sh
[ -n "$FAKE_WALLTIME" ] || exit 1
printf 'Job Id: %s\n    Resource_List.walltime = 00:00:%02d\n' "$2" "$FAKE_WALLTIME"
EOF
chmod +x bin/qstat
pbs_stop() {
    PATH=$work/bin:$PATH PBS_JOBID=1.test PBS_O_WORKDIR=$work FCNET_OUT=$work/$1 FCNET_DATA=$work/d.h5 FCNET_RANKS=2 \
        FCNET_BUILD_DIR=$(dirname "$dist") FCNET_STOP_MARGIN=4 FCNET_ARGS="--hidden 8 --batch-size 20 --epochs ${EPOCHS:-100000}" \
        timeout 120 bash "$root/launch/pbs.sh" >"$1.out" 2>&1
}
# stopped NAME RC: exit 0, a checkpoint that is not finished, written at the step the ranks stopped on.
stopped() {
    local step
    step=$("$h5cmp" --get "$1/checkpoint.h5" /@step 2>/dev/null)
    [ "$2" = 0 ] && [ "$("$h5cmp" --get "$1/checkpoint.h5" /@finished 2>/dev/null)" = 0 ] && [ "${step:-0}" -gt 10 ] &&
        grep -q "stopped on signal at step $step " "$1.out"
}
# Walltime 12 s, margin 4 s: the timer signals the ranks after 8 s (no timer unless walltime > 2 x margin).
start=$(now)
FAKE_WALLTIME=12 pbs_stop wall
rc=$?
took=$(elapsed "$start")
if stopped wall "$rc" && grep -q "pbs.sh: 4 s of walltime left" wall.out && awk -v t="$took" 'BEGIN { exit !(t >= 7 && t < 30) }'; then
    ok "pbs.sh: walltime 12 s (qstat), margin 4 s: the ranks checkpoint and stop, exit 0 after ${took} s"
else
    not_ok "pbs.sh walltime (exit $rc after ${took} s): $(grep -E 'pbs.sh|stopped|rror' wall.out | head -4)"
fi
# term_when_training JOB DIR SCRIPT: once DIR/checkpoint.h5 exists (training is under way), SIGTERM to the
# job script launch/SCRIPT as a batch system sends it (or $STOP_WITH); returns the background job JOB's exit status.
term_when_training() {
    for _ in $(seq 300); do [ -f "$2/checkpoint.h5" ] && break; sleep 0.1; done
    sleep 0.5
    pkill -"${STOP_WITH:-TERM}" -f "^bash $root/launch/$3"
    wait "$1"
}
# qdel sends the job script SIGTERM; the walltime (8 s, not over 2 x 4 s) is too short for a timer.
FAKE_WALLTIME=8 pbs_stop qdel &
term_when_training $! qdel pbs.sh
rc=$?
if stopped qdel "$rc" && grep -q "pbs.sh: SIGTERM: asking the ranks" qdel.out && grep -q "is not over twice" qdel.out && ! grep -q "walltime left" qdel.out; then
    ok "pbs.sh: SIGTERM (qdel) makes the ranks checkpoint and stop, exit 0"
else
    not_ok "pbs.sh qdel (exit $rc): $(grep -E 'pbs.sh|stopped|rror' qdel.out | head -4)"
fi
# qsig -s USR1 (the job script's own stop request) works the same way.
FAKE_WALLTIME=8 pbs_stop qsig &
STOP_WITH=USR1 term_when_training $! qsig pbs.sh
rc=$?
if stopped qsig "$rc" && grep -q "pbs.sh: SIGUSR1: asking the ranks" qsig.out; then
    ok "pbs.sh: SIGUSR1 (qsig -s USR1) makes the ranks checkpoint and stop, exit 0"
else
    not_ok "pbs.sh SIGUSR1 (exit $rc): $(grep -E 'pbs.sh|stopped|rror' qsig.out | head -4)"
fi
# An array job's subjob without FCNET_OUT trains into a run of its own, runs/pbs-<job name>-<index> (they all share
# the job name: the second would resume the first's run). In a copy of launch/ as its checkout, not to write here.
mkdir -p arrco && cp -r "$root/launch" arrco/ || exit 1
for index_var in PBS_ARRAY_INDEX PBS_ARRAYID; do
    if env "$index_var=3" PBS_JOBNAME=arr PBS_O_WORKDIR=$work FCNET_DATA=$work/d.h5 FCNET_RANKS=2 \
        FCNET_BUILD_DIR=$(dirname "$dist") FCNET_ARGS="--hidden 8 --batch-size 20 --epochs 1" \
        timeout 120 bash arrco/launch/pbs.sh >"arr_$index_var.out" 2>&1 &&
        [ -f arrco/runs/pbs-arr-3/checkpoint.h5 ]; then
        ok "pbs.sh: an array subjob ($index_var=3) without FCNET_OUT trains into runs/pbs-arr-3"
    else
        not_ok "pbs.sh array subjob ($index_var): $(ls arrco/runs 2>&1 | tr '\n' ' '); $(tail -2 "arr_$index_var.out")"
    fi
    rm -rf arrco/runs
done
# In a job whose node has no qstat: said so, no timer.
if ! command -v qstat >/dev/null; then
    if PBS_JOBID=7.srv RUN=noqstatpath pbs noqstatpath "--hidden 8 --batch-size 20 --epochs 1" &&
        grep -q "pbs.sh: walltime unknown (no qstat on this node's PATH); no stop before it, only on qdel" \
            noqstatpath.out; then
        ok "pbs.sh: without qstat on PATH it says the walltime is unknown, and the run trains to its end"
    else
        not_ok "pbs.sh without qstat on PATH: $(grep -E 'pbs.sh|rror' noqstatpath.out | head -4)"
    fi
fi
# No walltime to be had (qstat fails): the job trains to its end as it would without the timer.
FAKE_WALLTIME="" EPOCHS=2 pbs_stop noqstat
rc=$?
if [ "$rc" = 0 ] && [ "$("$h5cmp" --get noqstat/checkpoint.h5 /@finished 2>/dev/null)" = 1 ] &&
    grep -q "pbs.sh: walltime unknown" noqstat.out; then
    ok "pbs.sh: qstat failing leaves no timer, and the run trains to its end (exit 0)"
else
    not_ok "pbs.sh without qstat's walltime (exit $rc): $(grep -E 'pbs.sh|rror' noqstat.out | head -4)"
fi
# ---- slurm.sbatch outside Slurm, with the real fcnet_dist ----
# sbatch_real NAME ARGS...: slurm.sbatch as a plain script, two ranks.
sbatch_real() {
    local name=$1
    shift
    FCNET_DIST=$dist FCNET_MPIRUN_ARGS="-n 2 --oversubscribe --bind-to none" timeout 120 \
        bash "$root/launch/slurm.sbatch" "$@" >"$name.out" 2>&1
}
# A preemption's SIGTERM to the script reaches mpirun as SIGUSR1 (SIGTERM would make mpirun abort, exit 1):
# the ranks checkpoint and the script reports a stop, exit 0.
sbatch_real sbterm --data d.h5 --hidden 8 --batch-size 20 --epochs 100000 --out sbterm &
term_when_training $! sbterm slurm.sbatch
rc=$?
if stopped sbterm "$rc" && grep -q "received SIGTERM; forwarding it to PID [0-9]* as SIGUSR1" sbterm.out &&
    grep -q "stopped (exit 0) outside Slurm" sbterm.out; then
    ok "slurm.sbatch: SIGTERM reaches mpirun as SIGUSR1: the ranks checkpoint and stop, exit 0"
else
    not_ok "slurm.sbatch SIGTERM (exit $rc): $(grep -E 'slurm.sbatch|stopped|rror' sbterm.out | head -4)"
fi
# A requeued job finds its --out in the --config file as fcnet_dist reads it: a ';' comment after the
# value, 'name: value', a quoted value.
printf 'hidden = 8\nbatch_size = 20\nepochs = 2\nout = "ini out" ; where the run goes\n[run]\nmax_steps: 5\n' >run.ini
if OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 60 mpirun -q -n 2 --oversubscribe --bind-to none \
    "$dist" train --config run.ini --data d.h5 >ini1.out 2>&1 && [ "$("$h5cmp" --get "ini out/checkpoint.h5" /@step)" = 5 ] &&
    SLURM_JOB_ID=77 SLURM_RESTART_COUNT=1 sbatch_real ini2 --config run.ini --data d.h5 --max-steps 0 &&
    grep -q "resuming from ini out/checkpoint.h5" ini2.out &&
    [ "$("$h5cmp" --get "ini out/checkpoint.h5" /@finished)" = 1 ]; then
    ok "slurm.sbatch: a restart finds --out in the --config file as fcnet_dist reads it, and resumes there"
else
    not_ok "slurm.sbatch restart with an INI's out: $(grep -hE 'slurm.sbatch|rror' ini1.out ini2.out | head -4)"
fi
# A restart that finds a finished checkpoint: done, unless the job was given --overwrite (here in the INI
# file): the checkpoint may be the replaced run's, so fcnet_dist is asked, and refuses the other --hidden.
# --overwrite=false on the command line is no overwrite.
printf 'hidden = 9\nbatch_size = 20\nepochs = 2\nout = ini out\noverwrite = true\n' >over.ini
SLURM_JOB_ID=78 SLURM_RESTART_COUNT=1 sbatch_real ow1 --config over.ini --data d.h5
rc=$?
SLURM_JOB_ID=79 SLURM_RESTART_COUNT=1 sbatch_real ow2 --config run.ini --data d.h5 --overwrite=false
rc2=$?
if [ "$rc" = 2 ] && ! grep -q "nothing to do" ow1.out && grep -q -- "--hidden: 9 given" ow1.out &&
    [ "$rc2" = 0 ] && grep -q "is already finished; nothing to do" ow2.out; then
    ok "slurm.sbatch: a restart with --overwrite (from the INI) asks fcnet_dist; --overwrite=false is none"
else
    not_ok "slurm.sbatch restart and --overwrite (exit $rc, $rc2): $(grep -hE 'slurm.sbatch|rror' ow1.out ow2.out | head -4)"
fi
# init_from in the --config file: the first start takes the weights from it; the restart's --resume (added by
# the script) continues the run instead of being refused for combining the two.
printf 'hidden = 8\nbatch_size = 20\nepochs = 2\ninit_from = ini out/checkpoint.h5\nout = ifr\n' >if.ini
SLURM_JOB_ID=80 SLURM_RESTART_COUNT=0 sbatch_real if0 --config if.ini --data d.h5 --max-steps 3
rc=$?
SLURM_JOB_ID=80 SLURM_RESTART_COUNT=1 sbatch_real if1 --config if.ini --data d.h5
rc2=$?
if [ "$rc" = 0 ] && [ "$rc2" = 0 ] && grep -q "resuming from ifr/checkpoint.h5" if1.out &&
    [ "$("$h5cmp" --get ifr/checkpoint.h5 /@finished)" = 1 ]; then
    ok "slurm.sbatch: init_from in the INI file: the restart resumes the run (not refused)"
else
    not_ok "slurm.sbatch restart with an INI init_from (exit $rc, $rc2): $(grep -hE 'slurm.sbatch|rror' if0.out if1.out | head -4)"
fi
# A stop signal right at the start, before mpirun has started the ranks, is dropped by mpirun (here made
# certain by a stand-in mpirun that drops every USR1/TERM of its first second, then becomes the real one):
# the scripts repeat it until mpirun exits, so the job ends within seconds instead of training to the end
# (about 25 s here).
"$synth" --out long.h5 --train 60000 --features 200 --classes 5 --seed 3 >/dev/null || exit 1
mkdir slowmpi
# shellcheck disable=SC2016 # the stand-in script's own variables
# (mpirun --version and local.sh's start-up check, which ends with --version, go straight through.)
printf '#!/bin/bash\n[ "$1" = --version ] || [ "${!#}" = --version ] && exec %s "$@"\ntrap true USR1 TERM\nsleep 1\ntrap - USR1 TERM\nexec %s "$@"\n' \
    "$(command -v mpirun)" "$(command -v mpirun)" >slowmpi/mpirun
chmod +x slowmpi/mpirun
for script in slurm.sbatch pbs.sh; do
    rm -rf early
    start=$(date +%s)
    if [ $script = slurm.sbatch ]; then
        PATH=$work/slowmpi:$PATH FCNET_DIST=$dist FCNET_MPIRUN_ARGS="-n 2 --oversubscribe --bind-to none" timeout 120 \
            bash "$root/launch/slurm.sbatch" --data long.h5 --hidden 512,512 --epochs 20 --out early >early.out 2>&1 &
    else
        PATH=$work/slowmpi:$PATH PBS_O_WORKDIR=$work FCNET_OUT=$work/early FCNET_DATA=$work/long.h5 FCNET_RANKS=2 \
            FCNET_BUILD_DIR=$(dirname "$dist") FCNET_ARGS="--hidden 512,512 --epochs 20" timeout 120 \
            bash "$root/launch/pbs.sh" >early.out 2>&1 &
    fi
    job=$!
    sleep 0.3
    pkill -TERM -f "^bash $root/launch/$script"
    wait $job
    rc=$?
    took=$(($(date +%s) - start))
    step=$("$h5cmp" --get early/checkpoint.h5 /@step 2>/dev/null || echo none)
    # 0: stopped with a checkpoint; 138 (slurm.sbatch): a rank still starting died of the repeat, before any
    # training (under Slurm the job is requeued).
    if [ "$took" -le 20 ] && { [ "$rc" = 0 ] || [ "$rc" = 138 ]; } && [ "$("$h5cmp" --get early/checkpoint.h5 /@finished 2>/dev/null)" != 1 ]; then
        ok "$script: SIGTERM while mpirun starts (and drops it) ends the job in $took s (exit $rc, checkpoint at step $step)"
    else
        not_ok "$script: SIGTERM at the start: exit $rc after $took s, step $step: $(grep -aE 'stopped|rror' early.out | head -3)"
    fi
done
# A stop signal while local.sh checks that mpirun can start the ranks (a stand-in makes the check last 20 s):
# nothing has started, so local.sh ends at once (not after the check) with exit 0 and says so.
mkdir slowcheck
# shellcheck disable=SC2016 # the stand-in script's own variables
# (It records its PID, and its sleep's, to see that local.sh ends the check and what it leaves.)
printf '#!/bin/bash\nif [ "$1" != --version ] && [ "${!#}" = --version ]; then\n    echo $$ >%s/check.pid\n    sleep 20 &\n    echo $! >%s/check_sleep.pid\n    wait\nfi\nexec %s "$@"\n' \
    "$work" "$work" "$(command -v mpirun)" >slowcheck/mpirun
chmod +x slowcheck/mpirun
# alive PID: a process that runs (a zombie waiting for its reaper does not).
alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ]
}
# SIGUSR1 (pbs.sh's stop) and SIGTERM (a preemption, a kill) alike.
for sig in USR1 TERM; do
    rm -rf early
    start=$(now)
    PATH=$work/slowcheck:$PATH FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") timeout 60 \
        "$root/launch/local.sh" --data long.h5 --out early >early.out 2>&1 &
    job=$!
    sleep 0.5
    pkill -"$sig" -f "^bash $root/launch/local.sh --data long.h5 --out early"
    wait $job
    rc=$?
    took=$(elapsed "$start")
    # The check's mpirun must not run on (mpirun would start the ranks' check after local.sh is gone).
    check_pid=$(cat check.pid 2>/dev/null)
    for _ in $(seq 20); do alive "${check_pid:-0}" || break; sleep 0.1; done
    check_left=no
    [ -n "$check_pid" ] && alive "$check_pid" && check_left=yes
    [ $check_left = yes ] && kill "$check_pid" 2>/dev/null
    check_sleep=$(cat check_sleep.pid 2>/dev/null)
    [ -n "$check_sleep" ] && alive "$check_sleep" && kill "$check_sleep" 2>/dev/null
    if [ $rc = 0 ] && grep -q "^local.sh: SIG$sig before the ranks started; nothing to save, not started" early.out &&
        [ ! -e early ] && awk -v t="$took" 'BEGIN { exit !(t < 10) }' && [ -n "$check_pid" ] && [ $check_left = no ]; then
        ok "local.sh: SIG$sig during its start-up check ends it in $took s (exit 0, nothing started, the check killed)"
    else
        not_ok "local.sh SIG$sig during the start-up check: exit $rc, check PID ${check_pid:-none} left running: $check_left: $(head -2 early.out)"
    fi
done
# ---- local.sh: a rank's death by a signal said in one line ----
# mpirun -q ends with 128+N and not a word when a rank dies of a signal fcnet_dist cannot catch (the OOM killer's
# SIGKILL). Each rank's small bash says so; a signal it got too (through mpirun, to the rank's process group) is no
# news and not said. run_long NAME: local.sh in the background ($job: its timeout), 2 real ranks training on
# long.h5 into $work/NAME (a checkpoint every 5 steps), until its first checkpoint; sets rank1, rank 1's PID.
run_long() {
    rm -rf "${work:?}/$1"
    FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") timeout 120 "$root/launch/local.sh" --data long.h5 --hidden 64 \
        --epochs 1000 --checkpoint-every 5 --out "$work/$1" >"$1.out" 2>"$1.err" &
    job=$!
    for _ in $(seq 300); do [ -f "$1/checkpoint.h5" ] && break; sleep 0.1; done
    rank1=""
    local p
    for p in $(pgrep -x fcnet_dist); do
        tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qx "$work/$1" &&
            tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && rank1=$p
    done
}
# Rank 1 killed with SIGKILL (as the OOM killer does) after a checkpoint: exit 137, that one line and nothing else
# on stderr (bash's own "Killed" line about its child is not shown), and the checkpoint it says is intact loads.
run_long k9
[ -n "$rank1" ] && kill -9 "$rank1"
wait $job
rc=$?
step=$("$h5cmp" --get k9/checkpoint.h5 /@step 2>/dev/null)
if [ -n "$rank1" ] && [ $rc = 137 ] && [ "$(grep -c . k9.err)" = 1 ] &&
    grep -qx "local.sh: rank 1 of fcnet_dist (on $HOSTNAME) died of signal 9 (SIGKILL: the kernel's OOM killer sends it when memory runs out, see dmesg there; so does kill -9); mpirun ends the job (exit 137); the last checkpoint in --out, if one was written, is intact" k9.err &&
    [ -n "$step" ]; then
    ok "local.sh: rank 1 killed with SIGKILL during training: exit 137, one line, the checkpoint (step $step) loads"
else
    not_ok "local.sh with rank 1 (PID ${rank1:-not found}) killed: exit $rc, checkpoint step '$step': $(head -3 k9.err)"
fi
# SIGSEGV to rank 1 (a crash): exit 139 and its line among Open MPI's backtrace.
run_long segv
[ -n "$rank1" ] && kill -SEGV "$rank1"
wait $job
rc=$?
if [ -n "$rank1" ] && [ $rc = 139 ] && [ "$(grep -c "^local.sh:" segv.err)" = 1 ] &&
    grep -qx "local.sh: rank 1 of fcnet_dist (on $HOSTNAME) died of signal 11 (SIGSEGV); mpirun ends the job (exit 139); the last checkpoint in --out, if one was written, is intact" segv.err; then
    ok "local.sh: rank 1 killed with SIGSEGV: exit 139, its one line"
else
    not_ok "local.sh with rank 1 (PID ${rank1:-not found}) sent SIGSEGV: exit $rc: $(grep -m2 "^local.sh" segv.err)"
fi
# SIGUSR2 to local.sh (mpirun): mpirun passes it on and the ranks die of it, exit 140 as before, and nothing is said
# (each rank's bash got it too). SIGUSR1 (the planned stop) and SIGTERM: the ranks checkpoint and stop as before,
# exit 0 (SIGTERM: mpirun ends the job, exit 1), and nothing is said either.
for sig in USR2 USR1 TERM; do
    run_long "st$sig"
    sleep 0.3
    kill -"$sig" "$(pgrep -P $job)" # (local.sh is the child of timeout, $job)
    wait $job
    rc=$?
    want=0
    [ $sig = TERM ] && want=1
    [ $sig = USR2 ] && want=140
    if [ $rc = $want ] && ! grep -q "^local.sh" "st$sig.err" && { [ $sig != USR1 ] || grep -q "stopped on signal at step" "st$sig.out"; }; then
        ok "local.sh: SIG$sig during training: exit $rc$([ $sig = USR1 ] && echo ", the ranks' checkpoint written"), no line of local.sh's"
    else
        not_ok "local.sh SIG$sig during training: exit $rc (want $want): $(head -3 "st$sig.err") $(grep -a stopped "st$sig.out")"
    fi
done
# Each rank's bash is non-interactive, so bash sources $BASH_ENV first: a cluster's module setup (Lmod exports
# BASH_ENV) ran once per rank, between mpirun and fcnet_dist, and whatever it printed landed in the training log.
# The rank's bash skips it (bash -p); fcnet_dist still gets BASH_ENV in its environment, as before the wrapper.
# (local.sh itself is a bash script, and sources it once like any other.)
cat >bash_env.sh <<'EOF'
echo "$0" >>"$BASH_ENV_LOG"
EOF
# shellcheck disable=SC2016 # the stand-in expands them
stand_in fakeenv 'echo "BASH_ENV=${BASH_ENV:-unset}" >>"$FAKE_LOG"'
: >bash_env.log
if FAKE_LOG=$work/benv.raw BASH_ENV=$work/bash_env.sh BASH_ENV_LOG=$work/bash_env.log FCNET_RANKS=2 \
    FCNET_BUILD_DIR=$work/fakeenv timeout 60 "$root/launch/local.sh" train >benv.out 2>&1 &&
    ! grep -q fcnet_dist_rank bash_env.log && [ "$(sort -u benv.raw)" = "BASH_ENV=$work/bash_env.sh" ] &&
    [ "$(grep -c . benv.raw)" = 2 ]; then
    ok "local.sh: the ranks' bash does not source \$BASH_ENV; fcnet_dist still has it in its environment"
else
    not_ok "local.sh with BASH_ENV set: sourced by $(grep -c fcnet_dist_rank bash_env.log) rank(s); the ranks saw: $(sort benv.raw | head -2 | tr '\n' ' ')$(head -2 benv.out)"
fi
# FCNET_RANK_WRAPPER=0: mpirun starts fcnet_dist itself (its parent is mpirun, not the small bash), for tools that
# take the ranks' PIDs from mpirun; by default the bash is its parent. Another value is refused before mpirun runs.
# shellcheck disable=SC2016 # the stand-in expands them
stand_in fakeparent 'ps -o comm= -p "$PPID" >>"$FAKE_LOG"'
for wrapper in 1 0; do
    : >"parent$wrapper.log"
    want=bash
    [ $wrapper = 0 ] && want=mpirun
    if FAKE_LOG=$work/parent$wrapper.log FCNET_RANK_WRAPPER=$wrapper FCNET_RANKS=2 FCNET_BUILD_DIR=$work/fakeparent \
        timeout 60 "$root/launch/local.sh" train >"parent$wrapper.out" 2>&1 &&
        [ "$(sort -u "parent$wrapper.log")" = $want ] && [ "$(grep -c . "parent$wrapper.log")" = 2 ]; then
        ok "local.sh FCNET_RANK_WRAPPER=$wrapper: each rank's parent is $want"
    else
        not_ok "local.sh FCNET_RANK_WRAPPER=$wrapper: the ranks' parents: $(sort "parent$wrapper.log" | tr '\n' ' ')$(head -2 "parent$wrapper.out")"
    fi
done
rc=0
FCNET_RANK_WRAPPER=yes FCNET_BUILD_DIR=$work/fakeparent "$root/launch/local.sh" train >wrapper_bad.out 2>&1 || rc=$?
if [ $rc = 2 ] && [ "$(cat wrapper_bad.out)" = "local.sh: FCNET_RANK_WRAPPER='yes': expected 0 or 1" ]; then
    ok "local.sh FCNET_RANK_WRAPPER=yes: refused, exit 2, one line"
else
    not_ok "local.sh FCNET_RANK_WRAPPER=yes: exit $rc: $(head -3 wrapper_bad.out)"
fi
# An --overwrite job whose ranks died of the stop signal before the first save (a stand-in mpirun that exits
# 138 as mpirun does then): the finished checkpoint in --out is the replaced run's, not this job's. It was
# read as this job's ("a rank was killed", not requeued); now the job counts as stopped (requeued under Slurm).
rm -rf early
FCNET_DIST=$dist FCNET_MPIRUN_ARGS="-n 2 --oversubscribe --bind-to none" timeout 120 \
    bash "$root/launch/slurm.sbatch" --data d.h5 --hidden 8 --batch-size 20 --epochs 1 --out early >done.out 2>&1
mkdir diedmpi
# shellcheck disable=SC2016 # the stand-in script's own variables
printf '#!/bin/bash\n[ "$1" = --version ] || [ "${!#}" = --version ] && exec %s "$@"\ntrap true USR1 TERM\nsleep 1\nexit 138\n' \
    "$(command -v mpirun)" >diedmpi/mpirun
chmod +x diedmpi/mpirun
PATH=$work/diedmpi:$PATH FCNET_DIST=$dist FCNET_MPIRUN_ARGS="-n 2" timeout 60 \
    bash "$root/launch/slurm.sbatch" --data d.h5 --hidden 16 --out early --overwrite >ow.out 2>&1 &
job=$!
sleep 0.3
pkill -TERM -f "^bash $root/launch/slurm.sbatch"
wait $job
rc=$?
if [ "$("$h5cmp" --get early/checkpoint.h5 /@finished 2>/dev/null)" = 1 ] && grep -q "training finished" done.out &&
    grep -q "stopped (exit 138) outside Slurm" ow.out; then
    ok "slurm.sbatch: an --overwrite job stopped before its first save does not take the replaced run's checkpoint for its own"
else
    not_ok "slurm.sbatch --overwrite stopped before its first save (exit $rc): $(grep -aE 'slurm.sbatch' ow.out | tail -2)"
fi
# A bad FCNET_STOP_MARGIN is refused before mpirun starts (it ended the script with ranks left running).
PBS_O_WORKDIR=$work FCNET_OUT=$work/margin FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") \
    FCNET_STOP_MARGIN=abc timeout 60 bash "$root/launch/pbs.sh" >margin.out 2>margin.err
rc=$?
if [ $rc = 2 ] && [ "$(wc -l <margin.err)" = 1 ] && grep -q "FCNET_STOP_MARGIN='abc'" margin.err && [ ! -e margin ]; then
    ok "pbs.sh: FCNET_STOP_MARGIN=abc refused before anything starts: $(cat margin.err)"
else
    not_ok "pbs.sh FCNET_STOP_MARGIN=abc: exit $rc: $(head -2 margin.err)"
fi
# An --out (or --data) inside FCNET_ARGS would win over FCNET_OUT, where the script looks for the checkpoint to
# resume: refused before anything starts, naming both.
PBS_O_WORKDIR=$work FCNET_OUT=$work/argsout FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") \
    FCNET_ARGS="--hidden 8 --out=$work/elsewhere" timeout 60 bash "$root/launch/pbs.sh" >argsout.out 2>argsout.err
rc=$?
if [ $rc = 2 ] && [ "$(wc -l <argsout.err)" = 1 ] && grep -q "FCNET_ARGS has --out: give the run directory as FCNET_OUT" \
    argsout.err && [ ! -e argsout ] && [ ! -e elsewhere ]; then
    ok "pbs.sh: an --out in FCNET_ARGS refused before anything starts: $(cat argsout.err)"
else
    not_ok "pbs.sh FCNET_ARGS with --out: exit $rc: $(head -2 argsout.err)"
fi
# The same refusal from the script read on standard input, as PBS may run it: the one line, no complaint about
# BASH_SOURCE (set -u), the checkout found from the submit directory.
PBS_O_WORKDIR=$root FCNET_OUT=$work/argsin FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") \
    FCNET_ARGS="--hidden 8 --out=$work/elsewhere" timeout 60 bash <"$root/launch/pbs.sh" >argsin.out 2>argsin.err
rc=$?
if [ $rc = 2 ] && [ "$(wc -l <argsin.err)" = 1 ] && grep -q "FCNET_ARGS has --out: give the run directory as FCNET_OUT" \
    argsin.err && [ ! -e argsin ] && [ ! -e elsewhere ]; then
    ok "pbs.sh on standard input: the same one line, nothing else on stderr"
else
    not_ok "pbs.sh on standard input with --out in FCNET_ARGS: exit $rc: $(head -2 argsin.err)"
fi
# A SIGTERM (qdel) just before pbs.sh starts local.sh is trapped: the traps came only after local.sh had
# started, and a SIGTERM in between ended pbs.sh and left the run going. A stand-in hostname, which the job
# line runs right before the start, sends it: pbs.sh says so, starts nothing (no mpirun call) and exits 0.
mkdir termhost
# shellcheck disable=SC2016 # the stand-in script's own variables
printf '#!/bin/sh\nkill -TERM "$(cat "$FAKE_PBS_PID")"\necho node1\n' >termhost/hostname
chmod +x termhost/hostname
rm -f mpirun_args.log
# shellcheck disable=SC2016 # the inner bash's own variables
PATH=$work/termhost:$work/fakempi:$PATH FAKE_PBS_PID=$work/pbs.pid FAKE_MPIRUN_LOG=$work/mpirun_args.log \
    PBS_O_WORKDIR=$work FCNET_OUT=$work/termearly FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$work/fake \
    timeout 60 bash -c 'echo $$ >"$FAKE_PBS_PID" && exec bash "$1"' _ "$root/launch/pbs.sh" >termearly.out 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "^pbs.sh: SIGTERM: asking the ranks" termearly.out &&
    grep -q "^pbs.sh: stopped before the run started; nothing to save, not started" termearly.out &&
    [ ! -e mpirun_args.log ]; then
    ok "pbs.sh: a SIGTERM just before the launch is trapped: nothing started, exit 0"
else
    not_ok "pbs.sh SIGTERM before the launch: exit $rc, mpirun called: $([ -e mpirun_args.log ] && echo yes || echo no): $(tail -3 termearly.out | tr '\n' ' ')"
fi
# A rank killed (the OOM killer: mpirun exits 137, and -q keeps its own account to itself): pbs.sh passes the
# status on and says so, naming the checkpoint to resume from (a stand-in mpirun that exits 137).
mkdir killmpi
cat >killmpi/mpirun <<'EOF'
#!/bin/bash
[ "$1" = --version ] && { echo "mpirun (Open MPI) 4.1.4"; exit 0; }
[ "${!#}" = --version ] && exit 0
exit 137
EOF
chmod +x killmpi/mpirun
PATH=$work/killmpi:$PATH PBS_O_WORKDIR=$work FCNET_OUT=$work/killed FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$work/fake \
    timeout 60 bash "$root/launch/pbs.sh" >killed.out 2>&1
rc=$?
if [ $rc = 137 ] && grep -q "pbs.sh: mpirun exited 137: a rank was killed by signal 9 (SIGKILL: the OOM killer, or kill -9); resubmit to resume from $work/killed/checkpoint.h5" killed.out; then
    ok "pbs.sh: a rank killed (mpirun exit 137): exit 137, and the line says so"
else
    not_ok "pbs.sh with a killed rank (exit $rc): $(tail -2 killed.out)"
fi
# ---- pbs.sh: the node file, the walltime timer's seconds, FCNET_ARGS refused or dropped ----
# Under PBS the ranks are the lines of $PBS_NODEFILE (the stand-in mpirun records its arguments and its
# hostfile). One line more than the cores, so that local.sh's core count cannot pass for it. Open MPI gets each
# host's line count as slots=: a host on one line would otherwise get all its cores (hostB 2 ranks, not 1).
nodes=$((cores + 1))
{ for _ in $(seq "$cores"); do echo hostA; done; echo hostB; } >nodefile
rm -f mpirun_args.log mpirun_args.log.hosts
(unset FCNET_RANKS FCNET_MPIRUN_ARGS && PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log \
    PBS_NODEFILE=$work/nodefile PBS_O_WORKDIR=$work FCNET_OUT=$work/nodes FCNET_DATA=$work/d.h5 \
    FCNET_BUILD_DIR=$work/fake timeout 60 bash "$root/launch/pbs.sh" >nodes.out 2>&1)
rc=$?
hostfile=$(grep -oE -- "--hostfile [^ ]+" mpirun_args.log 2>/dev/null | head -1 | cut -d' ' -f2)
if [ $rc = 0 ] && grep -qE -- "(^| )-n $nodes " mpirun_args.log && [ -n "$hostfile" ] && [ ! -e "$hostfile" ] &&
    [ "$(cat mpirun_args.log.hosts 2>/dev/null)" = "$(printf 'hostA slots=%s\nhostB slots=1' "$cores")" ]; then
    ok "pbs.sh: a PBS_NODEFILE of $nodes lines: mpirun -n $nodes, a hostfile 'hostA slots=$cores, hostB slots=1' (removed after)"
else
    not_ok "pbs.sh with PBS_NODEFILE ($nodes lines): exit $rc: $(cat mpirun_args.log 2>/dev/null) hostfile: $(tr '\n' ';' <mpirun_args.log.hosts 2>/dev/null) $(tail -2 nodes.out)"
fi
# FCNET_ARGS is a word list, not a glob: 'cfg[1].ini' stays as written though cfg1.ini exists (it became
# cfg1.ini); and without FCNET_ARGS the default --config is one word in a checkout whose path has a blank (it
# was split in two). A stand-in fcnet_dist writes each argument on its own line.
mkdir -p words "a b/launch" "a b/results/configs"
# shellcheck disable=SC2016 # the stand-in script's own variables
printf '#!/bin/sh\n[ "$1" = --version ] && exit 0\nprintf "%%s\\n" "$@" >"$FAKE_LOG"\n' >words/fcnet_dist
chmod +x words/fcnet_dist
cp "$root"/launch/*.sh "a b/launch/" && cp "$root/results/configs/quickstart.ini" "a b/results/configs/"
: >cfg1.ini
for c in "$root|--hidden 8 --config cfg[1].ini" "$work/a b|"; do
    rm -f words.log
    (unset FCNET_MPIRUN_ARGS && FAKE_LOG=$work/words.log PBS_O_WORKDIR=$work FCNET_OUT=$work/words FCNET_DATA=$work/d.h5 \
        FCNET_RANKS=1 FCNET_BUILD_DIR=$work/words FCNET_ARGS=${c#*|} timeout 60 bash "${c%%|*}/launch/pbs.sh" >words.out 2>&1)
    rc=$?
    want="cfg[1].ini"
    [ -z "${c#*|}" ] && want="$work/a b/results/configs/quickstart.ini"
    if [ $rc = 0 ] && grep -qxF -- "--config" words.log && grep -qxF -- "$want" words.log; then
        ok "pbs.sh: FCNET_ARGS='${c#*|}' from ${c%%|*}: --config '$want' reaches fcnet_dist as one word"
    else
        not_ok "pbs.sh FCNET_ARGS='${c#*|}' from ${c%%|*} (exit $rc): $(tr '\n' ' ' <words.log 2>/dev/null) $(tail -2 words.out)"
    fi
done
# The timer sleeps qstat's walltime less FCNET_STOP_MARGIN (default 120 s). Stand-ins: qstat gives
# $FAKE_WALLTIME as it is; sleep records its parent (the timer), its own PID and its argument, then sleeps;
# mpirun ends the run once the timer sleeps, so the run ends first and the timer must end with it.
mkdir wall
realsleep=$(command -v sleep)
cat >wall/qstat <<'EOF'
#!/bin/sh
printf 'Job Id: %s\n    Resource_List.walltime = %s\n' "$2" "$FAKE_WALLTIME"
EOF
# shellcheck disable=SC2016 # the stand-in scripts' own variables
printf '#!/bin/sh\necho "$PPID $$ $*" >>"$FAKE_SLEEP_LOG"\nexec %s "$@"\n' "$realsleep" >wall/sleep
# shellcheck disable=SC2016
printf '#!/bin/sh\n[ "$1" = --version ] && { echo "mpirun (Open MPI) 4.1.4"; exit 0; }\nfor _ in $(seq 100); do [ -s "$FAKE_SLEEP_LOG" ] && exit 0; %s 0.1; done\nexit 1\n' \
    "$realsleep" >wall/mpirun
chmod +x wall/qstat wall/sleep wall/mpirun
# wall_run WALLTIME: pbs.sh as job 2.test with these stand-ins; the sleep's record in timer.sleep.
wall_run() {
    rm -f timer.sleep
    PATH=$work/wall:$PATH FAKE_WALLTIME=$1 FAKE_SLEEP_LOG=$work/timer.sleep PBS_JOBID=2.test PBS_O_WORKDIR=$work \
        FCNET_OUT=$work/timer FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$work/fake timeout 60 \
        bash "$root/launch/pbs.sh" >timer.out 2>&1
}
for c in "00:01:04 4 60" "00:04:05 - 125" "01:00:30 30 3600"; do
    read -r wt m want <<<"$c"
    if [ "$m" = - ]; then (unset FCNET_STOP_MARGIN && wall_run "$wt"); else FCNET_STOP_MARGIN=$m wall_run "$wt"; fi
    rc=$?
    tpid="" spid="" secs=""
    [ -f timer.sleep ] && read -r tpid spid secs <timer.sleep
    # Gone once pbs.sh has exited (a moment for the timer's trap to end its sleep), else ended here.
    for _ in $(seq 20); do alive "${tpid:-0}" || alive "${spid:-0}" || break; sleep 0.1; done
    left=""
    for p in $tpid $spid; do alive "$p" && left="$left $p" && kill "$p"; done
    if [ $rc = 0 ] && [ "$secs" = "$want" ] && [ "$(grep -c . timer.sleep)" = 1 ] && [ -z "$left" ]; then
        ok "pbs.sh: walltime $wt, margin ${m/-/default}: the timer sleeps $want s, and is gone when the run ends first"
    else
        not_ok "pbs.sh walltime $wt, margin $m: exit $rc, slept '${secs}' (want $want), left running:${left:- none}: $(grep pbs.sh timer.out | tail -2)"
    fi
done
# --out and --data, in either spelling, belong in FCNET_OUT and FCNET_DATA: refused by name before anything starts.
for bad in "--data x.h5" "--data=x.h5" "--out $work/elsewhere"; do
    PBS_O_WORKDIR=$work FCNET_OUT=$work/argsbad FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") \
        FCNET_ARGS="--hidden 8 $bad" timeout 60 bash "$root/launch/pbs.sh" >argsbad.out 2>argsbad.err
    rc=$?
    if [ $rc = 2 ] && [ "$(wc -l <argsbad.err)" = 1 ] && grep -q -- "FCNET_ARGS has ${bad%%[ =]*}: " argsbad.err &&
        [ ! -e argsbad ] && [ ! -e elsewhere ]; then
        ok "pbs.sh: FCNET_ARGS with '$bad' refused (exit 2): $(cat argsbad.err)"
    else
        not_ok "pbs.sh FCNET_ARGS with '$bad': exit $rc: $(head -2 argsbad.err)"
    fi
done
# On a resume a --resume or --init-from of FCNET_ARGS goes, value and all: the run continues from FCNET_OUT's
# checkpoint (run/: finished at --epochs 2, step 20) to --epochs 3, and old.h5 is on no command line.
pbs dropped "--resume old.h5 --hidden 8 --init-from=old.h5 --batch-size 20 --epochs 3"
rc=$?
if [ $rc = 0 ] && grep -qE "fcnet_dist --resume $work/run/checkpoint.h5 --data .*/d.h5 --out .*/run --hidden 8 --batch-size 20 --epochs 3$" \
    dropped.out && ! grep -q "old.h5" dropped.out && [ "$("$h5cmp" --get run/checkpoint.h5 /@step)" = 30 ]; then
    ok "pbs.sh: a resume drops FCNET_ARGS' --resume old.h5 and --init-from=old.h5 and trains on to step 30"
else
    not_ok "pbs.sh resume with --resume in FCNET_ARGS: exit $rc: $(grep -E 'pbs.sh|rror' dropped.out | head -3)"
fi

# ---- slurm.sbatch: --out=, requeue, stops outside Slurm, INI keys, the program's default place ----
# A requeue (same job ID, SLURM_RESTART_COUNT=1) finds an --out=DIR (the = spelling) and resumes there; no
# fcnet-<job id>/ appears. The same arguments both times, as Slurm gives them: --max-steps 5 per run.
SLURM_JOB_ID=81 sbatch_real eq1 --data d.h5 --hidden 8 --batch-size 20 --epochs 2 --out=eqrun --max-steps 5
rc=$?
SLURM_JOB_ID=81 SLURM_RESTART_COUNT=1 sbatch_real eq2 --data d.h5 --hidden 8 --batch-size 20 --epochs 2 --out=eqrun --max-steps 5
rc2=$?
if [ $rc = 0 ] && [ $rc2 = 0 ] && grep -q "restart 1: resuming from eqrun/checkpoint.h5" eq2.out &&
    [ "$("$h5cmp" --get eqrun/checkpoint.h5 /@step 2>/dev/null)" = 10 ] && [ ! -e fcnet-81 ]; then
    ok "slurm.sbatch: --out=eqrun: the restart resumes from eqrun/checkpoint.h5 (step 5 -> 10), no fcnet-81/"
else
    not_ok "slurm.sbatch --out=DIR restart (exit $rc, $rc2): $(grep -h slurm.sbatch eq1.out eq2.out | tail -3)"
fi
# A stopped run under Slurm requeues its own job. Stand-ins: scontrol records its arguments, answers
# 'show job' with $FAKE_JOBSTATE (RUNNING) and $FAKE_REASON (None) and 'requeue' with exit $FAKE_REQUEUE_RC; mpirun says it runs (its
# PID) and exits 0 on SIGUSR1 (the ranks saved); sleep is short (the script repeats its signal every 2 s).
mkdir rq
cat >rq/scontrol <<'EOF'
#!/bin/sh
echo "$*" >>"$FAKE_SCONTROL_LOG"
[ "$1" = show ] && { echo "JobId=$4 JobName=fcnet JobState=${FAKE_JOBSTATE:-RUNNING} Reason=${FAKE_REASON:-None} Restarts=0"; exit 0; }
exit "${FAKE_REQUEUE_RC:-0}"
EOF
# With FAKE_SAVE (a checkpoint), mpirun's ranks save on SIGUSR1: the file is replaced by a new one. It then
# exits $FAKE_MPIRUN_RC (default 0); a start with --version (the script's check after a failure) exits 0.
# shellcheck disable=SC2016
printf '#!/bin/bash\n[ "${!#}" = --version ] && exit 0\ntrap "[ -z \\"${FAKE_SAVE:-}\\" ] || { cp \\"$FAKE_SAVE\\" \\"$FAKE_SAVE.new\\" && mv \\"$FAKE_SAVE.new\\" \\"$FAKE_SAVE\\"; }; exit ${FAKE_MPIRUN_RC:-0}" USR1\necho $$ >"$FAKE_MPIRUN_STARTED"\nwhile :; do %s 0.1; done\n' "$realsleep" >rq/mpirun
printf '#!/bin/sh\nexec %s 0.05\n' "$realsleep" >rq/sleep
chmod +x rq/scontrol rq/mpirun rq/sleep
# rq_run NAME: slurm.sbatch as job 91 on a copy of an unfinished checkpoint (ctl/, step 20), SIGTERM (or
# each of the signals in $STOP_SIGNAL, in turn) to the script alone once mpirun runs; its exit status. scontrol's calls in NAME.scontrol.
rq_run() {
    rm -rf "$1" "$1.scontrol" "$1.started"
    mkdir "$1" && cp ctl/checkpoint.h5 "$1/"
    PATH=$work/rq:$PATH FAKE_SCONTROL_LOG=$work/$1.scontrol FAKE_MPIRUN_STARTED=$work/$1.started SLURM_JOB_ID=91 \
        FCNET_DIST=$work/fake/fcnet_dist timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out "$1" >"$1.out" 2>&1 &
    local job=$!
    for _ in $(seq 100); do [ -e "$1.started" ] && break; sleep 0.1; done
    for sig in ${STOP_SIGNAL:-TERM}; do pkill -"$sig" -f "^bash $root/launch/slurm.sbatch --data d.h5 --out $1\$"; done
    wait $job
}
# rq_said NAME: what the script and scontrol said in run NAME, for a failing check's line.
rq_said() { echo "$(grep slurm.sbatch "$1.out" | tail -2) / scontrol: $(cat "$1.scontrol" 2>/dev/null)"; }
FAKE_REQUEUE_RC=0 rq_run rq0
rc=$?
if [ $rc = 0 ] && grep -q "stopped before the end (exit 0, SIGTERM): checkpoint at step 20; requeueing job 91" rq0.out &&
    grep -qx "requeue 91" rq0.scontrol; then
    ok "slurm.sbatch: stopped by SIGTERM in job 91: scontrol requeue 91, exit 0"
else
    not_ok "slurm.sbatch requeue (exit $rc): $(rq_said rq0)"
fi
# Slurm's warning (--signal=B:USR1@120) and scancel -b --signal=USR1 reach the script as SIGUSR1: forwarded to
# mpirun as SIGUSR1, the ranks save, the job is requeued.
STOP_SIGNAL=USR1 FAKE_REQUEUE_RC=0 rq_run rqu
rc=$?
if [ $rc = 0 ] && grep -q "received SIGUSR1; forwarding it to PID [0-9]* as SIGUSR1" rqu.out &&
    grep -q "stopped before the end (exit 0, SIGUSR1): checkpoint at step 20; requeueing job 91" rqu.out &&
    grep -qx "requeue 91" rqu.scontrol && ! grep -q "^show" rqu.scontrol; then
    ok "slurm.sbatch: SIGUSR1 (the time-limit warning) in job 91: forwarded to mpirun, scontrol requeue 91, exit 0"
else
    not_ok "slurm.sbatch SIGUSR1 (exit $rc): $(rq_said rqu)"
fi
# A preemption sends SIGTERM to mpirun as well, which then aborts with exit 1 while the ranks checkpoint: after
# the script's own SIGTERM that exit 1 is a stop like exit 0, and the job is requeued (not "fcnet_dist failed").
FAKE_MPIRUN_RC=1 rq_run rqt1
rc=$?
if [ $rc = 0 ] && grep -q "stopped before the end (exit 1, SIGTERM): checkpoint at step 20; requeueing job 91" rqt1.out &&
    grep -qx "requeue 91" rqt1.scontrol; then
    ok "slurm.sbatch: SIGTERM, and mpirun then exits 1 (preempted itself): requeued, exit 0"
else
    not_ok "slurm.sbatch SIGTERM with mpirun exit 1 (exit $rc): $(rq_said rqt1)"
fi
FAKE_REQUEUE_RC=1 rq_run rq1
rc=$?
if [ $rc = 1 ] && grep -qx "requeue 91" rq1.scontrol &&
    grep -q "scontrol requeue failed; continue with: sbatch ... launch/slurm.sbatch ... --resume rq1/checkpoint.h5" rq1.out; then
    ok "slurm.sbatch: scontrol requeue failing: exit 1, and the line says how to continue"
else
    not_ok "slurm.sbatch failed requeue (exit $rc): $(rq_said rq1)"
fi
# A plain scancel's SIGTERM (the job no longer RUNNING): the ranks have saved, and the job is not requeued.
FAKE_JOBSTATE=CANCELLED rq_run rqc
rc=$?
if [ $rc = 0 ] && grep -q "job 91 cancelled (JobState=CANCELLED): checkpoint at step 20; not requeued" rqc.out &&
    ! grep -q requeue rqc.scontrol; then
    ok "slurm.sbatch: SIGTERM of a cancelled job: not requeued, exit 0"
else
    not_ok "slurm.sbatch cancelled (exit $rc): $(rq_said rqc)"
fi
# The time limit's own SIGTERM (no warning signal came in time): as a real Slurm 22.05 shows it, JobState=COMPLETING
# and Reason=TimeLimit, and it still takes a requeue. The ranks saved: requeued as after the warning (before:
# taken for a cancel, "cancelled" and not requeued, the job TIMEOUT). Nothing saved in this start: not requeued.
FAKE_JOBSTATE=COMPLETING FAKE_REASON=TimeLimit FAKE_SAVE=$work/rqt/checkpoint.h5 rq_run rqt
rc=$?
if [ $rc = 0 ] && grep -q "job 91 reached its time limit before the warning signal stopped it (JobState=COMPLETING, Reason=TimeLimit)" rqt.out &&
    grep -q "stopped before the end (exit 0, SIGTERM): checkpoint at step 20; requeueing job 91" rqt.out &&
    ! grep -q cancelled rqt.out && grep -qx "requeue 91" rqt.scontrol; then
    ok "slurm.sbatch: the time limit's SIGTERM after the ranks saved: requeued, exit 0, the line names the time limit"
else
    not_ok "slurm.sbatch at the time limit (exit $rc): $(rq_said rqt)"
fi
FAKE_JOBSTATE=COMPLETING FAKE_REASON=TimeLimit rq_run rqt0
rc=$?
if [ $rc = 0 ] && grep -q "job 91 reached its time limit (JobState=COMPLETING, Reason=TimeLimit) before this start saved a checkpoint; not requeued" rqt0.out &&
    ! grep -q requeue rqt0.scontrol; then
    ok "slurm.sbatch: the time limit's SIGTERM before any save in this start: not requeued (no loop), exit 0"
else
    not_ok "slurm.sbatch at the time limit, nothing saved (exit $rc): $(rq_said rqt0)"
fi
# Only a job Slurm is ending (no longer RUNNING) has met its time limit: a RUNNING job's SIGTERM is a preemption
# whatever its Reason says, and is requeued also when this start has saved nothing yet.
FAKE_JOBSTATE=RUNNING FAKE_REASON=TimeLimit rq_run rqtr
rc=$?
if [ $rc = 0 ] && grep -q "stopped before the end (exit 0, SIGTERM): checkpoint at step 20; requeueing job 91" rqtr.out &&
    ! grep -q "time limit" rqtr.out && grep -qx "requeue 91" rqtr.scontrol; then
    ok "slurm.sbatch: SIGTERM to a RUNNING job with Reason=TimeLimit: a preemption, requeued, exit 0"
else
    not_ok "slurm.sbatch RUNNING with Reason=TimeLimit (exit $rc): $(rq_said rqtr)"
fi
# SIGINT to the script alone (scancel -b --signal=INT) is a stop too: it ended the script, and Slurm then
# killed the run unsaved. Now mpirun gets SIGUSR1, the ranks save, the job is not requeued (a person's stop)
# and the script exits 130, as fcnet_dist after Ctrl-C.
STOP_SIGNAL=INT rq_run rqi
rc=$?
rqi_mpirun=$(cat rqi.started 2>/dev/null)
rqi_left=no
for _ in $(seq 20); do alive "${rqi_mpirun:-0}" || break; sleep 0.1; done
[ -n "$rqi_mpirun" ] && alive "$rqi_mpirun" && rqi_left=yes && kill "$rqi_mpirun"
if [ $rc = 130 ] && [ $rqi_left = no ] &&
    grep -q "received SIGINT; forwarding it to PID [0-9]* as SIGUSR1" rqi.out &&
    grep -q "interrupted (SIGINT, exit 0): checkpoint at step 20; not requeued; resume with --resume rqi/checkpoint.h5 --out rqi$" rqi.out &&
    ! grep -q requeue rqi.scontrol 2>/dev/null; then
    ok "slurm.sbatch: SIGINT to the script: forwarded to mpirun as SIGUSR1, not requeued, exit 130"
else
    not_ok "slurm.sbatch SIGINT (exit $rc, mpirun left running: $rqi_left): $(rq_said rqi)"
fi
# A SIGTERM right after the SIGINT (a preemption, a plain scancel) does not turn the person's stop into a requeue.
STOP_SIGNAL="INT TERM" rq_run rqit
rc=$?
if [ $rc = 130 ] && grep -q "interrupted (SIGINT, exit 0): checkpoint at step 20; not requeued" rqit.out &&
    ! grep -q requeue rqit.scontrol 2>/dev/null; then
    ok "slurm.sbatch: SIGINT then SIGTERM: still not requeued, exit 130"
else
    not_ok "slurm.sbatch SIGINT then SIGTERM (exit $rc): $(rq_said rqit)"
fi
# Ranks signalled directly (not through the script) end with exit 0 and an unfinished checkpoint (a stand-in
# mpirun that exits 0 at once): with --max-steps 0 (no limit) that is a stop, outside Slurm reported and
# ended with exit 0, in a job requeued; with --max-steps 5 it is the limit, not requeued.
mkdir exit0
printf '#!/bin/sh\nexit 0\n' >exit0/mpirun
chmod +x exit0/mpirun
# stop_run NAME ARGS...: slurm.sbatch on a copy of ctl/'s unfinished checkpoint, with that mpirun.
stop_run() {
    local name=$1
    shift
    rm -rf "$name" "$name.scontrol"
    mkdir "$name" && cp ctl/checkpoint.h5 "$name/"
    PATH=$work/exit0:$work/rq:$PATH FAKE_SCONTROL_LOG=$work/$name.scontrol FCNET_DIST=$work/fake/fcnet_dist \
        timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out "$name" "$@" >"$name.out" 2>&1
}
stop_run s0 --max-steps 0
rc=$?
if [ $rc = 0 ] && grep -q "stopped (exit 0) outside Slurm; resume with --resume s0/checkpoint.h5 --out s0$" s0.out; then
    ok "slurm.sbatch: --max-steps 0, the ranks stopped by their own signal: 'stopped (exit 0) outside Slurm'"
else
    not_ok "slurm.sbatch --max-steps 0 stopped (exit $rc): $(grep slurm.sbatch s0.out | tail -2)"
fi
SLURM_JOB_ID=92 stop_run s0job --max-steps=0
rc=$?
if [ $rc = 0 ] && grep -qx "requeue 92" s0job.scontrol; then
    ok "slurm.sbatch: the same in job 92 (--max-steps=0): requeued"
else
    not_ok "slurm.sbatch --max-steps=0 stopped in a job (exit $rc): $(grep slurm.sbatch s0job.out | tail -2)"
fi
SLURM_JOB_ID=93 stop_run s5 --max-steps 5
rc=$?
if [ $rc = 0 ] && grep -q "stopped by --max-steps before the end; not requeued" s5.out && [ ! -s s5.scontrol ]; then
    ok "slurm.sbatch: --max-steps 5 ending the run early is no stop: not requeued"
else
    not_ok "slurm.sbatch --max-steps 5 (exit $rc): $(grep slurm.sbatch s5.out | tail -2)"
fi
# A restart (SLURM_RESTART_COUNT=1) resumes from its own checkpoint: the first start's --resume and --init-from
# (either spelling) go, value and all, and --resume OUT/checkpoint.h5 comes last (the stand-in mpirun records it).
rm -rf rs && mkdir rs && cp ctl/checkpoint.h5 rs/ && rm -f mpirun_args.log
PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log FCNET_DIST=$work/fake/fcnet_dist SLURM_RESTART_COUNT=1 \
    timeout 60 bash "$root/launch/slurm.sbatch" --resume old.h5 --data d.h5 --init-from=old2.h5 --out rs --init-from old3.h5 \
    --resume=old4.h5 --max-steps 5 >rs.out 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "restart 1: resuming from rs/checkpoint.h5" rs.out &&
    grep -q " $work/fake/fcnet_dist --data d.h5 --out rs --max-steps 5 --resume rs/checkpoint.h5$" mpirun_args.log; then
    ok "slurm.sbatch: a restart drops the first start's --resume/--init-from and resumes from rs/checkpoint.h5"
else
    not_ok "slurm.sbatch restart with --resume/--init-from given (exit $rc): $(cat mpirun_args.log 2>/dev/null) $(grep slurm.sbatch rs.out | tail -1)"
fi
# max_steps (INI spelling, '_') only in the --config file, indented (fcnet_dist reads an indented pair as any
# other): the run stops at 3 and the script knows it was the limit.
printf 'hidden = 8\nbatch_size = 20\nepochs = 2\n \tmax_steps = 3\n' >steps.ini
sbatch_real s10 --config steps.ini --data d.h5 --out s10
rc=$?
if [ $rc = 0 ] && [ "$("$h5cmp" --get s10/checkpoint.h5 /@step 2>/dev/null)" = 3 ] &&
    grep -q "stopped by --max-steps before the end; not requeued" s10.out; then
    ok "slurm.sbatch: max_steps = 3 in the INI file (indented): the run stops at step 3, taken as the limit"
else
    not_ok "slurm.sbatch INI max_steps (exit $rc): $(grep slurm.sbatch s10.out | tail -2)"
fi
# The INI file as an editor on Windows saves it: a byte-order mark, then max_steps, and CRLF line ends.
# fcnet_dist reads out = 'crlf out' and max_steps = 4; the script read 'crlf out\r' (so a restart found no
# checkpoint and started afresh, refused on the used --out: FAILED) and no max_steps behind the mark (a
# run ended by the limit was taken for a stopped one and requeued). Here: a restart on an unfinished
# checkpoint there resumes it, and the ranks' exit 0 at the limit is no stop.
printf '\357\273\277max_steps = 4\r\nhidden = 8\r\nout = crlf out\r\n' >crlf.ini
rm -rf "crlf out" crlf.scontrol && mkdir "crlf out" && cp ctl/checkpoint.h5 "crlf out/"
PATH=$work/exit0:$work/rq:$PATH FAKE_SCONTROL_LOG=$work/crlf.scontrol FCNET_DIST=$work/fake/fcnet_dist SLURM_JOB_ID=95 \
    SLURM_RESTART_COUNT=1 timeout 60 bash "$root/launch/slurm.sbatch" --config crlf.ini --data d.h5 >crlf.out 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "restart 1: resuming from crlf out/checkpoint.h5$" crlf.out &&
    grep -q "stopped by --max-steps before the end; not requeued" crlf.out && [ ! -s crlf.scontrol ]; then
    ok "slurm.sbatch: an INI file with a byte-order mark and CRLF line ends: out and max_steps read as fcnet_dist reads them"
else
    not_ok "slurm.sbatch INI with BOM and CRLF (exit $rc): $(grep slurm.sbatch crlf.out | cat -A | tail -3)"
fi
# eval and gradcheck (anywhere on the line, as fcnet_dist takes the word) take no --out: the script passed
# one (fcnet-<job id>) and every such job failed with exit 2. Now they run as given; a value 'eval' is no command.
for c in "eval --checkpoint c.h5" "--best eval --checkpoint c.h5" "--data d.h5 gradcheck" "--data eval"; do
    rm -f cmd.raw
    # shellcheck disable=SC2086 # the words of $c
    FAKE_LOG=$work/cmd.raw FCNET_DIST=$work/fake/fcnet_dist FCNET_MPIRUN_ARGS="-n 1" SLURM_JOB_ID=96 SLURM_RESTART_COUNT=1 \
        timeout 60 bash "$root/launch/slurm.sbatch" $c >cmd.out 2>&1
    rc=$?
    want="args=$c"
    [ "$c" = "--data eval" ] && want="args=$c --out fcnet-96"
    if [ $rc = 0 ] && [ "$(sed 's/^size=[0-9]* blas=[0-9]* //' cmd.raw 2>/dev/null)" = "$want" ]; then
        ok "slurm.sbatch $c: fcnet_dist gets '${want#args=}'"
    else
        not_ok "slurm.sbatch $c (exit $rc): $(cat cmd.raw 2>/dev/null) $(grep slurm.sbatch cmd.out | tail -2)"
    fi
done
# Without FCNET_DIST (and none on PATH) the program is build/fcnet_dist under the submit folder.
mkdir -p submit/build && cp fake/fcnet_dist submit/build/
rm -f mpirun_args.log
(unset FCNET_DIST && PATH=$work/fakempi:$PATH FAKE_MPIRUN_LOG=$work/mpirun_args.log SLURM_SUBMIT_DIR=$work/submit \
    timeout 60 bash "$root/launch/slurm.sbatch" --data d.h5 --out s08 >s08.out 2>&1)
rc=$?
if [ $rc = 0 ] && ! command -v fcnet_dist >/dev/null && grep -q " $work/submit/build/fcnet_dist --data d.h5 --out s08$" mpirun_args.log; then
    ok "slurm.sbatch: FCNET_DIST unset: runs \$SLURM_SUBMIT_DIR/build/fcnet_dist"
else
    not_ok "slurm.sbatch without FCNET_DIST (exit $rc, fcnet_dist on PATH: $(command -v fcnet_dist)): $(cat mpirun_args.log 2>/dev/null) $(tail -1 s08.out)"
fi
# ---- test.sh with FCNET_SKIP_ASAN=1 and a sanitizer build left by an earlier run ----
# It ran that build's 'sanitize' tests, binaries of older sources, though the variant was skipped. Stand-ins:
# dpkg-query (every package installed: nothing to install), cmake and ctest record their arguments.
mkdir -p shim stale-asan
printf '#!/bin/sh\necho "install ok installed"\n' >shim/dpkg-query
for tool in cmake ctest; do printf '#!/bin/sh\necho "%s $*" >>"$SHIM_LOG"\n' "$tool" >"shim/$tool"; done
chmod +x shim/*
SHIM_LOG=$work/testsh.log PATH=$work/shim:$PATH FCNET_SKIP_ASAN=1 FCNET_BUILD_DIR=$work/testsh-build \
    FCNET_ASAN_BUILD_DIR=$work/stale-asan bash "$root/launch/test.sh" >testsh.out 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "^ctest --test-dir $work/testsh-build " testsh.log && ! grep -q stale-asan testsh.log; then
    ok "test.sh: FCNET_SKIP_ASAN=1 runs no sanitizer tests, also with an earlier sanitizer build there"
else
    not_ok "test.sh with FCNET_SKIP_ASAN=1 (exit $rc): $(tr '\n' ';' <testsh.log)"
fi
# ---- test.sh after failed tests: the lines that say what failed, last ----
# A stand-in ctest fails two tests in its --test-dir's logs, as ctest writes them: one with a 'not ok' line among
# its 'ok' lines (and a 301-character one, cut to 300), one that says nothing (a timeout). test.sh keeps ctest's
# exit status and ends with those lines, each after its test's name.
mkdir -p shim-fail
cp shim/dpkg-query shim/cmake shim-fail/
cat >shim-fail/ctest <<'CTEST'
#!/bin/sh
t=$(mkdir -p "$2/Testing/Temporary" && cd "$2/Testing/Temporary" && pwd)
printf '3:test_a\n7:test_b\n' >"$t/LastTestsFailed.log"
long=$(printf 'not ok - long%0287d' 0)
{ printf '3/9 Test: test_a\nOutput:\n---\nok - fine\nnot ok - the check that broke\n%sX\n<end of output>\n' "$long"
  printf '7/9 Test: test_b\nOutput:\n---\nstill running\n<end of output>\n'
  printf '8/9 Test: test_c\nOutput:\n---\nnot ok - a passed test has no such line\n<end of output>\n'; } >"$t/LastTest.log"
exit 8
CTEST
chmod +x shim-fail/ctest
SHIM_LOG=$work/testsh.log PATH=$work/shim-fail:$PATH FCNET_SKIP_ASAN=1 FCNET_BUILD_DIR=$work/testsh-fail \
    bash "$root/launch/test.sh" >testsh-fail.out 2>&1
rc=$?
printf '%s\n' "== failed checks ($work/testsh-fail)" "test_a: not ok - the check that broke" \
    "test_a: $(printf 'not ok - long%0287d' 0)" \
    "test_b: (no line says; a timeout or a crash: see its output above)" >testsh-fail.want
if [ $rc = 8 ] && tail -n 4 testsh-fail.out | cmp -s - testsh-fail.want; then
    ok "test.sh: failed tests: exit 8, ending with the lines that say what failed"
else
    not_ok "test.sh with failed tests (exit $rc): $(tail -n 4 testsh-fail.out | tr '\n' ';')"
fi
# ---- deps.sh without a network (a stand-in apt-get that fails as apt-get does then) ----
# It ended the calling script with apt-get's exit 100 and apt's lines only; now exit 2 and a last line of its own.
mkdir nonet
printf '#!/bin/sh\necho "E: Unable to locate package $*" >&2\nexit 100\n' >nonet/apt-get
chmod +x nonet/apt-get
# (As root only: through sudo, apt-get would be the real one.)
if [ "$(id -u)" = 0 ]; then
    PATH=$work/nonet:$PATH bash -c 'set -euo pipefail; source "$1/launch/deps.sh"; fcnet_install_deps fcnet-no-such-package
        echo installed' _ "$root" >deps.out 2>deps.err
    rc=$?
    if [ $rc = 2 ] && tail -1 deps.err | grep -qF "fcnet: apt-get could not install: fcnet-no-such-package (" &&
        ! grep -q installed deps.out; then
        ok "deps.sh: apt-get failing: exit 2, last line: $(tail -1 deps.err)"
    else
        not_ok "deps.sh with a failing apt-get: exit $rc: $(tail -2 deps.err)"
    fi
fi
# ---- deps.sh for a user who is not root and has no sudo (a laptop, a login node) ----
# It names the command to run as root, exit 2, and runs no apt-get (the user's own runs of the suite took this path
# untested: CI runs as root). As root the user is nobody, through setpriv; the stand-in sudo refuses as 'sudo -n'
# does without the rights, the stand-in apt-get says if it ran.
mkdir nosudo && cp "$root/launch/deps.sh" nosudo/ || exit 1
printf '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n' >nosudo/sudo
printf '#!/bin/sh\necho "apt-get ran: $*"\n' >nosudo/apt-get
chmod +x nosudo/sudo nosudo/apt-get
other_user
if [ "${AS_OTHER[*]-}" = skip ]; then
    ok "# SKIP deps.sh for a user without root or sudo: as root without setpriv and user nobody"
else
    if [ ${#AS_OTHER[@]} -gt 0 ]; then chmod o+rx "$work" nosudo && chmod o+r nosudo/deps.sh || exit 1; fi
    ${AS_OTHER[@]+"${AS_OTHER[@]}"} env PATH="$work/nosudo:$PATH" bash -c 'set -euo pipefail; source "$1/deps.sh"
        fcnet_install_deps fcnet-no-such-package; echo installed' _ "$work/nosudo" >nosudo.out 2>nosudo.err
    rc=$?
    if [ $rc = 2 ] && [ ! -s nosudo.out ] &&
        [ "$(cat nosudo.err)" = "fcnet: missing packages; run as root: apt-get install -y fcnet-no-such-package" ]; then
        ok "deps.sh without root or sudo: exit 2, no apt-get, '$(cat nosudo.err)'"
    else
        not_ok "deps.sh without root or sudo: exit $rc: $(cat nosudo.out nosudo.err | tr '\n' ';')"
    fi
fi
# The warning must go to the batch shell (B:): with mpirun there is no job step to signal (CLUSTER.md).
if grep -qE '^#SBATCH --signal=B:USR1@[0-9]+$' "$root/launch/slurm.sbatch"; then
    ok "slurm.sbatch: #SBATCH --signal=B:USR1@N (the batch shell gets the warning)"
else
    not_ok "slurm.sbatch: no '#SBATCH --signal=B:USR1@N' line: $(grep '^#SBATCH --signal' "$root/launch/slurm.sbatch")"
fi
tap_end "$t0"
