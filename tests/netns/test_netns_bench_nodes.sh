#!/bin/bash
# tests/netns/bench_nodes.sh end to end at its smallest (fmnist, 2 hosts x 2 ranks, one run of 10 steps per
# exchange): it must finish, report both exchanges' step and reduction times (positive) with the design's bytes
# per step, and find the two exchanges' checkpoints bitwise equal. Nothing is timed against a target.
# Skipped (77) where network namespaces cannot be made.
# usage: test_netns_bench_nodes.sh FCNET_SYNTH   (FCNET_DIST and FCNET_H5CMP in the environment)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/tap_lib.sh
source "$here/../tap_lib.sh"
t0=$(now)
W=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_bench_nodes_test.XXXXXX")
trap 'rm -rf "$W"' EXIT
FCNET_SYNTH=${1:?usage} FCNET_BENCH_WORK=$W bash "$here/bench_nodes.sh" --configs fmnist --ranks-per-host 2 \
    --reps 1 --scale 0.05 --json "$W/r.json" --out "$W/r.md" >"$W/log" 2>&1 &
bench=$!
# It takes 3-6 s. Once (a clean-clone CI run, 2026-12-07) the node-by-node run hung after its step-0 evaluation
# until ctest's limit, leaving nothing to read: past 120 s the ranks' stacks are printed (gdb, where installed)
# and the ranks killed, so that a hang fails this test with its evidence. The stacks of the next hang (1 in 18
# runs in a loop) showed its cause, since fixed: a rank asleep on its node's peers without MPI calls while a rank
# on the other node waited for a message the sleeper still had to push (test_tcp_progress.sh).
for ((waited = 0; waited < 120; waited++)); do
    kill -0 "$bench" 2>/dev/null || break
    sleep 1
done
if kill -0 "$bench" 2>/dev/null; then
    echo "# bench_nodes.sh still running after 120 s: a hang; the ranks' stacks:"
    # the ranks themselves (their command line starts with the program), not mpirun or bench_nodes.sh
    ranks=$(pgrep -f -- "^$(readlink -f "$FCNET_DIST") train .*--out $W/")
    for p in $ranks; do
        echo "# rank process $p: $({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-100)"
        if command -v gdb >/dev/null; then
            timeout 10 gdb -batch -p "$p" -ex "thread apply all bt" 2>/dev/null | grep -E '^(#|Thread)' | sed 's/^/#   /'
        fi
    done
    # shellcheck disable=SC2086  # a list of pids
    [ -z "$ranks" ] || kill -KILL $ranks 2>/dev/null
    sed 's/^/# log: /' "$W/log"
fi
rc=0
wait "$bench" || rc=$?
if [ $rc -eq 77 ]; then
    echo "# skipped: network namespaces cannot be made here"
    exit 77
fi
check "bench_nodes.sh exits 0 ($rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -20 "$W/log"
read_json() { # read_json KEY: results["fmnist-2x2"][KEY], or a top-level KEY
    /usr/bin/python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); r = j["results"]["fmnist-2x2"]
print(r[sys.argv[2]] if sys.argv[2] in r else j[sys.argv[2]])' "$W/r.json" "$1" 2>/dev/null
}
positive() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }
for k in step_ms_p2p step_ms_nodes reduction_ms_p2p reduction_ms_nodes; do
    v=$(read_json "$k")
    check "$k reported and positive (${v:-missing})" positive "${v:-0}"
done
check "the two exchanges' checkpoints bitwise equal ($(read_json bitwise_equal))" test "$(read_json bitwise_equal)" = True
# fmnist's 248,734 parameters: all-to-all 2 x 2 x 2 / 4 x 4P = 1.99 MB, between nodes 1.5 x 4P = 1.49 MB per step;
# its gathers 4 + 2 (513 + 257 + 201) = 1946 doubles per rank: all-to-all 2 x 2 x 1946 x 8 = 0.06 MB (2.1 in all),
# between nodes 2 x 1946 x 8 = 0.03 MB (1.5)
check "the table's fmnist row with the design's bytes per step" grep -q '^| fmnist | 2 x 2 | .* | 2.1 | 1.5 |$' "$W/r.md"
tap_end "$t0"
