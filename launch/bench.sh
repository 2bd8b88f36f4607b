#!/usr/bin/env bash
# Training-throughput benchmark (issue 6): fcnet (-n 1 x 1 and 2 BLAS threads, -n 2 x 1 thread) against
# PyTorch 1.13 on CPU (1 and 2 threads, 2 also with OMP_WAIT_POLICY=PASSIVE, DDP gloo 2 x 1) and the sgemm
# bound, on the same cores, for the cs231n, fmnist and wide configurations. Prints the table; writes
# results/bench/bench.md and bench.json.
#   launch/bench.sh [--configs cs231n,fmnist,wide] [--scale 2] [--no-torch] [--wait-quiet 60]
# (--wait-quiet S: before each measurement wait up to S s for other processes to leave the CPU idle)
# Environment: FCNET_BUILD_DIR (default build/), FCNET_BENCH_WORK (scratch: synthetic datasets, logs;
# default build-bench/), FCNET_BENCH_OUT (default results/bench/). OPENBLAS_CORETYPE is used as set and
# reported. Run it on a quiet machine: the table says when other processes used the CPU meanwhile.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# --help answers at once, without installing or building anything first (standard library Python only)
for arg in "$@"; do
    case $arg in
    -h | --help)
        sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        echo
        echo "The options of launch/bench/run_bench.py, less the ones this script gives it (--fcnet, --sgemm-bound,"
        echo "--synth, --work, --out):"
        exec /usr/bin/python3 "$root/launch/bench/run_bench.py" --help
        ;;
    esac
done
# shellcheck source=launch/deps.sh
source "$root/launch/deps.sh"
fcnet_install_deps build bench

build=${FCNET_BUILD_DIR:-$root/build}
work=${FCNET_BENCH_WORK:-$root/build-bench}
out=${FCNET_BENCH_OUT:-$root/results/bench}
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$work"

echo "== build ($build)"
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$jobs" --target fcnet_dist >/dev/null
targets=$(cmake --build "$build" --target help 2>/dev/null || true)
synth=""
if grep -qw fcnet_synth <<<"$targets"; then
    cmake --build "$build" -j "$jobs" --target fcnet_synth >/dev/null && synth=$(find "$build" -name fcnet_synth -type f -perm -u+x | head -1)
fi
# The sgemm driver: CMake's target when the top level adds launch/bench, else a direct compile.
sgemm="$work/sgemm_bound"
if grep -qw sgemm_bound <<<"$targets"; then
    cmake --build "$build" --target sgemm_bound >/dev/null
    sgemm=$(find "$build" -name sgemm_bound -type f -perm -u+x | head -1)
elif [ ! -x "$sgemm" ] || [ "$root/launch/bench/sgemm_bound.c" -nt "$sgemm" ]; then
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -Wall -Wextra -o "$sgemm" "$root/launch/bench/sgemm_bound.c" $(pkg-config --cflags --libs openblas)
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec /usr/bin/python3 "$root/launch/bench/run_bench.py" --fcnet "$build/fcnet_dist" --sgemm-bound "$sgemm" \
    --synth "$synth" --work "$work" --out "$out" "$@"
