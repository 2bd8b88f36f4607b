#!/bin/bash
# Inputs that differ on one host only: fcnet_dist on 3 network-namespace hosts x 2 ranks, each rank reading
# per-host copies (a wrapper puts its host name into the paths, as node-local disks would), one host's copy
# missing, stale or damaged. Each run must end with exit 2 within 12 s and exactly one line from fcnet_dist on
# stderr naming what differs (mpirun's own "[node1:PID] ..." notices aside), and write no --out:
#   data-missing   node2 has no copy of --data;
#   data-rows      node2's copy has other rows of the same shape: the line points at a stale copy of --data on
#                  rank 2's node (it used to ask whether --out was on a node-local disk);
#   test-rows      node3's copy has other test rows (train and val the same): refused, where it trained and
#                  reported a test accuracy mixed from both copies, exit 0;
#   resume-crash   node2's --resume checkpoint is damaged where HDF5 has no checksum, so HDF5 crashes reading it
#                  on both of node2's ranks: one line (the node's first rank), where each of them printed one.
# Skipped (77) where network namespaces cannot be made, or h5copy is missing.
# usage: test_netns_one_host.sh FCNET_SYNTH BAD_INPUTS   (FCNET_DIST in the environment)
# shellcheck source=tests/netns/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SYNTH=$(readlink -f "${1:?usage: test_netns_one_host.sh FCNET_SYNTH BAD_INPUTS}")
BAD=$(readlink -f "${2:?usage: test_netns_one_host.sh FCNET_SYNTH BAD_INPUTS}")
command -v h5copy >/dev/null || { echo "skipped: no h5copy"; exit 77; }

netns_test_start netns_one_host 3 2
# make NAME SEED: a dataset of 120/30/40 rows of 6 features, 3 classes
make() { "$SYNTH" --out "$1" --train 120 --val 30 --test 40 --features 6 --classes 3 --seed "$2" >/dev/null; }
make good.h5 1
make other.h5 2
for obj in /train /val; do h5copy -i good.h5 -o othertest.h5 -s $obj -d $obj; done
h5copy -i other.h5 -o othertest.h5 -s /test -d /test
# the per-host wrapper: @H in an argument becomes the host name this rank runs on
cat >by_host <<EOF
#!/bin/bash
a=(); for x in "\$@"; do a+=("\${x//@H/\$(hostname)}"); done
exec "$FCNET_DIST" "\${a[@]}"
EOF
chmod +x by_host
# a checkpoint to resume from, and its damaged copy (a global-heap length HDF5 trusts)
TRAIN=(train --hidden 8 --norm batchnorm --optim adam --batch-size 10 --epochs 2 --progress lines)
one_host 2 "$FCNET_DIST" "${TRAIN[@]}" --data "$T/good.h5" --max-steps 4 --out ck >ck.log 2>&1 ||
    { not_ok "the checkpoint to resume from was not written"; exit 1; }
"$BAD" ckpt format-heap-len ck/checkpoint.h5 crash.h5
# host FILE [NODE SOURCE...]: gives every host FILE as a copy of good.h5, then NODE its SOURCE instead
hosts() {
    local f=$1 k
    shift
    for k in 1 2 3; do mkdir -p "node$k" && cp "${BASE:-good.h5}" "node$k/$f"; done
    while [ $# -gt 0 ]; do
        if [ "$2" = none ]; then rm -f "$1/$f"; else cp "$2" "$1/$f"; fi
        shift 2
    done
}

# expect NAME WANT ARGS...: 3 hosts x 2 ranks run ARGS (through by_host); exit 2, one line matching WANT, within 12 s
expect() {
    local name=$1 want=$2 t0 rc=0
    shift 2
    t0=$(now)
    on_hosts -q --host node1:2,node2:2,node3:2 -n 6 "$T/by_host" "$@" --out "$T/out.$name" >"$name.log" 2>"$name.err" ||
        rc=$?
    local took why="" lines
    took=$(elapsed "$t0")
    lines=$(grep -cv '^\[node[0-9]*:[0-9]*\] ' "$name.err" || true)
    [ $rc -eq 2 ] || why="$why exit $rc, want 2;"
    [ "$lines" -eq 1 ] || why="$why $lines lines from fcnet_dist on stderr;"
    grep -qE "$want" "$name.err" || why="$why no line matches '$want';"
    awk -v t="$took" 'BEGIN { exit !(t <= 12) }' || why="$why took $took s;"
    [ ! -e "out.$name" ] || why="$why --out was created;"
    if [ -z "$why" ]; then
        ok "$name ($took s): $(grep -v '^\[node' "$name.err" | head -c 220)"
    else
        not_ok "$name:$why"
        sed 's/^/#   stderr: /' "$name.err" | head -6
    fi
}

hosts d.h5 node2 none
expect data-missing "\[rank 2/6\] error: --data: .*/node2/d.h5: cannot open: No such file" \
    "${TRAIN[@]}" --data "$T/@H/d.h5"
hosts d.h5 node2 other.h5
expect data-rows "rank 2 read the dataset's training and validation rows .*\(a stale copy of --data on rank 2's node\?\)$" \
    "${TRAIN[@]}" --data "$T/@H/d.h5"
hosts d.h5 node3 othertest.h5
expect test-rows "rank 4 read the dataset's test rows" "${TRAIN[@]}" --data "$T/@H/d.h5"
BASE=ck/checkpoint.h5 hosts c.h5 node2 crash.h5
expect resume-crash "\[rank 2/6\] error: .*/node2/c.h5: crashed while reading it" \
    train --resume "$T/@H/c.h5" --data "$T/good.h5" --progress lines
netns_test_end
