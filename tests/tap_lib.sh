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
# same_h5 NAME A B OBJECT...: ok when $H5CMP finds the HDF5 files A and B bitwise equal in every OBJECT, else
# not ok with h5cmp's first lines ($T: scratch).
same_h5() {
    local name=$1 a=$2 b=$3
    shift 3
    if "$H5CMP" "$a" "$b" "$@" >"$T/cmp.txt" 2>&1; then
        ok "$name"
    else
        not_ok "$name: not bitwise equal"
        head -5 "$T/cmp.txt" | sed 's/^/    /'
    fi
}
# tap_scratch NAME: T, a fresh folder fcnet_test_NAME.* under $TMPDIR (or /tmp), removed when the script exits,
# made the working directory (a script that is given relative paths makes them absolute first).
tap_scratch() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_test_$1.XXXXXX") || exit 1
    trap 'rm -rf "$T"' EXIT
    cd "$T" || exit 1
}
now() { date +%s.%N; }
# elapsed T0 [T1]: seconds from T0 to T1 (default: now), one decimal.
elapsed() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }
# tap_end T0: the verdict line; fails when any check failed.
tap_end() {
    echo "# $passed passed, $failed failed, $(elapsed "$1") s in all"
    [ "$failed" -eq 0 ]
}
# as_root_or_skip MOUNTPOINT ARG...: for a test that mounts file systems (called from the script itself, which
# is run as `bash SCRIPT ARG...`, with its ARGs). As root it returns. Otherwise, where an unprivileged user
# namespace may mount a tmpfs over MOUNTPOINT (probed: `unshare -rm`, the user mapped to root in a new user and
# mount namespace), it runs the script again in such a namespace and exits with its status: there the script is
# root (Open MPI wants OMPI_ALLOW_RUN_AS_ROOT*), its mounts private to it and gone when it ends. TMPDIR there is
# a fresh directory, removed after a pass or a skip (after a failure only where empty): Open MPI's session
# directory is $TMPDIR/ompi.HOST.UID, and as uid 0 it would be real root's, which the namespace may not write
# ("ORTE_ERROR_LOG: Error in file ../../../orte/util/session_dir.c" where root ran mpirun before), or be left
# there under root's name, owned by the user. Where neither works it skips: one line with unshare's reason, exit 77.
as_root_or_skip() {
    local at=$1 why tmp rc
    shift
    [ "$(id -u)" -eq 0 ] && return 0
    if [ -n "${FCNET_USERNS:-}" ]; then # mapped to root by unshare -r, yet not uid 0: never loop
        echo "skipped: not root inside the user namespace (uid $(id -u))"
        exit 77
    fi
    # shellcheck disable=SC2016 # $0 is the probe's own
    if ! why=$(unshare -rm sh -c 'mount -t tmpfs -o size=1m fcnet-probe "$0"' "$at" 2>&1); then
        why=${why##*$'\n'}
        echo "skipped: not root, and no user namespace can mount a tmpfs here (unshare -rm: ${why:-exit status not 0})"
        exit 77
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/fcnet-userns.XXXXXX") || exit 1
    rc=0
    FCNET_USERNS=1 TMPDIR=$tmp unshare -rm bash "$0" "$@" || rc=$? # || : the caller may run under set -e
    if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then rm -rf "$tmp"; else rmdir "$tmp" 2>/dev/null || true; fi
    exit $rc
}
# other_user: AS_OTHER, the words that run a command as a user other than root, for the cases of files the user
# cannot write or read, or of a user without root. As root: user nobody through setpriv (HOME=/tmp), or (skip)
# where there is no setpriv or no user nobody. As any other user: nothing, the user stands in for itself.
other_user() {
    AS_OTHER=()
    [ "$(id -u)" = 0 ] || return 0
    if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
        AS_OTHER=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env HOME=/tmp)
    else
        AS_OTHER=(skip)
    fi
}
