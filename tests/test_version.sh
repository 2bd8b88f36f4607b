#!/bin/bash
# fcnet_dist --version: the build's version and precision, and the MPI, BLAS and HDF5 versions it runs
# with, each checked against another program's word (mpirun, pkg-config), not against fcnet's own code.
# It needs no MPI_Init: it answers without mpirun and under mpirun at once; with other arguments it is
# refused with one line, and a failed write is not a success. A checkpoint records the same three library
# lines as provenance attributes.
# usage: test_version.sh FCNET_DIST FCNET_DIST_F64 PROJECT_VERSION FCNET_SYNTH H5CMP [MPIEXEC [BUILD_TYPE]]
set -euo pipefail
DIST=${1:?usage: test_version.sh FCNET_DIST FCNET_DIST_F64 PROJECT_VERSION FCNET_SYNTH H5CMP [MPIEXEC]}
DIST64=${2:?}
VERSION=${3:?}
SYNTH=${4:?}
H5CMP=${5:?}
MPIEXEC=${6:-mpirun}
BUILD_TYPE=${7:-}
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch version

rc=0
OPENBLAS_NUM_THREADS=1 "$DIST" --version >v.out 2>v.err || rc=$?
line() { sed -n "/^$1/p" v.out; }
check "--version: exit 0, four lines on stdout, nothing on stderr" \
    test "$rc $(wc -l <v.out) $(wc -c <v.err)" = "0 4 0"
check "--version: first line names the program, the project's version and float" \
    grep -qx "fcnet_dist $VERSION (float, .*)" v.out
if [ -n "$BUILD_TYPE" ]; then
    check "--version: first line names the build type CMake was given ($BUILD_TYPE)" \
        grep -q "^fcnet_dist $VERSION (float, $BUILD_TYPE build, " v.out
fi
"$DIST64" --version >v64.out
check "--version of the double build says double" grep -qx "fcnet_dist $VERSION (double, .*)" v64.out

mpi_version=$("$MPIEXEC" --version 2>&1 | sed -n 's/.*(Open\(RTE\| MPI\)) \([0-9.]*\).*/\2/p' | head -1)
check "--version: MPI line names Open MPI $mpi_version, as mpirun --version does" \
    grep -q "^MPI: Open MPI v${mpi_version}[ ,].*(MPI standard [0-9]\.[0-9])" v.out
blas=$(pkg-config --modversion openblas)
check "--version: BLAS line names OpenBLAS $blas (pkg-config) and the thread count of OPENBLAS_NUM_THREADS=1" \
    grep -q "^BLAS: OpenBLAS $blas .*kernels [A-Za-z0-9]*; 1 thread(s)" v.out
# The MPI standard the library implements, in ompi_info's words (mpi-api:version:full:3.1.0).
api=$(ompi_info --parsable 2>/dev/null | sed -n 's/^mpi-api:version:full:\([0-9]*\.[0-9]*\).*/\1/p' | head -1)
if [ -n "$api" ]; then
    check "--version: MPI standard $api, as ompi_info says" grep -q "^MPI: .*(MPI standard $api)$" v.out
fi
# The thread count and kernels OpenBLAS itself reports: OPENBLAS_VERBOSE=2 makes it print "Core: NAME" as it
# loads (a DYNAMIC_ARCH build, as Debian's).
OPENBLAS_NUM_THREADS=2 OPENBLAS_VERBOSE=2 "$DIST" --version >v2.out 2>&1
check "--version: OPENBLAS_NUM_THREADS=2 gives 2 thread(s)" grep -q "^BLAS: .*; 2 thread(s) per process" v2.out
core=$(sed -n 's/.*Core: \([A-Za-z0-9_]*\).*/\1/p' v2.out | head -1)
if [ -n "$core" ]; then
    check "--version: kernels $core, the core OpenBLAS reports loading" grep -q "^BLAS: .*; kernels $core;" v2.out
fi
hdf5=$(pkg-config --modversion hdf5)
check "--version: HDF5 line names $hdf5 (pkg-config)" grep -qx "HDF5: $hdf5 (compiled against $hdf5)" v.out

# Under mpirun every rank answers alone (no MPI_Init, so no wire-up between them).
"$MPIEXEC" -n 2 --oversubscribe "$DIST" --version >mpi.out 2>mpi.err || rc=$?
check "--version under mpirun -n 2: each rank prints the same first line" \
    test "$rc $(grep -c "^fcnet_dist $VERSION (float" mpi.out)" = "0 2"

# The checkpoint's provenance: the same words as --version's lines, from a run at two ranks.
"$SYNTH" --out d.h5 --train 40 --val 0 --features 4 --classes 3 --seed 1 >/dev/null
OPENBLAS_NUM_THREADS=1 "$MPIEXEC" -n 2 --oversubscribe "$DIST" train --data d.h5 --hidden 5 --batch-size 20 \
    --epochs 1 --val-size 0 --out run >run.log 2>&1
same=0
for pair in MPI:mpi_library BLAS:blas_library HDF5:hdf5_library; do
    want=$(sed -n "s/^${pair%%:*}: //p" v.out)
    got=$("$H5CMP" --get run/checkpoint.h5 "/@${pair#*:}" 2>/dev/null || echo "(missing)")
    if [ -n "$want" ] && [ "$got" = "$want" ]; then same=$((same + 1)); else echo "# ${pair#*:}: '$got' vs '$want'"; fi
done
check "checkpoint attributes mpi_library, blas_library, hdf5_library = --version's lines" test "$same" = 3

rc=0
"$DIST" --version --data x.h5 >bad.out 2>bad.err || rc=$?
check "--version with other arguments: exit 2, one line naming --version" \
    test "$rc $(wc -l <bad.err) $(grep -c -- '--version: give it alone' bad.err)" = "2 1 1"
rc=0
"$DIST" --version >/dev/full 2>full.err || rc=$?
check "--version to a full device: exit 1, one line saying so and why" \
    test "$rc $(wc -l <full.err) $(grep -c 'cannot write to standard output (No space left on device)' full.err)" = "1 1 1"
# Unbuffered (stdbuf -o0), the write itself fails and the final flush has nothing left to say why.
if command -v stdbuf >/dev/null; then
    rc=0
    stdbuf -o0 "$DIST" --version >/dev/full 2>full0.err || rc=$?
    check "--version unbuffered to a full device: exit 1, one line saying so and why" \
        test "$rc $(wc -l <full0.err) $(grep -c 'cannot write to standard output (No space left on device)' full0.err)" = "1 1 1"
else
    echo "skip - no stdbuf: a version lost to an unbuffered write not checked"
fi
rc=0
"$DIST" --help >help.out || rc=$?
check "--help lists --version" grep -q "fcnet_dist --version" help.out
# The exit statuses --help lists are fcnet_dist's rows of the README's table (those that begin with the code
# alone, not mpirun's); --help had lost 129, the hangup's.
readme="$(dirname "${BASH_SOURCE[0]}")/../README.md"
readme_codes=$(sed -n '/^### Exit codes/,/^### /p' "$readme" | sed -n 's/^| \([0-9][0-9]*\)\( |\| (death\).*/\1/p' | sort -n | tr '\n' ' ')
help_codes=$(sed -n '/^Exit status:/,$p' help.out | sed -n 's/^  \([0-9][0-9]*\) .*/\1/p' | sort -n | tr '\n' ' ')
check "--help's exit statuses ($help_codes) are the README's ($readme_codes)" \
    test "$help_codes" = "${readme_codes:-(none found)}"

tap_end "$t0"
