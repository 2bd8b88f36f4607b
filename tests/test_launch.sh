#!/usr/bin/env bash
# launch/local.sh and launch/pbs.sh outside any batch system, with the real mpirun:
#  - local.sh starts one rank per physical core (or FCNET_RANKS), gives each one OpenBLAS thread unless
#    OPENBLAS_NUM_THREADS is set, and passes its arguments through (the ranks are a stand-in fcnet_dist
#    that records what it was given);
#  - pbs.sh trains into FCNET_OUT, and run again on the same FCNET_OUT resumes from its checkpoint with
#    only the run-control options of FCNET_ARGS (the real fcnet_dist).
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
mkdir fake
cat >fake/fcnet_dist <<'EOF'
#!/bin/sh
echo "size=$OMPI_COMM_WORLD_SIZE blas=$OPENBLAS_NUM_THREADS args=$*" >>"$FAKE_LOG"
EOF
chmod +x fake/fcnet_dist
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

# ---- pbs.sh ----
"$synth" --out d.h5 --train 200 --val 40 --features 6 --classes 3 --seed 2 >/dev/null || exit 1
# pbs NAME ARGS: pbs.sh as a batch system would run it, two ranks, the real fcnet_dist.
pbs() {
    PBS_O_WORKDIR=$work FCNET_OUT=$work/run FCNET_DATA=$work/d.h5 FCNET_RANKS=2 FCNET_BUILD_DIR=$(dirname "$dist") \
        FCNET_ARGS=$2 timeout 120 bash "$root/launch/pbs.sh" >"$1.out" 2>&1
}
if pbs first "--hidden 8 --batch-size 20 --epochs 1" && [ "$("$h5cmp" --get run/checkpoint.h5 /@step)" = 10 ] &&
    grep -q 'fcnet_dist --data .*/d.h5 --out .*/run --hidden 8' first.out; then
    ok "pbs.sh: a fresh run trains into FCNET_OUT (10 steps)"
else
    not_ok "pbs.sh first run: $(tail -3 first.out)"
fi
# Resubmitted with more epochs: resumes; the model options of FCNET_ARGS are not passed again.
if pbs second "--hidden 8 --batch-size 20 --epochs 2" && grep -q "pbs.sh: resuming from $work/run/checkpoint.h5" second.out &&
    grep -qE 'fcnet_dist --resume .*/run/checkpoint.h5 --data .*/d.h5 --out .*/run --epochs 2$' second.out &&
    [ "$("$h5cmp" --get run/checkpoint.h5 /@step)" = 20 ]; then
    ok "pbs.sh: run again, it resumes from FCNET_OUT's checkpoint with only --epochs (20 steps)"
else
    not_ok "pbs.sh second run: $(grep 'pbs.sh' second.out | head -3) / $(tail -2 second.out)"
fi
tap_end "$t0"
