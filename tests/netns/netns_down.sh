#!/bin/bash
# Removes what tests/netns/netns_up.sh DIR made, and only that (the names recorded in DIR/state): ends the
# processes left in each of its namespaces (ip netns pids), deletes the namespaces (their veths and bridge go
# with them) and the /etc/netns/<name> folders, then DIR. Safe to call twice or on a half-made DIR.
#   tests/netns/netns_down.sh DIR
set -uo pipefail
D=${1:?usage: netns_down.sh DIR}
[ -f "$D/state" ] || { rm -rf "$D"; exit 0; }
mapfile -t namespaces < <(sed -n 's/^netns=//p' "$D/state")
# Hosts first, the switch last (it is listed first).
for ((i = ${#namespaces[@]} - 1; i >= 0; i--)); do
    ns=${namespaces[i]}
    ip netns list 2>/dev/null | grep -q "^$ns\b" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
        for _ in $(seq 1 50); do
            [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    ip netns del "$ns" 2>/dev/null || echo "netns_down: could not delete namespace $ns" >&2
done
exec 8</etc # flock on the folder: no lock file left behind
flock 8
while read -r d; do
    case $d in /etc/netns/fc*) rm -rf "$d" ;; esac
done < <(sed -n 's/^etc=//p' "$D/state")
if [ -f /etc/netns/.made-by-fcnet-tests ] &&
    [ "$(find /etc/netns -mindepth 1 -maxdepth 1 ! -name .made-by-fcnet-tests | wc -l)" -eq 0 ]; then
    rm -f /etc/netns/.made-by-fcnet-tests
    rmdir /etc/netns 2>/dev/null || true
fi
rm -rf "$D"
exit 0
