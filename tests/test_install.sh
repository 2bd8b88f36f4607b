#!/bin/bash
# `cmake --install BUILD --prefix DIR`, as a user building from source does: DIR/bin holds the four
# programs, each loads the same shared libraries as its build-tree copy (ldd), and the installed programs
# work from another directory: --version, a dataset from fcnet_synth, 5 training steps at 2 ranks, eval.
# usage: test_install.sh CMAKE BUILD_DIR [MPIEXEC]
set -euo pipefail
CMAKE=${1:?usage: test_install.sh CMAKE BUILD_DIR [MPIEXEC]}
BUILD=${2:?}
MPIEXEC=${3:-mpirun}
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch install

rc=0
# An inherited DESTDIR would put the files elsewhere.
DESTDIR='' "$CMAKE" --install "$BUILD" --prefix "$T/prefix" >install.out 2>&1 || rc=$?
check "cmake --install: exit 0" test "$rc" = 0
bin=$T/prefix/bin
declare -A built=([fcnet_dist]=$BUILD/fcnet_dist [fcnet_dist_f64]=$BUILD/fcnet_dist_f64
    [fcnet_convert]=$BUILD/datasets/fcnet_convert [fcnet_synth]=$BUILD/datasets/fcnet_synth)
# The libraries a program resolves to, without the load addresses: an installed copy must keep the run
# paths of the MPI, OpenBLAS and HDF5 it was linked against.
libs() { ldd "$1" | sed 's/ (0x[0-9a-f]*)$//' | grep -v 'linux-vdso'; }
for prog in fcnet_dist fcnet_dist_f64 fcnet_convert fcnet_synth; do
    check "$prog installed in bin/" test -x "$bin/$prog"
    check "$prog loads the same libraries as the build tree's" \
        test "$(libs "$bin/$prog" 2>&1)" = "$(libs "${built[$prog]}")"
done

mkdir elsewhere
cd elsewhere
check "installed fcnet_dist --version" grep -q "^fcnet_dist .* (float, " <("$bin/fcnet_dist" --version)
check "installed fcnet_dist_f64 --version" grep -q "^fcnet_dist .* (double, " <("$bin/fcnet_dist_f64" --version)
rc=0
"$bin/fcnet_convert" --help >convert.out 2>&1 || rc=$?
check "installed fcnet_convert --help" test "$rc" = 0
rc=0
"$bin/fcnet_synth" --out d.h5 --train 100 --val 20 --features 6 --classes 3 >synth.out 2>&1 || rc=$?
check "installed fcnet_synth writes a dataset" test "$rc" = 0 -a -f d.h5
rc=0
"$MPIEXEC" -n 2 --oversubscribe "$bin/fcnet_dist" train --data d.h5 --hidden 8 --batch-size 10 --max-steps 5 \
    --out run --progress lines >train.out 2>&1 || rc=$?
check "installed fcnet_dist trains 5 steps at 2 ranks" test "$rc $(grep -c 'at step 5' train.out)" = "0 1"
rc=0
"$bin/fcnet_dist" eval --checkpoint run/checkpoint.h5 --split val >eval.out 2>&1 || rc=$?
check "installed fcnet_dist evaluates the checkpoint" test "$rc" = 0

tap_end "$t0"
