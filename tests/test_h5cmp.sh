#!/usr/bin/env bash
# h5cmp, the checkpoint comparer the resume tests trust, on an OBJECT that is neither a dataset nor a group: a
# named datatype (bad_inputs' data file test-datatype, whose /test is one) must be reported as a difference
# ("not a group in both files", exit 1), not crash the tool. MALLOC_PERTURB_ makes glibc fill each allocation
# with a non-zero byte, so that a list read before anything was written to it holds garbage rather than the
# zeros a fresh heap page happens to hold. The same file's /train, a group, compares equal as a baseline.
#
#   tests/test_h5cmp.sh H5CMP BAD_INPUTS
set -u
[ $# -eq 2 ] || { echo "usage: $0 H5CMP BAD_INPUTS" >&2; exit 2; }
H5CMP=$1 BAD_INPUTS=$2
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

tap_end "$t0"
