#!/usr/bin/env bash
# README command 1: from a fresh clone on Debian/Ubuntu, install what is missing, build, prepare
# Fashion-MNIST and train a tuned net on every core, then print the test accuracy and where the
# checkpoint and the plot are. Re-running reuses the build, the dataset and a finished run.
#
#   launch/quickstart.sh            train into runs/quickstart (or show the finished run there;
#                                   resume it if it was interrupted)
#   launch/quickstart.sh --new      train again into a new directory runs/quickstart-2, -3, ...
#   launch/quickstart.sh [--new] [fcnet_dist train options]   e.g. --epochs 12 (they override the
#                                   tuned defaults in results/configs/quickstart.ini; --out and
#                                   --config are the script's own)
#
# Environment: FCNET_BUILD_DIR (default build/), FCNET_RANKS (default: the physical cores),
# FCNET_QUICKSTART_OUT (default runs/quickstart), FCNET_QUICKSTART_DATA (the dataset's file, default
# datasets/fashion-mnist.h5; with the other two, a read-only checkout keeps nothing in itself; a build
# directory the user cannot write is used as built).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Relative paths in the environment name places seen from where the script was called, as every
# other path a user types does, not from the checkout it then works in.
for var in FCNET_BUILD_DIR FCNET_QUICKSTART_OUT FCNET_QUICKSTART_DATA; do
    case ${!var:-} in
    '' | /*) ;;
    *) export "$var=$PWD/${!var}" ;;
    esac
done
caller=$PWD
cd "$root"

# The tuned default (results/configs/quickstart.ini): 784 -> 512 -> 256 -> 10, batchnorm, dropout
# keep 0.9, adam with lr 2e-3 decayed by 0.8 per epoch, global batch 200, 10 epochs: test accuracy
# ~0.90 in about 8 s of training on 2 idle cores (results/README.md).
config_file=$root/results/configs/quickstart.ini

new=0
extra=()
for arg in "$@"; do
    case $arg in
    --new) new=1 ;;
    -h | --help)
        awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" # the header above
        exit 0
        ;;
    # The script picks the run directory (and evaluates and plots from it): an --out of the user's would
    # train elsewhere and then fail at the evaluation, leaving a directory with only the log.
    --out | --out=*)
        echo "quickstart.sh: --out: the quickstart chooses its run directory (runs/quickstart, or -2, -3 ... with" \
            "--new; FCNET_QUICKSTART_OUT to name another); use launch/local.sh for other runs" >&2
        exit 2
        ;;
    # Its own --config holds the tuned options; fcnet_dist refuses a second one, but only after the install,
    # build and dataset steps.
    --config | --config=*)
        echo "quickstart.sh: --config: the quickstart trains with its own configuration" \
            "(results/configs/quickstart.ini); give options to override it, or use launch/local.sh --config FILE" >&2
        exit 2
        ;;
    *) extra+=("$arg") ;;
    esac
done

say() { printf '\n== %s\n' "$*"; }
# A path as the caller can type it: relative to the checkout when called from there (as the README does), else
# whole (a shared install run from a user's own directory, where launch/local.sh would name nothing).
rel() { if [ "$caller" = "$root" ]; then echo "${1#"$root"/}"; else echo "$1"; fi; }
# The same in a command to copy and run: quoted where the shell would split it (a checkout or a run directory whose
# name holds a space printed as two arguments, "/opt/my: Is a directory"); unchanged where nothing needs quoting.
arg() { printf '%q' "$(rel "$1")"; }
launch=$(arg "$root/launch")

# unwritable DIR: why DIR cannot be made or written in (mkdir's or mktemp's reason), nothing when it can. A file
# made and removed, not test -w: -w said "Permission denied" on a read-only file system (also to root), and passed
# a directory the user may write but not search. "--": a user's path is a name even if it starts with '-'. A file
# in the way is named for what it is: mkdir -p's "File exists" read as if nothing were wrong.
unwritable() {
    local reason
    if [ -e "$1" ] && [ ! -d "$1" ]; then
        echo "Not a directory"
    elif ! reason=$(mkdir -p -- "$1" 2>&1); then
        echo "${reason##*: }"
    elif reason=$(mktemp -- "$1/.quickstart-probe.XXXXXX" 2>&1); then
        rm -f -- "$reason"
    else
        echo "${reason##*: }"
    fi
}

say "dependencies"
# shellcheck source=launch/deps.sh disable=SC1091
source "$root/launch/deps.sh"
fcnet_install_deps build python
echo "Debian packages present: build tools, Open MPI, OpenBLAS, HDF5, python3-h5py, python3-matplotlib"

build=${FCNET_BUILD_DIR:-$root/build}
export FCNET_BUILD_DIR=$build
jobs=$(nproc 2>/dev/null || echo 2)
say "build ($build)"
# A shared install: a build directory this user cannot write (the administrator's) is used as it is when it holds
# both programs; cmake's incremental build failed in it with a screen of "Permission denied", even with nothing to do.
reason=$(unwritable "$build")
if [ -z "$reason" ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    # Incremental: a no-op when nothing changed. Only the two programs the quickstart needs.
    cmake --build "$build" --target fcnet_dist fcnet_convert -j "$jobs" >/dev/null
    echo "$build/fcnet_dist: built (incremental)"
elif [ -x "$build/fcnet_dist" ] && [ -x "$build/datasets/fcnet_convert" ]; then
    echo "$build/fcnet_dist: used as built (this user cannot write $(rel "$build"): $reason)"
else
    echo "quickstart.sh: cannot write the build directory $(rel "$build"): $reason, and it holds no fcnet_dist and" \
        "fcnet_convert to use as they are; set FCNET_BUILD_DIR to a directory you can write" >&2
    exit 2
fi

say "data"
data=${FCNET_QUICKSTART_DATA:-$root/datasets/fashion-mnist.h5}
# A dataset still to convert is written beside its name (a temporary file renamed): in a read-only checkout
# fcnet_convert's "Permission denied" came after the build, exit 1, with no word of how to put it elsewhere.
if [ ! -f "$data" ]; then
    reason=$(unwritable "$(dirname -- "$data")")
    if [ -n "$reason" ]; then
        echo "quickstart.sh: cannot write the dataset $(rel "$data"): $reason; set FCNET_QUICKSTART_DATA to a" \
            "file in a directory you can write" >&2
        exit 2
    fi
fi
FCNET_CONVERT=$build/datasets/fcnet_convert FASHION_MNIST_OUT=$data "$root/datasets/fashion-mnist.sh"

default_out=${FCNET_QUICKSTART_OUT:-$root/runs/quickstart}
out=$default_out
if [ "$new" = 1 ] && [ -e "$out" ]; then
    i=2
    while [ -e "$out-$i" ]; do i=$((i + 1)); done
    out=$out-$i
fi
ckpt=$out/checkpoint.h5
log=$out/train.log

# finished / unfinished / none: the checkpoint's root attribute "finished" (written by the trainer).
run_state() {
    [ -f "$ckpt" ] || { echo none; return; }
    /usr/bin/python3 - "$ckpt" <<'EOF'
import sys, h5py
try:
    with h5py.File(sys.argv[1], "r") as f:
        print("finished" if int(f.attrs.get("finished", 0)) == 1 else "unfinished")
except OSError:
    print("none")
EOF
}

state=$(run_state)
if [ "$state" = finished ] && [ ${#extra[@]} -gt 0 ]; then
    echo "quickstart.sh: $(rel "$out") already holds a finished run; to train with other options use" >&2
    echo "  $launch/quickstart.sh --new$(printf " %q" "${extra[@]}")" >&2 # quoted: a value may hold a space
    exit 2
fi

ranks=${FCNET_RANKS:-}
train_seconds=""
case $state in
finished)
    say "train: reusing the finished run in $(rel "$out")"
    echo "(not retraining; '$launch/quickstart.sh --new' trains again into a new directory,"
    echo " or delete $(rel "$out") to start over)"
    ;;
unfinished)
    say "train: resuming the interrupted run in $(rel "$out")"
    start=$(date +%s)
    "$root/launch/local.sh" --resume "$ckpt" --data "$data" --out "$out" ${extra[@]+"${extra[@]}"} 2>&1 |
        tee -a "$log"
    train_seconds=$(($(date +%s) - start))
    ;;
none)
    created=0
    [ -e "$out" ] || created=1
    # One line of ours and exit 2 before training, as for --out: mkdir's own line names only the component it
    # stopped at ("cannot create directory '/root'" for /root/x), and in a directory the user cannot write, tee's
    # line came beside fcnet_dist's refusal, exit 1.
    reason=$(unwritable "$out")
    if [ -n "$reason" ]; then
        echo "quickstart.sh: cannot write in the run directory $(rel "$out"): $reason; set FCNET_QUICKSTART_OUT" \
            "to a directory you can write" >&2
        exit 2
    fi
    say "train: $(rel "$out") (${ranks:-one rank per core}, one OpenBLAS thread each)"
    echo "configuration ($(rel "$config_file")): $(grep -v '^#' "$config_file" | tr -d ' ' | tr '\n' ' ')${extra[*]:-}"
    start=$(date +%s)
    rc=0
    "$root/launch/local.sh" --config "$config_file" --data "$data" --out "$out" ${extra[@]+"${extra[@]}"} 2>&1 |
        tee "$log" || rc=$?
    if [ "$rc" -eq 2 ] && [ ! -f "$ckpt" ] && [ "$created" = 1 ]; then
        # Refused before training (exit 2: a mistyped option, say): leave no directory holding only this log,
        # which would make the next --new skip a number. Any other failure keeps its log.
        rm -rf -- "$out"
        exit "$rc"
    fi
    [ "$rc" -eq 0 ] || exit "$rc"
    train_seconds=$(($(date +%s) - start))
    ;;
esac

say "results"
plot=$out/history.png
/usr/bin/python3 "$root/results/plot_history.py" --out "$plot" \
    --title "fcnet quickstart on Fashion-MNIST ($(rel "$out"))" "quickstart=$ckpt" >/dev/null
# After training, the trainer's last line reports the test accuracy (the progress bar may redraw
# with \r). A reused run is evaluated again: its checkpoint may have been extended since.
result=""
if [ -n "$train_seconds" ]; then
    result=$(tr '\r' '\n' <"$log" 2>/dev/null | grep '^test accuracy' | tail -1 || true)
fi
if [ -z "$result" ]; then
    result=$("$root/launch/local.sh" eval --checkpoint "$ckpt" --data "$data" --split test 2>&1 |
        grep -m1 '^accuracy' | sed 's/^accuracy: *\(.*\)/test accuracy: \1, final parameters (fcnet_dist eval)/' || true)
fi
echo "${result:-test accuracy: (not found; run the eval command below)}"
if [ -n "$train_seconds" ]; then
    echo "wall time of this run: ${train_seconds} s (start-up, training, evaluation)"
fi
more_epochs=$(/usr/bin/python3 -c 'import sys, h5py; print(int(h5py.File(sys.argv[1], "r").attrs["epochs"]) + 5)' \
    "$ckpt" 2>/dev/null || echo 15)
if [ "$(run_state)" = unfinished ]; then
    # A run of --new has a directory of its own, which a plain call would not look at: name it.
    again=$launch/quickstart.sh
    # Named unless it is the directory a plain call looks at: one given by FCNET_QUICKSTART_OUT must be given again.
    [ "$out" = "$root/runs/quickstart" ] || again="FCNET_QUICKSTART_OUT=$(arg "$out") $again"
    echo "the run stopped before its last epoch: $again resumes it from the checkpoint"
fi
cat <<EOF
checkpoint: $(rel "$ckpt")   (HDF5; /params is a cs231n model.params dict, /history the curves)
plot:       $(rel "$plot")   (training loss, train/val accuracy per epoch)
log:        $(rel "$log")

evaluate (accuracy per class, confusion matrix; --best for the best-validation parameters):
  $launch/local.sh eval --checkpoint $(arg "$ckpt") --data $(arg "$data")
resume or train longer (continues from the checkpoint and its optimizer state; here 5 more epochs):
  $launch/local.sh --resume $(arg "$ckpt") --data $(arg "$data") --out $(arg "$out") --epochs $more_epochs
train again from scratch into a new directory:
  $launch/quickstart.sh --new
EOF
