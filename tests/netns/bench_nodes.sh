#!/bin/bash
# Several ranks per host over slow links: fcnet's exchange between nodes (the default where every host holds
# the same number of consecutive ranks: shared memory within a host, running sums from host to host) against
# MPI messages between all ranks (FCNET_EXCHANGE=p2p), on --hosts network-namespace hosts whose links are shaped to
# --rate (tc tbf, both directions), for each configuration and each count of ranks per host. The runs of the
# two exchanges alternate (A-B-B-A ...); each reports --profile's step (rank 0's) and gradient reduction (the
# slowest rank's), in ms per step, and the table gives their medians and the ratio. The two exchanges' checkpoints must be bitwise equal.
#   tests/netns/bench_nodes.sh [--configs fmnist,cs231n,wide] [--ranks-per-host 2,4] [--hosts 2] [--reps 2]
#                              [--rate 1gbit] [--scale 1] [--out FILE.md] [--json FILE.json]
# --scale multiplies the steps of every run (0.1: a smoke run). Environment: FCNET_DIST (default
# build/fcnet_dist), FCNET_SYNTH (default build/datasets/fcnet_synth), FCNET_BENCH_WORK (scratch; default a
# temporary folder). Needs root with network namespaces (exit 77 otherwise, like the tests); exit 1 when a run
# fails or the two exchanges' checkpoints differ.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
configs=fmnist,cs231n,wide per_host=2,4 hosts=2 reps=2 rate=1gbit scale=1 out="" json=""
while [ $# -gt 0 ]; do
    case $1 in
    --configs) configs=$2; shift 2 ;;
    --ranks-per-host) per_host=$2; shift 2 ;;
    --hosts) hosts=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --out) out=$(readlink -f "$2"); shift 2 ;;
    --json) json=$(readlink -f "$2"); shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_nodes: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
dist=$(readlink -f "${FCNET_DIST:-$root/build/fcnet_dist}")
synth=$(readlink -f "${FCNET_SYNTH:-$root/build/datasets/fcnet_synth}")
[ -x "$dist" ] || { echo "bench_nodes: no fcnet_dist at $dist (set FCNET_DIST)" >&2; exit 2; }
[ -x "$synth" ] || { echo "bench_nodes: no fcnet_synth at $synth (set FCNET_SYNTH)" >&2; exit 2; }
h5cmp=$(readlink -f "${FCNET_H5CMP:-$(dirname "$dist")/tests/h5cmp}")
# Checked before the runs: without it every pair of checkpoints was reported as differing.
[ -x "$h5cmp" ] || { echo "bench_nodes: no h5cmp at $h5cmp (build the h5cmp target, or set FCNET_H5CMP)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

# shellcheck source=tests/netns/bench_hosts.sh
source "$here/bench_hosts.sh"
most=$(tr ',' '\n' <<<"$per_host" | sort -n | tail -1)
bench_hosts_up nodes "$most" "$hosts"
for k in $(seq 1 "$hosts"); do
    ip netns exec "${prefix}node$k" tc qdisc replace dev eth0 root tbf rate "$rate" burst 512kb latency 20ms
done

# config NAME: sets D, hidden, extra (options), B (global batch), steps (at --scale 1), P (parameters), G (the
# doubles of a rank's blocks in a step's batchnorm and loss gathers: 2n + 1 per layer of n units forward and
# backward, the loss's 4).
config() {
    case $1 in
    fmnist) D=784 hidden=256,128,100 extra="--keep 0.9" B=128 steps=200 ;;
    cs231n) D=3072 hidden=100,100,100,100,100 extra="" B=200 steps=150 ;;
    wide) D=784 hidden=1024,1024,1024 extra="--keep 0.5" B=512 steps=20 ;;
    *) echo "bench_nodes: unknown config '$1' (fmnist, cs231n, wide)" >&2; exit 2 ;;
    esac
    P=$(awk -v d="$D" -v h="$hidden" 'BEGIN { n = split(h, w, ","); p = 0; a = d
        for (i = 1; i <= n; i++) { p += a * w[i] + 3 * w[i]; a = w[i] } print p + a * 10 + 10 }')
    G=$(awk -v h="$hidden" 'BEGIN { n = split(h, w, ","); g = 4; for (i = 1; i <= n; i++) g += 2 * (2 * w[i] + 1)
        print g }')
    steps=$(awk -v s="$steps" -v k="$scale" 'BEGIN { v = int(s * k + 0.5); print (v < 2 ? 2 : v) }')
}

# run EXCHANGE R: one run on the hosts x R ranks; prints "step_ms reduction_ms" (rank 0's profile).
run() {
    local ex=$1 r=$2 log=$W/$name-$2-$1.log
    rm -rf "$W/out-$ex"
    local spec
    spec=$(seq 1 "$hosts" | sed "s/.*/node&:$r/" | paste -sd,)
    # shellcheck disable=SC2086  # $extra is a list of options
    FCNET_EXCHANGE=$ex "$H/on" node1 timeout 900 mpirun "${host_args[@]}" -x FCNET_EXCHANGE --host "$spec" \
        -n $((hosts * r)) "$dist" train --data "$name.h5" --hidden "$hidden" --norm batchnorm $extra --optim adam \
        --batch-size "$B" --epochs 1000 --max-steps "$steps" --print-every 1000000 --preprocess none --val-size 0 \
        --profile --out "$W/out-$ex" >"$log" 2>&1 || { echo "bench_nodes: $name $ex at $hosts x $r failed:" >&2; tail -20 "$log" >&2; return 1; }
    awk '/gradient reduction/ { red = $(NF - 2) } /^  rank 0: GEMM/ { sub(/.*step /, ""); step = $1 }
        END { if (red == "" || step == "") exit 1; print step, red }' "$log"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rows=() json_rows=() failed=0
for name in ${configs//,/ }; do
    config "$name"
    [ -f "$name.h5" ] || "$synth" --out "$name.h5" --train $((B * 40)) --val 0 --test 0 --features "$D" --classes 10 \
        --seed 1 >/dev/null
    for r in ${per_host//,/ }; do
        declare -A steps_of=() reds_of=()
        for k in $(seq 1 "$reps"); do
            order="p2p auto"
            [ $((k % 2)) -eq 0 ] && order="auto p2p"
            for ex in $order; do
                m=$(run "$ex" "$r") || exit 1
                steps_of[$ex]+="${m% *} " reds_of[$ex]+="${m#* } "
                echo "bench_nodes: $name $hosts x $r $ex run $k: step ${m% *} ms, gradient reduction ${m#* } ms" >&2
            done
            if ! "$h5cmp" "$W/out-p2p/checkpoint.h5" "$W/out-auto/checkpoint.h5" / >"$W/cmp.txt" 2>&1; then
                echo "bench_nodes: $name $hosts x $r: the two exchanges' checkpoints differ:" >&2
                grep -v identical "$W/cmp.txt" | head -5 >&2
                failed=1
            fi
        done
        sp=$(tr ' ' '\n' <<<"${steps_of[p2p]}" | grep . | median)
        sa=$(tr ' ' '\n' <<<"${steps_of[auto]}" | grep . | median)
        rp=$(tr ' ' '\n' <<<"${reds_of[p2p]}" | grep . | median)
        ra=$(tr ' ' '\n' <<<"${reds_of[auto]}" | grep . | median)
        # floats each way over a host's link per step: all-to-all 2 R (N-R)/N P (reduce-scatter and allgather);
        # between nodes, on the busier direction, P of running sums and (M-1)/M P of the allgather at 2 hosts,
        # and 2 P into a middle host (P of running sums, (M-1)/M P of the allgather, P/M finished chunks). Then
        # the gathers' doubles: all-to-all each rank's G to every rank of the other hosts, R^2 (M-1) G out of a
        # host; between nodes each rank's G once to every other host, R (M-1) G.
        n=$((hosts * r))
        mb_p2p=$(awk -v p="$P" -v r="$r" -v n="$n" -v g="$G" -v m="$hosts" \
            'BEGIN { printf "%.1f", (2 * r * (n - r) / n * p * 4 + r * r * (m - 1) * g * 8) / 1e6 }')
        mb_auto=$(awk -v p="$P" -v m="$hosts" -v r="$r" -v g="$G" \
            'BEGIN { printf "%.1f", ((m == 2 ? 1.5 : 2) * p * 4 + r * (m - 1) * g * 8) / 1e6 }')
        ratio=$(awk -v a="$sp" -v b="$sa" 'BEGIN { printf "%.2f", a / b }')
        rows+=("| $name | $hosts x $r | $sp | $sa | **$ratio** | $rp | $ra | $mb_p2p | $mb_auto |")
        json_rows+=("\"$name-${hosts}x$r\": {\"config\": \"$name\", \"hosts\": $hosts, \"ranks_per_host\": $r, \"params\": $P, \"steps\": $steps, \"step_ms_p2p\": $sp, \"step_ms_nodes\": $sa, \"speedup\": $ratio, \"reduction_ms_p2p\": $rp, \"reduction_ms_nodes\": $ra, \"runs_step_ms_p2p\": [$(echo ${steps_of[p2p]} | tr ' ' ',')], \"runs_step_ms_nodes\": [$(echo ${steps_of[auto]} | tr ' ' ',')]}")
        unset steps_of reds_of
    done
done
{
    echo "$hosts hosts (network namespaces, each link shaped to $rate by tc tbf) with R ranks each: the step with MPI"
    echo "messages between all ranks (FCNET_EXCHANGE=p2p) against fcnet's exchange between nodes (shared memory within a"
    echo "host, running sums from host to host), rank 0's --profile, ms per step, median of $reps runs each, alternating"
    echo "(tests/netns/bench_nodes.sh; $(date -u +%Y-%m-%d), $(nproc) cores shared by all the ranks, load average"
    echo "$(cut -d' ' -f1-3 /proc/loadavg)). MB per step: sent each way over a host's link, from the exchange's design"
    echo "(all-to-all: 2 R (N-R)/N x P floats, and R^2 (M-1) G doubles of the batchnorm and loss gathers for G per rank;"
    echo "between nodes: 1.5 P at 2 hosts, 2 P from 3, and R (M-1) G). The two exchanges'"
    echo "checkpoints are bitwise equal in every pair of runs$([ $failed -eq 0 ] || echo ' (NOT: see the log)')."
    echo
    echo "| config | hosts x ranks | step ms, all-to-all | step ms, between nodes | all-to-all / between nodes | reduction ms, all-to-all | reduction ms, between nodes | MB per step, all-to-all | MB per step, between nodes |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
} >"$W/table.md"
cat "$W/table.md"
[ -z "$out" ] || cp "$W/table.md" "$out"
if [ -n "$json" ]; then
    {
        echo "{\"rate\": \"$rate\", \"reps\": $reps, \"bitwise_equal\": $([ $failed -eq 0 ] && echo true || echo false), \"results\": {"
        (IFS=$'\n'; echo "${json_rows[*]}" | sed '$!s/$/,/')
        echo "}}"
    } >"$json"
fi
exit $failed
