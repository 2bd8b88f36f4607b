#!/bin/bash
# results/torch_interop.py against fcnet_dist, both ways, for batchnorm, layernorm and no normalisation, on a
# uint8 synthetic set: a net trained a few steps in PyTorch and exported is evaluated by fcnet_dist (--init-from,
# one step, eval --best: the step-0 copy) with the same accuracy and confusion matrix as in PyTorch; a net
# trained by fcnet_dist (standardize, He init, 2 ranks) and imported gives in PyTorch the report fcnet_dist eval gives;
# the file round trips keep every tensor bitwise; a net fcnet cannot express is refused with one line, exit 2,
# and so are data of another feature count, a --preprocess-from without /preprocess or of another net, a directory,
# non-HDF5 file, FIFO or malformed parameter file as input, an output it cannot write or that is its input, and a
# report that standard output cannot take.
# Skipped (77) where /usr/bin/python3 lacks torch, h5py or numpy.
# usage: test_torch_interop.sh FCNET_SYNTH [MPIEXEC]   (FCNET_DIST in the environment: the fcnet_dist binary)
set -uo pipefail
SYNTH=${1:?usage: test_torch_interop.sh FCNET_SYNTH [MPIEXEC]}
MPIEXEC=${2:-mpirun}
DIST=${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}
py=/usr/bin/python3
if ! "$py" -c "import torch, h5py, numpy" 2>/dev/null; then
    echo "skipped: /usr/bin/python3 lacks torch, h5py or numpy (Debian: python3-torch python3-h5py)"
    exit 77
fi
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tool=$(cd "$(dirname "${BASH_SOURCE[0]}")/../results" && pwd)/torch_interop.py
tap_scratch torch_interop
# The lines both reports share: accuracy, rows without a class, the confusion matrix.
shared() { sed -n '/^accuracy:/p; /^no class:/p; /^confusion matrix/,$p' "$1"; }
same_report() { # NAME FCNET_REPORT TORCH_REPORT
    if [ -s "$2" ] && diff <(shared "$2") <(shared "$3") >"$T/diff.txt"; then
        ok "$1 ($(sed -n 's/^accuracy: *//p' "$2"))"
    else
        not_ok "$1"
        sed 's/^/    /' "$T/diff.txt" "$2" "$3" | head -40
    fi
}

"$SYNTH" --out d.h5 --train 600 --val 100 --test 300 --features 12 --classes 4 --dtype uint8 --noise 0.5 \
    --seed 3 >/dev/null

for norm in batchnorm layernorm none; do
    # PyTorch -> fcnet: a few adam steps in PyTorch, export, one fcnet step whose /best is the step-0 copy.
    "$py" - "$tool" "$norm" <<'EOF' >"$T/train_$norm.log" 2>&1
import importlib.util, sys, h5py, torch
spec = importlib.util.spec_from_file_location("ti", sys.argv[1]); ti = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ti)
torch.manual_seed(0)
m = ti.build(12, [16, 8], 4, sys.argv[2])
with h5py.File("d.h5", "r") as f:
    x, y = torch.from_numpy(ti.fcnet_inputs(f["train/x"][()])), torch.from_numpy(f["train/y"][()]).long()
opt = torch.optim.Adam(m.parameters(), 1e-2)
for step in range(60):
    i = torch.randint(0, len(x), (50,))
    opt.zero_grad(); torch.nn.functional.cross_entropy(m(x[i]), y[i]).backward(); opt.step()
torch.save(m.eval(), f"t_{sys.argv[2]}.pt")
EOF
    "$py" "$tool" export "t_$norm.pt" "t_$norm.h5" >"$T/export.out" 2>&1
    check "$norm: export names the fcnet options ($(cat "$T/export.out"))" \
        grep -q -- "--init-from t_$norm.h5 --hidden 16,8 --norm $norm ...\$" "$T/export.out"
    "$DIST" train --data d.h5 --init-from "t_$norm.h5" --hidden 16,8 --norm "$norm" --preprocess none \
        --max-steps 1 --out "r_$norm" >/dev/null 2>"$T/err" || cat "$T/err"
    "$DIST" eval --checkpoint "r_$norm/checkpoint.h5" --best >"fcnet_$norm.txt" 2>&1
    "$py" "$tool" eval "t_$norm.pt" --data d.h5 >"torch_$norm.txt" 2>&1
    same_report "$norm: PyTorch -> fcnet: fcnet_dist eval --best of the --init-from run = PyTorch's report" \
        "fcnet_$norm.txt" "torch_$norm.txt"

    # fcnet -> PyTorch: 3 epochs at 2 ranks with standardize, import, evaluate both ways.
    "$MPIEXEC" -n 2 --oversubscribe --bind-to none "$DIST" train --data d.h5 --hidden 16,8 --norm "$norm" \
        --optim adam --lr 3e-3 --init he --epochs 3 --batch-size 50 --preprocess standardize --out "f_$norm" \
        >/dev/null 2>"$T/err" ||
        cat "$T/err"
    "$DIST" eval --checkpoint "f_$norm/checkpoint.h5" >"fcnet_f_$norm.txt" 2>&1
    "$py" "$tool" import "f_$norm/checkpoint.h5" "m_$norm.pt" &&
        "$py" "$tool" eval "m_$norm.pt" --data d.h5 --preprocess-from "f_$norm/checkpoint.h5" >"torch_f_$norm.txt" 2>&1
    same_report "$norm: fcnet -> PyTorch: the imported model's report = fcnet_dist eval's" \
        "fcnet_f_$norm.txt" "torch_f_$norm.txt"
    "$DIST" eval --checkpoint "f_$norm/checkpoint.h5" --split val >"fcnet_v_$norm.txt" 2>&1
    "$py" "$tool" eval "f_$norm/checkpoint.h5" --data d.h5 --split val >"torch_v_$norm.txt" 2>&1
    same_report "$norm: eval of the checkpoint itself, split val" "fcnet_v_$norm.txt" "torch_v_$norm.txt"

    # The files round trip bitwise: export(load(checkpoint)) holds the checkpoint's /params and /bn.
    check "$norm: export(import(checkpoint)) keeps /params and /bn bitwise" "$py" - "$tool" "$norm" <<'EOF'
import importlib.util, sys, h5py, numpy as np
spec = importlib.util.spec_from_file_location("ti", sys.argv[1]); ti = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ti)
ti.export(ti.load(f"f_{sys.argv[2]}/checkpoint.h5"), "back.h5")
with h5py.File(f"f_{sys.argv[2]}/checkpoint.h5", "r") as a, h5py.File("back.h5", "r") as b:
    names = [f"{g}/{k}" for g in ("params", "bn") if g in a for k in a[g]]
    assert sorted(names) == sorted(f"{g}/{k}" for g in b for k in b[g]), names
    for n in names:
        assert a[n].dtype == b[n].dtype and np.array_equal(a[n][()], b[n][()]), n
EOF
done

# A net fcnet cannot express: one line naming the module and the reason, exit 2, no file.
"$py" -c "import torch; m = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.BatchNorm1d(8, eps=1e-3),
torch.nn.ReLU(), torch.nn.Linear(8, 4)); torch.save(m, 'eps.pt')"
rc=0
"$py" "$tool" export eps.pt eps.h5 >"$T/out" 2>"$T/err" || rc=$?
check "batchnorm eps 1e-3: exit 2, one line naming module 1 and eps ($(cat "$T/err"))" \
    bash -c "[ $rc = 2 ] && [ \$(wc -l <'$T/err') = 1 ] && grep -q 'module 1 has eps 0.001' '$T/err' && [ ! -e eps.h5 ]"

# Bad inputs and outputs: one line naming the file and the reason, exit 2, no traceback, nothing written.
# refused NAME WORD ARGS...: exit 2, one stderr line holding WORD, no Traceback, no *.tmp or out.pt left.
refused() {
    local name=$1 word=$2 rc=0 good=1
    shift 2
    timeout 60 "$py" "$tool" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -qF -- "$word" "$T/err" && ! grep -q Traceback "$T/err" &&
        ! compgen -G "$T/*.tmp" >/dev/null && [ ! -e out.pt ] || good=0
    check "$name: exit 2, one line naming '$word' (got exit $rc, $(wc -l <"$T/err") lines: $(head -c 300 "$T/err"))" \
        test "$good" = 1
}
"$SYNTH" --out d9.h5 --train 100 --test 30 --features 9 --classes 4 --seed 3 >/dev/null
refused "eval of a .pt on data with other features" "d9.h5: /test/x: shape (30, 9), the model takes 12 features" \
    eval m_none.pt --data d9.h5
refused "eval of a checkpoint on data with other features" "d9.h5: /test/x: shape (30, 9)" \
    eval f_none/checkpoint.h5 --data d9.h5
"$py" -c 'import h5py; f = h5py.File("pre5.h5", "w"); f.create_dataset("preprocess/mean", data=[0.0] * 5)
f["preprocess"].attrs["kind"] = "center"'
refused "--preprocess-from with other features" "pre5.h5: /preprocess/mean has 5 features, the data 12" \
    eval m_none.pt --data d.h5 --preprocess-from pre5.h5
# A --preprocess-from file without /preprocess (an --init-from file, not a checkpoint) would apply none, silently.
refused "--preprocess-from without /preprocess" "t_none.h5: /preprocess: missing in the file" \
    eval m_none.pt --data d.h5 --preprocess-from t_none.h5
refused "import from a directory (HDF5's reason holds a newline)" "f_none: [Errno 21]" import f_none out.pt
echo "not HDF5" >text.h5
refused "import from a file that is not HDF5" "text.h5: Unable to open file" import text.h5 out.pt
refused "import into a missing folder" "nowhere/out.pt: cannot write it" import f_none/checkpoint.h5 nowhere/out.pt
refused "import onto a directory" "f_none: cannot write it" import f_none/checkpoint.h5 f_none
refused "export into a missing folder" "nowhere/x.h5: cannot write it" export m_none.pt nowhere/x.h5
# Inputs that would hang the script or crash it, outputs it cannot write, nets fcnet cannot build from the options
# it prints (helper-164): each one line and exit 2 like the rest.
mkfifo fifo.h5
refused "import from a FIFO (its open waited for a writer for good)" "fifo.h5: cannot open: not a regular file" \
    import fifo.h5 out.pt
refused "eval of a FIFO" "fifo.h5: cannot open: not a regular file" eval fifo.h5 --data d.h5
refused "eval on a FIFO as --data" "fifo.h5: cannot open: not a regular file" eval m_none.pt --data fifo.h5
refused "import into a FIFO" "fifo.h5: cannot write it: a FIFO" import f_none/checkpoint.h5 fifo.h5
refused "import into /dev/full (torch.save's failure ended in a C++ terminate, exit 134)" \
    "/dev/full: cannot write it ([Errno 28]" import f_none/checkpoint.h5 /dev/full
cp f_none/checkpoint.h5 own.h5
refused "import onto its own input" "own.h5: cannot write it: it is the input own.h5" import own.h5 own.h5
check "import onto its own input leaves it as it was" cmp -s own.h5 f_none/checkpoint.h5
cp m_none.pt own.pt
refused "export onto its own input" "own.pt: cannot write it: it is the input own.pt" export own.pt own.pt
check "export onto its own input leaves it as it was" cmp -s own.pt m_none.pt
"$py" -c 'import h5py, shutil; shutil.copy("t_none.h5", "w2.h5"); f = h5py.File("w2.h5", "a"); d = f["params/W2"][()]
del f["params/W2"]; f["params/W2"] = d[:-1]'
refused "import of a file whose W2 has the wrong shape (a traceback)" "w2.h5: not a net fcnet writes" import w2.h5 out.pt
"$py" -c 'import h5py, shutil; shutil.copy("t_none.h5", "nob.h5"); f = h5py.File("nob.h5", "a"); del f["params/b2"]'
refused "eval of a file without b2 (the file was not named)" "nob.h5: not a net fcnet writes" eval nob.h5 --data d.h5
"$py" -c "import torch; m = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.BatchNorm1d(8, momentum=0.0),
torch.nn.ReLU(), torch.nn.Linear(8, 4)); torch.save(m, 'mom0.pt')
m[1].momentum = 1e-20; torch.save(m, 'mom_tiny.pt')
m = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Dropout(1.0), torch.nn.Linear(8, 4))
torch.save(m, 'drop1.pt')
m = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Dropout(0.123456789), torch.nn.Linear(8, 4))
torch.save(m, 'drop9.pt')"
refused "export of batchnorm momentum 0 (printed --bn-momentum 1, which fcnet_dist refuses)" \
    "batchnorm momentum 0.0: fcnet's --bn-momentum = 1 - momentum, 1.0 in double, must be in [0, 1)" \
    export mom0.pt out.h5
refused "export of batchnorm momentum 1e-20 (1 - momentum rounds to 1; named as given, was 0.0)" \
    "batchnorm momentum 1e-20: fcnet's --bn-momentum = 1 - momentum, 1.0 in double" export mom_tiny.pt out.h5
refused "export of Dropout(1.0) (printed --keep 0)" "fcnet's --keep = 1 - p must be at least 2^-24" export drop1.pt out.h5
"$py" "$tool" export drop9.pt drop9.h5 >"$T/out" 2>&1
check "export prints --keep to the last digit (was 0.876543, 6 digits) ($(cat "$T/out"))" \
    grep -q -- "--keep 0.876543211 " "$T/out"
"$DIST" train --data d9.h5 --hidden 4 --preprocess none --max-steps 1 --val-size 0 --out r9 >/dev/null 2>"$T/err" ||
    cat "$T/err"
refused "--preprocess-from a checkpoint of 9 features with --preprocess none (was taken)" \
    "r9/checkpoint.h5: a net of 9 features, the data 12" eval m_none.pt --data d.h5 --preprocess-from r9/checkpoint.h5
rc=0
"$py" "$tool" eval m_none.pt --data d.h5 >&- 2>"$T/err" || rc=$?
check "eval with standard output closed: exit 2, the report lost is said (was exit 0) ($(cat "$T/err"))" \
    bash -c "[ $rc = 2 ] && grep -q 'standard output is closed: the report is lost' '$T/err'"
# An output that is a link is written through, not replaced by the rename of a new file.
ln -s target.pt link.pt
rc=0
"$py" "$tool" import f_none/checkpoint.h5 link.pt 2>"$T/err" || rc=$?
check "import onto a symbolic link: exit 0, still the link, its target the model ($(head -c 200 "$T/err"))" \
    bash -c "[ $rc = 0 ] && [ -L link.pt ] && [ -s target.pt ] && '$py' '$tool' eval link.pt --data d.h5 >/dev/null"

tap_end "$t0"
