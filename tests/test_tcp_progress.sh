#!/usr/bin/env bash
# shellcheck disable=SC2054 # "btl self,tcp": the commas belong to the value, not array syntax
# The exchange between nodes over TCP must not hang when Open MPI needs a rank's progress after its send is
# complete. Open MPI has no progress thread for TCP: part of a large send it counts as complete can wait in the
# sender's queue until the sender calls MPI again. A rank that then waited for its node's peers in shared memory
# without MPI calls held up the rank on the other node that waited for that message, and so, in a circle, itself
# (seen in tests/netns/bench_nodes.sh, once in a CI run and once in 18 runs in a loop; the ranks' stacks: on each
# node one rank asleep in fc_node_flag_wait, the other in MPI_Waitall, one of them for the sleeper's message of
# the other node; every socket's queues empty; calling the progress engine in that sleeper from gdb released it).
# Here on one host: 4 ranks as 2 pretend nodes of 2 (FCNET_TEST_RANKS_PER_NODE), Open MPI's TCP transport only,
# over the loopback interface with 16 KiB socket buffers, which make the queueing frequent (before the fix, of such
# runs of this net, 8 of 8 hung within 600 steps, 5 of 8 within 200). Each run must finish and end bitwise as the
# same run over Open MPI's default transports.
#   test_tcp_progress.sh SYNTH H5CMP [MPIEXEC]   (FCNET_DIST in the environment)
set -uo pipefail
synth=$1
# shellcheck disable=SC2034 # read by tap_lib.sh's same_h5
H5CMP=$2
mpiexec=${3:-mpirun}
dist=${FCNET_DIST:?}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 FCNET_TEST_RANKS_PER_NODE=2
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch tcp_progress
"$synth" --out data.h5 --train 4000 --features 784 --classes 10 --seed 5 >/dev/null || exit 1
# 784-256-10: each rank's chunk of the gradients (50 k elements, 200 KB) crosses between the nodes in one message
# larger than Open MPI's TCP fragments (128 KiB), as fmnist's 62 k did in bench_nodes.sh; a net whose chunks fit
# in one fragment (784-100-100-10) did not hang in 8 runs.
train=(train --data data.h5 --hidden 256 --norm batchnorm --keep 0.9 --optim adam --batch-size 128
    --epochs 100 --max-steps 600 --print-every 1000000 --preprocess none --val-size 0 --profile)
mpi=("$mpiexec" -q -n 4 --oversubscribe --bind-to none -x FCNET_TEST_RANKS_PER_NODE)
tcp=(--mca btl self,tcp --mca btl_tcp_if_include lo --mca btl_tcp_sndbuf 16384 --mca btl_tcp_rcvbuf 16384)
# run NAME MPI-ARGS...: 4 ranks into NAME/, its output in NAME.txt; a minute at most (they take 2-4 s)
run() {
    local name=$1
    shift
    timeout -k 5 60 "${mpi[@]}" "$@" "$dist" "${train[@]}" --out "$name" >"$name.txt" 2>&1
}
objects=(/params /optim /bn)
rc=0
run reference || rc=$?
check "over the default transports: exit 0 ($rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -5 reference.txt
check "the layout is 2 nodes of 2 ranks with running sums between them" \
    grep -q "shared memory within each of 2 nodes of 2 ranks, running sums from node to node" reference.txt
for k in 1 2 3; do
    rc=0
    run "tcp$k" "${tcp[@]}" || rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        not_ok "TCP only, run $k: still running after 60 s (a hang), killed"
        continue
    fi
    check "TCP only, run $k: exit 0 ($rc)" [ $rc -eq 0 ]
    [ $rc -eq 0 ] || tail -5 "tcp$k.txt"
    same_h5 "TCP only, run $k: the checkpoint bitwise the default transports'" reference/checkpoint.h5 \
        "tcp$k/checkpoint.h5" "${objects[@]}"
done
tap_end "$t0"
