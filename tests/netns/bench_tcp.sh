#!/bin/bash
# Gradient reduction over TCP between hosts vs shared memory (issue 8 item 4), for launch/bench.sh and the
# README's scaling model. Runs fcnet_dist --profile on the `wide` configuration (784 -> 1024,1024,1024 -> 10,
# batchnorm, keep 0.5, adam, global batch 512; 2,919,434 parameters with gamma and beta = 11.68 MB of float32 gradients per
# step) with 2 ranks three ways:
#   shm    mpirun -n 2 on one host (fcnet's shared-memory exchange: MPI shared windows, no messages)
#   tcp    2 network-namespace hosts x 1 rank (TCP over a veth pair and a bridge; tests/netns/netns_up.sh)
#   1gbit  the same hosts with each host's eth0 shaped to 1 Gbit/s by tc tbf (both directions shaped)
# and reports the profile's "gradient reduction" ms/step (slowest rank; median over --reps runs) with the bus
# bandwidth it implies: fcnet's reduction (reduce-scatter + allgather) sends and receives 2(n-1)/n x S bytes
# per rank per step, S = gradient bytes, so busbw = 2(n-1)/n x S / t; and, for the cost model's per-message
# term, each way's message latency: half the round trip of an 8-byte MPI ping-pong (launch/bench/mpi_latency).
#   tests/netns/bench_tcp.sh [--steps 30] [--reps 3] [--rate 1gbit] [--out FILE.md] [--json FILE.json]
#                            [--wait-quiet S]   (before each run wait up to S s for the CPUs to be >= 90% idle)
# Environment: FCNET_DIST (default build/fcnet_dist), FCNET_SYNTH (default build/datasets/fcnet_synth),
# FCNET_MPI_LATENCY (default build/launch/bench/mpi_latency),
# FCNET_BENCH_WORK (scratch; default a temporary folder). Needs root with network namespaces (exit 77
# otherwise, like the tests). Prints a Markdown table; --out writes it to FILE, --json the numbers.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
steps=30 reps=3 rate=1gbit out="" json="" quiet=0
while [ $# -gt 0 ]; do
    case $1 in
    --steps) steps=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --wait-quiet) quiet=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_tcp: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -z "$out" ] || out=$(readlink -f "$out")
[ -z "$json" ] || json=$(readlink -f "$json")
dist=$(readlink -f "${FCNET_DIST:-$root/build/fcnet_dist}")
synth=$(readlink -f "${FCNET_SYNTH:-$root/build/datasets/fcnet_synth}")
[ -x "$dist" ] || { echo "bench_tcp: no fcnet_dist at $dist (set FCNET_DIST)" >&2; exit 2; }
[ -x "$synth" ] || { echo "bench_tcp: no fcnet_synth at $synth (set FCNET_SYNTH)" >&2; exit 2; }
latency_bin=$(readlink -f "${FCNET_MPI_LATENCY:-$root/build/launch/bench/mpi_latency}")
[ -x "$latency_bin" ] || { echo "bench_tcp: no mpi_latency at $latency_bin (set FCNET_MPI_LATENCY)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

# shellcheck source=tests/netns/bench_hosts.sh
source "$here/bench_hosts.sh"
bench_hosts_up tcp 1

[ -f wide.h5 ] || "$synth" --out wide.h5 --train 4096 --features 784 --classes 10 --seed 1 >/dev/null
# shellcheck disable=SC2054  # 1024,1024,1024 is one argument
train=(train --data wide.h5 --hidden 1024,1024,1024 --norm batchnorm --keep 0.5 --optim adam --batch-size 512
    --epochs 1000 --max-steps "$steps" --print-every 1000000 --preprocess none --val-size 0 --profile)
params=$((784 * 1024 + 1024 + 2 * (1024 * 1024 + 1024) + 1024 * 10 + 10 + 3 * 2 * 1024))
bytes=$((params * 4))

# idle_pct: share of CPU time idle over the next second, in percent.
idle_pct() {
    local a b
    a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    echo "$a $b" | awk '{ printf "%d", 100 * ($3 - $1) / ($4 - $2 + ($4 == $2)) }'
}
wait_quiet() {
    local t=0 idle
    while [ "$t" -lt "$quiet" ]; do
        idle=$(idle_pct)
        [ "$idle" -ge 90 ] && return 0
        t=$((t + 1))
    done
    [ "$quiet" -gt 0 ] && echo "bench_tcp: CPUs still busy (idle ${idle:-?}%) after $quiet s; measuring anyway" >&2
    return 0
}

# run LABEL: one measurement; prints "reduction_ms step_ms".
run() {
    local label=$1 log=$W/$1.log
    wait_quiet
    rm -rf "$W/out-$label"
    case $label in
    shm*) timeout 600 mpirun -n 2 --oversubscribe --bind-to none -x OPENBLAS_NUM_THREADS "$dist" "${train[@]}" \
        --out "$W/out-$label" >"$log" 2>&1 ;;
    *) "$H/on" node1 timeout 600 mpirun "${host_args[@]}" --host node1,node2 -n 2 "$dist" "${train[@]}" \
        --out "$W/out-$label" >"$log" 2>&1 ;;
    esac
    tr '\r' '\n' <"$log" | awk '
        /^profile/ { p = 1; next }
        p && /ms +[0-9.]+%$/ && !/of which/ { total += $(NF - 2) }
        p && /gradient reduction/ { red = $(NF - 2) }
        END { if (red == "") exit 1; printf "%s %.3f\n", red, total }'
}
# latency SETTING: the message latency in us between the two ranks of that setting's runs.
latency() {
    local log=$W/latency-$1.log
    wait_quiet
    case $1 in
    shm) timeout 120 mpirun -n 2 --oversubscribe --bind-to none "$latency_bin" >"$log" 2>&1 ;;
    *) "$H/on" node1 timeout 120 mpirun "${host_args[@]}" --host node1,node2 -n 2 "$latency_bin" --iters 500 >"$log" 2>&1 ;;
    esac
    sed -n 's/.*half round trip \([0-9.]*\) us.*/\1/p' "$log" | grep . || { tail -5 "$log" >&2; return 1; }
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

shape() { # shape on|off: tbf on both hosts' eth0
    local k ns
    for k in 1 2; do
        ns=${prefix}node$k
        if [ "$1" = on ]; then
            ip netns exec "$ns" tc qdisc replace dev eth0 root tbf rate "$rate" burst 512kb latency 20ms
        else
            ip netns exec "$ns" tc qdisc del dev eth0 root 2>/dev/null || true
        fi
    done
}

declare -A red_ms red_min step_ms all_red lat_us
for setting in shm tcp "$rate"; do
    [ "$setting" = "$rate" ] && shape on
    reds=() stepss=()
    for r in $(seq 1 "$reps"); do
        m=$(run "$setting-$r") || { echo "bench_tcp: $setting run $r failed; see below" >&2; tail -20 "$W/$setting-$r.log" >&2; exit 1; }
        reds+=("${m% *}")
        stepss+=("${m#* }")
        echo "bench_tcp: $setting run $r: gradient reduction ${m% *} ms/step, step ${m#* } ms" >&2
    done
    red_ms[$setting]=$(printf '%s\n' "${reds[@]}" | median)
    red_min[$setting]=$(printf '%s\n' "${reds[@]}" | sort -g | head -1)
    step_ms[$setting]=$(printf '%s\n' "${stepss[@]}" | median)
    all_red[$setting]="${reds[*]}"
    lat_us[$setting]=$(latency "$setting") || { echo "bench_tcp: $setting latency run failed" >&2; exit 1; }
    echo "bench_tcp: $setting message latency ${lat_us[$setting]} us" >&2
    [ "$setting" = "$rate" ] && shape off
done

busbw() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.2f", b / (t * 1e-3) / 1e9 }'; } # 2(n-1)/n = 1 at n = 2
load=$(cut -d' ' -f1-3 /proc/loadavg)
core=$(OPENBLAS_VERBOSE=2 "$dist" --help 2>&1 | sed -n 's/^Core: *//p' | head -1)
{
    echo "Gradient reduction per step, \`wide\` config (784-1024-1024-1024-10, batchnorm; $params parameters ="
    echo "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e6 }') MB of float32 gradients), 2 ranks, fcnet_dist --profile over $steps steps, median of $reps runs"
    echo "(tests/netns/bench_tcp.sh; $(date -u +%Y-%m-%d), $(nproc) cores, load average $load${core:+, OpenBLAS core $core})."
    echo "The reduction time includes waiting for the slower rank, so other processes on the machine inflate it:"
    echo "on a shared machine the best run is the better estimate of the transport's cost."
    echo
    echo "| transport | gradient reduction ms/step: median | best run | bus bandwidth GB/s: median | best run | whole step ms (median) | runs (ms) | message latency us (8-byte ping-pong) |"
    echo "|---|---:|---:|---:|---:|---:|---|---:|"
    for setting in shm tcp "$rate"; do
        case $setting in
        shm) what="one host, fcnet's shared-memory exchange (mpirun -n 2; no messages, bus bandwidth as if S had moved)" ;;
        tcp) what="TCP, 2 namespace hosts x 1 rank (veth + bridge)" ;;
        *) what="TCP, 2 hosts, each link shaped to $rate (tc tbf)" ;;
        esac
        echo "| $what | ${red_ms[$setting]} | ${red_min[$setting]} | $(busbw "${red_ms[$setting]}") | $(busbw "${red_min[$setting]}") | ${step_ms[$setting]} | ${all_red[$setting]// /, } | ${lat_us[$setting]} |"
    done
    echo
    echo "Message latency: half the round trip of an 8-byte MPI_Send/MPI_Recv ping-pong between the two ranks"
    echo "(launch/bench/mpi_latency, median of 9 blocks); on one host that is Open MPI's shared-memory transport,"
    echo "which fcnet's own exchange there does not use (it sends no messages)."
} >"$W/table.md"
cat "$W/table.md"
[ -z "$out" ] || cp "$W/table.md" "$out"
if [ -n "$json" ]; then
    {
        echo "{\"config\": \"wide\", \"params\": $params, \"gradient_bytes\": $bytes, \"ranks\": 2, \"steps\": $steps,"
        echo " \"reps\": $reps, \"load_average\": \"$load\", \"results\": {"
        sep=""
        for setting in shm tcp "$rate"; do
            printf '%s  "%s": {"reduction_ms": %s, "reduction_ms_min": %s, "step_ms": %s, "busbw_GBps": %s, "busbw_GBps_best": %s, "runs_ms": [%s], "latency_us": %s}' \
                "$sep" "$setting" "${red_ms[$setting]}" "${red_min[$setting]}" "${step_ms[$setting]}" "$(busbw "${red_ms[$setting]}")" "$(busbw "${red_min[$setting]}")" \
                "$(echo "${all_red[$setting]}" | tr ' ' ',')" "${lat_us[$setting]}"
            sep=$',\n'
        done
        echo
        echo "}}"
    } >"$json"
fi
