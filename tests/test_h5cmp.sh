#!/usr/bin/env bash
# h5cmp, the checkpoint comparer the resume tests trust, on an OBJECT that is neither a dataset nor a group: a
# named datatype (bad_inputs' data file test-datatype, whose /test is one) must be reported as a difference
# ("not a group in both files", exit 1), not crash the tool. MALLOC_PERTURB_ makes glibc fill each allocation
# with a non-zero byte, so that a list read before anything was written to it holds garbage rather than the
# zeros a fresh heap page happens to hold. The same file's /train, a group, compares equal as a baseline.
# A checkpoint of 256 hidden layers holds 5134 datasets: a difference in the last of them (in name order) is found,
# where a list of 4096 names left the rest uncompared.
#
#   tests/test_h5cmp.sh H5CMP BAD_INPUTS SYNTH        (FCNET_DIST: fcnet_dist, from CTest)
set -u
[ $# -eq 3 ] || { echo "usage: $0 H5CMP BAD_INPUTS SYNTH" >&2; exit 2; }
H5CMP=$1 BAD_INPUTS=$2 SYNTH=$3
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet-h5cmp.XXXXXX")
trap 'rm -rf "$T"' EXIT
t0=$(now)

"$BAD_INPUTS" data test-datatype "$T/a.h5" || { echo "not ok - bad_inputs data test-datatype failed"; exit 1; }

# answers NAME WANT_RC WANT_STDOUT OBJECT: h5cmp a.h5 a.h5 OBJECT exits WANT_RC with WANT_STDOUT and no stderr.
answers() {
    local name=$1 want_rc=$2 want_out=$3 rc=0
    MALLOC_PERTURB_=165 "$H5CMP" "$T/a.h5" "$T/a.h5" "$4" >"$T/out" 2>"$T/err" || rc=$?
    if [ "$rc" = "$want_rc" ] && [ "$(cat "$T/out")" = "$want_out" ] && [ ! -s "$T/err" ]; then
        ok "$name"
    else
        not_ok "$name: exit $rc (expected $want_rc), stdout '$(cat "$T/out")', stderr '$(cat "$T/err")'"
    fi
}
answers "a group compared with itself: equal" 0 "" /train
answers "a named datatype: not a group in both files" 1 "/test: not a group in both files" /test

# Two checkpoints of 256 hidden layers from two data files that differ: b.h5 is a.h5 but for /preprocess, which
# comes last in name order and is taken from the other run's checkpoint.
deep=$(printf '2,%.0s' $(seq 255))2
for k in 1 2; do
    "$SYNTH" --out "$T/d$k.h5" --train 20 --features 3 --classes 2 --seed $k >/dev/null &&
        "$FCNET_DIST" train --data "$T/d$k.h5" --hidden "$deep" --norm batchnorm --optim adam --batch-size 10 \
            --epochs 1 --max-steps 1 --val-size 2 --out "$T/run$k" >/dev/null 2>&1 ||
        { echo "not ok - the 256-layer run $k failed"; exit 1; }
done
for g in best bn history optim params; do h5copy -i "$T/run1/checkpoint.h5" -o "$T/b.h5" -s /$g -d /$g; done
h5copy -i "$T/run2/checkpoint.h5" -o "$T/b.h5" -s /preprocess -d /preprocess
n=$(h5ls -r "$T/b.h5" | grep -c Dataset)
rc=0
"$H5CMP" "$T/run1/checkpoint.h5" "$T/b.h5" / >"$T/out" 2>"$T/err" || rc=$?
if [ "$n" -gt 4096 ] && [ $rc = 1 ] && grep -q "^/preprocess/mean" "$T/out" &&
    [ "$(grep -vc "^/preprocess/" "$T/out")" = 0 ]; then
    ok "$n datasets: the difference in the last ones found, and only there"
else
    not_ok "$n datasets: exit $rc, stdout '$(head -c 300 "$T/out")', stderr '$(head -c 300 "$T/err")'"
fi

tap_end "$t0"
