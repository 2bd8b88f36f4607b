#!/bin/bash
# fcnet_dist across network-namespace hosts (TCP between hosts, one orted per host, launched through an
# ssh-like agent) against the same run under plain mpirun on one host (shared memory): 2 hosts x 1 rank vs
# -n 2, 2 hosts x 2 ranks (from a hostfile) vs -n 4, 3 hosts x 1 rank vs -n 3, 3 hosts x 2 ranks vs -n 6,
# 2 + 1 and 1 + 2 ranks on 2 hosts vs -n 3 (--profile's training-data line counting both nodes' ranks), and
# launch/local.sh given the 3-host list without FCNET_RANKS (one rank per slot) vs -n 3. The checkpoints must
# be bitwise equal: the reduction order must not depend on the transport or on the exchange (--profile names
# it: between nodes where each host holds the same number, 2 or more, of consecutive ranks; MPI messages
# between all ranks otherwise).
# Skipped (77) where network namespaces cannot be made.
# usage: test_netns_bitwise.sh FCNET_SYNTH   (FCNET_DIST in the environment)
# shellcheck source=tests/netns/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SYNTH=${1:?usage: test_netns_bitwise.sh FCNET_SYNTH}

netns_test_start netns_bitwise 3 2
make_data "$SYNTH" data.h5

# compare NAME N HOSTS EXCHANGE MULTI-HOST-MPIRUN-ARGS...: N ranks on HOSTS hosts vs mpirun -n N on one host;
# EXCHANGE: the start of --profile's "gradient exchange:" line the multi-host run must print.
compare() {
    local name=$1 n=$2 want_hosts=$3 exchange=$4 t0 rc=0
    shift 4
    t0=$(now)
    # (one run per rank count: a later case with the same count compares with the same one)
    [ -f "one$n/checkpoint.h5" ] ||
        one_host "$n" "$FCNET_DIST" --data data.h5 "${TRAIN_ARGS[@]}" --out "one$n" >"one$n.log" 2>&1 || rc=$?
    local t_one
    t_one=$(elapsed "$t0")
    t0=$(now)
    on_hosts "$@" "$FCNET_DIST" --data data.h5 "${TRAIN_ARGS[@]}" --profile --out "$name" >"$name.log" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        not_ok "$name: a run failed (exit $rc)"
        return
    fi
    echo "# $name: one host -n $n $t_one s, across hosts $(elapsed "$t0") s"
    # Where the same placement puts ranks: host name and network namespace of each. Only the ranks' lines
    # count: mpirun's own notices (on stderr, or "[node1:PID] ..." lines under load) are kept apart.
    local placed where hosts_used
    # shellcheck disable=SC2016  # expanded by each rank's shell
    placed=$(on_hosts "$@" bash -c 'echo "$(hostname) $(readlink /proc/self/ns/net)"' 2>"$name.probe.err" |
        grep -E '^[A-Za-z0-9.-]+ net:\[[0-9]+\]$' | sort)
    where=$(echo "$placed" | uniq -c | awk '{ printf "%s%s x%d", s, $2, $1; s = ", " }')
    hosts_used=$(echo "$placed" | awk '{ print $2 }' | sort -u | grep -c .)
    if grep -q "^fcnet .*: $n rank(s)" "$name.log" && [ "$hosts_used" -eq "$want_hosts" ]; then
        ok "$name: $n ranks on $hosts_used hosts, each its own network namespace ($where)"
    else
        not_ok "$name: want $n ranks on $want_hosts hosts, got: $where (probe stderr: $(head -3 "$name.probe.err"))"
    fi
    if grep -q "^  gradient exchange: $exchange" "$name.log"; then
        ok "$name: $(grep -m1 '^  gradient exchange:' "$name.log" | sed 's/^ *//')"
    else
        not_ok "$name: want the exchange '$exchange', the profile says: $(grep '^  gradient exchange:' "$name.log")"
    fi
    same_checkpoint "one$n/checkpoint.h5" "$name/checkpoint.h5" "$name vs mpirun -n $n on one host"
}

between_nodes="shared memory within each of"
compare 2hosts_x1 2 2 "MPI messages" --host node1,node2 -n 2
compare 2hosts_x2 4 2 "$between_nodes 2 nodes of 2 ranks" --hostfile "$H/hostfile" --host node1:2,node2:2 -n 4
compare 3hosts_x1 3 3 "MPI messages" --host node1,node2,node3 -n 3
compare 3hosts_x2 6 3 "$between_nodes 3 nodes of 2 ranks" --host node1:2,node2:2,node3:2 -n 6
compare 2hosts_2+1 3 2 "MPI messages" --host node1:2,node2:1 -n 3
compare 2hosts_1+2 3 2 "MPI messages" --host node1:1,node2:2 -n 3
# Each node decides alone whether its ranks share one copy of the data (a node of one rank cannot), so
# --profile counts every node's ranks: it said "each rank holds its own copy" for 1+2, from rank 0's node,
# and "for the 2 ranks of rank 0's node" where every node shares its own copy.
profile_data_line() {
    local name=$1 want=$2 line
    line=$(grep -m1 '^  training data:' "$name.log" | sed 's/^ *//')
    if [[ $line == "$want"* ]]; then
        ok "$name: $line"
    else
        not_ok "$name: want '$want...', the profile says: $line"
    fi
}
for name in 2hosts_2+1 2hosts_1+2; do
    profile_data_line $name "training data: one copy in shared memory per node for 2 of the 3 ranks, a private copy for each of the other 1 "
done
profile_data_line 2hosts_x2 "training data: one copy in shared memory per node for all 4 ranks (2 on rank 0's node)"
profile_data_line 3hosts_x2 "training data: one copy in shared memory per node for all 6 ranks (2 on rank 0's node)"

# The batchnorm and loss gathers: between nodes each rank sends its block once to every other node (the node's
# peers get it through shared memory), where it went to every other rank before; elsewhere MPI messages between
# all ranks. A step gathers 2 x 64 + 1 doubles per batchnorm layer forward and as many backward, and the loss's 4:
# 520 doubles, 4.2 KB, to each other node (or rank).
gathers_line() {
    local name=$1 want=$2 line
    line=$(grep -m1 '^  batchnorm and loss gathers:' "$name.log" | sed 's/^ *//')
    if [[ $line == "batchnorm and loss gathers: $want" ]]; then
        ok "$name: $line"
    else
        not_ok "$name: want 'batchnorm and loss gathers: $want', the profile says: $line"
    fi
}
gathers_line 2hosts_x2 "each rank's block once to every other node, the rest in shared memory, 4.2 KB per step in messages from each rank"
gathers_line 3hosts_x2 "each rank's block once to every other node, the rest in shared memory, 8.3 KB per step in messages from each rank"
gathers_line 3hosts_x1 "MPI messages between all ranks, 8.3 KB per step in messages from each rank"

# launch/local.sh given the host list in FCNET_MPIRUN_ARGS and no FCNET_RANKS: one rank per slot of the list
# (3), the same run as 3hosts_x1. Before, it started one rank per core of this machine, on the first hosts.
t0=$(now)
rc=0
"$H/on" node1 env -u FCNET_RANKS FCNET_BUILD_DIR="$(dirname "$FCNET_DIST")" \
    FCNET_MPIRUN_ARGS="${HOST_ARGS[*]} --host node1,node2,node3" timeout 300 "$netns_here/../../launch/local.sh" \
    --data data.h5 "${TRAIN_ARGS[@]}" --out local3 >local3.log 2>&1 || rc=$?
if [ $rc -eq 0 ] && grep -q "^fcnet .*: 3 rank(s)" local3.log; then
    ok "local.sh with --host node1,node2,node3 and no FCNET_RANKS: 3 ranks, one per slot ($(elapsed "$t0") s)"
else
    not_ok "local.sh with a 3-host list: exit $rc, $(grep -E '^fcnet .*rank|rror|could not' local3.log | head -2) (want 3 ranks)"
fi
same_checkpoint one3/checkpoint.h5 local3/checkpoint.h5 "local.sh across 3 hosts vs mpirun -n 3 on one host"
netns_test_end
