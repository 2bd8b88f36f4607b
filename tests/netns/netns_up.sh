#!/bin/bash
# Makes N "hosts" on this machine out of network namespaces, for multi-host Open MPI runs without sshd
# (../shared CLUSTER.md §5). Nothing is added to the root namespace's network:
#  - a switch namespace <prefix>sw holding a bridge, and per host k a namespace <prefix>node<k> whose eth0 is
#    a veth into that bridge, address 10.77.0.(10+k)/24, IPv6 off, lo up;
#  - /etc/netns/<prefix>node<k>/hosts and resolv.conf, which `ip netns exec` mounts over /etc/hosts and
#    /etc/resolv.conf inside that host: every host resolves node1..nodeN, and no name lookup leaves it;
#  - DIR/hostfile ("node<k> slots=S"), DIR/agent (the launch agent Open MPI calls as `AGENT HOST COMMAND...`,
#    playing ssh: a clean environment, the host's namespace and its own host name), DIR/on (`DIR/on HOST
#    COMMAND...` runs COMMAND on that host, keeping the environment — as on a login to it), DIR/mpirun_args
#    (the options a multi-host mpirun needs here, one a line: agent, --bind-to none, TCP interfaces,
#    keepalives; add --hostfile DIR/hostfile or --host) and DIR/state (what to remove).
#   tests/netns/netns_up.sh DIR N [SLOTS]   N hosts (2..9) with SLOTS slots each [default 1]
# Exit status: 0 made; 77 network namespaces cannot be made here (no CAP_SYS_ADMIN, no ip/unshare) — the
# caller should report itself skipped; 1 failed (whatever was made is removed again).
# Remove with tests/netns/netns_down.sh DIR.
set -euo pipefail
D=${1:?usage: netns_up.sh DIR N [SLOTS]}
N=${2:?usage: netns_up.sh DIR N [SLOTS]}
SLOTS=${3:-1}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case $N in [2-9]) ;; *) echo "netns_up: N must be 2..9" >&2; exit 1 ;; esac

skip() { echo "netns_up: SKIP: $*" >&2; exit 77; }
die() { echo "netns_up: error: $*" >&2; exec 8>&-; "$here/netns_down.sh" "$D" >/dev/null 2>&1 || true; exit 1; }

for tool in ip unshare hostname; do
    command -v $tool >/dev/null || skip "no '$tool' command"
done
mkdir -p "$D"
D=$(cd "$D" && pwd)
# A prefix unique on this machine (namespace names are global): pid and a random number.
prefix=fc$(printf '%x%x' $$ $((RANDOM % 256)))
sw=${prefix}sw
# Probe: can we make a namespace at all?
if ! ip netns add "$sw" 2>"$D/probe.err"; then
    skip "ip netns add refused: $(head -1 "$D/probe.err")"
fi
# Record everything from here on, so netns_down.sh removes exactly what was made.
{
    echo "prefix=$prefix"
    echo "netns=$sw"
} >"$D/state"
ip -n "$sw" link set lo up || die "cannot configure namespace $sw"
ip -n "$sw" link add br0 type bridge 2>"$D/probe.err" || die "no bridge device: $(head -1 "$D/probe.err")"
ip -n "$sw" link set br0 up
# /etc/netns itself: when we create it, a marker file says so, and the last teardown that finds nothing
# else in it removes it. The lock keeps a parallel teardown from removing it under us.
exec 8</etc # flock on the folder: no lock file left behind
flock 8
if [ ! -d /etc/netns ]; then
    mkdir /etc/netns
    : >/etc/netns/.made-by-fcnet-tests
fi

net=10.77.0
hosts_file=$(mktemp)
{
    echo "127.0.0.1 localhost"
    for k in $(seq 1 "$N"); do echo "$net.$((10 + k)) node$k"; done
} >"$hosts_file"
: >"$D/hostfile"
for k in $(seq 1 "$N"); do
    ns=${prefix}node$k
    ip netns add "$ns" || die "ip netns add $ns failed"
    echo "netns=$ns" >>"$D/state"
    mkdir -p "/etc/netns/$ns"
    echo "etc=/etc/netns/$ns" >>"$D/state"
    cp "$hosts_file" "/etc/netns/$ns/hosts"
    echo "# fcnet test host: no name servers" >"/etc/netns/$ns/resolv.conf"
    ip -n "$sw" link add "p$k" type veth peer name eth0 netns "$ns" || die "veth for $ns failed"
    ip -n "$sw" link set "p$k" master br0 up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
    # A connection with unacknowledged data is not probed by keepalives: it waits out TCP's retransmissions,
    # 15 tries (~15 min) by default. mpirun sometimes has a message in flight to a host that just went
    # silent (seen under load in netns_hostloss_linkdown: 144 bytes, keepalives never sent), so the hosts use
    # 4 tries (~6 s), as a cluster that wants lost hosts noticed quickly would (README, Running on a cluster).
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_retries2=4 2>/dev/null || true
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.$((10 + k))/24" dev eth0
    ip -n "$ns" link set eth0 up
    echo "node$k slots=$SLOTS" >>"$D/hostfile"
done
rm -f "$hosts_file"
flock -u 8
exec 8>&-

# The launch agent: Open MPI runs `AGENT [ssh options] HOST COMMAND...`, COMMAND quoted for a remote shell.
cat >"$D/agent" <<EOF
#!/bin/bash
# Open MPI launch agent for the fcnet test hosts (made by tests/netns/netns_up.sh): plays ssh.
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1
shift
case \$host in node[1-9]) ;; *) echo "agent: unknown host '\$host'" >&2; exit 255 ;; esac
exec env -i PATH="\$PATH" HOME="\${HOME:-/root}" USER="\${USER:-root}" LOGNAME="\${LOGNAME:-root}" \\
    ip netns exec "${prefix}\$host" unshare --uts -- bash -c 'hostname "\$0"; exec bash -c "\$1"' "\$host" "\$*"
EOF
# DIR/on HOST COMMAND...: run COMMAND on HOST with this environment (mpirun on the "head node").
cat >"$D/on" <<EOF
#!/bin/bash
# Runs a command on one of the fcnet test hosts (made by tests/netns/netns_up.sh), environment kept.
host=\${1:?usage: on HOST COMMAND...}
shift
exec ip netns exec "${prefix}\$host" unshare --uts -- bash -c 'hostname "\$0"; shift; exec "\$@"' "\$host" _ "\$@"
EOF
chmod +x "$D/agent" "$D/on"
yield=0
[ "$((N * SLOTS))" -gt "$(nproc)" ] && yield=1
cat >"$D/mpirun_args" <<EOF
--mca
plm_rsh_agent
$D/agent
--mca
plm_rsh_no_tree_spawn
1
--bind-to
none
--mca
oob_tcp_if_include
$net.0/24
--mca
btl_tcp_if_include
$net.0/24
--mca
btl_tcp_disable_family
6
--mca
oob_tcp_keepalive_time
4
--mca
oob_tcp_keepalive_intvl
1
--mca
oob_tcp_keepalive_probes
3
--mca
mpi_yield_when_idle
$yield
EOF
echo "prefix=$prefix" >"$D/info"
"$D/on" node1 ip -4 -o addr show dev eth0 >/dev/null 2>&1 || die "cannot run a command on node1 (ip netns exec)"
echo "netns_up: $N hosts node1..node$N ($prefix*, $net.0/24, $SLOTS slot(s) each) in $D"
