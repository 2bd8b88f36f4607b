# TAP-style bookkeeping shared by the shell-driven tests and the multi-host and Slurm test libraries
# (sourced, not run).
# shellcheck shell=bash
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
# check NAME COMMAND...: ok when COMMAND succeeds, else not ok.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# compare_h5 NAME GOT WANT h5compare-arguments...: ok when $H5COMPARE finds the two HDF5 files equal within the
# given tolerances (its summary in the line), else not ok; every tensor's line follows for the log ($T: scratch).
compare_h5() {
    local name=$1 got=$2 want=$3
    shift 3
    local rc=0
    "$H5COMPARE" "$got" "$want" "$@" >"$T/cmp.txt" 2>&1 || rc=$?
    local summary
    summary=$(tail -n 1 "$T/cmp.txt" | sed 's/^h5compare [^:]*: //')
    if [ "$rc" -eq 0 ]; then ok "$name: $summary"; else not_ok "$name: $summary"; fi
    sed '$d' "$T/cmp.txt" | sed 's/^/    /'
}
now() { date +%s.%N; }
# elapsed T0 [T1]: seconds from T0 to T1 (default: now), one decimal.
elapsed() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }
# tap_end T0: the verdict line; fails when any check failed.
tap_end() {
    echo "# $passed passed, $failed failed, $(elapsed "$1") s in all"
    [ "$failed" -eq 0 ]
}
