#!/usr/bin/env bash
# A failure on one rank only (its data file is unreadable; the others' is fine) must stop every rank:
# all exit 2, one line on stderr, no hang, no output directory. Open MPI's MPMD syntax gives rank 1 a
# different --data than rank 0 (and rank 2). mpirun -q keeps Open MPI's own abort banner out of stderr.
set -euo pipefail
synth=$1
mpiexec=${2:-mpirun}
dist=${FCNET_DIST:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" --out "$work/good.h5" --train 200 --val 0 --test 0 --features 8 --classes 3 --seed 1 >/dev/null
printf 'not an hdf5 file\n' > "$work/bad.h5"
common=(train --hidden 16 --epochs 1 --batch-size 20 --out "$work/out" --progress lines)
set +e
timeout 60 "$mpiexec" -q --oversubscribe --bind-to none \
    -n 1 "$dist" "${common[@]}" --data "$work/good.h5" : \
    -n 1 "$dist" "${common[@]}" --data "$work/bad.h5" : \
    -n 1 "$dist" "${common[@]}" --data "$work/good.h5" >"$work/stdout" 2>"$work/stderr"
rc=$?
set -e
fail() { echo "FAIL: $*"; echo "--- stderr"; cat "$work/stderr"; exit 1; }
[ $rc -eq 2 ] || fail "exit code $rc, want 2 (124 = hang)"
lines=$(grep -c . "$work/stderr" || true)
[ "$lines" -eq 1 ] || fail "$lines lines on stderr, want 1"
grep -q "bad.h5" "$work/stderr" || fail "the message does not name the file"
[ ! -e "$work/out" ] || fail "an output directory was created"
# Two ranks fail, each with its own message: the one line is the lowest failing rank's (rank 1's), so the
# report does not depend on which rank happened to be the last.
printf 'not an hdf5 file either\n' > "$work/worse.h5"
set +e
timeout 60 "$mpiexec" -q --oversubscribe --bind-to none \
    -n 1 "$dist" "${common[@]}" --data "$work/good.h5" : \
    -n 1 "$dist" "${common[@]}" --data "$work/bad.h5" : \
    -n 1 "$dist" "${common[@]}" --data "$work/worse.h5" >"$work/stdout" 2>"$work/stderr"
rc=$?
set -e
[ $rc -eq 2 ] || fail "two failing ranks: exit code $rc, want 2 (124 = hang)"
lines=$(grep -c . "$work/stderr" || true)
[ "$lines" -eq 1 ] || fail "two failing ranks: $lines lines on stderr, want 1"
grep -q "bad.h5" "$work/stderr" || fail "two failing ranks: the line is not the lowest failing rank's (bad.h5)"
# A command line that only rank 1 cannot parse (MPMD: its own arguments): refused on every rank, not
# trained by the ranks that parsed theirs.
rm -rf "$work/out"
set +e
timeout 60 "$mpiexec" -q --oversubscribe --bind-to none \
    -n 1 "$dist" "${common[@]}" --data "$work/good.h5" : \
    -n 1 "$dist" "${common[@]}" --data "$work/good.h5" --lr abc : \
    -n 1 "$dist" "${common[@]}" --data "$work/good.h5" >"$work/stdout" 2>"$work/stderr"
rc=$?
set -e
[ $rc -eq 2 ] || fail "bad flag on rank 1: exit code $rc, want 2 (124 = hang)"
lines=$(grep -c . "$work/stderr" || true)
[ "$lines" -eq 1 ] || fail "bad flag on rank 1: $lines lines on stderr, want 1"
grep -q -- "--lr" "$work/stderr" || fail "bad flag on rank 1: the message does not name --lr"
[ ! -e "$work/out" ] || fail "bad flag on rank 1: an output directory was created"
echo "3 passed, 0 failed"
