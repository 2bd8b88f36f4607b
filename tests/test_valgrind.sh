#!/bin/bash
# fcnet_dist under valgrind's memcheck, the README's way of debugging a run: every command on one rank
# (train with a checkpoint, resume, eval, gradcheck, a truncated file refused), training at 2 ranks
# with both gradient exchanges and at 4 ranks as 2 nodes (the exchange between nodes), each with --error-exitcode, so that a read of uninitialised memory, an
# invalid access or a bad free anywhere (including those the ASan build cannot see: uninitialised values)
# fails the test, and so does memory fcnet_dist allocates and loses (a definite leak). Open MPI's own reports
# (PMIx's padding bytes, what MPI_Init allocates and never frees) are suppressed by tests/valgrind.supp and
# Open MPI's valgrind suppressions.
# The training runs are then repeated without valgrind and their checkpoints compared bitwise: valgrind's CPU has
# no AVX-512, so under it the kernels run their AVX2 forms (GCC's clones, the Philox form), and on a CPU with
# AVX-512 the native runs take the AVX-512 forms: all must give the same bits.
# usage: test_valgrind.sh FCNET_SYNTH H5CMP [MPIEXEC]   (FCNET_DIST in the environment)
# shellcheck disable=SC2054 # "--hidden 16,8": the commas belong to the value
set -euo pipefail
SYNTH=${1:?usage: test_valgrind.sh FCNET_SYNTH H5CMP [MPIEXEC]}
H5CMP=${2:?usage: test_valgrind.sh FCNET_SYNTH H5CMP [MPIEXEC]}
MPIEXEC=${3:-mpirun}
DIST=${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
if ! command -v valgrind >/dev/null 2>&1; then
    echo "skipped: valgrind is not installed"
    exit 77
fi
tap_scratch valgrind

supp=(--suppressions="$here/valgrind.supp")
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && supp+=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --num-callers=40 "${supp[@]}")
# OpenBLAS picks its kernels for the CPU it sees, and valgrind's has no AVX-512: where the CPU has AVX2 and the
# environment names no kernels, both sides get OpenBLAS's AVX2 ones, or the native GEMMs (Cooperlake, SkylakeX)
# round differently and the comparisons at the end would blame fcnet's own kernels.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=Haswell
fi

# expect NAME WANT_RC COMMAND...: exit WANT_RC (99: memcheck found an error) and no memcheck report
expect() {
    local name=$1 want=$2 rc=0
    shift 2
    "$@" >out.txt 2>err.txt || rc=$?
    if [ "$rc" -eq "$want" ] && ! grep -q '^==[0-9]*==' err.txt; then
        ok "$name"
    else
        not_ok "$name: exit $rc (want $want)"
        grep -A30 -m1 '^==[0-9]*==' err.txt || tail -5 err.txt
    fi
}

"$SYNTH" --out s.h5 --train 300 --val 40 --test 40 --features 20 --classes 4 >/dev/null
# Each training run's launcher and options, once: the runs under valgrind and their native twins at the end
# share them.
train=(--data s.h5 --hidden 16,8 --norm batchnorm --keep 0.8 --optim adam --reg 0.01 --batch-size 32 --epochs 2)
two_ranks=("$MPIEXEC" -n 2 --oversubscribe --bind-to none)
two_ln=(--data s.h5 --hidden 16,8 --norm layernorm --keep 0.9 --optim sgd_momentum --batch-size 33 --epochs 1)
two_bn=(--data s.h5 --hidden 16,8 --norm batchnorm --optim rmsprop --batch-size 32 --epochs 1 --profile)
# Pairs of ranks taken as nodes: the exchange between nodes (running sums and parameter chunks as messages).
two_nodes=(env FCNET_TEST_RANKS_PER_NODE=2 "$MPIEXEC" -n 4 --oversubscribe --bind-to none -x FCNET_TEST_RANKS_PER_NODE)
four=(--data s.h5 --hidden 16,8 --norm batchnorm --optim adam --batch-size 32 --epochs 1)

expect "one rank: train stopped by --max-steps, with a checkpoint" 0 \
    "${VG[@]}" "$DIST" train "${train[@]}" --out one --max-steps 12
expect "one rank: resume to the end" 0 "${VG[@]}" "$DIST" train --resume one/checkpoint.h5 --data s.h5 --out one
expect "one rank: eval of the checkpoint" 0 "${VG[@]}" "$DIST" eval --checkpoint one/checkpoint.h5 --data s.h5
expect "one rank: gradcheck with layernorm and dropout" 0 \
    "${VG[@]}" "$DIST" gradcheck --hidden 6,5 --norm layernorm --keep 0.7 --reg 0.1
head -c 3000 s.h5 >truncated.h5
expect "one rank: a truncated data file refused (exit 2)" 2 \
    "${VG[@]}" "$DIST" train --data truncated.h5 --out bad
for exchange in auto p2p; do
    expect "two ranks, FCNET_EXCHANGE=$exchange: layernorm, sgd_momentum, uneven shards" 0 \
        env FCNET_EXCHANGE=$exchange "${two_ranks[@]}" -x FCNET_EXCHANGE "${VG[@]}" "$DIST" train "${two_ln[@]}" \
        --out "two_$exchange"
done
expect "two ranks: batchnorm synchronised, rmsprop, --profile" 0 \
    "${two_ranks[@]}" "${VG[@]}" "$DIST" train "${two_bn[@]}" --out two_bn
expect "four ranks as two nodes: the exchange between nodes, adam" 0 \
    "${two_nodes[@]}" "${VG[@]}" "$DIST" train "${four[@]}" --out four_nodes

# The same training natively (the launchers and options above, without valgrind): bitwise the same checkpoints,
# whichever vector forms each side ran. The one-rank run goes to the end at once, against the valgrind run stopped
# and resumed (a resumed run is the uninterrupted one). OBJECTS: what h5cmp compares, /bn (the running statistics)
# where the run has batchnorm.
same_bits() {
    local name=$1 dir=$2 objects
    read -r -a objects <<<"$3"
    shift 3
    local rc=0
    "$@" --out "native_$dir" >out.txt 2>err.txt || rc=$?
    if [ "$rc" -ne 0 ]; then
        not_ok "$name: the native run exited $rc"
        tail -5 err.txt
    else
        same_h5 "$name" "$dir/checkpoint.h5" "native_$dir/checkpoint.h5" "${objects[@]}"
    fi
}
same_bits "one rank: the native run's checkpoint bitwise the one under valgrind" one \
    "/params /optim /optim@t /bn /@step" \
    "$DIST" train "${train[@]}"
for exchange in auto p2p; do
    same_bits "two ranks, FCNET_EXCHANGE=$exchange (layernorm, sgd_momentum): native and valgrind bitwise equal" \
        "two_$exchange" "/params /optim /@step" \
        env FCNET_EXCHANGE=$exchange "${two_ranks[@]}" -x FCNET_EXCHANGE "$DIST" train "${two_ln[@]}"
done
same_bits "two ranks (batchnorm, rmsprop): native and valgrind bitwise equal" two_bn "/params /optim /bn /@step" \
    "${two_ranks[@]}" "$DIST" train "${two_bn[@]}"
same_bits "four ranks as two nodes (adam): native and valgrind bitwise equal" four_nodes \
    "/params /optim /optim@t /bn /@step" "${two_nodes[@]}" "$DIST" train "${four[@]}"

tap_end "$t0"
