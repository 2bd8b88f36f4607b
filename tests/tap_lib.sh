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
now() { date +%s.%N; }
# elapsed T0 [T1]: seconds from T0 to T1 (default: now), one decimal.
elapsed() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }
# tap_end T0: the verdict line; fails when any check failed.
tap_end() {
    echo "# $passed passed, $failed failed, $(elapsed "$1") s in all"
    [ "$failed" -eq 0 ]
}
