#!/usr/bin/env bash
# A per-process address-space limit (ulimit -v) too small for a job: every rank refuses it before the first
# step with one line naming the limit, exit 2, nothing written. Without the check OpenBLAS retried its 128 MiB
# work buffer forever (a hang, deaf to SIGTERM) and a wider network died on an abort with a backtrace. Also a
# limit that leaves room: the same job trains.
#   test_address_limit.sh SYNTH [MPIEXEC]
set -uo pipefail
synth=$1
mpiexec=${2:-mpirun}
dist=${FCNET_DIST:?}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" --out "$work/d.h5" --train 400 --val 100 --test 100 --features 20 --classes 5 >/dev/null || exit 1
fail=0
# expect_refused NAME KB ARG...: run under ulimit -v KB at 2 ranks, killed after 30 s.
expect_refused() {
    local name=$1 kb=$2
    shift 2
    (ulimit -v "$kb" && exec timeout -s KILL 30 "$mpiexec" -q -n 2 --oversubscribe --bind-to none "$dist" "$@" \
        --out "$work/$name") >"$work/$name.out" 2>"$work/$name.err"
    local rc=$? lines
    lines=$(grep -c . "$work/$name.err")
    if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q "address-space limit (ulimit -v)" "$work/$name.err" \
        || [ -e "$work/$name" ]; then
        echo "FAIL $name: rc $rc, $lines stderr lines, out dir $( [ -e "$work/$name" ] && echo written || echo absent)"
        head -5 "$work/$name.err"
        fail=1
    else
        echo "ok   $name: $(cat "$work/$name.err")"
    fi
}
# 200 MB: too little for OpenBLAS's buffer beside MPI's own mappings (it hung before the check).
expect_refused small-limit 200000 train --data "$work/d.h5" --epochs 1
# 3 GB: the physical memory would hold this 30000-wide network, the limit does not (it aborted before).
expect_refused wide-net 3000000 train --data "$work/d.h5" --hidden 30000,30000 --epochs 1 --max-steps 1
# A limit with room: trains.
if (ulimit -v 2000000 && exec timeout -s KILL 60 "$mpiexec" -q -n 2 --oversubscribe --bind-to none "$dist" train \
    --data "$work/d.h5" --epochs 1 --out "$work/roomy") >"$work/roomy.out" 2>&1 && [ -f "$work/roomy/checkpoint.h5" ]; then
    echo "ok   roomy: trained under ulimit -v 2000000"
else
    echo "FAIL roomy: did not train under ulimit -v 2000000"
    tail -5 "$work/roomy.out"
    fail=1
fi
exit $fail
