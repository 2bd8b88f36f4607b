#!/usr/bin/env bash
# Regenerates results/: installs what is missing (python3-numpy, -h5py, -matplotlib and the build
# packages), builds fcnet_dist, prepares Fashion-MNIST, runs cs231n's experiments with fcnet and
# redraws the plots and the tables of results/README.md. About 40 s of training on 2 idle cores (results/README.md).
#
#   results/run.sh                       every experiment (finished runs are reused)
#   results/run.sh --only batchnorm,ranks --force     some of them, retrained
#   results/run.sh --list                the runs and their options
# Runs go to runs/results/<experiment>/<run>/ (checkpoint.h5, train.log); see results/experiments.py.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# --help and --list before installing or building anything.
for arg in "$@"; do
    case $arg in -h | --help | --list) exec /usr/bin/python3 "$root/results/experiments.py" "$@" ;; esac
done
# A bad argument (--ranks 0, an unknown experiment or flag) is refused before the install, the build and the
# dataset, which take minutes: --list checks every argument and writes nothing. It needs numpy only (not h5py or
# matplotlib); a machine without numpy has it installed first and gets the same refusal afterwards.
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
    /usr/bin/python3 "$root/results/experiments.py" "$@" --list >/dev/null
fi
# shellcheck source=launch/deps.sh disable=SC1091
source "$root/launch/deps.sh"
fcnet_install_deps build python

build=${FCNET_BUILD_DIR:-$root/build}
export FCNET_BUILD_DIR=$build
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target fcnet_dist fcnet_convert -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
FCNET_CONVERT=$build/datasets/fcnet_convert "$root/datasets/fashion-mnist.sh"

exec /usr/bin/python3 "$root/results/experiments.py" "$@"
