# Sourced by the network benchmarks (bench_tcp.sh, bench_nodes.sh): their scratch folder and their hosts.
#   bench_hosts_up NAME SLOTS [HOSTS]   sets W (FCNET_BENCH_WORK/NAME, else a temporary folder removed at exit),
#   H (the hosts' folder), host_args (mpirun's options for them, with every OPENBLAS_* variable) and prefix (the
#   namespaces' name prefix); makes HOSTS (default 2) hosts of SLOTS slots each, removed at exit, and moves into W. Exits with
#   netns_up.sh's status (77: network namespaces cannot be made here) when it cannot.
# shellcheck shell=bash disable=SC2034  # W, H, host_args and prefix are for the scripts that source this
bench_hosts_up() {
    if [ -n "${FCNET_BENCH_WORK:-}" ]; then
        W=$FCNET_BENCH_WORK/$1
        mkdir -p "$W"
    else
        W=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_bench_$1.XXXXXX")
    fi
    W=$(readlink -f "$W")
    H=$W/hosts
    trap bench_hosts_down EXIT
    local rc=0 v
    "$(dirname "${BASH_SOURCE[0]}")/netns_up.sh" "$H" "${3:-2}" "$2" >/dev/null || rc=$?
    [ $rc -eq 0 ] || exit $rc
    mapfile -t host_args <"$H/mpirun_args"
    for v in ${!OPENBLAS_@}; do host_args+=(-x "$v"); done
    prefix=$(sed -n 's/^prefix=//p' "$H/info")
    cd "$W" || exit 1
}

bench_hosts_down() {
    "$(dirname "${BASH_SOURCE[0]}")/netns_down.sh" "$H" >/dev/null 2>&1 || true
    [ -n "${FCNET_BENCH_WORK:-}" ] || rm -rf "$W"
}
