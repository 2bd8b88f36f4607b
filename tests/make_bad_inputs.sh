#!/usr/bin/env bash
# Generates the bad-input corpus: malformed datasets, checkpoints, --init-from files and INI files, and
# a case list of command lines that must each fail with exit 2 and one line naming the culprit.
#
#   tests/make_bad_inputs.sh OUTDIR
#
# Tools come from the environment, defaulting to the build tree of FCNET_DIST (CTest sets it):
#   FCNET_DIST   the trainer (used once, to write the good checkpoint the bad ones are derived from)
#   BAD_INPUTS   tests/bad_inputs.c built      (default: $(dirname FCNET_DIST)/tests/bad_inputs)
#   FCNET_SYNTH  datasets/synth.c built        (default: $(dirname FCNET_DIST)/datasets/fcnet_synth)
#   MPIEXEC      mpirun                        (default: mpirun)
# Writes OUTDIR/cases.txt: one case per line, shell-quoted words: NAME EXPECT ARG..., where EXPECT is
# '|'-separated text that must all appear in the error line and ARG... follows `fcnet_dist`, after any
# leading NAME=VALUE words, which set the ranks' environment.
# Every file is deterministic (fixed seeds, no /dev/urandom), so a failure reproduces.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
: "${FCNET_DIST:?set FCNET_DIST to the fcnet_dist binary}"
bin=$(dirname "$FCNET_DIST")
BAD_INPUTS=${BAD_INPUTS:-$bin/tests/bad_inputs}
FCNET_SYNTH=${FCNET_SYNTH:-$bin/datasets/fcnet_synth}
MPIEXEC=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

mkdir -p "$1"
O=$(cd "$1" && pwd)
rm -rf "${O:?}"/*
cases=$O/cases.txt
: >"$cases"

# add NAME EXPECT ARG...: appends one case.
add() {
    printf '%q ' "$@" >>"$cases"
    printf '\n' >>"$cases"
}

# Pseudo-random bytes from a fixed seed (awk in the C locale writes raw bytes).
random_bytes() { LC_ALL=C awk -v n="$1" -v s="$2" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%c", 1 + int(rand() * 255) }'; }

# ---- good inputs the bad ones are derived from ----
"$FCNET_SYNTH" --out "$O/good.h5" --train 60 --val 20 --features 4 --classes 3 --seed 11 >/dev/null
"$FCNET_SYNTH" --out "$O/good5.h5" --train 60 --val 20 --features 5 --classes 3 --seed 12 >/dev/null
# 60 rows / batch 10 = 6 steps per epoch; stopped at step 8, inside epoch 2.
timeout 60 "$MPIEXEC" -n 1 --oversubscribe --bind-to none "$FCNET_DIST" train --data "$O/good.h5" --hidden 8 \
    --norm batchnorm --optim adam --batch-size 10 --epochs 2 --max-steps 8 --out "$O/ck" >/dev/null
good_ckpt=$O/ck/checkpoint.h5
# The same with standardized inputs: its /preprocess holds standard deviations
timeout 60 "$MPIEXEC" -n 1 --oversubscribe --bind-to none "$FCNET_DIST" train --data "$O/good.h5" --hidden 8 \
    --norm batchnorm --optim adam --batch-size 10 --epochs 2 --max-steps 8 --preprocess standardize \
    --out "$O/ck-std" >/dev/null
good_std_ckpt=$O/ck-std/checkpoint.h5
mkdir -p "$O/adir"
base=(--data "$O/good.h5" --hidden 8 --batch-size 10 --epochs 1)

# ---- flags: every value problem names the flag ----
add flag-lr-overflow "--lr|1e400" train "${base[@]}" --lr 1e400
add flag-lr-suffix "--lr|0.1x" train "${base[@]}" --lr 0.1x
add flag-lr-empty "--lr" train "${base[@]}" --lr ''
add flag-lr-nan "--lr|nan" train "${base[@]}" --lr nan
add flag-lr-missing-last "--lr|missing value" train "${base[@]}" --lr
add flag-lr-missing-next "--lr|missing value" train --lr --data "$O/good.h5"
add flag-batch-zero "--batch-size" train "${base[@]}" --batch-size 0
add flag-batch-fraction "--batch-size|1.5" train "${base[@]}" --batch-size 1.5
add flag-batch-64bit "--batch-size" train "${base[@]}" --batch-size 99999999999999999999
# positive, but 0 or a denormal in float: nothing would train, or the update would divide by 0
add flag-lr-underflow "--lr|1e-46|smallest normal float" train "${base[@]}" --lr 1e-46
add flag-eps-underflow "--eps|1e-50|smallest normal float" train "${base[@]}" --optim rmsprop --eps 1e-50
# finite in double, Inf in float: every weight Inf, and the run "diverged at step 0"
add flag-weight-scale-overflow "--weight-scale|1e39|largest float" train "${base[@]}" --weight-scale 1e39
# datasets larger than memory, declared but never written (a few KB on disk): 1.5 x the physical memory is
# more than the machine has (the node's one shared copy included); 0.75 x is more than the share of each of
# the 2 ranks when each holds its own copy (FCNET_DATA_COPIES=private; shared, one copy of 0.75 x would fit)
mem=$(($(getconf _PHYS_PAGES) * $(getconf PAGE_SIZE)))
"$BAD_INPUTS" big $((mem * 3 / 2 / 4096)) "$O/beyond-memory.h5"
"$BAD_INPUTS" big $((mem * 3 / 4 / 4096)) "$O/beyond-share.h5"
add data-beyond-memory "beyond-memory.h5|/train/x|GiB|more than this machine's" train --data "$O/beyond-memory.h5" \
    --hidden 8 --epochs 1
add data-beyond-share "beyond-share.h5|/train/x|GiB|share|2 ranks on this node" FCNET_DATA_COPIES=private train --data "$O/beyond-share.h5" \
    --hidden 8 --epochs 1
# widths within the flag's range, but a network no machine holds: refused by size, naming the causes
add flag-hidden-too-big "good.h5 (4 features, 3 classes)|--hidden|GiB|more than this machine" train "${base[@]}" --hidden 1048576,1048576
# --epochs within its range, but a loss history (a double per step) no machine holds: refused by size
add flag-epochs-history "--epochs 2000000000|loss history|GiB|more than this machine" train "${base[@]}" \
    --epochs 2000000000 --batch-size 1
add flag-keep-zero "--keep" train "${base[@]}" --keep 0
add flag-keep-below-resolution "--keep|1e-9|2^-24" train "${base[@]}" --keep 1e-9
# batchnorm over batches of 1 row outputs its beta whatever the input; layernorm over 1 unit does for every row
add flag-batchnorm-batch-one "--batch-size 1|60 training rows|every batch is 1 row|batchnorm" train "${base[@]}" \
    --norm batchnorm --batch-size 1
add flag-layernorm-width-one "--hidden 8,1|hidden layer 2 has 1 unit|layernorm" train "${base[@]}" --hidden 8,1 \
    --norm layernorm
add flag-hidden-empty-width "--hidden" train "${base[@]}" --hidden 8,,8
add flag-norm-typo "--norm|batchnrom" train "${base[@]}" --norm batchnrom
add flag-seed-negative "--seed" train "${base[@]}" --seed -1
add flag-unknown "--bogus" train "${base[@]}" --bogus 3
add flag-typo "--btach-size|did you mean" train "${base[@]}" --btach-size 10
add flag-stray-word "stray" train "${base[@]}" stray
add flag-no-data "--data" train --hidden 8 --epochs 1
add flag-resume-and-init "--resume|--init-from" train "${base[@]}" --resume "$good_ckpt" --init-from "$good_ckpt"
# an --out the run cannot write: refused before the first step, not at the first checkpoint
add flag-out-under-file "--out|cannot create directory|good.h5/run|Not a directory" train "${base[@]}" --out "$O/good.h5/run"
add flag-out-is-file "--out|cannot write in directory|good.h5|Not a directory" train "${base[@]}" --out "$O/good.h5"
mkdir -p "$O/ckdir/checkpoint.h5"
add flag-out-ckpt-dir "--out|ckdir/checkpoint.h5 is a directory" train "${base[@]}" --out "$O/ckdir"
# the dataset itself as --out's checkpoint.h5: with --overwrite the first save replaced the training data (the
# corpus snapshot catches a changed file), without it the refusal called the dataset "an earlier run" to resume
mkdir -p "$O/dataout"
cp "$O/good.h5" "$O/dataout/checkpoint.h5"
add out-is-data-overwrite "--out|dataout/checkpoint.h5 is the --data file|replace the dataset" train \
    --data "$O/dataout/checkpoint.h5" --hidden 8 --batch-size 10 --epochs 1 --out "$O/dataout" --overwrite
add out-is-data "--out|dataout/checkpoint.h5 is the --data file|replace the dataset" train \
    --data "$O/dataout/checkpoint.h5" --hidden 8 --batch-size 10 --epochs 1 --out "$O/dataout"
# an --out holding another run's checkpoint: refused (and left as it was) unless resumed from or --overwrite
add flag-out-holds-run "--out|ck already holds checkpoint.h5 of an earlier run|--overwrite" train "${base[@]}" --out "$O/ck"
# ... after a warning the setup printed (the last batch of 60 rows is 1 row under batchnorm): the refused run's one
# line is its error, the warning about a run that never starts is dropped (it was printed first, a second line)
add flag-out-holds-run-warned "--out|ck already holds checkpoint.h5 of an earlier run|--overwrite" train \
    "${base[@]}" --norm batchnorm --batch-size 59 --out "$O/ck"
# an option the command does not use: refused, not ignored
add flag-eval-model-option "--hidden|not an option of the eval command|--checkpoint" eval --checkpoint "$good_ckpt" \
    --data "$O/good.h5" --hidden 8
add flag-eval-resume "--resume|not an option of the eval command" eval --checkpoint "$good_ckpt" --resume "$O/none.h5"
add flag-gradcheck-lr "--lr|not an option of the gradcheck command" gradcheck --hidden 8 --lr 0.1
# gradcheck on data: one class would compare zeros and print 'result: ok'; a model too big names the data
add gradcheck-one-class "data-one-class.h5|1 class|need at least 2" gradcheck --data "$O/data-one-class.h5"
add gradcheck-model-huge "good.h5 (4 features, 3 classes)|GiB|more than this machine" gradcheck --data "$O/good.h5" \
    --hidden 1048576,1048576

# ---- INI files (--config): the message names the file (and line) ----
printf 'hidden = 8\nbogus_key = 3\n' >"$O/unknown-key.ini"
printf 'lr = 1e400\n' >"$O/bad-value.ini"
printf 'hidden = 8\nthis line is not ini\n' >"$O/syntax.ini"
head -c 700 "$good_ckpt" >"$O/binary.ini"
add ini-unknown-key "unknown-key.ini:2|bogus_key" train "${base[@]}" --config "$O/unknown-key.ini"
add ini-bad-value "bad-value.ini:1|1e400" train "${base[@]}" --config "$O/bad-value.ini"
add ini-syntax "syntax.ini:2" train "${base[@]}" --config "$O/syntax.ini"
add ini-binary "binary.ini" train "${base[@]}" --config "$O/binary.ini"
add ini-missing "missing.ini" train "${base[@]}" --config "$O/missing.ini"
add ini-directory "adir" train "${base[@]}" --config "$O/adir"
mkfifo "$O/fifo" # opening a FIFO for reading blocks until a writer comes: it must be refused, not opened
add ini-fifo "fifo|not a regular file" train "${base[@]}" --config "$O/fifo"

# ---- datasets (--data) ----
: >"$O/empty.h5"
random_bytes 4096 7 >"$O/random.h5"
size=$(stat -c %s "$O/good.h5")
head -c $((size / 2)) "$O/good.h5" >"$O/truncated.h5"
cp "$O/good.h5" "$O/flipped.h5"
"$BAD_INPUTS" flip "$O/flipped.h5" /train/x
cp "$O/good.h5" "$O/typesize.h5"
"$BAD_INPUTS" typesize "$O/typesize.h5" /val/x
d1=(--hidden 8 --batch-size 10 --epochs 1)
add data-missing "--data: $O/missing.h5: cannot open|No such file" train --data "$O/missing.h5" "${d1[@]}"
add data-empty "empty.h5" train --data "$O/empty.h5" "${d1[@]}"
add data-directory "adir|directory" train --data "$O/adir" "${d1[@]}"
add data-fifo "fifo|not a regular file" train --data "$O/fifo" "${d1[@]}"
# eval looks for /val first (to cut the hold-out as training did): that look must refuse the FIFO too
add eval-data-fifo-val "fifo|not a regular file" eval --checkpoint "$good_ckpt" --data "$O/fifo" --split val
add data-random "random.h5" train --data "$O/random.h5" "${d1[@]}"
add data-truncated "truncated.h5" train --data "$O/truncated.h5" "${d1[@]}"
add data-flipped "flipped.h5|/train/x" train --data "$O/flipped.h5" "${d1[@]}"
# a corrupted size field in an unchecksummed header: HDF5's conversion read past its buffers (SIGSEGV)
add data-type-size "typesize.h5|/val/x|7684-byte float" train --data "$O/typesize.h5" "${d1[@]}"
add eval-data-type-size "typesize.h5|/val/x|7684-byte float" eval --checkpoint "$good_ckpt" \
    --data "$O/typesize.h5" --split val
# name:expected text for each defect bad_inputs can write
for spec in "x-string:/train/x|expected a numeric type" "x-1d:/train/x|expected 2-D (N, D), got 1-D" \
    "x-9d:/train/x|expected 2-D (N, D), got 9-D" \
    "y-length:/train/y|59 labels but /train/x has 60 rows" "y-float:/train/y|expected integer labels" \
    "label-range:/train/y|label 3 at row 17 out of range" "label-neg:/train/y|label -1 at row 5 out of range" \
    "x-nan:/train/x|NaN at row 3, column 2" "x-inf:/val/x|Inf at row 2, column 1" \
    "x-f64-huge:/train/x|row 7, column 0 beyond the float range" "no-train:/train|missing group" \
    "no-y:/train/y|missing dataset" "val-features:/val/x|5 features but /train/x has 4" \
    "classes-zero:num_classes|0 is not a positive integer" "train-empty:/train/x|empty (0 rows)" \
    "one-class:1 class|need at least 2" \
    "test-elink:/test|an external link|fifo|only data stored in the file itself" \
    "x-external:/train/x|stored in external files" "x-virtual:/train/x|a virtual dataset" \
    "x-filter:/train/x|filter 'bad-inputs-test' (id 300)|does not have" "val-empty:/val/x|empty (0 rows)" \
    "x-float-bias:/train/x|not a valid float format (exponent bias 3254780031)" \
    "x-unwritten:/train/x|part of its data was never written" \
    "test-datatype:/test|expected a group, got a named datatype"; do
    kind=${spec%%:*} expect=${spec#*:}
    "$BAD_INPUTS" data "$kind" "$O/data-$kind.h5"
    add "data-$kind" "data-$kind.h5|$expect" train --data "$O/data-$kind.h5" "${d1[@]}"
done

# eval reads only each rank's part of the split: a NaN in rank 1's part (rows 30..59 of /train at -n 2) fails
# rank 1 alone, and every rank exits with rank 1's line
"$BAD_INPUTS" data x-nan-late "$O/data-x-nan-late.h5"
add eval-x-nan-rank1 "[rank 1/2]|data-x-nan-late.h5|/train/x|NaN at row 45, column 0" eval --checkpoint "$good_ckpt" \
    --data "$O/data-x-nan-late.h5" --split train

# eval of a model with 50 000 outputs: its confusion matrix (2.5e9 cells) is refused by size, not summed
# with an overflowing count
"$BAD_INPUTS" data classes-50000 "$O/classes-50000.h5"
timeout 60 "$MPIEXEC" -n 1 --oversubscribe --bind-to none "$FCNET_DIST" train --data "$O/classes-50000.h5" \
    --hidden none --batch-size 60 --epochs 1 --out "$O/ck50000" >/dev/null
add eval-classes-50000 "ck50000/checkpoint.h5|50000 classes|confusion matrix|2.5e+09 cells" \
    eval --checkpoint "$O/ck50000/checkpoint.h5" --data "$O/classes-50000.h5" --split val

# ---- checkpoints (--resume) ----
size=$(stat -c %s "$good_ckpt")
head -c $((size / 2)) "$good_ckpt" >"$O/ckpt-truncated.h5"
for ds in /params/W1 /optim/W1/v; do
    name=ckpt-flipped-$(echo "${ds#/}" | tr / -)
    cp "$good_ckpt" "$O/$name.h5"
    "$BAD_INPUTS" flip "$O/$name.h5" "$ds"
    add "resume-flipped-${ds#/}" "$name.h5|$ds|checksum" train --resume "$O/$name.h5"
done
# a flipped byte in the root group's header: the checksum catches it, and it is not called "missing"
cp "$good_ckpt" "$O/ckpt-flipped-root.h5"
"$BAD_INPUTS" fliphdr "$O/ckpt-flipped-root.h5" /
add resume-flipped-root-header "ckpt-flipped-root.h5|truncated or corrupt HDF5 file|checksum" train \
    --resume "$O/ckpt-flipped-root.h5"
add resume-missing "--resume: $O/missing.h5: cannot open|No such file" train --resume "$O/missing.h5"
add eval-checkpoint-missing "--checkpoint: $O/missing.h5: cannot open|No such file" eval --checkpoint "$O/missing.h5" \
    --split val
add resume-fifo "fifo|not a regular file" train --resume "$O/fifo"
add resume-empty "empty.h5" train --resume "$O/empty.h5"
add resume-random "random.h5" train --resume "$O/random.h5"
add resume-truncated "ckpt-truncated.h5" train --resume "$O/ckpt-truncated.h5"
add resume-dataset-file "good.h5|format" train --resume "$O/good.h5"
# the same shapes but 70 training rows: 7 steps per epoch where the checkpoint counted 6
"$FCNET_SYNTH" --out "$O/rows70.h5" --train 70 --val 20 --features 4 --classes 3 --seed 11 >/dev/null
add resume-other-rows "steps_per_epoch|6 steps per epoch in the checkpoint, 7" train --resume "$good_ckpt" \
    --data "$O/rows70.h5"
# 55 rows: also 6 steps per epoch, but other permutations; the rows themselves are compared
"$FCNET_SYNTH" --out "$O/rows55.h5" --train 55 --val 20 --features 4 --classes 3 --seed 11 >/dev/null
add resume-other-rows-same-steps "train_rows|60 training rows in the checkpoint, 55" train --resume "$good_ckpt" \
    --data "$O/rows55.h5"
# the same shape as the checkpoint's data, other values (seed 12): its fingerprint tells them apart
"$FCNET_SYNTH" --out "$O/seed12.h5" --train 60 --val 20 --features 4 --classes 3 --seed 12 >/dev/null
add resume-other-values "data_hash|other rows than|seed12.h5|the same shape" train --resume "$good_ckpt" \
    --data "$O/seed12.h5"
# A checkpoint written before data_hash existed is held to its data's shape alone. One trained with --val-size 0
# on good.h5 (whose /val it validated on), resumed on the same /train without /val (no hold-out: no validation),
# kept its steps and training rows, and resumed: its next checks wrote NaN beside the accuracies, a history its
# own next --resume refused. The split's presence is compared with the history's instead. (The training's one
# warning, that --val-size 0 is not used on a file with /val, goes to ck-val0.err.)
"$FCNET_SYNTH" --out "$O/noval.h5" --train 60 --features 4 --classes 3 --seed 11 >/dev/null
timeout 60 "$MPIEXEC" -n 1 --oversubscribe --bind-to none "$FCNET_DIST" train --data "$O/good.h5" --hidden 8 \
    --batch-size 10 --epochs 2 --max-steps 8 --val-size 0 --out "$O/ck-val0" >/dev/null 2>"$O/ck-val0.err"
"$BAD_INPUTS" ckpt no-data-hash "$O/ck-val0/checkpoint.h5" "$O/ckpt-old-val0.h5"
add resume-old-val-gone "ckpt-old-val0.h5|/history/val_acc|validated at each of its 2 checks|noval.h5|no validation split" \
    train --resume "$O/ckpt-old-val0.h5" --data "$O/noval.h5"
# 30 rows: 3 steps per epoch, so 2 epochs have room for 6 of the checkpoint's 8 losses; the reason given is the
# training set, not --epochs
"$FCNET_SYNTH" --out "$O/rows30.h5" --train 30 --val 20 --features 4 --classes 3 --seed 11 >/dev/null
add resume-fewer-rows "steps_per_epoch|6 steps per epoch in the checkpoint, 3" train --resume "$good_ckpt" \
    --data "$O/rows30.h5"
for spec in "w1-shape:/params/W1|(8, 4)|(4, 8)" "w2-missing:/params/W2|missing in the checkpoint" \
    "extra-tensor:/params/W9|not a tensor of this model" "w1-int:/params/W1|not a floating-point dataset" \
    "param-nan:/params/b1|non-finite value at element" "optim-shape:/optim/W1/m|(2, 3)|(4, 8)" \
    "format-version:format_version|version 99" "step-text:step|not a number" \
    "hidden-count:hidden|values in the checkpoint, 3 expected" "preprocess-shape:/preprocess/mean|(3,)|(4,)" \
    "other-precision:fc_real|double precision|--init-from" "batch-zero:batch_size|0 out of range" \
    "keep-zero:keep|0 out of range" \
    "batch-one:attribute 'batch_size' of / is 1 with 60 training rows|batchnorm|--init-from $O/ckpt-batch-one.h5" \
    "lr-nan:lr|not a number" "inputs-zero:n_input|0 input features" \
    "step-ahead:step|100|make 8" "epoch-step-past:epoch_step|step 9 of it|epochs of 6 steps" \
    "epoch-step-end:epoch_step|step 6 of it|epochs of 6 steps" \
    "checks-extra:/history/train_acc|3 accuracy checks after 1 epochs|at most one at the start and one per epoch" \
    "loss-extra:/history/loss|9 losses for 8 steps" \
    "w1-elink:/params/W1|an external link|fifo" "adam-t-huge:attribute 't' of /optim|9223372036854775807" \
    "adam-t-behind:attribute 't' of /optim: 7|adam advances it once per step|made 8" \
    "optim-lr-neg:attribute 'lr' of /optim|-1" "optim-v-neg:/optim/W1/v|negative value -0.5" \
    "bn-var-neg:/bn/running_var1|negative variance -0.5" "pp-mean-nan:/preprocess/mean|non-finite" \
    "version-float:format_version|1.5 is not a whole number" "hidden-fraction:hidden|width 8.5" \
    "hidden-wide:attribute 'hidden' of /|width '1048577' out of range [1, 1048576]" \
    "model-huge:the model it holds|good.h5 (4 features, 3 classes)|GiB|more than this machine" \
    "format-heap-len:[rank 0/2] error|crashed while reading it|damaged" "data-empty:records no dataset path|give --data" \
    "best-acc-nan:best_val_acc|nan" "finished-7:finished|7: 0 or 1" "history-acc:/history/train_acc|7.5" \
    "optim-extra:/optim/W1/extra|not a tensor of this model" \
    "eps-huge:attribute 'eps' of /|1e+300 is beyond" "reg-huge:attribute 'reg' of /|1e+300 is beyond" \
    "no-fc-real:attribute 'fc_real' of /|missing" \
    "norm-layernorm:/bn|batchnorm statistics in the checkpoint, and this model has no batchnorm" \
    "shuffle-2:attribute 'shuffle' of /|2: 0 or 1" "world-size-huge:attribute 'world_size' of /|1099511627776 ranks" \
    "pp-contradicts:attribute 'kind' of /preprocess|'center' contradicts the root attribute preprocess 'standardize'" \
    "check-step-ahead:/history/check_step|100 at element 0|outside the steps made" \
    "check-step-repeat:/history/check_step|0 at element 1 after 0|increasing steps" \
    "history-lr-zero:/history/lr|0 at element 1, but lr 0.001 decayed by 1 after each of 1 epochs is 0.001" \
    "history-lr-huge:/history/lr|e+300 at element 1, but lr 0.001" \
    "val-acc-nan-one:/history/val_acc|nan at element 1, 0.|validates at every check" \
    "best-acc-5:best_val_acc|5: an accuracy in [0, 1]" "best-step-ahead:best_step|100, not among the 8 steps made" \
    "best-step-neg:best_step|-1, not among" "world-size-0:attribute 'world_size' of /|0 ranks" \
    "best-bn-only:/best/bn|batchnorm statistics in the checkpoint, and this model has no batchnorm" \
    "w1-unwritten:/params/W1|part of its data was never written" "bn-missing:/bn|missing in the checkpoint"; do
    kind=${spec%%:*} expect=${spec#*:}
    "$BAD_INPUTS" ckpt "$kind" "$good_ckpt" "$O/ckpt-$kind.h5"
    add "resume-$kind" "ckpt-$kind.h5|$expect" train --resume "$O/ckpt-$kind.h5"
done
# A standard deviation of 0 would divide every input by 0: resume and eval refuse it
"$BAD_INPUTS" ckpt pp-std-zero "$good_std_ckpt" "$O/ckpt-pp-std-zero.h5"
add resume-pp-std-zero "ckpt-pp-std-zero.h5|/preprocess/std|0 at element 0|at least 1e-08" train \
    --resume "$O/ckpt-pp-std-zero.h5"
add eval-pp-std-zero "ckpt-pp-std-zero.h5|/preprocess/std|0 at element 0|at least 1e-08" eval \
    --checkpoint "$O/ckpt-pp-std-zero.h5" --split val
# eval --best holds the best accuracy to what training writes, as --resume does: it evaluated a NaN's or 1e300's
# copy as the best with exit 0
"$BAD_INPUTS" ckpt best-acc-huge "$good_ckpt" "$O/ckpt-best-acc-huge.h5"
"$BAD_INPUTS" ckpt best-acc-above-1 "$good_ckpt" "$O/ckpt-best-acc-above-1.h5"
for kind in best-acc-nan best-acc-5 best-acc-huge; do
    add "eval-$kind" "ckpt-$kind.h5|attribute 'best_val_acc' of /best|an accuracy in [0, 1], or -1" eval \
        --checkpoint "$O/ckpt-$kind.h5" --best --split val
done
# with the digits that tell it from 1: it said "1: an accuracy in [0, 1]"
add eval-best-acc-above-1 "ckpt-best-acc-above-1.h5|attribute 'best_val_acc' of /best|1.0000001: an accuracy in [0, 1]" \
    eval --checkpoint "$O/ckpt-best-acc-above-1.h5" --best --split val
# eval reads the same tensors through its own path: a model that would print a wrong accuracy with exit 0
add eval-bn-var-neg "ckpt-bn-var-neg.h5|/bn/running_var1|negative variance" eval --checkpoint "$O/ckpt-bn-var-neg.h5" --split val
add eval-pp-mean-nan "ckpt-pp-mean-nan.h5|/preprocess/mean|non-finite" eval --checkpoint "$O/ckpt-pp-mean-nan.h5" --split val
# chunks never written read as zeros: a zeroed W1 was evaluated, resumed and started from with exit 0
add eval-w1-unwritten "ckpt-w1-unwritten.h5|/params/W1|part of its data was never written" eval \
    --checkpoint "$O/ckpt-w1-unwritten.h5" --split val
add init-w1-unwritten "ckpt-w1-unwritten.h5|/params/W1|part of its data was never written" train "${base[@]}" \
    --norm batchnorm --init-from "$O/ckpt-w1-unwritten.h5"
# a batchnorm checkpoint without /bn: eval took the initial running statistics and printed a wrong accuracy
add eval-bn-missing "ckpt-bn-missing.h5|/bn|missing in the file, whose root attribute norm is batchnorm" eval \
    --checkpoint "$O/ckpt-bn-missing.h5" --split val
add eval-w1-elink "ckpt-w1-elink.h5|/params/W1|an external link" eval --checkpoint "$O/ckpt-w1-elink.h5" --split val
add eval-model-huge "ckpt-model-huge.h5|the model it holds|GiB|more than this machine" eval \
    --checkpoint "$O/ckpt-model-huge.h5" --split val
add eval-data-empty "ckpt-data-empty.h5|records no dataset path|give --data" eval --checkpoint "$O/ckpt-data-empty.h5"
# [rank 0/2]: every rank crashes alike and rank 0 speaks for them (read_guard.c); the others wait to be ended
add eval-format-heap-len "ckpt-format-heap-len.h5|[rank 0/2] error|crashed while reading it" eval \
    --checkpoint "$O/ckpt-format-heap-len.h5" --split val
# a checkpoint whose stored data path is relative to the directory of the first run, resumed from elsewhere
mkdir -p "$O/rel"
cp "$O/good.h5" "$O/rel/only-here.h5"
(cd "$O/rel" && timeout 60 "$MPIEXEC" -n 1 --oversubscribe --bind-to none "$FCNET_DIST" train --data only-here.h5 \
    --hidden 8 --batch-size 10 --epochs 2 --max-steps 2 --out ck >/dev/null)
add resume-stored-path "only-here.h5|the data path stored in checkpoint|rel/ck/checkpoint.h5|give --data" \
    train --resume "$O/rel/ck/checkpoint.h5" --out "$O/rel/ck"
add resume-changed-lr "--lr|0.5|0.001" train --resume "$good_ckpt" --lr 0.5
add resume-epochs-too-few "/history/loss|--epochs 1 is fewer|give --epochs 2 or more" train --resume "$good_ckpt" --epochs 1
add resume-other-features "/preprocess/mean|(4,)|(5,)" train --resume "$good_ckpt" --data "$O/good5.h5"

# a flipped byte in an object header's continuation block: HDF5 would then show that object without the links
# or attributes the block held, and a reader would call them missing; the file is called corrupt instead
cp "$good_ckpt" "$O/ckpt-flipped-continuation.h5"
"$BAD_INPUTS" flipcont "$O/ckpt-flipped-continuation.h5"
add resume-flipped-continuation "ckpt-flipped-continuation.h5|truncated or corrupt HDF5 file|checksum" train \
    --resume "$O/ckpt-flipped-continuation.h5"
add eval-flipped-continuation "ckpt-flipped-continuation.h5|truncated or corrupt HDF5 file|checksum" eval \
    --checkpoint "$O/ckpt-flipped-continuation.h5" --split val
add eval-norm-layernorm "ckpt-norm-layernorm.h5|/bn|batchnorm statistics in the file" eval \
    --checkpoint "$O/ckpt-norm-layernorm.h5" --split val
# a hold-out fraction that rounds to no row would turn validation off without a word
"$FCNET_SYNTH" --out "$O/noval.h5" --train 60 --val 0 --features 4 --classes 3 --seed 11 >/dev/null
add data-val-size-rounds-to-0 "noval.h5|/train|val_size 0.001 holds out 0 of 60 rows" train --data "$O/noval.h5" \
    --val-size 0.001 --hidden 8 --batch-size 10 --epochs 1
# a --val-size that leaves 1 training row: every batch is that row, whatever --batch-size
add data-val-size-one-row-batchnorm "--batch-size 10 with 1 training row:|every batch is 1 row|batchnorm" train \
    --data "$O/noval.h5" --val-size 59 --hidden 8 --batch-size 10 --epochs 1 --norm batchnorm

# a file whose writer (h5py with libver="latest", SWMR or killed) never closed it: marked open for writing, not
# called truncated or corrupt
"$BAD_INPUTS" marked "$O/marked.h5"
add data-marked-open "marked.h5|marked open for writing|h5clear -s" train --data "$O/marked.h5" --hidden 8 \
    --batch-size 10 --epochs 1
add resume-marked-open "$O/marked.h5: cannot open: marked open for writing|h5clear -s" train \
    --resume "$O/marked.h5"
add eval-marked-open "$O/marked.h5: cannot open: marked open for writing" eval \
    --checkpoint "$O/marked.h5" --split val

# ---- --init-from ----
for spec in "shapes:/params/W1|(4, 9)|(4, 8)" missing:/params/W2 inf:/params/W2 \
    "transposed:/params/W1|(8, 4) in the file, (4, 8) expected (transposed|weight.T)"; do
    kind=${spec%%:*} expect=${spec#*:}
    "$BAD_INPUTS" params "$kind" "$O/params-$kind.h5"
    add "init-$kind" "params-$kind.h5|$expect" train "${base[@]}" --init-from "$O/params-$kind.h5"
done
add init-other-architecture "/params/W1|(4, 8)|(4, 16)" train "${base[@]}" --norm batchnorm --hidden 16 \
    --init-from "$good_ckpt"
add init-flipped "ckpt-flipped-params-W1.h5|/params/W1|checksum" train "${base[@]}" --norm batchnorm \
    --init-from "$O/ckpt-flipped-params-W1.h5"
add init-directory "adir|directory" train "${base[@]}" --init-from "$O/adir"
# the same after the setup's --val-size warning (good.h5 has its own /val)
add init-w2-missing-warned "params-missing.h5|/params/W2" train "${base[@]}" --val-size 0.2 \
    --init-from "$O/params-missing.h5"
add init-bn-into-layernorm "/bn|batchnorm statistics in the file, and this model has no batchnorm" train \
    "${base[@]}" --norm layernorm --init-from "$good_ckpt"

echo "$(wc -l <"$cases") cases in $cases"
