#!/bin/bash
# fcnet_dist gradcheck end to end, in the float build (fcnet_dist) and the double build
# (fcnet_dist_f64): depth 1 and 3, batchnorm / layernorm / dropout with reg, exit 0 for the code as it
# is; one report row per tensor; in double every absolute error below 1e-7 and every relative error of a
# row whose verdict is a plain "ok" below 1e-6 (W1: 1e-5);
# a deliberately wrong analytic gradient (FCNET_FAULT_GRADCHECK=skew) caught in both builds with exit
# 1 and one stderr line, its error reported, also small ones and one a few times the error bar; the steps and the
# thresholds as documented, the kinks counted; every rank exits alike at -n 3; --data takes its shapes from a dataset.
# usage: test_gradcheck.sh FCNET_DIST_F64 [FCNET_SYNTH] [MPIEXEC]   (FCNET_DIST in the environment)
set -euo pipefail
F64=${1:?usage: test_gradcheck.sh FCNET_DIST_F64 [FCNET_SYNTH] [MPIEXEC]}
SYNTH=${2:-}
MPIEXEC=${3:-mpirun}
F32=${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}
# shellcheck source=tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch gradcheck

# Table rows: "  NAME  SHAPE  CHECKED  REL  ABS  THRESHOLD  VERDICT"; the shape may hold a space, so the
# columns are taken from the end of the line.
# worst_plain_rel FILE: the largest relative error among rows whose verdict is "ok" or "FAIL".
worst_plain_rel() {
    awk '/^  (W|b|gamma|beta)[0-9]/ && ($NF == "ok" || $NF == "FAIL") {
        if ($(NF - 3) + 0 > m) m = $(NF - 3) + 0 } END { printf "%g\n", m }' "$1"
}
rows_with() { awk -v v="$2" '/^  (W|b|gamma|beta)[0-9]/ && $NF == v' "$1" | wc -l; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

run_case() { # run_case NAME BUILD ARGS...: exit 0, every tensor ok, double-build errors small
    local name=$1 build=$2 bin rc=0
    shift 2
    bin=$F32
    [ "$build" = f64 ] && bin=$F64
    "$bin" gradcheck "$@" >out.txt 2>err.txt || rc=$?
    cp out.txt "gc_${build}_${name// /_}.txt"
    if [ "$rc" -ne 0 ] || ! grep -q '^result: ok' out.txt || [ -s err.txt ]; then
        not_ok "$build $name: exit $rc"
        cat out.txt err.txt
        return
    fi
    local n_rows want_rows
    n_rows=$(grep -cE '^  (W|b|gamma|beta)[0-9]' out.txt)
    # One row per tensor: W and b per layer, gamma and beta per hidden layer with a norm (from the header,
    # "gradcheck (...): D -> H1 -> ... -> C, norm NORM, ...").
    want_rows=$(awk 'NR == 1 { L = gsub(/ -> /, "&"); print 2 * L + (/norm none,/ ? 0 : 2 * (L - 1)) }' out.txt)
    if [ "$n_rows" -ne "$want_rows" ]; then
        not_ok "$build $name: $n_rows tensor rows, want $want_rows"
        cat out.txt
        return
    fi
    # Central differences in double: every absolute error at the level of h^2 and rounding, whatever the
    # verdict ("ok*" rows pass on it alone); a one-sided difference would be off by about h = 1e-5 times the
    # curvature.
    local worst_abs
    worst_abs=$(awk '/^  (W|b|gamma|beta)[0-9]/ { if ($(NF - 2) + 0 > m) m = $(NF - 2) + 0 } END { printf "%g", m }' out.txt)
    if [ "$build" = f64 ] && ! below "$worst_abs" 1e-7; then
        not_ok "$build $name: an absolute error of $worst_abs (want < 1e-7 in double)"
        cat out.txt
        return
    fi
    if [ "$build" = f64 ]; then
        # The W1 row is held to 1e-5, the others to 1e-6 (cs231n's double-precision levels).
        local w1 rest
        w1=$(awk '$1 == "W1" && $NF == "ok" { print $(NF - 3) }' out.txt)
        rest=$(grep -v '^  W1 ' out.txt | worst_plain_rel /dev/stdin)
        if below "${w1:-0}" 1e-5 && below "$rest" 1e-6; then
            ok "$build $name: exit 0, $n_rows tensors, W1 rel ${w1:-n/a}, others <= $rest"
        else
            not_ok "$build $name: errors too large (W1 ${w1:-n/a}, others $rest)"
            cat out.txt
        fi
    else
        ok "$build $name: exit 0, $n_rows tensors, worst plain rel $(worst_plain_rel out.txt)"
    fi
}

# cs231n's gradient-check settings for the weights (std 5e-2) on depth 1 and 3.
for build in f32 f64; do
    run_case "depth 1 reg" "$build" --hidden none --reg 0.7 --weight-scale 5e-2
    run_case "depth 3 plain reg" "$build" --hidden 20,30 --reg 0.3 --weight-scale 5e-2 --seed 1
    run_case "depth 3 batchnorm" "$build" --hidden 20,30 --norm batchnorm --weight-scale 5e-2 --seed 2
    run_case "depth 3 batchnorm dropout reg" "$build" --hidden 20,30 --norm batchnorm --keep 0.75 --reg 0.1 \
        --weight-scale 5e-2 --batch-size 16
    run_case "depth 3 layernorm dropout reg" "$build" --hidden 20,30 --norm layernorm --keep 0.5 --reg 0.1 \
        --weight-scale 5e-2 --seed 3
    run_case "depth 3 dropout he init" "$build" --hidden 20,30 --keep 0.8 --init he --batch-size 64
    run_case "default model" "$build"
done

# In float the step (1e-2) crosses many kinks: the report counts the elements re-evaluated with a smaller step
# (hundreds here; the exact count depends on the CPU's float rounding).
if grep -qE '^kinks: [1-9][0-9]* element\(s\) re-evaluated with a smaller step and [0-9]+ left out' \
    "gc_f32_depth_3_plain_reg.txt"; then
    ok "f32: the kinks line counts the re-evaluated elements ($(grep '^kinks:' gc_f32_depth_3_plain_reg.txt))"
else
    not_ok "f32: no count of re-evaluated elements: '$(grep '^kinks:' gc_f32_depth_3_plain_reg.txt)'"
fi

# The random batch: 8 rows without --batch-size (not the training default 100), --batch-size 16 and 64
# taken; an INI file's training batch_size (200) capped at 64.
printf 'batch_size = 200\n' >train.ini
"$F32" gradcheck --hidden 5 --config train.ini >cap.txt 2>&1 || true
"$F32" gradcheck --hidden 5 --batch-size 64 >max.txt 2>&1 || true
if grep -q '^batch: 8 random rows' gc_f32_default_model.txt && grep -q '^batch: 16 random rows' \
    "gc_f32_depth_3_batchnorm_dropout_reg.txt" && grep -q '^batch: 64 random rows' max.txt &&
    grep -q '^batch: 64 random rows' cap.txt; then
    ok "batch: 8 rows by default, --batch-size 16 and 64 taken, an INI batch_size 200 capped at 64"
else
    not_ok "batch sizes: $(grep -h '^batch:' gc_f32_default_model.txt gc_f32_depth_3_batchnorm_dropout_reg.txt max.txt cap.txt | tr '\n' ' ')"
fi
# --batch-size outside [1, 64] is refused: exit 2, one stderr line naming the option and the range.
for b in 65 1000 0; do
    rc=0
    "$F32" gradcheck --hidden 5 --batch-size $b >big.out 2>big.err || rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <big.err)" -eq 1 ] && grep -q -- "--batch-size: $b out of range \[1, 64\]" big.err &&
        [ ! -s big.out ]; then
        ok "--batch-size $b refused ($(cat big.err))"
    else
        not_ok "--batch-size $b: rc=$rc stderr: $(cat big.err) stdout: $(head -c 200 big.out)"
    fi
done

# gradcheck --help gives gradcheck's own batch default for --batch-size, not training's 100.
if "$F32" gradcheck --help | grep -q -- '--batch-size B .*rows of the checked batch \[default: 8, at most 64\]'; then
    ok "gradcheck --help: --batch-size default 8, at most 64"
else
    not_ok "gradcheck --help: $("$F32" gradcheck --help | grep -- --batch-size)"
fi

# Sparse mode: a model above the full-check limit is checked on 20 elements per tensor, and says so.
F32_OUT=sparse.txt
"$F32" gradcheck --hidden 200,100 --weight-scale 5e-2 >"$F32_OUT"
if grep -q 'checking 20 random elements per tensor' "$F32_OUT" && grep -qE '^  W2 .* 20/20000 ' "$F32_OUT"; then
    ok "large model checked sparsely (20 elements per tensor)"
else
    not_ok "large model: no sparse check"
    cat "$F32_OUT"
fi

# The check must be able to fail: one analytic element skewed as a wrong backward pass would.
for build in f32 f64; do
    bin=$F32
    [ "$build" = f64 ] && bin=$F64
    rc=0
    FCNET_FAULT_GRADCHECK=skew "$bin" gradcheck --hidden 20,30 --norm batchnorm --weight-scale 5e-2 >out.txt 2>err.txt || rc=$?
    # The skewed element's relative error is 0.5 g / 2.5 g = 0.2 exactly: the row and the line report it, and the row
    # its absolute error (half the largest |g| of W3, ~0.16 here).
    w3_abs=$(awk '$1 == "W3" { print $(NF - 2) }' out.txt)
    if [ "$rc" -eq 1 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'gradcheck: 1 tensor failed' err.txt &&
        [ "$(rows_with out.txt FAIL)" -eq 1 ] && grep -qE '^  W3 .* 2\.00e-01 .*FAIL$' out.txt &&
        grep -q '(worst: W3, max relative error 2.00e-01)' err.txt && ! below "${w3_abs:-0}" 0.05; then
        ok "$build: a skewed W3 gradient fails with exit 1: $(cat err.txt)"
    else
        not_ok "$build: skewed gradient not caught (exit $rc)"
        cat out.txt err.txt
    fi
done

# With no --weight-scale, as a user first runs it (helper-163): the float build checked at training's 1e-2, where
# W3's gradients are below the numerical derivative's error bar, and the skewed W3 passed as ok*, exit 0. Now the
# default is cs231n's 5e-2 (the header says so) and the skew fails; at 1e-2, asked for, the tensors whose numerical
# derivatives all lie within their error bars are "unresolved" and the result is not checked (exit 2), never ok.
rc=0
FCNET_FAULT_GRADCHECK=skew "$F32" gradcheck >out.txt 2>err.txt || rc=$?
if [ "$rc" -eq 1 ] && grep -q 'weight_scale 0.05,' out.txt && grep -qE '^  W3 .*FAIL$' out.txt; then
    ok "f32 default options: the header says weight_scale 0.05 and a skewed W3 fails with exit 1"
else
    not_ok "f32 default options: a skewed W3 gave exit $rc (want 1, weight_scale 0.05)"
    cat out.txt err.txt
fi
rc=0
FCNET_FAULT_GRADCHECK=skew "$F32" gradcheck --weight-scale 1e-2 >out.txt 2>err.txt || rc=$?
if [ "$rc" -ne 0 ] && ! grep -q '^result: ok' out.txt &&
    { [ "$rc" -eq 1 ] || { [ "$rc" -eq 2 ] && grep -q 'is within its own error bar' err.txt &&
        grep -qE '^  W3 .*unresolved$' out.txt; }; }; then
    ok "f32 at --weight-scale 1e-2: a skewed W3 is not passed (exit $rc: $(cat err.txt))"
else
    not_ok "f32 at --weight-scale 1e-2: a skewed W3 gave exit $rc (want 1, or 2 with W3 unresolved)"
    cat out.txt err.txt
fi
check_help=$("$F32" gradcheck --help | tr '\n' ' ' | tr -s ' ')
if grep -qF "[default: 0.05, cs231n's scale for gradient checks; train's is 0.01]" <<<"$check_help"; then
    ok "gradcheck --help gives its own --weight-scale default, 0.05"
else
    not_ok "gradcheck --help: no '[default: 0.05, ...]' for --weight-scale"
fi

# small_skew NAME BINARY FACTOR BOUND: W3's largest element times FACTOR fails (exit 1, W3's row FAIL), and the
# rounding estimate printed under the table (the error bar's floor) is positive and below BOUND.
small_skew() {
    local name=$1 bin=$2 factor=$3 bound=$4 rc=0 rounding
    FCNET_FAULT_GRADCHECK=skew:$factor "$bin" gradcheck --hidden 20,30 --norm batchnorm --weight-scale 5e-2 \
        >out.txt 2>err.txt || rc=$?
    rounding=$(grep -oE 'rounding, about [0-9.e+-]+' out.txt | grep -oE '[0-9.]+e[+-][0-9]+$' || echo missing)
    if [ "$rc" -eq 1 ] && grep -q 'gradcheck: 1 tensor failed' err.txt && grep -qE '^  W3 .*FAIL$' out.txt &&
        awk -v r="$rounding" -v b="$bound" 'BEGIN { exit !(r + 0 > 0 && r + 0 < b + 0) }'; then
        ok "$name fails with exit 1 (rounding estimate $rounding)"
    else
        not_ok "$name not caught (exit $rc), or a rounding estimate $rounding >= $bound"
        cat out.txt err.txt
    fi
}
# A small error too: W3's largest element off by 1e-4 of itself (double build) fails. That error is still
# far above the numerical derivative's error bar here, so the bar's floor is checked on its own (~6e-10 here):
# a floor 100 times too wide would pass the skew.
small_skew "f64: W3 off by 1e-4 of one element" "$F64" 1.0001 1e-8
# The float build's counterpart: W3's largest element off by a tenth of itself (relative error ~5e-2, absolute ~3e-2)
# fails, and its rounding estimate (~1e-3 here) stays well below such an error: a floor, a step or a tolerance
# several times too wide would pass the skew.
small_skew "f32: W3 off by 1e-1 of one element" "$F32" 1.1 3e-3

# The error bar is an estimate, not a licence: at --weight-scale 1e8 (double) the rounding of a loss of ~1e15 is
# ~1.5e7 against W2's largest gradient of ~3e8, so a 50% error there (2.9e7 .. 5.8e7) is a few times the bar and
# must still fail, not pass as ok* (a bar 10 times too wide did).
rc=0
FCNET_FAULT_GRADCHECK=skew "$F64" gradcheck --hidden 5 --weight-scale 1e8 >out.txt 2>err.txt || rc=$?
if [ "$rc" -eq 1 ] && grep -q 'gradcheck: 1 tensor failed (worst: W2' err.txt && grep -qE '^  W2 .*FAIL$' out.txt; then
    ok "f64: a 50% error at --weight-scale 1e8, a few times the rounding estimate, fails"
else
    not_ok "f64: a 50% error at --weight-scale 1e8 not caught (exit $rc)"
    cat out.txt err.txt
fi

# The step the header reports is the build's: 1e-5 in double, 1e-2 in float.
if grep -q '^loss: .*central differences, h = 1e-05$' gc_f64_default_model.txt &&
    grep -q '^loss: .*central differences, h = 0.01$' gc_f32_default_model.txt; then
    ok "steps: h = 1e-5 (double) and 1e-2 (float)"
else
    not_ok "steps: $(grep -h '^loss:' gc_f64_default_model.txt gc_f32_default_model.txt | tr '\n' ' ')"
fi

# The threshold column: W1 gets its own (double 1e-5, float 5e-2), every other tensor the build's (1e-6, 2e-2).
thresholds() { awk '/^  (W|b|gamma|beta)[0-9]/ { print $1, $(NF - 1) }' "$1" | sort -u | tr '\n' ' '; }
t64=$(thresholds "gc_f64_depth_3_batchnorm.txt")
t32=$(thresholds "gc_f32_depth_3_batchnorm.txt")
want64="W1 1e-05 W2 1e-06 W3 1e-06 b1 1e-06 b2 1e-06 b3 1e-06 beta1 1e-06 beta2 1e-06 gamma1 1e-06 gamma2 1e-06 "
want32="W1 5e-02 W2 2e-02 W3 2e-02 b1 2e-02 b2 2e-02 b3 2e-02 beta1 2e-02 beta2 2e-02 gamma1 2e-02 gamma2 2e-02 "
if [ "$t64" = "$want64" ] && [ "$t32" = "$want32" ]; then
    ok "thresholds: W1 1e-5 / 5e-2, the other tensors 1e-6 / 2e-2 (double / float)"
else
    not_ok "thresholds: double '$t64', float '$t32'"
fi

# Under MPI: rank 0 checks, every rank returns its verdict; one report, one error line.
rc=0
"$MPIEXEC" -n 3 --oversubscribe --bind-to none "$F64" gradcheck --hidden 20 --weight-scale 5e-2 >out.txt 2>err.txt || rc=$?
if [ "$rc" -eq 0 ] && [ "$(grep -c '^result: ok' out.txt)" -eq 1 ]; then
    ok "-n 3: exit 0, one report"
else
    not_ok "-n 3: exit $rc"
    cat out.txt err.txt
fi
rc=0
FCNET_FAULT_GRADCHECK=skew "$MPIEXEC" -n 3 --oversubscribe --bind-to none -x FCNET_FAULT_GRADCHECK "$F64" gradcheck \
    --hidden 20 --weight-scale 5e-2 >out.txt 2>err.txt || rc=$?
if [ "$rc" -eq 1 ] && [ "$(grep -c '^fcnet_dist' err.txt)" -eq 1 ]; then
    ok "-n 3 with a skewed gradient: exit 1, one line from the ranks"
else
    not_ok "-n 3 with a skewed gradient: exit $rc (want 1)"
    cat out.txt err.txt
fi

# --data: D and C from the dataset, the batch from its first training rows (preprocessed).
if [ -n "$SYNTH" ]; then
    "$SYNTH" --out d.h5 --train 40 --features 7 --classes 3 --seed 5 >/dev/null
    run_case "from --data" f64 --data d.h5 --hidden 12 --norm layernorm --weight-scale 5e-2 --batch-size 64
    f=gc_f64_from_--data.txt
    if grep -q '^gradcheck (double build): 7 -> 12 -> 3,' "$f" && grep -q 'the first 40 training rows of d.h5' "$f"; then
        ok "--data: shapes 7 -> 3 and the batch (40 rows: --batch-size capped by the split) from the file"
    else
        not_ok "--data: shapes or batch not taken from the file"
        cat "$f"
    fi
    # The rows are preprocessed as training would: another --preprocess, another loss.
    loss_with() { "$F64" gradcheck --data d.h5 --hidden 12 --weight-scale 5e-2 --preprocess "$1" | awk '/^loss / { print $2 }'; }
    l_none=$(loss_with none)
    l_std=$(loss_with standardize)
    if [ -n "$l_none" ] && [ -n "$l_std" ] && [ "$l_none" != "$l_std" ]; then
        ok "--data: rows preprocessed (loss $l_none with --preprocess none, $l_std with standardize)"
    else
        not_ok "--data: --preprocess does not change the checked batch (loss '$l_none' vs '$l_std')"
    fi
    rc=0
    "$F32" gradcheck --data no-such.h5 >out.txt 2>err.txt || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ]; then
        ok "--data missing file: exit 2, one line: $(cat err.txt)"
    else
        not_ok "--data missing file: exit $rc (want 2)"
        cat err.txt
    fi
    # One row, centred: every input is 0, so b1 sits on the ReLU kink at any weight scale; the line says
    # why instead of advising a smaller --weight-scale (which cannot help: 1e-4 is refused the same way).
    # With --preprocess none the same row is checkable.
    "$SYNTH" --out one.h5 --train 1 --features 7 --classes 3 --seed 5 >/dev/null
    rc=0
    "$F64" gradcheck --data one.h5 --hidden 12 --weight-scale 1e-4 >out.txt 2>err.txt || rc=$?
    rc_none=0
    "$F64" gradcheck --data one.h5 --hidden 12 --weight-scale 1e-4 --preprocess none >out_none.txt 2>&1 || rc_none=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] &&
        grep -q "no element of b1 could be checked: --data one.h5 gives inputs that are all 0 after --preprocess center (1 row)" err.txt &&
        ! grep -q "smaller --weight-scale" err.txt && [ "$rc_none" -eq 0 ] && grep -q '^result: ok' out_none.txt; then
        ok "--data of one centred row: exit 2, one line naming the all-0 inputs: $(cat err.txt)"
    else
        not_ok "--data of one centred row: exit $rc (want 2 and the all-0 reason), with --preprocess none exit $rc_none (want 0)"
        cat err.txt out_none.txt
    fi
fi

# A weight scale that overflows the loss: nothing can be checked, which must not read as a pass.
rc=0
"$F32" gradcheck --hidden 5 --weight-scale 1e30 >out.txt 2>err.txt || rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'loss is NaN at --weight-scale' err.txt &&
    ! grep -q '^result: ok' out.txt; then
    ok "non-finite loss: exit 2, one line: $(cat err.txt)"
else
    not_ok "non-finite loss: exit $rc (want 2, and no 'result: ok')"
    cat err.txt out.txt
fi

# The same scale in double: the loss (~1e61, printed in e-notation, not as 61 digits) stays finite, but every step
# of every weight switches a ReLU even 100x smaller, so no weight element is checked; a table of "0/N" must not end
# in "result: ok".
rc=0
"$F64" gradcheck --hidden 5 --weight-scale 1e30 >out.txt 2>err.txt || rc=$?
# The kinks line counts them: the 50 + 25 weight elements left out, none re-evaluated.
if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'no element of W1, W2 could be checked' err.txt &&
    grep -q 'use a smaller --weight-scale' err.txt &&
    grep -q '^kinks: 0 element(s) re-evaluated with a smaller step and 75 left out' out.txt &&
    grep -q '^  W1 .* 0/50 .* unchecked$' out.txt && grep -q '^result: not checked (2 tensors' out.txt &&
    grep -Eq '^loss [1-9]\.[0-9]{6}e\+6[01] \(data [1-9]\.[0-9]{6}e\+6[01], reg 0\.000000\)$' out.txt; then
    ok "no element checked: exit 2, one line: $(cat err.txt)"
else
    not_ok "no element checked: exit $rc (want 2, W1 and W2 unchecked, no 'result: ok')"
    cat err.txt out.txt
fi

# Training's scale (1e-2, the step h itself) on four hidden layers in the float build: the activations shrink layer
# by layer until the deep biases cannot be checked; the line asks for a larger scale, and at a larger one
# (gradcheck's default, 5e-2) every tensor is checked: it passes, or (depending on the CPU's float rounding) a
# sampled tensor's derivatives all lie within their error bars and it says so, never "could be checked".
rc=0
"$F32" gradcheck --hidden 100,100,100,100 --batch-size 16 --weight-scale 1e-2 >out.txt 2>err.txt || rc=$?
rc_larger=0
"$F32" gradcheck --hidden 100,100,100,100 --batch-size 16 --weight-scale 5e-2 >out_larger.txt 2>&1 || rc_larger=$?
if [ "$rc" -eq 2 ] && grep -q 'could be checked' err.txt && grep -q 'use a larger --weight-scale' err.txt &&
    ! grep -q 'could be checked' out_larger.txt && ! grep -qE ' (unchecked|FAIL)$' out_larger.txt &&
    { [ "$rc_larger" -eq 0 ] && grep -q '^result: ok' out_larger.txt ||
        { [ "$rc_larger" -eq 2 ] && grep -q 'is within its own error bar' out_larger.txt; }; }; then
    ok "deep float net at training's scale 1e-2: asks for a larger --weight-scale, and at 5e-2 each tensor is checked (exit $rc_larger)"
else
    not_ok "deep float net at training's scale 1e-2: exit $rc, '$(cat err.txt)'; at 5e-2 exit $rc_larger (want 2 and 'larger', then 0)"
fi

# A row in which a whole narrow hidden layer is 0 (every ReLU off) gives the next layer its bias alone, 0 at the
# start: that layer sits on its kink there at any scale, and the line said "use a smaller --weight-scale", which
# gave the same refusal (helper-163). It names the row and the layer instead, at any scale.
for scale in 1e-3 1; do
    rc=0
    "$F64" gradcheck --hidden 4,20 --batch-size 64 --seed 1 --weight-scale $scale >out.txt 2>err.txt || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'every unit of hidden layer 1 is 0' err.txt &&
        grep -q 'at any --weight-scale; use another --seed, wider layers or fewer rows' err.txt; then
        ok "--hidden 4,20 --weight-scale $scale: a row where layer 1 is all 0 is named, no scale advice: $(cat err.txt)"
    else
        not_ok "--hidden 4,20 --weight-scale $scale: exit $rc, '$(cat err.txt)' (want 2, hidden layer 1 all 0 in a row)"
    fi
done

# The other end: weights of 1e-30 put every pre-activation within the step's reach of its kink; a smaller
# scale cannot help, the line asks for a larger one (it used to advise a smaller one here too). Also with
# batchnorm over batches of more than 1 row, whose normalised units sit at the kink the same way: not the
# message of a 1-row batch.
for norm in none batchnorm; do
    rc=0
    "$F64" gradcheck --hidden 5 --norm "$norm" --weight-scale 1e-30 >out.txt 2>err.txt || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'could be checked' err.txt &&
        grep -q 'use a larger --weight-scale' err.txt; then
        ok "--norm $norm: nothing checked at --weight-scale 1e-30: exit 2, one line asking for a larger scale: $(cat err.txt)"
    else
        not_ok "--norm $norm: nothing checked at --weight-scale 1e-30: exit $rc (want 2 and 'use a larger --weight-scale')"
        cat err.txt out.txt
    fi
done

# Batchnorm over a batch of 1 row outputs its beta, on the ReLU's kink, at any scale: the line says so instead of
# advising a --weight-scale (it advised a larger one at the default scale and a smaller one at 1).
for ws in 1e-2 1; do
    rc=0
    "$F32" gradcheck --hidden 6 --norm batchnorm --batch-size 1 --weight-scale "$ws" >out.txt 2>err.txt || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'beta1 could be checked: --norm batchnorm over a batch of 1 row' err.txt &&
        grep -q 'use a --batch-size (and --data) of 2 or more rows' err.txt && ! grep -q 'use a .* --weight-scale' err.txt; then
        ok "batchnorm, batch of 1 row, --weight-scale $ws: exit 2, the batch named: $(cat err.txt)"
    else
        not_ok "batchnorm, batch of 1 row, --weight-scale $ws: exit $rc, '$(cat err.txt)' (want 2 and the 1-row batch)"
    fi
done

# The same for a 1-unit layernorm layer (gradcheck allows it, train refuses it): it outputs its beta at any scale.
# Last (4,1) or not (1,5: the next layer's b2 and beta2 go unchecked too, since its input is the same in every
# row, and the line says so), in either precision.
for ws in 1e-2 1; do
    rc=0
    "$F32" gradcheck --hidden 4,1 --norm layernorm --weight-scale "$ws" >out.txt 2>err.txt || rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'beta2 could be checked: --norm layernorm normalises the 1 unit of hidden layer 2' err.txt &&
        grep -q 'any --weight-scale; give the layer 2 or more units' err.txt && ! grep -q 'use a .* --weight-scale' err.txt &&
        grep -q '^  W3 *(1, 5) ' out.txt; then # a weight of fan_in 1 keeps its two axes in the table
        ok "layernorm, 1-unit layer, --weight-scale $ws: exit 2, the layer named: $(cat err.txt)"
    else
        not_ok "layernorm, 1-unit layer, --weight-scale $ws: exit $rc, '$(cat err.txt)' (want 2 and the 1-unit layer)"
    fi
    for bin in "$F32" "$F64"; do
        rc=0
        "$bin" gradcheck --hidden 1,5 --norm layernorm --weight-scale "$ws" >out.txt 2>err.txt || rc=$?
        if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] &&
            grep -q 'no element of beta1, b2, beta2 could be checked: --norm layernorm normalises the 1 unit of hidden layer 1' err.txt &&
            grep -q 'and the layers after it get the same input in every row; give the layer 2 or more units' err.txt &&
            ! grep -q 'use a .* --weight-scale' err.txt; then
            ok "layernorm, 1-unit first layer, $(basename "$bin"), --weight-scale $ws: exit 2, the layer named: $(cat err.txt)"
        else
            not_ok "layernorm, 1-unit first layer, $(basename "$bin"), --weight-scale $ws: exit $rc, '$(cat err.txt)' (want 2 and the 1-unit layer)"
        fi
    done
done

# ... but where the scale leaves other tensors unchecked too, the scale advice stands.
rc=0
"$F32" gradcheck --hidden 4,1 --norm layernorm --weight-scale 1e-30 >out.txt 2>err.txt || rc=$?
if [ "$rc" -eq 2 ] && grep -q 'W1, b1, beta1, beta2 could be checked' err.txt && grep -q 'use a larger --weight-scale' err.txt
then
    ok "layernorm, 1-unit layer, --weight-scale 1e-30: exit 2, the scale named: $(cat err.txt)"
else
    not_ok "layernorm, 1-unit layer, --weight-scale 1e-30: exit $rc, '$(cat err.txt)' (want the larger-scale advice)"
fi

# A scale whose rounding (~1e11) hides every gradient (~1e9): each tensor would pass only on the error bar, with no
# numerical derivative standing out of it: every one is "unresolved", which must not add up to "result: ok".
rc=0
"$F64" gradcheck --hidden 5 --weight-scale 1e10 >out.txt 2>err.txt || rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'W1, b1, W2, b2 is within its own error bar' err.txt &&
    [ "$(grep -c '^  [Wb][12] .* unresolved$' out.txt)" -eq 4 ] &&
    grep -q '^result: not checked (4 tensors whose numerical gradient is within its own error bar' out.txt; then
    ok "every tensor unresolved: exit 2, one line: $(cat err.txt)"
else
    not_ok "every tensor unresolved: exit $rc (want 2, four unresolved rows, no 'result: ok')"
    cat err.txt out.txt
fi

echo "# sample reports:"
sed 's/^/#   /' "gc_f64_depth_3_batchnorm_dropout_reg.txt" "gc_f32_depth_3_batchnorm_dropout_reg.txt"
tap_end "$t0"
