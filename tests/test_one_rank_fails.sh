#!/usr/bin/env bash
# A failure on one rank only (its data file is unreadable; the others' is fine) must stop every rank:
# all exit 2, one line on stderr, no hang, no output directory. Open MPI's MPMD syntax gives rank 1 a
# different --data than rank 0 (and rank 2). mpirun -q keeps Open MPI's own abort banner out of stderr.
# With one node's ranks sharing one copy of the data only rank 0 reads a file; the file cases run with
# FCNET_DATA_COPIES=private, as ranks on separate nodes (each its node's reader) would, and once shared.
set -euo pipefail
synth=$1
mpiexec=${2:-mpirun}
dist=${FCNET_DIST:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" --out "$work/good.h5" --train 200 --val 0 --test 0 --features 8 --classes 3 --seed 1 >/dev/null
printf 'not an hdf5 file\n' > "$work/bad.h5"
common=(train --hidden 16 --epochs 1 --batch-size 20 --out "$work/out" --progress lines)
fail() { echo "FAIL: $*"; echo "--- stderr"; cat "$work/stderr"; exit 1; }
# three_ranks A B C [OPTION...]: ranks 0, 1 and 2 train on the data files A, B and C (MPMD), rank 1 with the
# extra options; its streams in $work/stdout and $work/stderr, its exit status in rc.
three_ranks() {
    local a=$1 b=$2 c=$3
    shift 3
    set +e
    timeout 60 "$mpiexec" -q --oversubscribe --bind-to none -x FCNET_DATA_COPIES \
        -n 1 "$dist" "${common[@]}" --data "$a" : \
        -n 1 "$dist" "${common[@]}" --data "$b" "$@" : \
        -n 1 "$dist" "${common[@]}" --data "$c" >"$work/stdout" 2>"$work/stderr"
    rc=$?
    set -e
}
# refused CASE NAME: exit 2 (124 would be a hang), one line on stderr naming NAME, no output directory.
refused() {
    [ $rc -eq 2 ] || fail "$1: exit code $rc, want 2 (124 = hang)"
    lines=$(grep -c . "$work/stderr" || true)
    [ "$lines" -eq 1 ] || fail "$1: $lines lines on stderr, want 1"
    grep -q -- "$2" "$work/stderr" || fail "$1: the message does not name $2"
    [ ! -e "$work/out" ] || fail "$1: an output directory was created"
}
export FCNET_DATA_COPIES=private
three_ranks "$work/good.h5" "$work/bad.h5" "$work/good.h5"
refused "bad file on rank 1" bad.h5
# Two ranks fail, each with its own message: the one line is the lowest failing rank's (rank 1's), so the
# report does not depend on which rank happened to be the last.
printf 'not an hdf5 file either\n' > "$work/worse.h5"
three_ranks "$work/good.h5" "$work/bad.h5" "$work/worse.h5"
refused "two failing ranks (the lowest one's line)" bad.h5
# Shared (one node): rank 1's file is not the one rank 0 reads, and one that does not exist is named as such.
export FCNET_DATA_COPIES=shared
three_ranks "$work/good.h5" "$work/bad.h5" "$work/good.h5"
refused "another file on rank 1, shared data" "rank 1 read --data .*bad.h5, another file than"
three_ranks "$work/good.h5" "$work/missing.h5" "$work/good.h5"
refused "a missing file on rank 1, shared data" "--data: .*missing.h5: cannot open: No such file"
# A command line that only rank 1 cannot parse (MPMD: its own arguments): refused on every rank, not
# trained by the ranks that parsed theirs.
three_ranks "$work/good.h5" "$work/good.h5" "$work/good.h5" --lr abc
refused "bad flag on rank 1" --lr
echo "5 passed, 0 failed"
