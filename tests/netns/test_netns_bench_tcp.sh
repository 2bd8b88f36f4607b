#!/bin/bash
# tests/netns/bench_tcp.sh end to end at its smallest (1 run of 3 steps per transport): it must finish and
# report, for shared memory, TCP and the shaped link, a gradient reduction time, a step time and a message
# latency, all positive, with the shaped link's reduction the slowest. Nothing is timed against a target.
# Skipped (77) where network namespaces cannot be made.
# usage: test_netns_bench_tcp.sh FCNET_SYNTH MPI_LATENCY   (FCNET_DIST in the environment)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/tap_lib.sh
source "$here/../tap_lib.sh"
t0=$(now)
W=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_bench_tcp_test.XXXXXX")
trap 'rm -rf "$W"' EXIT
rc=0
FCNET_SYNTH=${1:?usage} FCNET_MPI_LATENCY=${2:?usage} FCNET_BENCH_WORK=$W \
    bash "$here/bench_tcp.sh" --reps 1 --steps 3 --json "$W/r.json" --out "$W/r.md" >"$W/log" 2>&1 || rc=$?
if [ $rc -eq 77 ]; then
    echo "# skipped: network namespaces cannot be made here"
    exit 77
fi
check "bench_tcp.sh exits 0 ($rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -20 "$W/log"
read_json() { # read_json SETTING KEY
    /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["results"][sys.argv[2]][sys.argv[3]])' \
        "$W/r.json" "$1" "$2" 2>/dev/null
}
positive() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }
for s in shm tcp 1gbit; do
    for k in reduction_ms step_ms latency_us; do
        v=$(read_json "$s" "$k")
        check "$s: $k reported and positive (${v:-missing})" positive "${v:-0}"
    done
done
check "the shaped link's reduction is the slowest" awk -v a="$(read_json 1gbit reduction_ms)" \
    -v b="$(read_json tcp reduction_ms)" -v c="$(read_json shm reduction_ms)" 'BEGIN { exit !(a > b && a > c) }'
check "the Markdown table has the latency column and three rows" \
    test "$(grep -c '^| .* | [0-9.]* |$' "$W/r.md")" -eq 3 -a "$(grep -c 'message latency us' "$W/r.md")" -eq 1
tap_end "$t0"
