#!/bin/bash
# fcnet_dist eval end to end: trains a tiny model on a synthetic set (fcnet_synth), then evaluates it on
# every split at -n 1 and -n 3 and checks that the reports are identical whatever the rank count, that
# the confusion matrix accounts for every row of the split, that the validation split is cut out of
# /train as training cut it (eval's val accuracy = the checkpoint's best_val_acc and last val_acc), that
# --best and --data work, and that every error exits 2 with one line on stderr.
# usage: test_eval.sh FCNET_SYNTH [MPIEXEC]   (FCNET_DIST in the environment: the fcnet_dist binary)
set -euo pipefail
SYNTH=${1:?usage: test_eval.sh FCNET_SYNTH [MPIEXEC]}
MPIEXEC=${2:-mpirun}
DIST=${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch eval

mpi() { # mpi N ARGS...: fcnet_dist under MPI with N ranks
    local n=$1
    shift
    "$MPIEXEC" -n "$n" --oversubscribe --bind-to none "$DIST" "$@"
}
# Numbers printed with 4 decimals against values stored in full precision.
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(d < 6e-5 && d > -6e-5) }'; }
accuracy_of() { sed -n 's/^accuracy: *\([0-9.]*\) .*/\1/p' "$1"; }
# Sum of every count in the confusion matrix (the lines after its title; the first field is the class).
matrix_sum() { awk '/^confusion matrix/ { m = 1; getline; next } m { for (i = 2; i <= NF; i++) s += $i } END { print s + 0 }' "$1"; }
# Rows column of the per-class table, summed.
class_rows_sum() { awk '/^per-class/ { p = 1; getline; next } p && NF == 0 { p = 0 } p { s += $2 } END { print s + 0 }' "$1"; }
same_report() { # the reports of two runs, without the line naming the rank count
    diff <(grep -v '^data:' "$1") <(grep -v '^data:' "$2") >/dev/null
}
one_error_line() { # FILE: exactly one line, an fcnet_dist error
    [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^fcnet_dist: .*error' "$1"
}
expect_input_error() { # NAME ARGS...: exit 2 and exactly one stderr line, alone and at -n 3
    local name=$1 rc=0
    shift
    "$DIST" "$@" >out.txt 2>err.txt || rc=$?
    if [ "$rc" -eq 2 ] && one_error_line err.txt && [ ! -s out.txt ]; then
        ok "$name: exit 2, one line: $(cat err.txt)"
    else
        not_ok "$name: exit $rc (want 2), stderr: $(cat err.txt)"
    fi
    rc=0
    mpi 3 "$@" >out.txt 2>err.txt || rc=$?
    # mpirun adds its own banner about the failed job; the ranks must print one line between them.
    if [ "$rc" -eq 2 ] && [ "$(grep -c '^fcnet_dist' err.txt)" -eq 1 ]; then
        ok "$name at -n 3: exit 2, one line from the ranks"
    else
        not_ok "$name at -n 3: exit $rc (want 2), stderr: $(cat err.txt)"
    fi
}

# ---- a tiny trained model ----
# 300 training rows without /val: training holds out the last 20% (60 rows) as validation, so eval
# must cut the same rows. 101 test rows do not divide evenly over 3 ranks.
"$SYNTH" --out d.h5 --train 300 --test 101 --features 8 --classes 4 --seed 3 >/dev/null
# These settings peak in validation accuracy before the last epoch (best 0.8167 at step 40, last 0.7833
# at step 48), so --best and the last parameters are different models.
mpi 2 train --data d.h5 --hidden 16,12 --norm batchnorm --keep 0.9 --reg 1e-3 --optim adam --lr 3e-3 \
    --epochs 6 --batch-size 32 --val-size 0.2 --out run --print-every 1000 >train.log
CK=run/checkpoint.h5
check "training wrote the checkpoint" test -s "$CK"

# One INI file serves train and eval runs: its checkpoint (eval's input, train's output) need not exist for
# the train run that writes it (train refused it: "--checkpoint: shared/checkpoint.h5: cannot open").
printf 'data = d.h5\nhidden = 8\nepochs = 1\nbatch_size = 64\nout = shared\ncheckpoint = shared/checkpoint.h5\n' >shared.ini
rc=0
"$DIST" train --config shared.ini --print-every 1000 >shared-train.log 2>shared-train.err || rc=$?
check "train with an INI naming the checkpoint it is to write: exit 0 ($(head -c 300 shared-train.err))" \
    sh -c "[ $rc -eq 0 ] && [ -s shared/checkpoint.h5 ]"
rc=0
"$DIST" eval --config shared.ini >shared-eval.log 2>shared-eval.err || rc=$?
check "eval with the same INI: exit 0 ($(head -c 300 shared-eval.err))" sh -c "[ $rc -eq 0 ] && grep -q '^accuracy:' shared-eval.log"

# ---- every split, last and best parameters, at -n 1 and -n 3 ----
declare -A rows=([test]=101 [val]=60 [train]=240)
for split in test val train; do
    for best in "" --best; do
        tag="$split${best:+ $best}"
        mpi 1 eval --checkpoint "$CK" --split "$split" $best >n1.txt
        mpi 3 eval --checkpoint "$CK" --split "$split" $best >n3.txt
        cp n1.txt "eval_${split}${best:+_best}.txt"
        check "$tag: accuracy printed once at -n 3" [ "$(grep -c '^accuracy:' n3.txt)" -eq 1 ]
        check "$tag: -n 1 and -n 3 give the same accuracy ($(accuracy_of n1.txt))" \
            [ "$(accuracy_of n1.txt)" = "$(accuracy_of n3.txt)" ]
        check "$tag: -n 1 and -n 3 give the same report" same_report n1.txt n3.txt
        check "$tag: confusion matrix sums to the split's ${rows[$split]} rows" \
            [ "$(matrix_sum n3.txt)" -eq "${rows[$split]}" ]
        check "$tag: per-class rows sum to ${rows[$split]}" [ "$(class_rows_sum n3.txt)" -eq "${rows[$split]}" ]
    done
done

# Rows of the matrix are the true classes: the per-class row counts and each matrix row's sum are the
# label counts of the split (a transposed matrix has the predicted counts there, with the same total).
if command -v h5dump >/dev/null 2>&1; then
    h5dump -d /test/y -b LE -o test_y.bin d.h5 >/dev/null
    want_counts=$(od -An -v -tu1 test_y.bin | tr -s ' ' '\n' | grep -E '^[0-9]+$' |
        awk '{ n[$1]++ } END { for (c = 0; c < 4; c++) printf "%d ", n[c] + 0 }')
    class_rows=$(awk '/^per-class/ { p = 1; getline; next } p && NF == 0 { p = 0 } p { printf "%d ", $2 }' eval_test.txt)
    matrix_rows=$(awk '/^confusion matrix/ { m = 1; getline; next } m { s = 0; for (i = 2; i <= NF; i++) s += $i; printf "%d ", s }' \
        eval_test.txt)
    check "test: per-class rows are the split's label counts ($want_counts)" [ "$class_rows" = "$want_counts" ]
    check "test: confusion matrix rows (true classes) sum to the label counts" [ "$matrix_rows" = "$want_counts" ]
else
    echo "skip - h5dump not found: label counts not compared"
fi

# Each class's accuracy is its correct rows (the matrix's diagonal) over its own rows, not over the split's.
per_class_ok() { # FILE: every per-class line "class rows correct accuracy" agrees with the matrix's diagonal
    awk '/^per-class/ { p = 1; getline; next } p && NF == 0 { p = 0 }
         p { rows[$1] = $2; correct[$1] = $3; acc[$1] = $4; n++ }
         /^confusion matrix/ { m = 1; getline; next } m && NF { diag[$1] = $($1 + 2) }
         END { if (n < 2) exit 1
               for (c in rows) { if (correct[c] != diag[c]) exit 1
                                 if (rows[c] == 0) continue # printed "-"
                                 d = acc[c] - correct[c] / rows[c]; if (d > 6e-5 || d < -6e-5) exit 1 } }' "$1"
}
check "test: per-class accuracy is the diagonal over the class's rows" per_class_ok eval_test.txt

# A split of more rows than one forward pass takes (1024): -n 1 evaluates 2600 rows in three chunks, -n 3
# each rank's 867 in one; every chunk must pair its rows with their own labels.
"$SYNTH" --out big.h5 --train 50 --test 2600 --features 8 --classes 4 --seed 3 >/dev/null
mpi 1 eval --checkpoint "$CK" --data big.h5 --split test >big_n1.txt
mpi 3 eval --checkpoint "$CK" --data big.h5 --split test >big_n3.txt
check "2600 rows in chunks of 1024: -n 1 and -n 3 give the same report" same_report big_n1.txt big_n3.txt
check "2600 rows in chunks of 1024: confusion matrix sums to 2600" [ "$(matrix_sum big_n1.txt)" -eq 2600 ]
check "2600 rows: per-class accuracy is the diagonal over the class's rows" per_class_ok big_n1.txt

# --data given explicitly: the same report as with the path stored in the checkpoint.
mpi 3 eval --checkpoint "$CK" --data "$T/d.h5" --split val >explicit.txt
check "--data FILE gives the same report as the stored path" same_report explicit.txt eval_val.txt

# The "data:" line counts the evaluated file's classes, not the model's outputs (4): its num_classes, else its
# largest label + 1 over all ranks' rows. sorted.h5 (made with h5import) has no num_classes and its 30 test
# labels in order, 10 each of 0, 1 and 2: at -n 2, rank 0's 15 rows hold labels 0 and 1 only.
"$SYNTH" --out c3.h5 --train 50 --test 30 --features 8 --classes 3 >/dev/null
mpi 1 eval --checkpoint "$CK" --data c3.h5 >c3.txt
check "dataset of 3 classes: the data line says so ($(grep '^data:' c3.txt))" \
    grep -q "^data: .* 8 features, 3 classes of the model's 4 (1 rank)$" c3.txt
check "the model's own dataset: 4 classes ($(grep '^data:' eval_val.txt))" grep -q " 4 classes (1 rank)$" eval_val.txt
if command -v h5import >/dev/null && command -v h5copy >/dev/null; then
    seq 0 29 | awk '{ print int($1 / 10) }' >labels.txt
    printf 'PATH test/y\nINPUT-CLASS TEXTIN\nRANK 1\nDIMENSION-SIZES 30\nOUTPUT-CLASS UIN\nOUTPUT-SIZE 8\n' >labels.conf
    h5copy -i c3.h5 -o sorted.h5 -s /test/x -d /test/x -p && h5import labels.txt -c labels.conf -o sorted.h5
    mpi 2 eval --checkpoint "$CK" --data sorted.h5 >sorted.txt
    check "no num_classes, labels 2 on rank 1 only: 3 classes at -n 2 ($(grep '^data:' sorted.txt))" \
        grep -q "^data: .* 3 classes of the model's 4 (2 ranks)$" sorted.txt
else
    echo "skip - no h5import/h5copy: the class count without num_classes over 2 ranks not checked"
fi

# Rows whose scores are NaN or infinite have no class: eval counts them as wrong and says how many, instead of
# the class 0 (or the Inf's class) the argmax's comparisons left (before: 8/30, 3 of those rows "right").
# overflow.h5 (made with h5import): 30 test rows of 8 features, every third one of +-3e38 (within float's
# range, so read; the model's forward overflows on it), the others in [-1, 1]; labels i % 4, no /train.
if command -v h5import >/dev/null && command -v h5copy >/dev/null; then
    awk 'BEGIN { for (i = 0; i < 30; i++) { for (j = 0; j < 8; j++)
        printf "%s ", (i % 3 ? sin(i * 8 + j) : (j % 2 ? -3e38 : 3e38)); print "" } }' >huge_x.txt
    seq 0 29 | awk '{ print $1 % 4 }' >huge_y.txt
    for split in test val; do
        printf 'PATH %s/x\nINPUT-CLASS TEXTFP\nRANK 2\nDIMENSION-SIZES 30 8\nOUTPUT-CLASS FP\nOUTPUT-SIZE 32\n' \
            "$split" >"huge_x_$split.conf"
        printf 'PATH %s/y\nINPUT-CLASS TEXTIN\nRANK 1\nDIMENSION-SIZES 30\nOUTPUT-CLASS UIN\nOUTPUT-SIZE 8\n' \
            "$split" >"huge_y_$split.conf"
    done
    h5import huge_x.txt -c huge_x_test.conf huge_y.txt -c huge_y_test.conf -o overflow.h5
    mpi 1 eval --checkpoint "$CK" --data overflow.h5 >huge_n1.txt
    mpi 3 eval --checkpoint "$CK" --data overflow.h5 >huge_n3.txt
    check "10 rows with non-finite scores: eval says so ($(grep '^no class:' huge_n1.txt))" \
        grep -qx "no class:   10 rows with NaN or infinite scores, counted as wrong (in no column of the matrix)" huge_n1.txt
    check "non-finite rows: -n 1 and -n 3 give the same report" same_report huge_n1.txt huge_n3.txt
    check "non-finite rows: counted as wrong, in no column of the matrix (sum $(matrix_sum huge_n1.txt) of 30)" \
        bash -c "[ $(matrix_sum huge_n1.txt) -eq 20 ] && [ $(class_rows_sum huge_n1.txt) -eq 30 ] &&
                 grep -q '^accuracy: .*/30)$' huge_n1.txt"
    check "finite scores: no 'no class' line" bash -c '! grep -q "^no class" eval_test.txt'
    # The class count without num_classes counts the labels of rows without a class too: label 3 only on two
    # overflowing rows (24, 27), which at -n 3 rank 2 holds; rank 0's rows have labels 0 to 2.
    seq 0 29 | awk '{ print ($1 == 24 || $1 == 27) ? 3 : $1 % 3 }' >huge_y3.txt
    h5import huge_x.txt -c huge_x_test.conf huge_y3.txt -c huge_y_test.conf -o overflow3.h5
    mpi 3 eval --checkpoint "$CK" --data overflow3.h5 >huge3_n3.txt
    check "label 3 only on rows without a class: 4 classes at -n 3 ($(grep '^data:' huge3_n3.txt))" \
        grep -q "^data: .* 8 features, 4 classes (3 ranks)$" huge3_n3.txt
    # Training on d.h5's rows with overflow.h5's as /val (He weights, large enough to overflow on them): each
    # check warns, from rank 0 alone, and training goes on (its loss is finite: not divergence).
    h5copy -i d.h5 -o huge_val.h5 -s /train/x -d /train/x -p && h5copy -i d.h5 -o huge_val.h5 -s /train/y -d /train/y
    h5import huge_x.txt -c huge_x_val.conf huge_y.txt -c huge_y_val.conf -o huge_val.h5
    rc=0
    mpi 2 train --data huge_val.h5 --hidden 16 --init he --epochs 1 --batch-size 50 --out run_huge --print-every 1000 \
        --progress lines >huge_train.log 2>huge_train.err || rc=$?
    check "non-finite validation scores: training finishes (exit $rc)" [ "$rc" -eq 0 ]
    check "non-finite validation scores: one warning per check, from rank 0 ($(head -n 1 huge_train.err))" \
        bash -c "[ \$(grep -c '^fcnet_dist: \[rank 0/2\] warning: step [0-9]*: 10 of 30 validation rows have NaN or infinite scores: no class, counted as wrong$' huge_train.err) -eq 2 ] &&
                 [ \$(wc -l <huge_train.err) -eq 2 ]"
else
    echo "skip - no h5import/h5copy: rows with non-finite scores not checked"
fi

# The numbers training recorded: the best validation accuracy is eval --best on val, the last
# validation check (at the end of the last epoch) is eval on val, and the final test accuracies
# training printed are eval's.
if command -v h5dump >/dev/null 2>&1; then
    best_val=$(h5dump -a /best/best_val_acc "$CK" | awk '/\(0\)/ { print $2 }')
    last_val=$(h5dump -d /history/val_acc "$CK" | tr -s ' ,' '\n\n' | grep -E '^[0-9.e-]+$' | tail -n 1)
    check "eval --best --split val = the checkpoint's best_val_acc ($best_val)" \
        close "$(accuracy_of eval_val_best.txt)" "$best_val"
    check "eval --split val = the last val_acc in the history ($last_val)" close "$(accuracy_of eval_val.txt)" "$last_val"
    if ! close "$best_val" "$last_val"; then
        check "--best evaluates other parameters than the last ones" \
            [ "$(accuracy_of eval_val_best.txt)" != "$(accuracy_of eval_val.txt)" ]
    fi
else
    echo "skip - h5dump not found: best_val_acc not compared"
fi
final_test=$(sed -n 's/^test accuracy: \([0-9.]*\) (final.*/\1/p' train.log)
best_test=$(sed -n 's/^test accuracy: .*, \([0-9.]*\) (best.*/\1/p' train.log)
if [ -n "$final_test" ] && [ -n "$best_test" ]; then
    check "eval --split test = training's final test accuracy ($final_test)" close "$(accuracy_of eval_test.txt)" "$final_test"
    check "eval --best --split test = training's best-parameter test accuracy ($best_test)" \
        close "$(accuracy_of eval_test_best.txt)" "$best_test"
else
    check "training printed its final and best test accuracy (the line eval is compared with)" false
fi

# ---- eval --help: exit 0, the eval usage printed once whatever the rank count ----
rc=0
mpi 3 eval --help >help.txt 2>help.err || rc=$?
check "eval --help at -n 3: exit 0 ($rc), nothing on stderr" [ "$rc" -eq 0 -a ! -s help.err ]
check "eval --help at -n 3: the usage printed once" \
    [ "$(grep -c '^Usage: fcnet_dist' help.txt)" -eq 1 -a "$(grep -c '^eval: loads --checkpoint' help.txt)" -eq 1 ]

# ---- a report that cannot be written (a full disk): exit 1 with one line, not a silent success ----
# Without mpirun: under it the ranks write to mpirun, which forwards the output and sees the error itself. The
# line gives the failed write's reason, also where the failure came at a flush before the last, and unbuffered
# (stdbuf -o0), where the writes themselves fail and the final flush has nothing left to say why.
if [ -w /dev/full ]; then
    unbuffered=""
    if command -v stdbuf >/dev/null; then unbuffered="stdbuf -o0"; else echo "skip - no stdbuf: unbuffered writes not checked"; fi
    for how in "" ${unbuffered:+"$unbuffered"}; do
        for cmd in "eval --checkpoint $CK" "eval --help" "gradcheck --hidden 4"; do
            rc=0
            # shellcheck disable=SC2086
            $how "$DIST" $cmd >/dev/full 2>full.err || rc=$?
            check "${how:+$how }$cmd > /dev/full: exit 1 ($rc), one line ($(cat full.err))" \
                bash -c "[ $rc -eq 1 ] && [ \"\$(wc -l <full.err)\" -eq 1 ] && grep -q '^fcnet_dist: error: cannot write to standard output (No space left on device): the' full.err"
        done
    done
else
    echo "skip - no /dev/full: write failures not checked"
fi

# ---- errors: exit 2, one line ----
expect_input_error "missing checkpoint" eval --checkpoint "$T/no-such.h5"
expect_input_error "--split bogus" eval --checkpoint "$CK" --split bogus
expect_input_error "a dataset given as the checkpoint" eval --checkpoint d.h5
head -c "$(($(wc -c <"$CK") / 2))" "$CK" >truncated.h5
expect_input_error "truncated checkpoint" eval --checkpoint truncated.h5
"$SYNTH" --out d6.h5 --train 50 --test 20 --features 6 --classes 4 >/dev/null
expect_input_error "dataset with another feature count" eval --checkpoint "$CK" --data d6.h5
"$SYNTH" --out notest.h5 --train 50 --features 8 --classes 4 >/dev/null
expect_input_error "split missing from the dataset" eval --checkpoint "$CK" --data notest.h5 --split test
"$SYNTH" --out c9.h5 --train 50 --test 20 --features 8 --classes 9 >/dev/null
expect_input_error "dataset with more classes than the model" eval --checkpoint "$CK" --data c9.h5
# A model trained without a validation split on a file without /val: there is no val split to evaluate.
mpi 1 train --data notest.h5 --hidden 8 --epochs 1 --batch-size 25 --val-size 0 --out run0 --print-every 1000 \
    --progress lines >run0.log
# Its log says there is no validation accuracy instead of printing nan.
check "no validation split: the log says so" grep -q "val acc none (no validation split)" run0.log
check "no validation split: no nan in the log" bash -c '! grep -qi "nan" run0.log'
expect_input_error "val split that training never had" eval --checkpoint run0/checkpoint.h5 --split val
check "val split that training never had: the message gives val_size and the rows ($(grep '^fcnet_dist' err.txt))" \
    grep -qF "held out no training rows (val_size 0 of 50 rows)" err.txt
# A checkpoint of the double build (fcnet_dist_f64) with an lr below float's smallest normal value: the float
# build still evaluates it (the smallest-normal rule is for typed settings), and its resume is refused for the
# precision, not for the lr.
"$FCNET_DIST_F64" train --data d.h5 --hidden 8 --batch-size 25 --max-steps 2 --lr 1e-39 --out run64 \
    --print-every 1000 --progress lines >run64.log
rc=0
mpi 1 eval --checkpoint run64/checkpoint.h5 --split val >eval64.txt 2>eval64.err || rc=$?
check "a double-build checkpoint with lr 1e-39 evaluates in the float build (exit $rc)" [ $rc -eq 0 -a ! -s eval64.err ]
rc=0
mpi 1 train --resume run64/checkpoint.h5 --out run64 >res64.out 2>res64.err || rc=$?
check "its resume in the float build: exit 2 for the precision ($(head -c 160 res64.err))" \
    bash -c "[ $rc -eq 2 ] && grep -q 'double precision' res64.err && ! grep -q 'smallest normal' res64.err"
# With a test split but no validation split, the final line reports the final parameters only: there is no
# best copy to compare (the run keeps the final parameters as its "best").
"$SYNTH" --out noval.h5 --train 50 --test 20 --features 8 --classes 4 >/dev/null
mpi 1 train --data noval.h5 --hidden 8 --epochs 1 --batch-size 25 --val-size 0 --out run1 --print-every 1000 \
    --progress lines >run1.log
check "no validation split: the test line names the final parameters only ($(grep 'test accuracy' run1.log))" \
    grep -q "test accuracy: [0-9.]* (final parameters; no validation split: they are also the best copy)" run1.log
check "no validation split: no 'best validation parameters'" bash -c '! grep -q "best validation" run1.log'
# Finished without a validation split, --best is the final parameters (the same report); stopped before the end,
# /best still holds the initial parameters, which --best must not report as trained.
mpi 1 eval --checkpoint run1/checkpoint.h5 >last1.txt 2>&1
mpi 1 eval --checkpoint run1/checkpoint.h5 --best >best1.txt 2>&1
check "no validation split, finished: --best reports the final parameters' accuracy ($(accuracy_of best1.txt))" \
    bash -c "[ -n \"$(accuracy_of last1.txt)\" ] && [ \"$(accuracy_of last1.txt)\" = \"$(accuracy_of best1.txt)\" ]"
mpi 1 train --data noval.h5 --hidden 8 --epochs 2 --batch-size 25 --val-size 0 --max-steps 3 --out run2 \
    --print-every 1000 --progress lines >run2.log
expect_input_error "--best of an unfinished run without a validation split" eval --checkpoint run2/checkpoint.h5 --best
check "--best of an unfinished run without a validation split: the reason ($(grep '^fcnet_dist' err.txt))" \
    grep -qF "/best: no best copy yet: the run has no validation split and is not finished" err.txt

# The dataset path the checkpoint stores (d.h5, relative) does not open from another directory: the
# error says where the path came from; a --data that does not open is reported with its option.
mkdir elsewhere
cd elsewhere
expect_input_error "stored data path that does not open" eval --checkpoint "$T/$CK"
check "stored data path: the message names the checkpoint and --data ($(grep '^fcnet_dist' err.txt))" grep -qF \
    "error: d.h5 (the data path stored in checkpoint $T/$CK; give --data to use another): cannot open: No such file or directory" \
    err.txt
cd "$T"
expect_input_error "--data that does not open" eval --checkpoint "$CK" --data no-such.h5
check "--data that does not open: the message names the option and the file" \
    grep -q "^fcnet_dist: .*error: --data: no-such.h5: cannot open: No such file or directory$" err.txt

# A flipped byte inside /params/W1: the Fletcher32 checksum must turn it into an error, not a model.
if command -v h5dump >/dev/null 2>&1; then
    h5dump -d /params/W1 -b LE -o w1.bin "$CK" >/dev/null
    od -An -v -tx1 -N16 w1.bin | tr -d ' \n' >w1.hex
    od -An -v -tx1 "$CK" | tr -d ' \n' >ck.hex
    # Byte offsets of every occurrence of W1's first 16 bytes (the best copy may hold the same bytes).
    offsets=$(awk 'NR == FNR { p = $0; next } {
        h = $0; base = 0
        while ((i = index(h, p)) > 0) {
            if ((base + i - 1) % 2 == 0) print (base + i - 1) / 2 + 4
            h = substr(h, i + 1); base += i
        }
    }' w1.hex ck.hex)
    cp "$CK" corrupt.h5
    for off in $offsets; do printf '\125\252' | dd of=corrupt.h5 bs=1 seek="$off" conv=notrunc status=none; done
    if [ -n "$offsets" ]; then
        expect_input_error "checkpoint with a corrupted byte in /params/W1" eval --checkpoint corrupt.h5
    else
        not_ok "could not locate /params/W1's bytes in the checkpoint"
    fi
else
    echo "skip - h5dump not found: corrupted-byte case not run"
fi

echo "# sample report (test split, -n 1):"
sed 's/^/#   /' eval_test.txt
tap_end "$t0"
