#!/usr/bin/env bash
# The bad-input corpus end to end: generates it (make_bad_inputs.sh) and runs every case as
#   mpirun -q -n 2 fcnet_dist ARGS...
# in an empty working directory. Each case must
#   - exit 2 (mpirun's status, and each rank's own status as far as recorded) within 10 s,
#   - print exactly one line on stderr, containing every '|'-separated part of the case's EXPECT
#     (the file or flag, and the object or value where the case names one), and nothing on stdout,
#   - write nothing: the working directory (where --out defaults to fcnet-out) stays empty.
# The corpus files themselves must be unchanged afterwards (nothing opens them for writing).
# A case broken only by stderr lines that are not fcnet_dist's runs once more (check_case).
# mpirun -q (orte_execute_quiet) keeps Open MPI's "primary job terminated normally, but 1 process
# returned a non-zero exit code" banner off stderr; without it every case would print 8 more lines.
#
#   tests/test_bad_inputs.sh BAD_INPUTS FCNET_SYNTH [MPIEXEC]     (FCNET_DIST from the environment)
# FCNET_BAD_JOBS (default 4) cases run at once: each is mostly waiting (MPI start-up, and mpirun's
# 1 s grace before it kills the ranks of a job that exited non-zero), ~0.35 s of CPU.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BAD_INPUTS FCNET_SYNTH [MPIEXEC]" >&2; exit 2; }
: "${FCNET_DIST:?set FCNET_DIST to the fcnet_dist binary}"
export BAD_INPUTS=$1 FCNET_SYNTH=$2 MPIEXEC=${3:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jobs=${FCNET_BAD_JOBS:-4}
limit_ms=10000

W=$(mktemp -d "${TMPDIR:-/tmp}/fcnet-bad-inputs.XXXXXX")
t0=$(date +%s%N)
bash "$here/make_bad_inputs.sh" "$W/corpus" || { echo "FAIL: make_bad_inputs.sh failed"; exit 1; }
t_gen=$((($(date +%s%N) - t0) / 1000000))
snapshot() { (cd "$W/corpus" && find . -type f ! -name cases.txt -exec cksum {} + | sort); }
before=$(snapshot)

# run_case NAME EXPECT ARG...: runs one case in $W/run/NAME and leaves its results there.
run_case() {
    local name=$1 dir=$W/run/$1
    shift 2
    mkdir -p "$dir/cwd" "$dir/rc"
    # The cases that corrupt a length HDF5 does not checksum make HDF5 itself copy past its buffers (the crash
    # fcnet turns into its error line); in the sanitizer build ASan's memcpy check would report HDF5 first.
    local asan=${ASAN_OPTIONS:-}
    [[ $name != *heap-len* ]] || asan="${asan:+$asan:}replace_intrin=0"
    local start end
    start=$(date +%s%N)
    (cd "$dir/cwd" && ASAN_OPTIONS=$asan FCNET_RC_DIR=$dir/rc timeout 30 "$MPIEXEC" -q -n 2 --oversubscribe --bind-to none \
        -x FCNET_RC_DIR sh -c 'while case $1 in *=*) export "$1" ;; *) false ;; esac; do shift; done
            "$0" "$@"; rc=$?; echo $rc >"$FCNET_RC_DIR/rank$OMPI_COMM_WORLD_RANK"; exit $rc' \
        "$FCNET_DIST" "$@" >"$dir/stdout" 2>"$dir/stderr")
    echo $? >"$dir/status"
    end=$(date +%s%N)
    echo $(((end - start) / 1000000)) >"$dir/ms"
}

# judge NAME EXPECT [FCNET_ONLY]: sets why to the reasons case NAME's results in $W/run/NAME break the rules
# above, or to "". With FCNET_ONLY=1, stderr's lines other than fcnet_dist's own are left out.
judge() {
    local name=$1 expect=$2 fcnet_only=${3:-0} dir=$W/run/$1 status ms part r
    why=""
    status=$(cat "$dir/status")
    ms=$(cat "$dir/ms")
    [ "$status" = 2 ] || why="$why exit $status (expected 2);"
    [ "$ms" -lt "$limit_ms" ] || why="$why took $ms ms;"
    # A rank's own status is recorded unless mpirun killed its wrapper first (it ends the job as soon as
    # one rank exits non-zero), so: at least one recorded, and every recorded status is 2.
    local recorded=0
    for r in "$dir"/rc/rank*; do
        [ -f "$r" ] || continue
        recorded=$((recorded + 1))
        [ "$(cat "$r")" = 2 ] || why="$why ${r##*/} exited $(cat "$r");"
    done
    [ "$recorded" -gt 0 ] || why="$why no rank recorded its exit status;"
    local -a lines=()
    if [ "$fcnet_only" = 1 ]; then
        mapfile -t lines < <(grep '^fcnet_dist: ' "$dir/stderr")
    else
        mapfile -t lines <"$dir/stderr"
    fi
    [ "${#lines[@]}" -eq 1 ] || why="$why ${#lines[@]} lines on stderr;"
    line=${lines[0]:-}
    IFS='|' read -r -a parts <<<"$expect"
    for part in "${parts[@]}"; do
        [[ "$line" == *"$part"* ]] || why="$why line lacks '$part';"
    done
    [ ! -s "$dir/stdout" ] || why="$why output on stdout;"
    [ -z "$(ls -A "$dir/cwd")" ] || why="$why wrote $(ls -A "$dir/cwd" | tr '\n' ' ');"
}

# check_case NAME EXPECT ARG...: prints "ok" or "FAIL" with the reasons; returns 1 on failure.
# A case whose only fault is lines on stderr that are not fcnet_dist's runs once more, alone, and passes if that
# run keeps every rule; its result says what the first run printed. Open MPI's runtime can print a line of its
# own while it tears down a job one rank of which exited non-zero (a PMIx "UNREACHABLE" line is a known one);
# one case of 190 in one CI run had a second line that 240 repetitions here did not bring back. Any other
# fault, fcnet_dist printing a second line among them, fails at once.
check_case() {
    local name=$1 expect=$2 dir=$W/run/$1 why line foreign=""
    judge "$name" "$expect"
    local first=$why
    [ -z "$first" ] || judge "$name" "$expect" 1
    if [ -n "$first" ] && [ -z "$why" ]; then
        foreign=$(grep -v '^fcnet_dist: ' "$dir/stderr" | head -3 | paste -sd ' ')
        mv "$dir/stderr" "$dir/stderr.first"
        rm -rf "$dir/rc"
        run_case "$@"
        judge "$name" "$expect"
        [ -z "$why" ] || why="$why (on a retry; the first run printed besides fcnet's line: $foreign)"
    else
        why=$first
    fi
    local ms
    ms=$(cat "$dir/ms")
    if [ -n "$why" ]; then
        echo "FAIL $name ($ms ms):$why"
        sed 's/^/    stderr: /' "$dir/stderr" | head -20
        sed 's/^/    stdout: /' "$dir/stdout" | head -5
        return 1
    fi
    printf 'ok   %-34s %5d ms  %s\n' "$name" "$ms" "$line"
    if [ -n "$foreign" ]; then
        retries=$((retries + 1))
        echo "     $name passed on a retry; its first run printed besides fcnet's line: $foreign"
    fi
}

mapfile -t case_lines <"$W/corpus/cases.txt"
n=${#case_lines[@]}
[ "$n" -ge 30 ] || { echo "FAIL: only $n cases (at least 30 expected)"; exit 1; }
t1=$(date +%s%N)
running=0
for entry in "${case_lines[@]}"; do
    eval "set -- $entry"
    run_case "$@" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
t_run=$((($(date +%s%N) - t1) / 1000000))

failed=0 retries=0
for entry in "${case_lines[@]}"; do
    eval "set -- $entry"
    check_case "$@" || failed=$((failed + 1))
done
after=$(snapshot)
if [ "$before" != "$after" ]; then
    echo "FAIL: corpus files changed:"
    diff <(echo "$before") <(echo "$after") | head
    failed=$((failed + 1))
fi
echo "bad inputs: $n cases, $failed failed, $retries passed on a retry; corpus generated in $t_gen ms, cases ran in $t_run ms ($jobs at a time)"
if [ "$failed" -eq 0 ]; then
    rm -rf "$W"
    exit 0
fi
echo "kept $W for inspection"
exit 1
