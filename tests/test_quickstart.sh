#!/bin/bash
# README command 1 end to end: launch/quickstart.sh on the real Fashion-MNIST (Debian's
# dataset-fashion-mnist, converted into datasets/fashion-mnist.h5 unless that file exists), one epoch so
# that it stays short. Checks what the README promises: a test accuracy, the checkpoint, the plot and the
# log; a second call reuses the finished run (same accuracy, through eval) and refuses new options
# without --new; --new trains into the next directory; a run stopped early (--max-steps) is resumed by
# the next call (with the options it is given) and then finishes; deps.sh installs the Python packages it uses;
# from a read-only checkout the dataset goes where FCNET_QUICKSTART_DATA says, and without it the script refuses at
# once; run and dataset names starting with '-' are names.
# usage: test_quickstart.sh   (FCNET_BUILD_DIR in the environment: the build holding fcnet_dist)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
: "${FCNET_BUILD_DIR:?FCNET_BUILD_DIR must name the build directory}"
build_dir=$FCNET_BUILD_DIR
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ ! -f "$root/datasets/fashion-mnist.h5" ] && [ "$(id -u)" -ne 0 ]; then
    echo "skipped: Fashion-MNIST is not installed and this user cannot install it (dataset-fashion-mnist)"
    exit 77
fi
# The packages the quickstart installs must hold what it imports (h5py in quickstart.sh; h5py, matplotlib and
# numpy in results/plot_history.py), or a fresh machine fails after training.
# shellcheck source=launch/deps.sh
source "$root/launch/deps.sh"
has_package() { [[ " ${fcnet_packages_python//$'\n'/ } " == *" $1 "* ]]; }
for pkg in python3-h5py python3-matplotlib python3-numpy; do
    check "deps.sh: fcnet_packages_python has $pkg" has_package "$pkg"
done
T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_test_quickstart.XXXXXX")
mounts=() # unmounted, and modes given back, before $T is removed
cleanup() {
    local m
    for m in ${mounts[@]+"${mounts[@]}"}; do umount "$m"; done
    chmod -R u+w "$T" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
export FCNET_QUICKSTART_OUT=$T/qs FCNET_RANKS=2

quickstart() { # quickstart LOG ARGS...: the exit status, the output in LOG
    local log=$1
    shift
    local rc=0
    "$root/launch/quickstart.sh" "$@" >"$log" 2>&1 || rc=$?
    return $rc
}
accuracy_in() { sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$1" | tail -1; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }
finished() { # finished CHECKPOINT: its root attribute 'finished' is 1
    [ "$(h5dump -a /finished "$1" 2>/dev/null | sed -n 's/^ *(0): *\([0-9]*\).*/\1/p')" = 1 ]
}

# 0. --out is the script's to choose: refused at once (it trained elsewhere, then failed at the evaluation).
rc=0
quickstart "$T/out.log" --new --out "$T/elsewhere" || rc=$?
check "--out is refused with exit 2 and one line naming it (got exit $rc)" \
    test "$rc" = 2 -a "$(wc -l <"$T/out.log")" = 1 -a ! -e "$T/elsewhere" -a ! -e "$T/qs"
grep -q "^quickstart.sh: --out: " "$T/out.log" || not_ok "the --out refusal line: $(head -1 "$T/out.log")"
# ... and so is --config: the script gives its own, and fcnet_dist refused the second only after the install,
# build and dataset steps.
for form in "--config $T/my.ini" "--config=$T/my.ini"; do
    rc=0
    # shellcheck disable=SC2086 # the form is two words or one
    quickstart "$T/config.log" --new $form || rc=$?
    check "$form is refused with exit 2 and one line naming --config (got exit $rc: $(head -1 "$T/config.log"))" \
        test "$rc" = 2 -a "$(wc -l <"$T/config.log")" = 1 -a ! -e "$T/qs" -a ! -e "$T/qs-2"
    grep -q "^quickstart.sh: --config: " "$T/config.log" || not_ok "the --config refusal line: $(head -1 "$T/config.log")"
done

# --help: the script's header, whole (its last line too), before anything is installed or built.
rc=0
quickstart "$T/help.log" --help || rc=$?
check "--help exits 0 with the header's usage and environment lines (got exit $rc, $(wc -l <"$T/help.log") lines)" \
    bash -c "[ $rc = 0 ] && grep -q '^  launch/quickstart.sh --new ' '$T/help.log' &&
        grep -q '^directory the user cannot write is used as built).\$' '$T/help.log' && ! grep -q '^==' '$T/help.log'"

# 1. A fresh run of one epoch.
check "the first call succeeds" quickstart "$T/first.log" --epochs 1
first=$(accuracy_in "$T/first.log")
check "it prints a test accuracy above 0.80 after one epoch (got '${first}')" above "${first:-0}" 0.80
check "the checkpoint is finished" finished "$T/qs/checkpoint.h5"
check "the plot is a PNG file" bash -c "head -c 8 '$T/qs/history.png' | od -An -c | grep -q 'P   N   G'"
check "the log holds the training's progress" grep -q "^epoch 1 done" "$T/qs/train.log"
check "it prints the command that evaluates the checkpoint" grep -q "local.sh eval --checkpoint" "$T/first.log"

# 1b. A run directory it cannot make or write: one line naming it, exit 2, nothing trained (mkdir's own line named
# only the component it stopped at, and in a directory the user could not write tee failed beside fcnet_dist,
# exit 1). Under a regular file for any user; a mode-555 directory, and a mode-666 one (writable, not searchable:
# test -w passed it), for a user who is not root (root writes there); for root a read-only tmpfs, where test -w
# gave the reason as "Permission denied".
: >"$T/afile" && mkdir -m 555 "$T/ro" && mkdir -m 666 "$T/nox" || exit 1
unwritable=("$T/afile/qs")
if [ "$(id -u)" = 0 ]; then
    ok "# SKIP a mode-555 and a mode-666 FCNET_QUICKSTART_OUT: root writes there"
    mkdir "$T/rofs" || exit 1
    if mount -t tmpfs -o ro fcnet-test-ro "$T/rofs" 2>/dev/null; then
        mounts+=("$T/rofs")
        unwritable+=("$T/rofs")
    else
        ok "# SKIP a read-only FCNET_QUICKSTART_OUT: cannot mount a tmpfs here"
    fi
else
    unwritable+=("$T/ro" "$T/nox")
fi
for dir in "${unwritable[@]}"; do
    rc=0
    FCNET_QUICKSTART_OUT=$dir quickstart "$T/unwritable.log" || rc=$?
    lines=$(grep -c "^quickstart.sh: cannot write in the run directory $dir: " "$T/unwritable.log" || true)
    check "FCNET_QUICKSTART_OUT=${dir#"$T"/}: exit 2 (got $rc), one line naming it, nothing trained" \
        test "$rc" = 2 -a "$lines" = 1 -a "$(grep -c '^== train' "$T/unwritable.log")" = 0 -a -z "$(ls -A "$T/ro")"
done
[ "${unwritable[*]: -1}" != "$T/rofs" ] ||
    check "FCNET_QUICKSTART_OUT=rofs: the reason is the file system's" grep -q ": Read-only file system; set " \
        "$T/unwritable.log"

# 2. Called again: the finished run is reused, not retrained; eval gives the same accuracy. Called from $T
# with FCNET_QUICKSTART_OUT=qs, relative to the caller's directory (not to the checkout, where it trained anew).
check "a second call succeeds" bash -c "cd '$T' && FCNET_QUICKSTART_OUT=qs '$root/launch/quickstart.sh' >again.log 2>&1"
[ ! -e "$root/qs" ] || { not_ok "a relative FCNET_QUICKSTART_OUT was taken from the checkout"; rm -rf "$root/qs"; }
check "it says it reuses the finished run" grep -q "reusing the finished run" "$T/again.log"
check "it does not train" bash -c "! grep -q '^epoch 1 done' '$T/again.log'"
check "eval reports the same accuracy ($(accuracy_in "$T/again.log") vs $first)" \
    test "$(accuracy_in "$T/again.log")" = "$first"

# 2b. The dataset's file, FCNET_QUICKSTART_DATA. One it cannot write (under a regular file, for any user), or from a
# read-only checkout (a shared install) without it: one line naming the file and its reason, exit 2, before
# converting (fcnet_convert's "Permission denied" came after the build, exit 1, and nothing moved the file). The
# checkout is a copy of what the script uses, on a tmpfs remounted read-only for root (who writes through modes),
# mode a-w for anyone else, at a path with a space in it. Then FCNET_QUICKSTART_DATA=-fm.h5, from $T: converted there
# (a name starting with '-'), the finished run evaluated on it, the printed commands naming it, quoted.
rc=0
FCNET_QUICKSTART_DATA=$T/afile/fm.h5 quickstart "$T/nodata.log" || rc=$?
lines=$(grep -c "^quickstart.sh: cannot write the dataset $T/afile/fm.h5: Not a directory; set " "$T/nodata.log" ||
    true)
check "FCNET_QUICKSTART_DATA=afile/fm.h5 (under a regular file): exit 2 (got $rc), one line with the reason" \
    test "$rc" = 2 -a "$lines" = 1
co="$T/check out"
mkdir "$co" || exit 1
if [ "$(id -u)" = 0 ] && ! mount -t tmpfs fcnet-test-co "$co" 2>/dev/null; then
    ok "# SKIP a read-only checkout: cannot mount a tmpfs here (FCNET_QUICKSTART_DATA tried from this one)"
    co=$root
else
    [ "$(id -u)" != 0 ] || mounts+=("$co")
    mkdir "$co/datasets" && cp -r "$root/launch" "$root/results" "$co/" &&
        cp "$root/datasets/fashion-mnist.sh" "$co/datasets/" || exit 1
    # Its build directory holds the two programs (links to this build's), nobuild none.
    mkdir -p "$co/build/datasets" "$co/nobuild" && ln -s "$FCNET_BUILD_DIR/fcnet_dist" "$co/build/" &&
        ln -s "$FCNET_BUILD_DIR/datasets/fcnet_convert" "$co/build/datasets/" || exit 1
    if [ "$(id -u)" = 0 ]; then mount -o remount,ro "$co"; else chmod -R a-w "$co"; fi || exit 1
    rc=0
    (cd "$T" && FCNET_QUICKSTART_OUT=qs "$co/launch/quickstart.sh" >"$T/rodata.log" 2>&1) || rc=$?
    want="^quickstart.sh: cannot write the dataset $co/datasets/fashion-mnist.h5: .*; set FCNET_QUICKSTART_DATA "
    lines=$(grep -c "$want" "$T/rodata.log" || true)
    check "a read-only checkout without FCNET_QUICKSTART_DATA: exit 2 (got $rc), one line naming the dataset" \
        test "$rc" = 2 -a "$lines" = 1
    check "and nothing converted or trained" bash -c "! grep -q 'fcnet_convert\|^== train' '$T/rodata.log'"
    # The checkout's own build directory, which this user cannot write: used as built (cmake failed in it with a
    # screen of "Permission denied", even with nothing to build); one without the programs refused in one line.
    rc=0
    (cd "$T" && FCNET_BUILD_DIR=$co/nobuild FCNET_QUICKSTART_OUT=qs FCNET_QUICKSTART_DATA=-fm.h5 \
        "$co/launch/quickstart.sh" >"$T/nobuild.log" 2>&1) || rc=$?
    want="^quickstart.sh: cannot write the build directory $co/nobuild: .*; set FCNET_BUILD_DIR to a directory you"
    check "a read-only build directory without the programs: exit 2 (got $rc), one line" \
        test "$rc" = 2 -a "$(grep -c "$want" "$T/nobuild.log")" = 1 -a "$(grep -c '^quickstart.sh:\|rror' "$T/nobuild.log")" = 1
    export FCNET_BUILD_DIR=$co/build
fi
check "FCNET_QUICKSTART_DATA=-fm.h5 (relative) from a read-only checkout succeeds" \
    bash -c "cd '$T' && FCNET_QUICKSTART_OUT=qs FCNET_QUICKSTART_DATA=-fm.h5 '$co/launch/quickstart.sh' >data.log 2>&1"
[ "$co" = "$root" ] || check "its read-only build directory used as built" \
    grep -q "^$co/build/fcnet_dist: used as built (this user cannot write $co/build: " "$T/data.log"
export FCNET_BUILD_DIR=$build_dir
check "it converts the dataset into \$T/-fm.h5" \
    bash -c "grep -q 'fcnet_convert: wrote $T/-fm.h5:' '$T/data.log' && test -f '$T/-fm.h5'"
check "eval on it reports the same accuracy ($(accuracy_in "$T/data.log") vs $first)" \
    test "$(accuracy_in "$T/data.log")" = "$first"
# Called from $T, not from the checkout: the printed commands name the scripts whole, and the eval command runs there.
# Quoted for the shell: "$T/check out" printed bare ran "$T/check" with the rest as its arguments.
local_sh="  $(printf %q "$co/launch/local.sh")"
ck_data="--checkpoint $(printf %q "$T/qs/checkpoint.h5") --data $(printf %q "$T/-fm.h5")"
resume="$local_sh --resume $(printf %q "$T/qs/checkpoint.h5") --data $(printf %q "$T/-fm.h5") --out $(printf %q "$T/qs") "
check "the printed eval and resume commands name it, and the checkout's scripts whole, quoted" \
    test "$(grep -cxF "$local_sh eval $ck_data" "$T/data.log") $(grep -cF "$resume" "$T/data.log")" = "1 1"
eval_line=$(grep -m1 -F "$local_sh eval " "$T/data.log" || true)
check "the printed eval command runs where the quickstart was called ($eval_line)" \
    bash -c "cd '$T' && $eval_line 2>&1 | grep -q '^accuracy: *$(accuracy_in "$T/data.log")'"
# datasets/fashion-mnist.sh on its own: FASHION_MNIST_OUT, relative to the caller, beside its DIR argument.
if [ -d /usr/share/datasets/fashion-mnist ]; then
    check "FASHION_MNIST_OUT=-d.h5 datasets/fashion-mnist.sh DIR writes -d.h5 in the current directory" \
        bash -c "cd '$T' && FASHION_MNIST_OUT=-d.h5 FCNET_CONVERT='$FCNET_BUILD_DIR/datasets/fcnet_convert' \
            '$root/datasets/fashion-mnist.sh' /usr/share/datasets/fashion-mnist >fm.log 2>&1 && test -f '$T/-d.h5'"
else
    ok "# SKIP FASHION_MNIST_OUT: /usr/share/datasets/fashion-mnist is not installed"
fi

# 3. New options on a finished run need --new.
rc=0
quickstart "$T/refused.log" --epochs 2 || rc=$?
check "new options without --new exit 2 (got $rc)" test "$rc" = 2
check "and say to use --new" grep -q "launch/quickstart.sh --new --epochs 2" "$T/refused.log"
# The options in that advice quoted as a shell needs them (a value with a space was printed as two words).
rc=0
quickstart "$T/refused2.log" --init-from "$T/my run.h5" || rc=$?
check "an option's value with a space: exit 2 (got $rc), the advice quotes it" \
    bash -c "[ $rc = 2 ] && grep -qF 'launch/quickstart.sh --new --init-from $T/my\\ run.h5' '$T/refused2.log'"

# 3b. A mistyped option with --new is refused (exit 2) and leaves no directory behind.
rc=0
quickstart "$T/typo.log" --new --hiden 3 || rc=$?
check "a mistyped option with --new exits 2 (got $rc)" test "$rc" = 2
check "with fcnet's one error line naming it, no Open MPI banner" \
    bash -c "grep -q 'error: .*--hiden' '$T/typo.log' && ! grep -q 'mpirun\|Primary job' '$T/typo.log'"
check "and leaves no quickstart-2 directory" test ! -e "$T/qs-2"
# The same with FCNET_QUICKSTART_OUT=-x from $T: a name for mkdir, mktemp and rm, not an option.
rc=0
(cd "$T" && FCNET_QUICKSTART_OUT=-x "$root/launch/quickstart.sh" --hiden 3 >"$T/dash.log" 2>&1) || rc=$?
check "FCNET_QUICKSTART_OUT=-x with a mistyped option: exit 2 (got $rc), fcnet's line, no -x left" \
    bash -c "test '$rc' = 2 && grep -q 'error: .*--hiden' '$T/dash.log' && test ! -e '$T/-x'"

# 4. --new trains into the next directory; stopped by --max-steps, it says so; the next call resumes it.
check "--new with --max-steps succeeds" quickstart "$T/new.log" --new --epochs 2 --max-steps 300
check "it trains into qs-2" test -f "$T/qs-2/checkpoint.h5"
check "it says the run stopped before its last epoch, and which call resumes it (naming qs-2)" \
    grep -qF "stopped before its last epoch: FCNET_QUICKSTART_OUT=$T/qs-2 $root/launch/quickstart.sh resumes it" "$T/new.log"
check "the checkpoint is not finished" bash -c "! h5dump -a /finished '$T/qs-2/checkpoint.h5' | grep -q '(0): 1'"
# Options given with the resuming call reach the run: --epochs 3 extends it by an epoch.
check "the next call on qs-2, with --epochs 3, succeeds" env FCNET_QUICKSTART_OUT="$T/qs-2" \
    "$root/launch/quickstart.sh" --epochs 3 >"$T/resume.log" 2>&1
check "it resumes the interrupted run" grep -q "resuming the interrupted run" "$T/resume.log"
check "and finishes it" finished "$T/qs-2/checkpoint.h5"
check "it trains on to epoch 3" bash -c "tr '\\r' '\\n' <'$T/resume.log' | grep -q '^epoch 3 done'"
epochs_of() { h5dump -a /epochs "$1" 2>/dev/null | sed -n 's/^ *(0): *\([0-9]*\).*/\1/p'; }
check "and its checkpoint has epochs 3 (got '$(epochs_of "$T/qs-2/checkpoint.h5")')" \
    test "$(epochs_of "$T/qs-2/checkpoint.h5")" = 3
check "with a test accuracy" test -n "$(accuracy_in "$T/resume.log")"
check "the first run is untouched" finished "$T/qs/checkpoint.h5"
# A run stopped in a directory given by FCNET_QUICKSTART_OUT names it in the resuming call too: the line left the
# variable out exactly then (it compared the directory with the variable's own value), and the call it printed
# went to runs/quickstart instead (helper-165).
check "a run in FCNET_QUICKSTART_OUT=qs-3 stopped by --max-steps succeeds" env FCNET_QUICKSTART_OUT="$T/qs-3" \
    "$root/launch/quickstart.sh" --epochs 2 --max-steps 50 >"$T/named.log" 2>&1
check "its resuming call names qs-3" \
    grep -qF "stopped before its last epoch: FCNET_QUICKSTART_OUT=$T/qs-3 $root/launch/quickstart.sh resumes it" \
    "$T/named.log"

if [ "$failed" -ne 0 ]; then
    for f in "$T"/*.log; do
        echo "---- $f"
        tail -20 "$f"
    done
fi
tap_end "$t0"
