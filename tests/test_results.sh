#!/bin/bash
# results/experiments.py and results/plot_history.py without training the experiments (a few seconds):
# --list on a checkout without datasets/fashion-mnist.h5 lists the 59 runs and writes nothing (and into a closed
# pipe ends by SIGPIPE, without a traceback); --ranks 0 is refused before any run directory is touched; --only
# nosuch is a usage error (exit 2, one line); a
# damaged run.json means "train again", not a traceback; a missing --config file or a folder inside a run's
# folder is one line, not a traceback (the folder kept); summary.csv and the README tables are written whole (a
# write that fails half way keeps the previous file), and a summary.csv it did not write stops it before any run
# trains, and it is read again just before it is written (rows written meanwhile kept); results/run.sh refuses a
# bad argument before installing
# or building anything;
# plot_history.py on a checkpoint without validation draws no "best val -1" line and keeps the accuracy
# axis within [0, 1], and titles it "epoch 0 off scale" only when epoch 0 is; its refusals (a directory, a file
# without the histories, an --out it cannot write or has no format for) are one line with no traceback, and the
# plot lands under the name it prints (through a link, not replacing it).
# usage: test_results.sh   (FCNET_BUILD_DIR in the environment: the build holding fcnet_dist and fcnet_synth)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
: "${FCNET_BUILD_DIR:?FCNET_BUILD_DIR must name the build directory}"
py=/usr/bin/python3
if ! "$py" -c "import h5py, matplotlib, numpy" 2>/dev/null; then
    echo "skipped: /usr/bin/python3 lacks h5py, matplotlib or numpy (launch/deps.sh installs them)"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_test_results.XXXXXX")
trap 'rm -rf "$T"' EXIT
# A checkout of its own: the scripts find the dataset and write runs/ relative to their own directory.
mkdir -p "$T/repo/results"
cp "$root/results/experiments.py" "$root/results/plot_history.py" "$root/results/whole_file.py" "$T/repo/results/"
ex=$T/repo/results/experiments.py

# 1. --list needs no dataset and cuts no subsets.
rc=0
"$py" "$ex" --list >"$T/list.out" 2>"$T/list.err" || rc=$?
check "--list without datasets/fashion-mnist.h5: exit 0 (got $rc: $(head -c 300 "$T/list.err"))" test "$rc" = 0
check "--list names the 59 default runs (got $(wc -l <"$T/list.out"))" test "$(wc -l <"$T/list.out")" = 59
check "--list writes nothing (no runs/)" test ! -e "$T/repo/runs"
# --list into a reader that is gone (--list | head): ends quietly by SIGPIPE, as ls does, not in a traceback.
# The pipe's reading end is closed before the script starts, so its first write fails every time.
said=$("$py" - "$ex" <<'EOF'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run([sys.executable, sys.argv[1], "--list"], stdout=w, stderr=subprocess.PIPE, text=True)
print(p.returncode, len(p.stderr.splitlines()), "Traceback" in p.stderr)
EOF
)
check "--list into a closed pipe: killed by SIGPIPE, nothing on stderr (got: exit, stderr lines, traceback = $said)" \
    test "$said" = "-13 0 False"

# 1b. (helper-169) --list needs numpy only: with h5py and matplotlib failing to import it still lists the 59 runs and
# writes nothing, not even matplotlib's font cache in $HOME (it died in a traceback where they were missing); an
# experiment named twice runs once (it trained twice and wrote its summary rows twice); an empty --only and an
# abbreviated flag are refused (they ran everything, and --lis went past run.sh's --list check into the build).
mkdir -p "$T/nomods"
for m in h5py matplotlib; do echo "raise ImportError('No module named $m (test_results stand-in)')" >"$T/nomods/$m.py"; done
rc=0
PYTHONPATH=$T/nomods HOME=$T/home "$py" "$ex" --list >"$T/list2.out" 2>"$T/list2.err" || rc=$?
check "--list without h5py and matplotlib: exit 0, 59 runs, nothing in HOME (got $rc, $(wc -l <"$T/list2.out") lines: $(
    head -c 200 "$T/list2.err"))" \
    bash -c "[ $rc = 0 ] && [ \$(wc -l <'$T/list2.out') = 59 ] && [ ! -e '$T/home' ] && [ ! -e '$T/repo/results/__pycache__' ]"
rc=0
"$py" "$ex" --list >/dev/full 2>"$T/full.err" || rc=$?
check "--list into a full disk: exit 1, one line (got $rc: $(head -c 200 "$T/full.err"))" \
    bash -c "[ $rc = 1 ] && [ \$(wc -l <'$T/full.err') = 1 ] && grep -q 'cannot write to standard output' '$T/full.err'"
check "--only batchnorm,batchnorm lists batchnorm's runs once" \
    test "$("$py" "$ex" --only batchnorm,batchnorm --list | wc -l)" = "$("$py" "$ex" --only batchnorm --list | wc -l)"
for bad in "--only=" "--lis"; do
    rc=0
    "$py" "$ex" "$bad" --list >"$T/bad.out" 2>&1 || rc=$?
    check "experiments.py $bad: exit 2 (got $rc: $(tail -1 "$T/bad.out"))" test "$rc" = 2
done

# 2. --ranks 0 is a usage error before anything runs.
rc=0
"$py" "$ex" --only dropout --ranks 0 >"$T/ranks.out" 2>&1 || rc=$?
check "--ranks 0: exit 2 naming --ranks (got $rc: $(tail -1 "$T/ranks.out"))" \
    bash -c "[ $rc = 2 ] && grep -q -- '--ranks' '$T/ranks.out' && [ ! -e '$T/repo/runs' ]"

# 2b. results/run.sh refuses a bad argument before it installs, builds or converts anything (minutes): a stand-in
# launch/deps.sh marks the install step and stops there.
cp "$root/results/run.sh" "$T/repo/results/"
mkdir -p "$T/repo/launch"
cat >"$T/repo/launch/deps.sh" <<'EOF'
fcnet_install_deps() { touch "$(dirname "${BASH_SOURCE[0]}")/installed"; echo "stand-in deps.sh: install step reached"; exit 3; }
EOF
for bad in "--ranks 0" "--only nosuch" "--bogus" "--lis"; do
    rc=0
    # shellcheck disable=SC2086 # the arguments are word lists on purpose
    bash "$T/repo/results/run.sh" $bad >"$T/run.out" 2>&1 || rc=$?
    check "run.sh $bad: refused before the install step (exit $rc: $(tail -1 "$T/run.out"))" \
        bash -c "[ $rc = 1 ] || [ $rc = 2 ] && [ ! -e '$T/repo/launch/installed' ] && [ ! -e '$T/repo/runs' ]"
done

# 3. A damaged run.json (cut short): the run is trained again. The stand-in for launch/local.sh fails, so the
# script must report that failure by name (it used to die in json.load).
cat >"$T/fake_local.sh" <<'EOF'
#!/bin/sh
echo "fake local.sh: refusing"
exit 1
EOF
chmod +x "$T/fake_local.sh"
rc=0
"$py" - "$T/repo/results" "$T/fake_local.sh" >"$T/json.out" 2>&1 <<'EOF' || rc=$?
import os, sys
sys.path.insert(0, sys.argv[1])
import experiments as e
e.LOCAL = sys.argv[2]
r = e.Run("x", "y", ["--epochs", 1], "data.h5")
os.makedirs(r.dir)
with open(os.path.join(r.dir, "run.json"), "w") as f:
    f.write('{"key": ')
r.execute(1, False)
EOF
check "damaged run.json: the run is tried again and its failure reported ($(tail -1 "$T/json.out"))" \
    bash -c "[ $rc = 1 ] && grep -q 'x/y failed (exit 1)' '$T/json.out' && ! grep -q Traceback '$T/json.out'"

# 3a. A datasets/fashion-mnist.h5 that is not one: one line, no traceback, no half-cut subset left (helper-169).
mkdir -p "$T/repo/datasets"
echo "not HDF5" >"$T/repo/datasets/fashion-mnist.h5"
rc=0
"$py" "$ex" --only batchnorm >"$T/bad_full.out" 2>"$T/bad_full.err" || rc=$?
check "a damaged fashion-mnist.h5: exit 1, one line naming it, no .tmp (got $rc: $(head -c 300 "$T/bad_full.err"))" \
    bash -c "[ $rc = 1 ] && [ \$(wc -l <'$T/bad_full.err') = 1 ] && grep -q 'fashion-mnist.h5: cannot cut the 5000-row subset' \
        '$T/bad_full.err' && [ -z \"\$(find '$T/repo' -name '*.tmp')\" ]"
rm -rf "$T/repo/datasets" "$T/repo/runs"

# 3c. Plots, tables and summary.csv are written once every run has trained: a run of the second experiment that
# fails leaves the first one's plot undrawn (it was redrawn beside the old tables; helper-169). Stand-in experiments.
rc=0
"$py" - "$T/repo/results" >"$T/order.out" 2>&1 <<'EOF' || rc=$?
import sys
sys.path.insert(0, sys.argv[1])
import experiments as e
drawn = []
class Ok:
    name = "r"
    def execute(self, ranks, force): pass
class Fails(Ok):
    def execute(self, ranks, force): sys.exit("experiments.py: b/r failed (exit 1)")
e.EXPERIMENTS = {"a": (lambda: [Ok()], lambda runs: drawn.append("a")),
                 "b": (lambda: [Fails()], lambda runs: drawn.append("b"))}
e.FULL = sys.argv[1] + "/experiments.py"  # any file: the stand-ins cut no subset
try:
    e.main(["--only", "a,b"])
finally:
    print("drawn:", drawn)
EOF
check "a run of the second experiment fails: exit 1 and no plot drawn ($(tr '\n' ' ' <"$T/order.out"))" \
    bash -c "[ $rc = 1 ] && grep -q '^drawn: \[\]' '$T/order.out'"

# 3b. Refusals of experiments.py: one line, no traceback. An unknown experiment is a usage error (exit 2, as
# argparse's); a --config file that is gone, and a folder inside a run's folder (not deleted with the run's own
# files), stop the run before it trains (exit 1).
rc=0
"$py" "$ex" --only dropout,nosuch >"$T/only.out" 2>"$T/only.err" || rc=$?
check "--only nosuch: exit 2, one line naming it (got $rc: $(head -c 300 "$T/only.err"))" \
    bash -c "[ $rc = 2 ] && [ \$(wc -l <'$T/only.err') = 1 ] && grep -q \"unknown experiment 'nosuch'\" '$T/only.err'"
# run_refused NAME WORD: the Python on stdin (given $T/repo/results and the failing stand-in for local.sh) exits 1
# with one stderr line holding WORD and no traceback.
run_refused() {
    local name=$1 word=$2 rc=0
    "$py" - "$T/repo/results" "$T/fake_local.sh" >"$T/rr.out" 2>"$T/rr.err" || rc=$?
    check "$name: exit 1, one line naming '$word' (got exit $rc, $(wc -l <"$T/rr.err") lines: $(
        head -c 300 "$T/rr.err"))" \
        bash -c "[ $rc = 1 ] && [ \$(wc -l <'$T/rr.err') = 1 ] && grep -qF -- '$word' '$T/rr.err' &&
            ! grep -q Traceback '$T/rr.err'"
}
run_refused "a --config file that is missing" "x/cfg: --config $T/no-such.ini: cannot read it (No such file" <<PY
import sys
sys.path.insert(0, sys.argv[1])
import experiments as e
e.LOCAL = sys.argv[2]
e.Run("x", "cfg", ["--config", "$T/no-such.ini"], "data.h5").execute(1, False)
PY
run_refused "a folder inside a run's folder" "x/sub/mine: a folder inside the run" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
import experiments as e
e.LOCAL = sys.argv[2]
r = e.Run("x", "sub", ["--epochs", 1], "data.h5")
os.makedirs(os.path.join(r.dir, "mine"))
open(os.path.join(r.dir, "train.log"), "w").close()
r.execute(1, False)
PY
check "the folder and the files beside it are kept" \
    test -d "$T/repo/runs/results/x/sub/mine" -a -f "$T/repo/runs/results/x/sub/train.log"

# 3c. summary.csv and the README tables are written whole (a .tmp and a rename): a disk that fills up mid-write
# leaves the previous file as it was, no .tmp, and one line (exit 1). A stand-in experiment without runs, and an
# open() whose writes to the file named store half, then fail with ENOSPC.
printf 'experiment,run\nbatchnorm,old-row\n' >"$T/repo/results/summary.csv"
printf 'intro\n<!-- table:fake -->\nold table\n<!-- /table:fake -->\nend\n' >"$T/repo/results/README.md"
touch "$T/repo/fashion.h5"
cat >"$T/fake_exp.py" <<'PY'
import builtins, errno, os, sys
sys.path.insert(0, sys.argv[1])
import experiments as e
e.FULL, target = sys.argv[2], sys.argv[3]


class Run:
    name, ranks, args = "r", 1, []

    def execute(self, ranks, force):  # leaves a mark: the run would have trained
        open(os.path.join(sys.argv[1], "trained"), "w").close()
        if os.environ.get("ROWS_DURING_RUN"):  # another invocation's summary, written while this one trains
            with builtins.open(os.path.join(sys.argv[1], "summary.csv"), "w") as f:
                f.write(os.environ["ROWS_DURING_RUN"])

    def row(self):
        return {"experiment": "fake", "run": "r", "ranks": 1, "final_loss": 0.5, "final_train_acc": 0.9,
                "final_val_acc": 0.8, "best_val_acc": 0.8, "test_acc": 0.7, "diverged": False, "wall_s": 1.0,
                "load": 0.1}


class HalfWrites:  # a file on a disk that fills up: each write stores half, then fails
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, text):
        self.f.write(text[:len(text) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")


def full_open(path, mode="r", *args, **kwargs):
    f = builtins.open(path, mode, *args, **kwargs)
    return HalfWrites(f) if "w" in mode and target and target in str(path) else f


e.open = full_open
e.EXPERIMENTS = {"batchnorm": e.EXPERIMENTS["batchnorm"], "fake": (lambda: [Run()], lambda runs: None)}
sys.exit(e.main(["--only", "fake"]))
PY
for target in summary.csv README.md; do
    cp "$T/repo/results/$target" "$T/before"
    rc=0
    "$py" "$T/fake_exp.py" "$T/repo/results" "$T/repo/fashion.h5" "$target" >"$T/full.out" 2>"$T/full.err" || rc=$?
    check "$target on a full disk: exit 1, one line, the previous $target whole, no .tmp (got exit $rc: $(
        head -c 300 "$T/full.err"))" bash -c "[ $rc = 1 ] && [ \$(wc -l <'$T/full.err') = 1 ] &&
            grep -qF '$target: cannot write it (No space left on device)' '$T/full.err' &&
            cmp -s '$T/before' '$T/repo/results/$target' && ! compgen -G '$T/repo/results/*.tmp'"
done
# Without the failure both are written: the other experiment's row kept, the table replaced.
rc=0
"$py" "$T/fake_exp.py" "$T/repo/results" "$T/repo/fashion.h5" "" >"$T/full.out" 2>&1 || rc=$?
check "summary.csv and README.md written: the other experiment's row kept, the table replaced (exit $rc: $(
    tail -1 "$T/full.out"))" bash -c "[ $rc = 0 ] && grep -q '^batchnorm,old-row' '$T/repo/results/summary.csv' &&
        grep -q '^fake,r,1,0.5000' '$T/repo/results/summary.csv' &&
        grep -q '^| r | 0.500 ' '$T/repo/results/README.md' &&
        ! grep -q 'old table' '$T/repo/results/README.md' && ! compgen -G '$T/repo/results/*.tmp'"
# 3d. A summary.csv that this script did not write (no 'experiment' column) stops it before any run trains, in one
# line (exit 1), the file kept: read after the training, it ended an hour of runs in a KeyError traceback.
printf 'name,acc\nmine,0.9\n' >"$T/repo/results/summary.csv"
cp "$T/repo/results/summary.csv" "$T/before"
rm -f "$T/repo/results/trained"
rc=0
"$py" "$T/fake_exp.py" "$T/repo/results" "$T/repo/fashion.h5" "" >"$T/foreign.out" 2>"$T/foreign.err" || rc=$?
check "a foreign summary.csv: exit 1, one line naming it, kept, nothing trained (got exit $rc: $(
    head -c 300 "$T/foreign.err"))" bash -c "[ $rc = 1 ] && [ \$(wc -l <'$T/foreign.err') = 1 ] &&
        grep -qF \"summary.csv: no 'experiment' column\" '$T/foreign.err' && ! grep -q Traceback '$T/foreign.err' &&
        cmp -s '$T/before' '$T/repo/results/summary.csv' && [ ! -e '$T/repo/results/trained' ]"


# 3e. An empty summary.csv (no columns) stops it as a foreign one does, and a summary.csv it cannot read with the
# system's reason: one not in UTF-8 (a UnicodeDecodeError, not a traceback) and a directory ('Is a directory', not
# Python's '[Errno 21] ...'); without a summary.csv at all (a first run) there is nothing to keep, the file written.
# unreadable_summary NAME WANT: exit 1, one line holding WANT, no traceback, nothing trained
unreadable_summary() {
    rm -f "$T/repo/results/trained"
    rc=0
    "$py" "$T/fake_exp.py" "$T/repo/results" "$T/repo/fashion.h5" "" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
    check "$1: exit 1, one line, nothing trained (got exit $rc: $(head -c 300 "$T/bad.err"))" bash -c "[ $rc = 1 ] &&
        [ \$(wc -l <'$T/bad.err') = 1 ] && grep -qF \"$2\" '$T/bad.err' && ! grep -q Traceback '$T/bad.err' &&
        [ ! -e '$T/repo/results/trained' ]"
}
printf 'experiment,run\nbatch\377norm,old-row\n' >"$T/repo/results/summary.csv"
unreadable_summary "a summary.csv not in UTF-8" "summary.csv: cannot read it ('utf-8' codec can't decode"
: >"$T/repo/results/summary.csv" # empty: no first line, so no columns at all
unreadable_summary "an empty summary.csv" "summary.csv: no 'experiment' column"
rm -f "$T/repo/results/summary.csv"
mkdir "$T/repo/results/summary.csv"
unreadable_summary "a summary.csv that is a directory" "summary.csv: cannot read it (Is a directory); move it away"
rmdir "$T/repo/results/summary.csv"
rc=0
"$py" "$T/fake_exp.py" "$T/repo/results" "$T/repo/fashion.h5" "" >"$T/first.out" 2>&1 || rc=$?
check "no summary.csv yet: exit 0, written with the run's row (got exit $rc: $(tail -1 "$T/first.out"))" bash -c \
    "[ $rc = 0 ] && grep -q '^fake,r,1,0.5000' '$T/repo/results/summary.csv' && [ -e '$T/repo/results/trained' ]"
# 3f. summary.csv is read again after the runs, just before it is written: the rows another invocation wrote while
# these runs trained (hours, for the real experiments) are kept, not replaced by what the file held at the start.
printf 'experiment,run\nbatchnorm,start-row\n' >"$T/repo/results/summary.csv"
rc=0
ROWS_DURING_RUN=$'experiment,run\nbatchnorm,written-meanwhile\n' \
    "$py" "$T/fake_exp.py" "$T/repo/results" "$T/repo/fashion.h5" "" >"$T/during.out" 2>&1 || rc=$?
check "rows written to summary.csv during the runs kept (got exit $rc: $(tail -1 "$T/during.out"))" bash -c \
    "[ $rc = 0 ] && grep -q '^batchnorm,written-meanwhile' '$T/repo/results/summary.csv' &&
        ! grep -q 'start-row' '$T/repo/results/summary.csv' && grep -q '^fake,r,1,0.5000' '$T/repo/results/summary.csv'"
# 4. plot_history.py on a checkpoint trained without validation (best_val_acc -1, val_acc NaN).
"$FCNET_BUILD_DIR/datasets/fcnet_synth" --out "$T/s.h5" --train 200 --test 50 --features 5 --classes 3 >/dev/null
"$FCNET_BUILD_DIR/fcnet_dist" --data "$T/s.h5" --val-size 0 --epochs 2 --hidden 8 --out "$T/noval" >"$T/noval.log" 2>&1
check "a run without validation trains" test -f "$T/noval/checkpoint.h5"
rc=0
"$py" "$T/repo/results/plot_history.py" "$T/noval/checkpoint.h5" --out "$T/noval.png" >/dev/null 2>"$T/plot.err" ||
    rc=$?
check "plot_history.py without validation: exit 0 ($(tail -1 "$T/plot.err"))" test "$rc" = 0
rc=0
"$py" - "$T/repo/results" "$T/noval/checkpoint.h5" "$T/axes.png" >"$T/axes.out" 2>&1 <<'EOF' || rc=$?
import sys
sys.path.insert(0, sys.argv[1])
import plot_history as p
h = p.load_history(sys.argv[2])
figs = []
p.plt.close = lambda fig=None: figs.append(fig)  # keep the figure to look at its accuracy axis
p.plot_single("noval", h, sys.argv[3], title=None)
ax = [f for f in figs if hasattr(f, "axes")][0].axes[1]
labels = [t.get_text() for t in ax.get_legend().get_texts()]
print("best", h["best_val_acc"], "ylim", ax.get_ylim(), "legend", labels)
ok = h["best_val_acc"] is None and ax.get_ylim()[0] >= 0 and not any("best val" in t for t in labels)
sys.exit(0 if ok else 1)
EOF
check "without validation: no best-val line, the accuracy axis within [0, 1] ($(tail -1 "$T/axes.out"))" test "$rc" = 0

# 4b. The accuracy axis is zoomed on the epochs after the first; its title says "epoch 0 off scale" only when a point
# of epoch 0 is (at chance level below the axis), not for a run whose epoch 0 is on it (--init-from a trained net).
rc=0
"$py" - "$T/repo/results" "$T/zoom.png" >"$T/zoom.out" 2>&1 <<'EOF' || rc=$?
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import plot_history as p
figs = []
p.plt.close = lambda fig=None: figs.append(fig)  # keep the figure to read its accuracy axis


def title(train, val, figure_title=None):
    h = {"loss": np.array([2.3, 1.0, 0.5]), "train_acc": np.array(train), "val_acc": np.array(val),
         "check_step": np.array([0, 10, 20]), "steps_per_epoch": 10, "best_val_acc": None}
    figs.clear()
    p.plot_single("run", h, sys.argv[2], title=figure_title)
    fig = [f for f in figs if hasattr(f, "axes")][0]
    # The figure's own title stays the run's label, or --title: the accuracy axis's is another.
    if fig._suptitle.get_text() != (figure_title or "run"):
        return "figure title " + repr(fig._suptitle.get_text())
    return fig.axes[1].get_title()


chance, trained, no_val = title([0.1, 0.8, 0.9], [0.12, 0.78, 0.85]), title([0.85, 0.86, 0.9], [0.84, 0.85, 0.86]), \
    title([0.1, 0.8, 0.9], [np.nan] * 3)
given = title([0.1, 0.8, 0.9], [0.12, 0.78, 0.85], "given")
print(repr(chance), repr(trained), repr(no_val), repr(given))
ok = chance == "Accuracy (epoch 0 off scale: train 0.100, val 0.120)" and trained == "Accuracy" and \
    no_val == "Accuracy (epoch 0 off scale: train 0.100, val n/a)" and given == chance
sys.exit(0 if ok else 1)
EOF
check "the accuracy title names epoch 0 off scale only when it is ($(tail -1 "$T/zoom.out"))" test "$rc" = 0

# 5. plot_history.py's refusals: one line on stderr, no traceback, the exit status, no file left behind; and the
# plot written under exactly the name it prints.
# plot_fails NAME RC WORD ARGS...: exit RC, one stderr line holding WORD, no Traceback, no *.tmp left in $T.
plot_fails() {
    local name=$1 want=$2 word=$3 rc=0 good=1
    shift 3
    "$py" "$T/repo/results/plot_history.py" "$@" >"$T/pf.out" 2>"$T/pf.err" || rc=$?
    [ "$rc" = "$want" ] && [ "$(wc -l <"$T/pf.err")" = 1 ] && grep -qF -- "$word" "$T/pf.err" &&
        ! grep -q Traceback "$T/pf.err" && ! compgen -G "$T/*.tmp" >/dev/null || good=0
    check "plot_history.py $name: exit $want, one line naming '$word' (got exit $rc, $(wc -l <"$T/pf.err") lines: $(
        head -c 300 "$T/pf.err"))" test "$good" = 1
}
ck=$T/noval/checkpoint.h5
plot_fails "on a directory (HDF5's reason holds a newline)" 2 "$T/noval: not a readable fcnet checkpoint" "$T/noval"
"$py" -c 'import h5py, sys; h5py.File(sys.argv[1], "w").create_dataset("history/loss", data=[1.0, 2.0])' "$T/h.h5"
plot_fails "on a file whose /history has no train_acc" 2 "/history/train_acc" "$T/h.h5"
plot_fails "--out in a missing folder" 1 "--out $T/none/p.png: cannot write the plot" "$ck" --out "$T/none/p.png"
plot_fails "--out a directory" 1 "--out $T/noval: cannot write the plot (Is a directory)" "$ck" --out "$T/noval"
plot_fails "--out with an unknown extension" 2 "--out $T/p.foo: no plot format 'foo'" "$ck" --out "$T/p.foo"
check "an unknown extension writes nothing" test ! -e "$T/p.foo"
# pgf, which matplotlib lists, runs LaTeX to measure text: without it, a refusal like another unknown format (it was a
# traceback after the figure was drawn). Where xelatex is installed, pgf is a format like the others.
if ! command -v xelatex >/dev/null; then
    plot_fails "--out .pgf without LaTeX" 2 "--out $T/p.pgf: no plot format 'pgf'" "$ck" --out "$T/p.pgf"
fi
# The path printed into a full disk: one line, exit 1, the plot written (it was a traceback, exit 120).
rc=0
"$py" "$T/repo/results/plot_history.py" "$ck" --out "$T/full.png" >/dev/full 2>"$T/pf.err" || rc=$?
check "plot_history.py with stdout on /dev/full: exit 1, one line, the plot written (got $rc: $(head -c 200 "$T/pf.err"))" \
    bash -c "[ $rc = 1 ] && [ \$(wc -l <'$T/pf.err') = 1 ] && ! grep -q Traceback '$T/pf.err' && [ -s '$T/full.png' ]"
rc=0
said=$("$py" "$T/repo/results/plot_history.py" "$ck" --out "$T/plot" 2>"$T/pf.err") || rc=$?
check "--out without an extension: exit 0, the PNG written under the name printed ('$said', rc $rc)" \
    bash -c "[ $rc = 0 ] && [ '$said' = '$T/plot' ] && head -c 4 '$T/plot' | grep -q PNG && [ ! -e '$T/plot.png' ]"
# An --out that is a link (or a device) is written through, not replaced by the rename of a new file.
ln -s target.png "$T/link.png"
"$py" "$T/repo/results/plot_history.py" "$ck" --out "$T/link.png" >/dev/null 2>"$T/pf.err"
check "--out a symbolic link: still the link, its target the plot ($(head -c 200 "$T/pf.err"))" \
    bash -c "[ -L '$T/link.png' ] && head -c 4 '$T/target.png' | grep -q PNG"

tap_end "$t0"
