#!/bin/bash
# Brings up a private one-node Slurm (Debian's slurm-wlm) on this machine as plain background processes —
# no systemd, no cgroups — for the Slurm tests (../shared CLUSTER.md §1 has the measured facts).
#   tests/slurm/slurm_up.sh DIR     DIR: an empty or missing folder that will hold everything
# Writes DIR/slurm.conf, DIR/munge/*, state, spool and logs, starts munged (as user munge, on a private socket),
# slurmctld and slurmd with PID files in DIR, waits until the node is idle and writes DIR/env, a file to
# source (exports SLURM_CONF, so sbatch/squeue/scontrol talk to this cluster). Ports are chosen free, so
# several private clusters can run side by side. Installs slurm-wlm and munge when missing (root + apt).
# Exit status: 0 up; 77 cannot run here (not root, no Slurm and no way to install it); 1 failed to start
# (whatever was started is stopped again). Tear down with tests/slurm/slurm_down.sh DIR.
set -euo pipefail
D=${1:?usage: slurm_up.sh DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

skip() { echo "slurm_up: SKIP: $*" >&2; exit 77; }
die() { echo "slurm_up: error: $*" >&2; "$here/slurm_down.sh" "$D" >/dev/null 2>&1 || true; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (runs slurmd and munged as other users)"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null ||
    ! command -v mungekey >/dev/null; then
    command -v apt-get >/dev/null || skip "slurm-wlm/munge missing and no apt-get"
    # Parallel tests may all want to install: one at a time.
    (
        flock 9
        # shellcheck source=launch/deps.sh
        source "$root/launch/deps.sh"
        fcnet_install_deps slurm-wlm munge
    ) 9</var/lib/dpkg || skip "could not install slurm-wlm munge"
fi
id munge >/dev/null 2>&1 || skip "no 'munge' user (munge package incomplete)"

mkdir -p "$D"
D=$(cd "$D" && pwd)
# munged runs as user munge: it must be able to reach $D/munge; its socket folder must be 0755 (0700 fails).
chmod 0755 "$D"
mkdir -p "$D/munge" "$D/ctld" "$D/d" "$D/log"
chown munge:munge "$D/munge"
chmod 0755 "$D/munge"
runuser -u munge -- test -w "$D/munge" ||
    die "user munge cannot reach $D/munge: every folder above it must be searchable by others (mode o+x)"

node=$(hostname -s)
# Two free TCP ports next to each other for slurmctld and slurmd, below the kernel's range for ephemeral ports
# (the outgoing connections of every other test take those: one took a slurmctld port between the check and the
# bind, and the controller died on "Address already in use"). A port can still be taken between the check and
# the bind; start_controller below then tries another pair.
ephemeral_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "${ephemeral_low:-0}" -gt 12000 ] || ephemeral_low=32768
port_free() { [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }
pick_ports() {
    port=""
    local p
    for _ in $(seq 1 50); do
        p=$((10000 + RANDOM % (ephemeral_low - 10002)))
        if port_free "$p" && port_free $((p + 1)); then port=$p; return 0; fi
    done
    die "no free TCP port pair found below $ephemeral_low"
}
pick_ports

# The node line is what slurmd -C measures (CPUs, sockets, memory) on this machine.
node_line=$(slurmd -C | head -1)
case $node_line in NodeName=*) ;; *) die "slurmd -C printed '$node_line'" ;; esac

cat >"$D/slurm.conf" <<EOF
# Private one-node cluster written by fcnet tests/slurm/slurm_up.sh
ClusterName=fcnettest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire=5: a requeued job restarts after ~7 s instead of ~131 s.
AuthInfo=socket=$D/munge/munge.socket,cred_expire=5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=1
ReturnToService=2
StateSaveLocation=$D/ctld
SlurmdSpoolDir=$D/d
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
${node_line/#NodeName=$node/NodeName=$node NodeAddr=127.0.0.1} State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
# Keep only the fields slurm.conf accepts from slurmd -C's first line (it has no UpTime there, but be safe).
sed -i 's/ UpTime=[^ ]*//' "$D/slurm.conf"

# munge: a private key and socket.
mungekey --create --keyfile="$D/munge/munge.key" >/dev/null 2>&1 || die "mungekey failed"
chown munge:munge "$D/munge/munge.key"
chmod 0600 "$D/munge/munge.key"
runuser -u munge -- munged --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" ||
    die "munged did not start: $(tail -3 "$D/munge/munged.log" 2>/dev/null)"

export SLURM_CONF=$D/slurm.conf
# start_controller: slurmctld, until it listens on its port (0), or 1 when it died because the port was taken
# meanwhile (its log says so), or dies here on any other failure.
start_controller() {
    : >"$D/log/slurmctld.log"
    slurmctld -c -f "$SLURM_CONF" || die "slurmctld did not start: $(tail -3 "$D/log/slurmctld.log" 2>/dev/null)"
    local deadline=$((SECONDS + 20))
    while [ $SECONDS -lt $deadline ]; do
        ss -Hltnp "sport = :$port" 2>/dev/null | grep -q '"slurmctld"' && return 0 # its own socket, no one else's
        grep -q "Address already in use" "$D/log/slurmctld.log" 2>/dev/null && return 1
        sleep 0.1
    done
    die "slurmctld does not listen on port $port after 20 s: $(tail -3 "$D/log/slurmctld.log" 2>/dev/null)"
}
for attempt in 1 2 3 4 5; do
    start_controller && break
    [ "$attempt" -lt 5 ] || die "slurmctld found its port taken 5 times: $(tail -1 "$D/log/slurmctld.log")"
    # A controller that died on its port leaves its PID file; wait until it is gone, then another pair.
    for _ in $(seq 1 50); do
        kill -0 "$(cat "$D/slurmctld.pid" 2>/dev/null)" 2>/dev/null || break
        sleep 0.1
    done
    old=$port
    pick_ports
    sed -i -e "s/^SlurmctldPort=$old\$/SlurmctldPort=$port/" -e "s/^SlurmdPort=$((old + 1))\$/SlurmdPort=$((port + 1))/" \
        "$SLURM_CONF"
    echo "slurm_up: port $old was taken before slurmctld bound it; now $port" >&2
done
slurmd -f "$SLURM_CONF" || die "slurmd did not start: $(tail -3 "$D/log/slurmd.log" 2>/dev/null)"

# At most 30 s in all: each sinfo is bounded too (with no controller it retries for longer than that).
state=""
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
    state=$(timeout 5 sinfo -h -n "$node" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
done
[ "$state" = idle ] || die "node $node is '${state:-unknown}' after 30 s; see $D/log"

cat >"$D/env" <<EOF
export SLURM_CONF=$D/slurm.conf
EOF
echo "slurm_up: node $node idle (slurmctld port $port), config $D/slurm.conf"
