#!/usr/bin/env bash
# The one-node shared-memory exchange when /dev/shm is too small for it (a container's 64 MB default):
# fcnet must notice before MPI fails, say so once, fall back to MPI messages and compute the same bits as
# the shared-memory exchange and as FCNET_EXCHANGE=p2p. Likewise the node's one copy of the dataset: one
# warning, private copies, the same bits as FCNET_DATA_COPIES=private. Needs root and a private mount namespace
# (unshare -m) to mount a small /dev/shm; not as root it runs in a user namespace of its own where one can mount
# a tmpfs over /dev/shm (unshare -rm, as_root_or_skip), and exits 77 (skipped) where neither is possible. Last,
# a /dev/shm that fills up after every room check passed (SHM_ROOM_LIE, an LD_PRELOAD library, overstates its
# free space): the node's copy of the data is refused with one line naming /dev/shm, not a crash blamed on the
# dataset.
# And a /dev/shm full under one rank only (POPULATE_FAILS, an LD_PRELOAD library, fails rank 1's page taking):
# the ranks agree on the message path, with one warning.
# And a machine (PHYS_MEM_LIE, an LD_PRELOAD library, shrinks its memory) with room for one copy of the data but
# not for one per rank: the refusal's one line names /dev/shm as well as fewer ranks.
#   test_small_shm.sh SYNTH H5CMP SHM_ROOM_LIE POPULATE_FAILS PHYS_MEM_LIE [MPIEXEC]
set -euo pipefail
synth=$1
h5cmp=$2
room_lie=$3
populate_fails=$4
phys_mem_lie=$5
mpiexec=${6:-mpirun}
dist=${FCNET_DIST:?}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
as_root_or_skip /dev/shm "$@"
if ! unshare -m true 2>/dev/null; then
    echo "skipped: needs unshare -m (root without CAP_SYS_ADMIN?)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" --out "$work/data.h5" --train 600 --val 0 --test 0 --features 784 --classes 10 --seed 3 >/dev/null
# 784-1024-1024-10: 1.86 M parameters, 7.5 MB; the exchange needs 3 x 7.5 MB at 2 ranks, more than 90% of
# the 20 MB /dev/shm below.
train=(train --data "$work/data.h5" --hidden 1024,1024 --norm batchnorm --keep 0.8 --optim adam
    --batch-size 60 --epochs 1 --max-steps 6 --val-size 0 --progress lines)
mpi=(timeout 120 "$mpiexec" -q --oversubscribe --bind-to none)
lie=(-x LD_PRELOAD="$room_lie") # the ranks' room checks overstated
launch=("${mpi[@]}" -x FCNET_EXCHANGE -n 2 "$dist" "${train[@]}")
run() { # run NAME [env...]: 2 ranks, stdout/stderr kept as NAME.out/NAME.err
    local name=$1
    shift
    env "$@" "${launch[@]}" --out "$work/$name" >"$work/$name.out" 2>"$work/$name.err"
}
fail() { not_ok "$*"; }
# in_small_shm NAME WANT_RC PATTERN WHAT COMMAND...: COMMAND with a 20 MB /dev/shm in a private mount namespace
# (nothing outside it sees the mount), its output kept as NAME.out and NAME.err; its exit status must be
# WANT_RC and its stderr one line matching PATTERN.
in_small_shm() {
    local name=$1 want=$2 pattern=$3 what=$4 rc lines
    shift 4
    set +e
    unshare -m bash -c 'mount -t tmpfs -o size=20m tmpfs /dev/shm && exec "$0" "$@"' "$@" \
        >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    set -e
    [ $rc -eq "$want" ] || fail "$what: exit $rc (want $want)"
    lines=$(grep -c . "$work/$name.err" || true)
    [ "$lines" -eq 1 ] || fail "$what: $lines lines on stderr, want 1"
    grep -q "$pattern" "$work/$name.err" || fail "$what: stderr lacks '$pattern'"
}
run shm FCNET_EXCHANGE=auto || fail "shared-memory run: exit $?"
run p2p FCNET_EXCHANGE=p2p || fail "message run: exit $?"
# The same run with a 20 MB /dev/shm in a private mount namespace (nothing outside it sees the mount).
in_small_shm small 0 "/dev/shm has .* MB free.*MPI messages instead" "small /dev/shm" \
    env FCNET_EXCHANGE=auto "${launch[@]}" --out "$work/small"
[ -s "$work/shm.err" ] && fail "shared-memory run wrote to stderr: $(head -1 "$work/shm.err")"
# The same with /dev/shm filling up after the room checks (overstated by SHM_ROOM_LIE): every rank takes its
# windows' pages before the first step, finds no room, and all of them agree on the message path.
in_small_shm filled 0 "/dev/shm filled up while the shared-memory exchange .* was being set up: exchanging with MPI" \
    "/dev/shm full after the exchange's room check" env FCNET_EXCHANGE=auto "${mpi[@]}" "${lie[@]}" \
    -x FCNET_EXCHANGE -n 2 "$dist" "${train[@]}" --out "$work/filled"
# Only rank 1 finds no room for its pages (the shared windows are already made): rank 0 must not keep the
# shared-memory exchange while rank 1 leaves it.
env FCNET_EXCHANGE=auto FCNET_TEST_POPULATE_FAILS=1 "${mpi[@]}" -x LD_PRELOAD="$populate_fails" \
    -x FCNET_TEST_POPULATE_FAILS -x FCNET_EXCHANGE -n 2 "$dist" "${train[@]}" --out "$work/one_full" \
    >"$work/one_full.out" 2>"$work/one_full.err" || fail "/dev/shm full under rank 1 only: exit $?"
[ "$(grep -c . "$work/one_full.err")" -eq 1 ] && grep -q "/dev/shm filled up while the shared-memory exchange" \
    "$work/one_full.err" || fail "/dev/shm full under rank 1 only: stderr is not the one warning"
for other in p2p small filled one_full; do
    "$h5cmp" "$work/shm/checkpoint.h5" "$work/$other/checkpoint.h5" /params /bn /optim /history \
        || fail "$other differs from the shared-memory exchange"
done
# Room for the exchange's arrays but not for a synchronisation area sized for the gathers of a batchnorm layer of
# 80000 units (2 x 2.6 MB, the arrays 16.4 MB of the 18.9 MB the check allows): the shared-memory exchange is kept
# with the smallest area, and the gathers too large for it take messages, on every rank alike; no warning, the
# same bits as FCNET_EXCHANGE=p2p. (With the area sized for the gathers counted in, the whole exchange fell back
# to messages.)
"$synth" --out "$work/narrow.h5" --train 600 --val 0 --test 0 --features 4 --classes 10 --seed 5 >/dev/null
wide_bn=(train --data "$work/narrow.h5" --hidden 80000 --norm batchnorm --optim adam --batch-size 60 --max-steps 4
    --val-size 0 --progress lines --profile)
env FCNET_EXCHANGE=p2p "${mpi[@]}" -x FCNET_EXCHANGE -n 2 "$dist" "${wide_bn[@]}" --out "$work/wide_p2p" \
    >"$work/wide_p2p.out" 2>"$work/wide_p2p.err" || fail "80000-unit batchnorm, messages: exit $?"
set +e
unshare -m bash -c 'mount -t tmpfs -o size=20m tmpfs /dev/shm && exec "$0" "$@"' env FCNET_EXCHANGE=auto \
    "${mpi[@]}" -x FCNET_EXCHANGE -n 2 "$dist" "${wide_bn[@]}" --out "$work/wide_small" >"$work/wide_small.out" \
    2>"$work/wide_small.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "80000-unit batchnorm in a small /dev/shm: exit $rc"
[ -s "$work/wide_small.err" ] && fail "80000-unit batchnorm in a small /dev/shm: stderr $(head -1 "$work/wide_small.err")"
grep -q "gradient exchange: shared memory (2 ranks on one node)" "$work/wide_small.out" ||
    fail "80000-unit batchnorm in a small /dev/shm: $(grep 'gradient exchange' "$work/wide_small.out") (want shared memory)"
grep -q "batchnorm and loss gathers: the largest too large for shared memory" "$work/wide_small.out" ||
    fail "80000-unit batchnorm in a small /dev/shm: $(grep 'gathers:' "$work/wide_small.out")"
"$h5cmp" "$work/wide_p2p/checkpoint.h5" "$work/wide_small/checkpoint.h5" /params /bn /optim /history ||
    fail "80000-unit batchnorm: the small /dev/shm's run differs from FCNET_EXCHANGE=p2p"
# The node's one shared copy of the dataset when /dev/shm is too small for it: a 25 MB dataset and a small
# model (its exchange fits): one warning naming the dataset, every rank its own copy, the same bits as
# FCNET_DATA_COPIES=private.
"$synth" --out "$work/big.h5" --train 8000 --val 0 --test 0 --features 784 --classes 10 --seed 4 >/dev/null
small=(train --data "$work/big.h5" --hidden 16 --norm batchnorm --optim adam --batch-size 100 --epochs 1
    --max-steps 6 --val-size 0 --progress lines)
data_launch=("${mpi[@]}" -x FCNET_DATA_COPIES -n 2 "$dist" "${small[@]}")
env FCNET_DATA_COPIES=private "${data_launch[@]}" --out "$work/data_private" >/dev/null 2>"$work/data_private.err" ||
    fail "private data copies: exit $?"
in_small_shm data_small 0 "/dev/shm has .* MB free and one copy of .*big.h5.*every rank reads its own copy" \
    "small /dev/shm, large dataset" env FCNET_DATA_COPIES=shared "${data_launch[@]}" --out "$work/data_small"
"$h5cmp" "$work/data_private/checkpoint.h5" "$work/data_small/checkpoint.h5" /params /bn /optim /history ||
    fail "the fallback to private data copies differs from FCNET_DATA_COPIES=private"
# /dev/shm filling up after the room checks: the reader takes every page of the window before it reads a row,
# so the shortage is an error naming /dev/shm (exit 2, one line), not SIGBUS in the middle of the read.
in_small_shm data_full 2 "error: /dev/shm: no room left for this node's one copy of .*big.h5 (25 MB)" \
    "/dev/shm full after the room check" env FCNET_DATA_COPIES=shared "${mpi[@]}" "${lie[@]}" \
    -x FCNET_DATA_COPIES -n 2 "$dist" "${small[@]}" --out "$work/data_full"
[ ! -e "$work/data_full/checkpoint.h5" ] || fail "/dev/shm full after the room check: a checkpoint was written"
# Room for the node's one copy in memory (40 MB, the dataset 25 MB) but not in /dev/shm, nor for one copy per rank:
# refused with one line. The setup's warning about /dev/shm is dropped with the refused run, so the error itself
# must name it; it only said to start fewer ranks per node.
in_small_shm data_mem 2 "each with its own copy (start fewer ranks per node, or give /dev/shm the 25 MB of one shared copy: it has .* MB free)" \
    "small /dev/shm, memory for one copy only" env FCNET_DATA_COPIES=shared PHYS_MEM_LIE_MB=40 "${mpi[@]}" \
    -x LD_PRELOAD="$phys_mem_lie" -x PHYS_MEM_LIE_MB -x FCNET_DATA_COPIES -n 2 "$dist" "${small[@]}" --out "$work/data_mem"
if [ "$failed" -ne 0 ]; then
    for f in "$work"/*.err; do echo "--- $f"; cat "$f"; done
    exit 1
fi
echo "5 runs bitwise equal; the small /dev/shm fell back with one warning, for the exchange (also when it filled" \
    "up after the room check, and under one rank only) and for the data; a synchronisation area too large for it" \
    "made the smallest, the exchange kept in shared memory; filled up after the room checks, the data's copy refused naming /dev/shm; private copies beyond memory refused naming /dev/shm"
