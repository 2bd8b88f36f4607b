#!/bin/sh
# Dataset tools end to end: fcnet_convert on tiny IDX files (gzip and plain) and tiny CIFAR-10 batches
# made here with printf (no Python), the output checked with h5dump; malformed inputs must exit 2 with
# one stderr line naming the file and leave no output file; fcnet_synth must be deterministic and write
# exactly what tests/ref/synth_fixture.h5 (an independent numpy reference) holds. FSYNC_FAILS is the
# LD_PRELOAD library (tests/fsync_fails.c) that makes fsync fail, for the commit's error path; SIGNAL_ON_CREATE
# (tests/signal_on_create.c) raises a signal the moment OUT.tmp is created.
# usage: test_convert.sh FCNET_CONVERT [FCNET_SYNTH [H5CMP FSYNC_FAILS SYNTH_FIXTURE [SIGNAL_ON_CREATE]]]
set -u
CONVERT=${1:?usage: test_convert.sh FCNET_CONVERT [FCNET_SYNTH [H5CMP FSYNC_FAILS SYNTH_FIXTURE [SIGNAL_ON_CREATE]]]}
SYNTH=${2:-}
H5CMP=${3:-}
FSYNC_FAILS=${4:-}
SYNTH_FIXTURE=${5:-}
SIGNAL_ON_CREATE=${6:-}
if ! command -v h5dump >/dev/null 2>&1; then
    echo "SKIP: h5dump not found (Debian package hdf5-tools)"
    exit 77
fi
# The script works in a temporary directory: make the tool paths absolute first.
case $CONVERT in /*) ;; *) CONVERT=$PWD/$CONVERT ;; esac
case $SYNTH in /* | "") ;; *) SYNTH=$PWD/$SYNTH ;; esac
case $H5CMP in /* | "") ;; *) H5CMP=$PWD/$H5CMP ;; esac
case $FSYNC_FAILS in /* | "") ;; *) FSYNC_FAILS=$PWD/$FSYNC_FAILS ;; esac
case $SYNTH_FIXTURE in /* | "") ;; *) SYNTH_FIXTURE=$PWD/$SYNTH_FIXTURE ;; esac
case $SIGNAL_ON_CREATE in /* | "") ;; *) SIGNAL_ON_CREATE=$PWD/$SIGNAL_ON_CREATE ;; esac
for tool in "$CONVERT" ${SYNTH:+"$SYNTH"} ${H5CMP:+"$H5CMP"}; do # the optional ones only when given
    [ -x "$tool" ] || { echo "not ok - $tool is not an executable"; echo "0 passed, 1 failed"; exit 1; }
done
for f in ${FSYNC_FAILS:+"$FSYNC_FAILS"} ${SYNTH_FIXTURE:+"$SYNTH_FIXTURE"} ${SIGNAL_ON_CREATE:+"$SIGNAL_ON_CREATE"}; do
    [ -f "$f" ] || { echo "not ok - $f is missing"; echo "0 passed, 1 failed"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/fcnet_test_convert.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
check() { # check NAME COMMAND...: passes when COMMAND succeeds
    name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# ---- byte writers ----
# bytes V...: each decimal value as one byte (printf's octal escape, POSIX)
bytes() {
    for b in "$@"; do printf "\\$(printf %03o "$b")"; done
}
be32() { bytes $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
# fill N V: N bytes of value V
fill() { head -c "$1" /dev/zero | tr '\000' "\\$(printf %03o "$2")"; }

# idx_images FILE N ROWS COLS BASE: pixel p of image i = BASE + 10 i + p
idx_images() {
    {
        be32 2051; be32 "$2"; be32 "$3"; be32 "$4"
        i=0
        while [ $i -lt "$2" ]; do
            p=0
            while [ $p -lt $(($3 * $4)) ]; do bytes $(($5 + 10 * i + p)); p=$((p + 1)); done
            i=$((i + 1))
        done
    } >"$1"
}
# idx_labels FILE LABEL...
idx_labels() {
    f=$1
    shift
    { be32 2049; be32 $#; bytes "$@"; } >"$f"
}
# cifar_record LABEL V: label byte, then R plane (ramp V..V+7, then V), G plane (V+1), B plane (V+2)
cifar_record() {
    bytes "$1"
    i=0
    while [ $i -lt 8 ]; do bytes $(($2 + i)); i=$((i + 1)); done
    fill 1016 "$2"; fill 1024 $(($2 + 1)); fill 1024 $(($2 + 2))
}

# dump FILE DATASET: raw bytes of a uint8 dataset on stdout
dump() { h5dump -d "$2" -b LE -o "$T/dump.bin" "$1" >/dev/null 2>&1 && cat "$T/dump.bin"; }
# same_bytes FILE DATASET EXPECTED_FILE
same_bytes() { dump "$1" "$2" >"$T/got.bin" && cmp -s "$T/got.bin" "$3"; }
# has_shape FILE DATASET "( 3, 6 )"
has_shape() { h5dump -H -d "$2" "$1" 2>/dev/null | grep -q "DATASPACE  SIMPLE { $3 /"; }
num_classes_is() { h5dump -a /num_classes "$1" 2>/dev/null | grep -q "(0): $2\$"; }
absent() { ! h5dump -H -d "$2" "$1" >/dev/null 2>&1; }
# type_is FILE DATASET TYPE: the dataset's HDF5 type is TYPE (e.g. H5T_STD_U8LE)
type_is() { h5dump -H -d "$2" "$1" 2>/dev/null | grep -q "DATATYPE  $3\$"; }
# attr_line FILE ATTR LINE: h5dump's dump of root attribute ATTR holds LINE (its type or its value)
attr_line() { h5dump -a "$2" "$1" 2>/dev/null | grep -q -x -- " *$3"; }
# deflated FILE DATASET: chunked and deflate-compressed at dsout.c's level 4
deflated() { h5dump -p -H -d "$2" "$1" 2>/dev/null | grep -q "COMPRESSION DEFLATE { LEVEL 4 }"; }

# ---- IDX: train 5 images of 2x3 (gzip), test 3 images (plain) ----
idx_images train-images 5 2 3 0
idx_labels train-labels 3 1 4 1 5
idx_images test-images 3 2 3 100
idx_labels test-labels 9 2 6
gzip -c train-images >train-images.gz
gzip -c train-labels >train-labels.gz

"$CONVERT" idx --train-images train-images.gz --train-labels train-labels.gz --test-images test-images \
    --test-labels test-labels --val 2 --out idx.h5 >convert.out 2>convert.err
rc=$?
check "idx: exit 0" [ $rc -eq 0 ]
check "idx: nothing on stderr" [ ! -s convert.err ]
check "idx: no temporary left" [ ! -e idx.h5.tmp ]
tail -c +17 train-images | head -c 18 >want-train-x
tail -c +17 train-images | tail -c 12 >want-val-x
tail -c +17 test-images >want-test-x
bytes 3 1 4 >want-train-y
bytes 1 5 >want-val-y
bytes 9 2 6 >want-test-y
check "idx: /train/x shape (3, 6)" has_shape idx.h5 /train/x "( 3, 6 )"
check "idx: /val/x shape (2, 6)" has_shape idx.h5 /val/x "( 2, 6 )"
check "idx: /test/x shape (3, 6)" has_shape idx.h5 /test/x "( 3, 6 )"
check "idx: /train/y shape (3)" has_shape idx.h5 /train/y "( 3 )"
check "idx: /train/x values (first rows)" same_bytes idx.h5 /train/x want-train-x
check "idx: /val/x values (last rows)" same_bytes idx.h5 /val/x want-val-x
check "idx: /test/x values" same_bytes idx.h5 /test/x want-test-x
check "idx: /train/y" same_bytes idx.h5 /train/y want-train-y
check "idx: /val/y" same_bytes idx.h5 /val/y want-val-y
check "idx: /test/y" same_bytes idx.h5 /test/y want-test-y
check "idx: x is uint8" sh -c "h5dump -H -d /train/x idx.h5 | grep -q H5T_STD_U8LE"
check "idx: num_classes = 10" num_classes_is idx.h5 10
# Every dataset's type and the root attributes' types and text, not /train/x's alone.
for ds in /train/y /val/y /test/y /val/x /test/x; do
    check "idx: $ds is uint8" type_is idx.h5 $ds H5T_STD_U8LE
done
check "idx: num_classes is int32" attr_line idx.h5 /num_classes "DATATYPE  H5T_STD_I32LE"
check "idx: source names the tool and mode" attr_line idx.h5 /source '(0): "fcnet_convert idx"'
check "idx: /train/x is deflate-compressed" deflated idx.h5 /train/x

"$CONVERT" idx --train-images train-images --train-labels train-labels.gz --test-images test-images \
    --test-labels test-labels --val 0 --out noval.h5 >/dev/null 2>&1
check "idx --val 0: exit 0" [ $? -eq 0 ]
check "idx --val 0: all 5 rows in /train" has_shape noval.h5 /train/x "( 5, 6 )"
check "idx --val 0: no /val" absent noval.h5 /val/x

# ---- IDX header counts above 255: every byte of the big-endian sizes counts ----
# train 260 images of 1x300 (260 = 0x104 labels too), test 1 image; --val 10
{ be32 2051; be32 260; be32 1; be32 300; fill 78000 7; } >big-train-images
{ be32 2049; be32 260; fill 260 3; } >big-train-labels
{ be32 2051; be32 1; be32 1; be32 300; fill 300 9; } >big-test-images
idx_labels big-test-labels 4
"$CONVERT" idx --train-images big-train-images --train-labels big-train-labels --test-images big-test-images \
    --test-labels big-test-labels --val 10 --out big.h5 >/dev/null 2>convert.err
rc=$?
check "idx sizes above 255: exit 0 ($(cat convert.err))" [ $rc -eq 0 ]
check "idx sizes above 255: /train/x shape (250, 300)" has_shape big.h5 /train/x "( 250, 300 )"
check "idx sizes above 255: /val/y shape (10)" has_shape big.h5 /val/y "( 10 )"
check "idx sizes above 255: /test/x shape (1, 300)" has_shape big.h5 /test/x "( 1, 300 )"

# ---- CIFAR-10: batches of 1, 2, 1, 1, 1 records, test batch of 2 ----
mkdir cifar
cifar_record 0 10 >cifar/data_batch_1.bin
{ cifar_record 1 20; cifar_record 2 30; } >cifar/data_batch_2.bin
cifar_record 3 40 >cifar/data_batch_3.bin
cifar_record 4 50 >cifar/data_batch_4.bin
cifar_record 9 60 >cifar/data_batch_5.bin
{ cifar_record 5 70; cifar_record 6 80; } >cifar/test_batch.bin
"$CONVERT" cifar10 --dir cifar --val 1 --out cifar.h5 >/dev/null 2>convert.err
rc=$?
check "cifar10: exit 0" [ $rc -eq 0 ]
check "cifar10: nothing on stderr" [ ! -s convert.err ]
{ for v in 10 20 30 40 50; do cifar_record 0 $v | tail -c 3072; done; } >want-cifar-train
cifar_record 9 60 | tail -c 3072 >want-cifar-val
{ cifar_record 5 70 | tail -c 3072; cifar_record 6 80 | tail -c 3072; } >want-cifar-test
bytes 0 1 2 3 4 >want-cifar-train-y
bytes 5 6 >want-cifar-test-y
check "cifar10: /train/x shape (5, 3072)" has_shape cifar.h5 /train/x "( 5, 3072 )"
check "cifar10: /val/x shape (1, 3072)" has_shape cifar.h5 /val/x "( 1, 3072 )"
check "cifar10: /test/x shape (2, 3072)" has_shape cifar.h5 /test/x "( 2, 3072 )"
check "cifar10: /train/x channel-major values in batch order" same_bytes cifar.h5 /train/x want-cifar-train
check "cifar10: /val/x is the last training record" same_bytes cifar.h5 /val/x want-cifar-val
check "cifar10: /test/x values" same_bytes cifar.h5 /test/x want-cifar-test
check "cifar10: /train/y" same_bytes cifar.h5 /train/y want-cifar-train-y
check "cifar10: /test/y" same_bytes cifar.h5 /test/y want-cifar-test-y
check "cifar10: num_classes = 10" num_classes_is cifar.h5 10
check "cifar10: source names the tool and mode" attr_line cifar.h5 /source '(0): "fcnet_convert cifar10"'

# ---- --help: the usage on stdout and exit 0, also after a mode or among the options ----
# expect_help NAME CONVERT_ARGS...
expect_help() {
    name=$1
    shift
    "$CONVERT" "$@" >help.out 2>help.err
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s help.err ] && grep -q "^usage: fcnet_convert idx" help.out; then
        ok "help: $name"
    else
        not_ok "help: $name: rc=$rc stderr: $(cat help.err)"
    fi
}
expect_help "--help" --help
expect_help "-h" -h
expect_help "idx --help" idx --help
expect_help "cifar10 --help" cifar10 --help
expect_help "cifar10 -h" cifar10 -h
expect_help "idx --val 1 --help" idx --val 1 --help
expect_help "cifar10 --dir cifar --help --out x.h5" cifar10 --dir cifar --help --out x.h5
# fcnet_synth likewise: --help among its options prints its usage, exit 0, and writes nothing
if [ -n "$SYNTH" ]; then
    rc=0
    "$SYNTH" --out synth-help.h5 --train 10 --help >help.out 2>help.err || rc=$?
    if [ $rc -eq 0 ] && [ ! -s help.err ] && grep -q "^usage: fcnet_synth" help.out && [ ! -e synth-help.h5 ]; then
        ok "help: fcnet_synth --out F --train 10 --help"
    else
        not_ok "help: fcnet_synth --out F --train 10 --help: rc=$rc stderr: $(cat help.err)"
    fi
fi
# --help exists for what it prints: a usage lost to a full disk (/dev/full) is exit 1 with one line giving the
# write's reason, as for fcnet_dist --help, not exit 0 (in place of the mode, after it, and among the options)
if [ -w /dev/full ]; then
    # expect_help_lost NAME TOOL ARGS...
    expect_help_lost() {
        name=$1
        tool=$2
        shift 2
        rc=0
        "$tool" "$@" >/dev/full 2>help.err || rc=$?
        want="$(basename "$tool"): cannot write to standard output (No space left on device): the usage is lost"
        if [ $rc -eq 1 ] && [ "$(cat help.err)" = "$want" ]; then
            ok "help lost: $name"
        else
            not_ok "help lost: $name: rc=$rc (expected 1) stderr: $(cat help.err)"
        fi
    }
    expect_help_lost "fcnet_convert --help > /dev/full" "$CONVERT" --help
    expect_help_lost "fcnet_convert idx -h > /dev/full" "$CONVERT" idx -h
    expect_help_lost "fcnet_convert cifar10 --dir cifar --help > /dev/full" "$CONVERT" cifar10 --dir cifar --help
    [ -z "$SYNTH" ] || expect_help_lost "fcnet_synth --train 10 --help > /dev/full" "$SYNTH" --train 10 --help
    # Unbuffered (stdbuf -o0), the usage's write fails inside fputs and the final fflush has nothing left to
    # write and succeeds: only the stream's error flag tells the usage was lost.
    if command -v stdbuf >/dev/null; then
        rc=0
        stdbuf -o0 "$CONVERT" --help >/dev/full 2>help.err || rc=$?
        want="fcnet_convert: cannot write to standard output (No space left on device): the usage is lost"
        if [ $rc -eq 1 ] && [ "$(cat help.err)" = "$want" ]; then
            ok "help lost: stdbuf -o0 fcnet_convert --help > /dev/full"
        else
            not_ok "help lost: stdbuf -o0 fcnet_convert --help > /dev/full: rc=$rc (expected 1) stderr: $(cat help.err)"
        fi
    else
        echo "skip - no stdbuf: a usage lost to an unbuffered write not checked"
    fi
else
    echo "skip - no /dev/full: a usage lost to a write failure not checked"
fi

# ---- malformed input: exit 2, one stderr line naming the file, no output ----
# expect_bad NAME FILE_NAMED_IN_MESSAGE WORD CONVERT_ARGS...
expect_bad() {
    name=$1 named=$2 word=$3
    shift 3
    rm -f bad.h5 bad.h5.tmp
    "$CONVERT" "$@" --out bad.h5 >bad.out 2>bad.err
    rc=$?
    lines=$(wc -l <bad.err)
    if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$named" bad.err && grep -q -- "$word" bad.err &&
        [ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ]; then
        ok "malformed: $name ($(cat bad.err))"
    else
        not_ok "malformed: $name: rc=$rc lines=$lines want '$named' and '$word' in: $(cat bad.err)"
    fi
}
idx_args() { # idx_args TRAIN_IMAGES TRAIN_LABELS: the good test files around the given training files
    echo "idx --train-images $1 --train-labels $2 --test-images test-images --test-labels test-labels --val 1"
}

{ be32 2052; be32 5; be32 2; be32 3; fill 30 1; } >bad-magic-images
expect_bad "bad magic" bad-magic-images "bad magic" $(idx_args bad-magic-images train-labels)
printf 'P5 2 3 255\n%s' "abcdef" >not-idx
expect_bad "not an IDX file" not-idx "bad magic" $(idx_args not-idx train-labels)
expect_bad "labels given as images" train-labels "dimensions" $(idx_args train-labels train-labels)
head -c 30 train-images >truncated-images
expect_bad "truncated images" truncated-images "truncated" $(idx_args truncated-images train-labels)
{ cat train-images; fill 4 0; } >trailing-images
expect_bad "trailing bytes" trailing-images "trailing" $(idx_args trailing-images train-labels)
idx_labels four-labels 3 1 4 1
expect_bad "label count differs from image count" four-labels "5 images" $(idx_args train-images four-labels)
idx_labels two-test-labels 9 2
expect_bad "test label count differs from test image count" two-test-labels "3 images" idx --train-images \
    train-images --train-labels train-labels --test-images test-images --test-labels two-test-labels --val 1
idx_images zero-images 0 2 3 100
idx_labels zero-labels
expect_bad "IDX header with a dimension of 0" zero-images "dimension 0 is 0" idx --train-images train-images \
    --train-labels train-labels --test-images zero-images --test-labels zero-labels --val 1
# Dimensions whose 64-bit product wraps around (3 x 1527845351 x 4024566156 = 2^64 + 70652): a check after each
# multiply let it through and the copy of 4.3 GB of pixels crashed; 70652 data bytes match the wrapped count.
{ be32 2051; be32 3; be32 1527845351; be32 4024566156; fill 70652 1; } >wrapping-images
expect_bad "IDX dimensions whose product wraps around" wrapping-images "too large" $(idx_args wrapping-images train-labels)
idx_labels label-ten 3 1 10 1 5
expect_bad "label out of range" label-ten "out of range" $(idx_args train-images label-ten)
head -c 40 train-images.gz >cut.gz
expect_bad "truncated gzip" cut.gz "gzip" $(idx_args cut.gz train-labels)
# A corrupt download whose bytes inflate but whose CRC-32 trailer does not match: zlib's "incorrect data
# check", with the file named once (zlib's message starts with the path too: it read "F: ...: F: incorrect").
n=$(wc -c <train-labels.gz)
{ head -c $((n - 8)) train-labels.gz; bytes 0 0 0 0; tail -c 4 train-labels.gz; } >crc.gz
expect_bad "gzip CRC mismatch" "crc.gz: corrupt gzip data: incorrect data check" "data check" \
    $(idx_args train-images crc.gz)
check "gzip CRC mismatch: the file named once ($(cat bad.err))" [ "$(grep -o crc.gz bad.err | wc -l)" -eq 1 ]
: >empty-images
expect_bad "empty file" empty-images "truncated" $(idx_args empty-images train-labels)
expect_bad "missing file" no-such-file "cannot open" $(idx_args no-such-file train-labels)
# Only regular files are read: a FIFO blocked the open for good, /dev/zero was read (1 GiB at a time) until
# the 16 GiB bound, a directory read as an empty file. Each must end at once (timeout: a hang is a failure).
mkfifo fifo-images
mkdir dir-images
for special in fifo-images /dev/zero dir-images; do
    rm -f bad.h5 bad.h5.tmp
    rc=0
    timeout 10 "$CONVERT" $(idx_args "$special" train-labels) --out bad.h5 >bad.out 2>bad.err || rc=$?
    want="not a regular file"
    [ "$special" = dir-images ] && want="is a directory"
    if [ $rc -eq 2 ] && [ "$(wc -l <bad.err)" -eq 1 ] && grep -q -- "$special: cannot open: $want" bad.err &&
        [ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ]; then
        ok "malformed: $special as an input ($(cat bad.err))"
    else
        not_ok "malformed: $special as an input: rc=$rc (124: hung) want '$special: cannot open: $want' in: $(cat bad.err)"
    fi
done
idx_images wide-test 3 3 2 100
expect_bad "test image shape differs" wide-test "2x3" idx --train-images train-images \
    --train-labels train-labels --test-images wide-test --test-labels test-labels --val 1
expect_bad "--val leaves no training rows" "--val" "only 5 rows" $(idx_args train-images train-labels) --val 5
expect_bad "--val negative" "--val '-1'" "row count >= 0" $(idx_args train-images train-labels) --val -1
# Beyond 64 bits was read as 2^63 - 1 (and named so); a leading blank was skipped. Both refused, as by fcnet_dist.
expect_bad "--val beyond 64 bits" "--val '99999999999999999999'" "at most 2^63 - 1" \
    $(idx_args train-images train-labels) --val 99999999999999999999
# 2^63 - 1 itself is a row count (refused only against the rows there are, not as beyond 64 bits).
expect_bad "--val 2^63 - 1" "--val" "only 5 rows" $(idx_args train-images train-labels) --val 9223372036854775807
expect_bad "--val with a leading blank" "--val ' 3'" "row count >= 0" $(idx_args train-images train-labels) --val " 3"
expect_bad "--val empty" "--val ''" "row count >= 0" $(idx_args train-images train-labels) --val ''
# More labels than images, not only fewer: the counts must be equal.
idx_labels six-labels 3 1 4 1 5 9
expect_bad "6 labels for 5 images" "six-labels: 6 labels" "train-images has 5 images" \
    $(idx_args train-images six-labels)
# Test images differing from the training images (2x3) in one dimension only: width, then height.
idx_images narrow-test 3 2 2 100
expect_bad "test images narrower" "narrow-test: images are 2x2" "train-images has 2x3" idx --train-images \
    train-images --train-labels train-labels --test-images narrow-test --test-labels test-labels --val 1
idx_images tall-test 3 3 3 100
expect_bad "test images taller" "tall-test: images are 3x3" "train-images has 2x3" idx --train-images \
    train-images --train-labels train-labels --test-images tall-test --test-labels test-labels --val 1
# The magic checked byte by byte: a nonzero second byte, then an element type other than unsigned byte.
{ be32 $((0x00010803)); be32 5; be32 2; be32 3; fill 30 1; } >magic-byte1-images
expect_bad "magic 0x00010803" magic-byte1-images "bad magic 0x00010803: not an IDX file" \
    $(idx_args magic-byte1-images train-labels)
{ be32 $((0x00000D03)); be32 5; be32 2; be32 3; fill 30 1; } >magic-type-images
expect_bad "magic 0x00000d03" magic-type-images "element type 0x0d is not unsigned byte" \
    $(idx_args magic-type-images train-labels)
# A count of 0x01020304 decodes as 16909060 only with each byte at its big-endian weight.
{ be32 2049; be32 16909060; bytes 1 2 3; } >huge-count-labels
expect_bad "labels header promises 16909060" huge-count-labels "promises 16909060 bytes of data, the file has 3" \
    $(idx_args train-images huge-count-labels)
# Magic and two of three dimensions: 12 bytes, short of the 16-byte images header.
{ be32 2051; be32 5; be32 2; } >header-cut-images
expect_bad "images header cut at 12 bytes" header-cut-images "truncated: 12 bytes, the IDX header needs 16" \
    $(idx_args header-cut-images train-labels)
# The range check reaches the last label.
idx_labels last-label-ten 3 1 4 1 10
expect_bad "label 10 at the last index" last-label-ten "label 10 at index 4 out of range" \
    $(idx_args train-images last-label-ten)

mkdir cifar-short cifar-label cifar-missing cifar-empty
for d in cifar-short cifar-label cifar-missing cifar-empty; do cp cifar/*.bin $d/; done
# An empty batch (a failed download) holds no records: an error, not a batch that adds no rows.
: >cifar-empty/data_batch_3.bin
expect_bad "cifar10 empty batch" cifar-empty/data_batch_3.bin "multiple of 3073" cifar10 --dir cifar-empty --val 1
head -c 5000 cifar/data_batch_2.bin >cifar-short/data_batch_2.bin
expect_bad "cifar10 batch not a multiple of 3073 bytes" cifar-short/data_batch_2.bin "multiple of 3073" \
    cifar10 --dir cifar-short --val 1
cifar_record 10 5 >cifar-label/test_batch.bin
expect_bad "cifar10 label 10" cifar-label/test_batch.bin "out of range" cifar10 --dir cifar-label --val 1
rm cifar-missing/data_batch_3.bin
expect_bad "cifar10 missing batch" cifar-missing/data_batch_3.bin "cannot open" cifar10 --dir cifar-missing --val 1

# An existing output survives a failed conversion untouched.
cp idx.h5 keep.h5
"$CONVERT" $(idx_args truncated-images train-labels) --out keep.h5 >/dev/null 2>&1
check "failed conversion keeps an existing output" cmp -s idx.h5 keep.h5

# ---- argument handling: exit 2, one stderr line with the reason, nothing written ----
# expect_usage NAME WORD CONVERT_ARGS...: the arguments exactly as given (the caller places --out bad.h5)
expect_usage() {
    name=$1 word=$2
    shift 2
    rm -f bad.h5 bad.h5.tmp
    "$CONVERT" "$@" >bad.out 2>bad.err
    rc=$?
    lines=$(wc -l <bad.err)
    if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$word" bad.err && [ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ]
    then
        ok "usage: $name ($(head -c 200 bad.err))"
    else
        not_ok "usage: $name: rc=$rc lines=$lines want '$word' in: $(cat bad.err)"
    fi
}
# expect_line NAME LINE TOOL ARGS...: exit 2, nothing on stdout, stderr exactly the one line LINE, no bad.h5
expect_line() {
    name=$1 line=$2
    shift 2
    rm -f bad.h5 bad.h5.tmp
    "$@" >bad.out 2>bad.err
    rc=$?
    printf '%s\n' "$line" >want.err
    if [ $rc -eq 2 ] && [ ! -s bad.out ] && cmp -s bad.err want.err && [ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ]; then
        ok "usage line: $name"
    else
        not_ok "usage line: $name: rc=$rc, want '$line', got: $(cat bad.err)"
    fi
}
expect_usage "no arguments" "missing mode"
expect_usage "mode bogus" "unknown mode 'bogus'" bogus --out bad.h5
expect_usage "--val last, without a value" "--val needs a value" $(idx_args train-images train-labels) --out bad.h5 --val
expect_usage "no --out" "--out is required" $(idx_args train-images train-labels)
# A misspelt flag given last is unknown, not one that "needs a value" (it was named as the latter).
expect_usage "misspelt flag given last" "unknown option '--vall'" $(idx_args train-images train-labels) --out bad.h5 --vall
# A near miss of a flag is named as fcnet_dist names one (at most 2 edits, fewer than the name's length); a far one
# only as unknown.
expect_line "near miss" \
    "fcnet_convert: unknown option '--trian-images' (did you mean --train-images?) (see fcnet_convert --help)" \
    "$CONVERT" idx --trian-images train-images --out bad.h5
expect_line "near miss given last" \
    "fcnet_convert: unknown option '--vall' (did you mean --val?) (see fcnet_convert --help)" \
    "$CONVERT" $(idx_args train-images train-labels) --out bad.h5 --vall
expect_line "far miss: no suggestion" "fcnet_convert: unknown option '--images' (see fcnet_convert --help)" \
    "$CONVERT" idx --images train-images --out bad.h5
# "--flag=value", as fcnet_dist takes it: the value is checked as a separate one is, and a near miss is named by
# its flag alone.
expect_line "--val=x" \
    "fcnet_convert: --val 'x': expected a row count >= 0 (at most 2^63 - 1) (see fcnet_convert --help)" \
    "$CONVERT" $(idx_args train-images train-labels) --out=bad.h5 --val=x
expect_line "near miss with =value" \
    "fcnet_convert: unknown option '--vall=3' (did you mean --val?) (see fcnet_convert --help)" \
    "$CONVERT" $(idx_args train-images train-labels) --out bad.h5 --vall=3
expect_usage "idx with --dir" "--dir belongs to cifar10" $(idx_args train-images train-labels) --dir cifar --out bad.h5
expect_usage "cifar10 with --train-images" "belong to idx" cifar10 --dir cifar --train-images train-images --out bad.h5
# An empty --out made the temporary ".tmp" here (replacing one) and failed only at the rename, exit 1.
echo mine >.tmp
expect_usage "--out ''" "--out '': expected a file name" $(idx_args train-images train-labels) --out ""
check "--out '': a .tmp here untouched" sh -c '[ "$(cat .tmp)" = mine ]'
rm -f .tmp
# An --out naming an input replaced it after reading it, and an input named OUT.tmp was removed as a stale
# temporary: both refused before anything is read (exit 2), the input as it was; a link as --out is replaced.
cp train-labels labels-copy
expect_usage "--out is an input" "--out labels-copy is the input --train-labels labels-copy: it would be replaced" \
    $(idx_args train-images labels-copy) --out labels-copy
check "--out is an input: the input unchanged" cmp -s train-labels labels-copy
ln -s labels-copy labels-link
expect_usage "--out is an input reached through a link" "--out labels-copy is the input --train-labels labels-link" \
    $(idx_args train-images labels-link) --out labels-copy
# The other way round, a link as --out to an input is no input at that name: the link is replaced by the
# dataset, its target (the input) left as it was.
"$CONVERT" $(idx_args train-images labels-copy) --out labels-link >/dev/null 2>out-link.err
rc=$?
check "--out a link to an input: exit 0, the link replaced by the dataset, the input unchanged ($(cat out-link.err))" \
    sh -c "[ $rc -eq 0 ] && [ -f labels-link ] && [ ! -L labels-link ] && h5dump -a /num_classes labels-link >/dev/null && cmp -s train-labels labels-copy"
cp train-labels out.h5.tmp
expect_usage "--out's temporary is an input" "its temporary out.h5.tmp is the input --train-labels out.h5.tmp" \
    $(idx_args train-images out.h5.tmp) --out out.h5
check "--out's temporary is an input: the input kept" cmp -s train-labels out.h5.tmp
cp cifar/test_batch.bin test-batch-copy
expect_usage "--out is a CIFAR batch" "--out cifar/test_batch.bin is the input --dir cifar/test_batch.bin" \
    cifar10 --dir cifar --out cifar/test_batch.bin
check "--out is a CIFAR batch: the batch unchanged" cmp -s cifar/test_batch.bin test-batch-copy
rm -f labels-copy labels-link out.h5.tmp test-batch-copy
# A newline in a value is folded, as in every other message: one line.
expect_usage "--val with a newline: one line" "--val '5 x'" $(idx_args train-images train-labels) --out bad.h5 \
    --val "$(printf '5\nx')"
# An output path of FC_PATH_MAX (4096) characters is refused up front; one of 4095 gets to the create
# (which fails: no name component may be that long), so the limit sits exactly at 4096.
expect_usage "--out of 4096 characters" "output path too long" $(idx_args train-images train-labels) \
    --out "$(fill 4096 120)"
"$CONVERT" $(idx_args train-images train-labels) --out "$(fill 4095 120)" >/dev/null 2>long.err
rc=$?
check "--out of 4095 characters: exit 1, cannot create" sh -c "[ $rc -eq 1 ] && grep -q 'cannot create' long.err"

# ---- the output's temporary and commit ----
tail -c +17 train-images | head -c 24 >want-train4-x
# A stale <out>.tmp (an interrupted run's) is replaced; a symbolic link there is replaced, not followed.
echo stale >stale.h5.tmp
"$CONVERT" $(idx_args train-images train-labels) --out stale.h5 >/dev/null 2>stale.err
rc=$?
check "stale <out>.tmp: exit 0 ($(cat stale.err))" [ $rc -eq 0 ]
check "stale <out>.tmp: the output written, the temporary gone" sh -c \
    '[ ! -e stale.h5.tmp ] && h5dump -d /train/x -b LE -o got-stale.bin stale.h5 >/dev/null && cmp -s got-stale.bin want-train4-x'
echo victim >victim
ln -s victim link.h5.tmp
"$CONVERT" $(idx_args train-images train-labels) --out link.h5 >/dev/null 2>link.err
rc=$?
check "symlink at <out>.tmp: exit 0 ($(cat link.err))" [ $rc -eq 0 ]
check "symlink at <out>.tmp: the output is a file with the data" sh -c \
    '[ -f link.h5 ] && [ ! -L link.h5 ] && h5dump -d /train/x -b LE -o got-link.bin link.h5 >/dev/null && cmp -s got-link.bin want-train4-x'
check "symlink at <out>.tmp: the link's target unchanged, the link gone" sh -c \
    '[ "$(cat victim)" = victim ] && [ ! -e link.h5.tmp ] && [ ! -L link.h5.tmp ]'
# An output name that is a directory: the rename fails (exit 1) naming both, the temporary is removed.
mkdir outdir
"$CONVERT" $(idx_args train-images train-labels) --out outdir >/dev/null 2>dir.err
rc=$?
check "--out a directory: exit 1, one line, cannot rename ($(cat dir.err))" sh -c \
    "[ $rc -eq 1 ] && [ \$(wc -l <dir.err) -eq 1 ] && grep -q 'outdir.tmp: cannot rename to outdir' dir.err"
check "--out a directory: no temporary left, the directory untouched" sh -c \
    '[ ! -e outdir.tmp ] && [ -d outdir ] && [ -z "$(ls -A outdir)" ]'
# An output name that is a FIFO or a device: the rename would replace it (run as root, --out /dev/null replaced
# the device with the dataset), so it is refused before anything is created (exit 1, one line), left as it was.
mkfifo outfifo
"$CONVERT" $(idx_args train-images train-labels) --out outfifo >/dev/null 2>fifo.err
rc=$?
check "--out a FIFO: exit 1, one line, cannot replace ($(cat fifo.err))" sh -c \
    "[ $rc -eq 1 ] && [ \$(wc -l <fifo.err) -eq 1 ] && grep -q 'outfifo: cannot replace: not a regular file' fifo.err"
check "--out a FIFO: still a FIFO, no temporary" sh -c '[ -p outfifo ] && [ ! -e outfifo.tmp ]'
# fsync failing (EIO from tests/fsync_fails.c): exit 1, one line naming the temporary and the sync, and
# neither the output nor the temporary left; the shim without its variable is the real fsync.
if [ -n "$FSYNC_FAILS" ]; then
    FCNET_TEST_FSYNC_FAILS=1 LD_PRELOAD=$FSYNC_FAILS "$CONVERT" $(idx_args train-images train-labels) \
        --out synced.h5 >/dev/null 2>sync.err
    rc=$?
    check "convert, fsync fails: exit 1, names the temporary and the sync ($(cat sync.err))" sh -c \
        "[ $rc -eq 1 ] && [ \$(wc -l <sync.err) -eq 1 ] && grep -q 'synced.h5.tmp: cannot sync: Input/output error' sync.err"
    check "convert, fsync fails: no output, no temporary" sh -c '[ ! -e synced.h5 ] && [ ! -e synced.h5.tmp ]'
    LD_PRELOAD=$FSYNC_FAILS "$CONVERT" $(idx_args train-images train-labels) --out synced.h5 >/dev/null 2>&1
    check "convert under the shim, fsync working: exit 0" [ $? -eq 0 ]
fi

# ---- fcnet_synth ----
if [ -n "$SYNTH" ]; then
    "$SYNTH" --out s1.h5 --train 50 --val 10 --test 20 --features 7 --classes 3 --seed 5 >/dev/null 2>&1
    check "synth: exit 0" [ $? -eq 0 ]
    "$SYNTH" --out s2.h5 --train 50 --val 10 --test 20 --features 7 --classes 3 --seed 5 >/dev/null 2>&1
    "$SYNTH" --out s3.h5 --train 50 --val 10 --test 20 --features 7 --classes 3 --seed 6 >/dev/null 2>&1
    "$SYNTH" --out s4.h5 --train 50 --features 7 --classes 3 --seed 5 --dtype uint8 >/dev/null 2>&1
    check "synth: same seed, same x" sh -c 'h5dump -d /train/x s1.h5 | tail -n +2 >a; h5dump -d /train/x s2.h5 | tail -n +2 >b; [ -s a ] && cmp -s a b'
    check "synth: another seed, other x" sh -c 'h5dump -d /train/x s3.h5 | tail -n +2 >c; ! cmp -s a c'
    check "synth: shapes" sh -c 'h5dump -H -d /train/x s1.h5 | grep -q "( 50, 7 )" && h5dump -H -d /val/x s1.h5 | grep -q "( 10, 7 )" && h5dump -H -d /test/y s1.h5 | grep -q "( 20 )"'
    # Held-out rows are drawn apart from the training rows: the first 10 rows of /val/x and /test/x are not
    # those of /train/x.
    check "synth: val and test rows are their own" sh -c 'rows() { h5dump -y -w 0 -d "$1" -s 0,0 -c 10,7 s1.h5 |
        sed -n "/DATA {/,/}/p" | tail -n +2; }; rows /train/x >t && rows /val/x >v && rows /test/x >u &&
        [ -s t ] && [ -s v ] && [ -s u ] && ! cmp -s t v && ! cmp -s t u && ! cmp -s v u'
    check "synth: float32 x" sh -c 'h5dump -H -d /train/x s1.h5 | grep -q H5T_IEEE_F32LE'
    check "synth: uint8 x, no val or test" sh -c 'h5dump -H -d /train/x s4.h5 | grep -q H5T_STD_U8LE && ! h5dump -H -d /val/x s4.h5 >/dev/null 2>&1'
    check "synth: num_classes = 3" num_classes_is s1.h5 3
    check "synth: every class present" sh -c 'dump() { h5dump -d /train/y -b LE -o y.bin s1.h5 >/dev/null && od -An -tu1 -v y.bin; }; v=$(dump); for c in 0 1 2; do echo " $v " | grep -q " $c " || exit 1; done; ! echo " $v " | grep -q " [3-9] "'
    "$SYNTH" --out s5.h5 --classes 1 >/dev/null 2>synth.err
    rc=$?
    check "synth: --classes 1 is a usage error (exit 2, no file)" sh -c "[ $rc -eq 2 ] && [ ! -e s5.h5 ] && grep -q classes synth.err"
    # --noise 0 (every row a blob centre) is allowed; a negative noise is not.
    "$SYNTH" --out s7.h5 --train 20 --features 3 --noise 0 >/dev/null 2>synth.err
    rc=$?
    check "synth: --noise 0 is allowed (exit 0, a file)" sh -c "[ $rc -eq 0 ] && [ -s s7.h5 ] && [ ! -s synth.err ]"
    "$SYNTH" --out s8.h5 --noise -1 >/dev/null 2>synth.err
    rc=$?
    check "synth: --noise -1 is a usage error (exit 2, no file)" sh -c "[ $rc -eq 2 ] && [ ! -e s8.h5 ] && grep -q -- --noise synth.err"
    # The other ends of the ranges: --val 0 and --test 0 (no such split), 2^20 features, --dtype float32 given.
    "$SYNTH" --out s10.h5 --train 5 --val 0 --test 0 --dtype float32 >/dev/null 2>synth.err
    rc=$?
    check "synth: --val 0 --test 0 --dtype float32 (exit 0, float32 x, no /val or /test)" sh -c "[ $rc -eq 0 ] &&
        [ ! -s synth.err ] && h5dump -H -d /train/x s10.h5 | grep -q H5T_IEEE_F32LE &&
        ! h5dump -H -d /val/x s10.h5 >/dev/null 2>&1 && ! h5dump -H -d /test/x s10.h5 >/dev/null 2>&1"
    "$SYNTH" --out s11.h5 --train 1 --features 1048576 >/dev/null 2>synth.err
    rc=$?
    check "synth: --features 1048576 (2^20) is allowed (exit 0, a file)" sh -c "[ $rc -eq 0 ] && [ ! -s synth.err ] &&
        h5dump -H -d /train/x s11.h5 | grep -q '( 1, 1048576 )'"
    rm -f s11.h5
    # An empty training split is no dataset (the trainer refuses it): --train starts at 1.
    "$SYNTH" --out s6.h5 --train 0 >/dev/null 2>synth.err
    rc=$?
    check "synth: --train 0 is a usage error (exit 2, no file)" sh -c "[ $rc -eq 2 ] && [ ! -e s6.h5 ] && grep -q -- --train synth.err"
    # Seeds strtoull would bend: beyond 2^64 (clamped to 2^64 - 1) and a negative one after a space (wrapped).
    for seed in 18446744073709551616 " -5"; do
        "$SYNTH" --out s9.h5 --train 5 --seed "$seed" >/dev/null 2>synth.err
        rc=$?
        check "synth: --seed '$seed' is a usage error (exit 2, no file)" sh -c "[ $rc -eq 2 ] && [ ! -e s9.h5 ] && grep -q -- --seed synth.err"
    done
    # expect_synth_usage NAME WORD SYNTH_ARGS...: exit 2, one stderr line holding WORD, no s-bad.h5. Under a
    # 4 GB address-space limit, so that a mutant letting a huge split through fails fast.
    expect_synth_usage() {
        name=$1 word=$2
        shift 2
        rm -f s-bad.h5 s-bad.h5.tmp
        (ulimit -v 4000000 && exec "$SYNTH" "$@") >synth.out 2>synth.err
        rc=$?
        lines=$(wc -l <synth.err)
        if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$word" synth.err && [ ! -e s-bad.h5 ] &&
            [ ! -e s-bad.h5.tmp ]; then
            ok "synth usage: $name ($(cat synth.err))"
        else
            not_ok "synth usage: $name: rc=$rc lines=$lines want '$word' in: $(cat synth.err)"
        fi
    }
    expect_synth_usage "--classes 257" "--classes expects an integer in \[2, 256\], got '257'" --out s-bad.h5 --classes 257
    expect_synth_usage "--noise nan" "--noise expects a number >= 0, got 'nan'" --out s-bad.h5 --noise nan
    expect_synth_usage "--noise inf" "--noise expects a number >= 0, got 'inf'" --out s-bad.h5 --noise inf
    # A finite noise whose values overflow float32 would write Inf, which fcnet_dist refuses; uint8 clamps them.
    expect_synth_usage "--noise 1e39" "--noise 1e+39: train row 0 feature [0-9]* would be .*, beyond float32's range" \
        --out s-bad.h5 --noise 1e39
    "$SYNTH" --out s-u8big.h5 --train 10 --noise 1e39 --dtype uint8 >/dev/null 2>synth.err
    rc=$?
    check "synth: --noise 1e39 with --dtype uint8 is clamped (exit 0, a file)" sh -c "[ $rc -eq 0 ] && [ -s s-u8big.h5 ] && [ ! -s synth.err ]"
    expect_synth_usage "--val ''" "--val expects an integer" --out s-bad.h5 --val ''
    expect_synth_usage "--test with a leading blank" "--test expects an integer in \[0, 2147483648\], got ' 4'" \
        --out s-bad.h5 --test " 4"
    expect_synth_usage "--features 0" "--features expects an integer in \[1," --out s-bad.h5 --features 0
    expect_synth_usage "no --out" "missing option '--out'" --train 5
    expect_synth_usage "--out ''" "--out expects a file name, got ''" --out "" --train 5
    expect_synth_usage "--train with a newline: one line" "got '5 x'" --out s-bad.h5 --train "$(printf '5\nx')"
    # The FIFO test above, through fcnet_synth.
    "$SYNTH" --out outfifo --train 5 >/dev/null 2>fifo.err
    rc=$?
    check "synth: --out a FIFO: exit 1, one line, the FIFO kept ($(cat fifo.err))" sh -c \
        "[ $rc -eq 1 ] && [ \$(wc -l <fifo.err) -eq 1 ] && grep -q 'cannot replace' fifo.err && [ -p outfifo ]"
    # A misspelt flag given last is unknown, not one "missing" its value (it was named as the latter).
    expect_synth_usage "misspelt flag given last" "unknown option '--trian'" --out s-bad.h5 --trian
    # A near miss of a flag is named as fcnet_dist names one; a far one (three edits from --seed) only as unknown.
    expect_line "synth near miss" \
        "fcnet_synth: unknown option '--feature' (did you mean --features?) (see fcnet_synth --help)" \
        "$SYNTH" --feature 10 --out bad.h5
    expect_line "synth near miss given last" \
        "fcnet_synth: unknown option '--trian' (did you mean --train?) (see fcnet_synth --help)" \
        "$SYNTH" --out bad.h5 --trian
    # A flag typed with one dash or none is compared without it: two letters short is still near, the dash not
    # counted as a third edit, nor a letter dropped for a dash that is not there.
    expect_line "synth near miss with one dash" \
        "fcnet_synth: unknown option '-featur' (did you mean --features?) (see fcnet_synth --help)" \
        "$SYNTH" -featur 10 --out bad.h5
    expect_line "synth near miss without dashes" \
        "fcnet_synth: unknown option 'featur' (did you mean --features?) (see fcnet_synth --help)" \
        "$SYNTH" featur 10 --out bad.h5
    expect_line "synth far miss: no suggestion" "fcnet_synth: unknown option '--seedxyz' (see fcnet_synth --help)" \
        "$SYNTH" --out bad.h5 --seedxyz 1
    # "--flag=value" writes what "--flag value" writes, byte for byte; "--out=" is an empty file name.
    rm -f eq.h5 spaced.h5
    "$SYNTH" --out=eq.h5 --train=10 --features=3 --seed=5 --dtype=float32 >eq.out 2>&1
    rc=$?
    "$SYNTH" --out spaced.h5 --train 10 --features 3 --seed 5 --dtype float32 >spaced.out 2>&1
    check "synth --flag=value: exit 0, the same file as --flag value (exit $rc: $(head -c 200 eq.out))" sh -c \
        "[ $rc -eq 0 ] && cmp -s eq.h5 spaced.h5"
    # The same command a second later writes the same bytes: no object carries a modification time (HDF5 stores
    # one by default, which made the check above fail whenever its two runs fell on either side of a second).
    sleep 1.1
    "$SYNTH" --out later.h5 --train 10 --features 3 --seed 5 --dtype float32 >/dev/null 2>&1
    check "synth: the same command a second later writes the same bytes" cmp -s later.h5 spaced.h5
    expect_line "synth --out=" "fcnet_synth: --out expects a file name, got '' (see fcnet_synth --help)" \
        "$SYNTH" --out= --train 5
    # 2^31 rows are allowed, but 2^31 x 2 features are more than a split may hold.
    expect_synth_usage "--train 2147483648 --features 2" "too large.*'--features'" --out s-bad.h5 \
        --train 2147483648 --features 2
    # Stopped by a signal while it writes (a batch system's SIGTERM, a hangup), fcnet_synth dies of it as before and
    # takes its <out>.tmp along: left behind, a large set's temporary held gigabytes until the next run on that --out.
    # (Not SIGINT: a background job of a script starts with it ignored, which the program keeps.)
    for sig_num in TERM:15 HUP:1; do
        sig=${sig_num%:*}
        rm -f stop.h5 stop.h5.tmp
        "$SYNTH" --out stop.h5 --train 400000 --features 20 >/dev/null 2>&1 &
        pid=$!
        n=0
        while [ ! -e stop.h5.tmp ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
        kill -$sig $pid
        wait $pid
        rc=$?
        want=$((128 + ${sig_num#*:}))
        check "synth: SIG$sig while writing: died of it ($rc, want $want), no stop.h5 or stop.h5.tmp left" sh -c \
            "[ $rc -eq $want ] && [ ! -e stop.h5 ] && [ ! -e stop.h5.tmp ]"
    done
    # The same signal at the moment OUT.tmp is created (inside HDF5's create call, raised by signal_on_create): the
    # kill above lands there only by chance, and there the file already existed without a handler to remove it.
    if [ -n "$SIGNAL_ON_CREATE" ]; then
        for sig_num in TERM:15 HUP:1; do
            sig=${sig_num%:*}
            rm -f stop.h5 stop.h5.tmp
            rc=0
            FCNET_TEST_SIGNAL_ON_CREATE=${sig_num#*:} LD_PRELOAD=$SIGNAL_ON_CREATE "$SYNTH" --out stop.h5 --train 10 \
                >/dev/null 2>&1 || rc=$?
            want=$((128 + ${sig_num#*:}))
            check "synth: SIG$sig as OUT.tmp is created: died of it ($rc, want $want), no stop.h5 or stop.h5.tmp left" \
                sh -c "[ $rc -eq $want ] && [ ! -e stop.h5 ] && [ ! -e stop.h5.tmp ]"
        done
    fi
    # A hangup the program was started ignoring (nohup) stays ignored: the output is written whole.
    rm -f stop.h5 stop.h5.tmp
    (trap '' HUP; exec "$SYNTH" --out stop.h5 --train 400000 --features 20 >/dev/null 2>&1) &
    pid=$!
    n=0
    while [ ! -e stop.h5.tmp ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
    kill -HUP $pid
    wait $pid
    rc=$?
    check "synth: SIGHUP ignored from the start: exit 0 ($rc), stop.h5 written, no stop.h5.tmp" sh -c \
        "[ $rc -eq 0 ] && [ -f stop.h5 ] && [ ! -e stop.h5.tmp ]"
    rm -f stop.h5

    # Output types and the root attributes' text.
    for ds in /train/y /val/y /test/y; do
        check "synth: $ds is uint8" type_is s1.h5 $ds H5T_STD_U8LE
    done
    check "synth: num_classes is int32" attr_line s1.h5 /num_classes "DATATYPE  H5T_STD_I32LE"
    check "synth: source records the settings" attr_line s1.h5 /source \
        '(0): "fcnet_synth seed=5 features=7 classes=3 noise=1 dtype=float32"'
    check "synth: /train/x is deflate-compressed" deflated s1.h5 /train/x
    # A row of 70000 float32 features is over the 256 KiB chunk target: a chunk still holds one whole row.
    "$SYNTH" --out wide.h5 --train 2 --features 70000 >/dev/null 2>synth.err
    rc=$?
    check "synth: 70000 features: exit 0 ($(cat synth.err))" [ $rc -eq 0 ]
    check "synth: 70000 features: shape (2, 70000)" has_shape wide.h5 /train/x "( 2, 70000 )"

    # Stale file and symbolic link at <out>.tmp, as for fcnet_convert: replaced, not followed.
    echo stale >s-stale.h5.tmp
    echo victim >s-victim
    ln -s s-victim s-link.h5.tmp
    for out in s-stale.h5 s-link.h5; do
        "$SYNTH" --out $out --train 50 --val 10 --test 20 --features 7 --classes 3 --seed 5 >/dev/null 2>synth.err
        rc=$?
        check "synth, $out.tmp present: exit 0 ($(cat synth.err))" [ $rc -eq 0 ]
        check "synth, $out.tmp present: the output a file with s1.h5's values, no temporary" sh -c \
            "[ -f $out ] && [ ! -L $out ] && [ ! -e $out.tmp ] && [ ! -L $out.tmp ] &&
             h5dump -d /train/x $out | tail -n +2 >st && cmp -s a st"
    done
    check "synth: the link's target unchanged" [ "$(cat s-victim)" = victim ]

    if [ -n "$FSYNC_FAILS" ]; then
        FCNET_TEST_FSYNC_FAILS=1 LD_PRELOAD=$FSYNC_FAILS "$SYNTH" --out s-sync.h5 --train 5 >/dev/null 2>sync.err
        rc=$?
        check "synth, fsync fails: exit 1, names the temporary and the sync ($(cat sync.err))" sh -c \
            "[ $rc -eq 1 ] && [ \$(wc -l <sync.err) -eq 1 ] && grep -q 's-sync.h5.tmp: cannot sync: Input/output error' sync.err"
        check "synth, fsync fails: no output, no temporary" sh -c '[ ! -e s-sync.h5 ] && [ ! -e s-sync.h5.tmp ]'
    fi

    # Values: every dataset of two commands against tests/ref/synth_fixture.h5, written by an independent
    # numpy reference (tests/ref/make_synth_fixture.py); y and uint8 x bitwise, float32 x within rounding.
    if [ -n "$H5CMP" ] && [ -n "$SYNTH_FIXTURE" ]; then
        cmd="--train 50 --val 10 --test 20 --features 7 --classes 3 --seed 5"
        "$SYNTH" --out fx-f32.h5 $cmd >/dev/null 2>&1
        check "synth fixture f32: exit 0" [ $? -eq 0 ]
        "$SYNTH" --out fx-u8.h5 $cmd --dtype uint8 --noise 3 >/dev/null 2>&1
        check "synth fixture u8: exit 0" [ $? -eq 0 ]
        check "synth fixture u8: source records the settings" attr_line fx-u8.h5 /source \
            '(0): "fcnet_synth seed=5 features=7 classes=3 noise=3 dtype=uint8"'
        for g in f32 u8; do
            # The fixture keeps each command's splits under /f32 or /u8: copy ours to the same names.
            rm -f fx-$g-got.h5
            for s in train val test; do h5copy -p -i fx-$g.h5 -o fx-$g-got.h5 -s /$s -d /$g/$s; done
            for s in train val test; do
                check "synth fixture $g: /$s/y bitwise" "$H5CMP" fx-$g-got.h5 "$SYNTH_FIXTURE" /$g/$s/y
                if [ $g = u8 ]; then
                    check "synth fixture u8: /$s/x bitwise" "$H5CMP" fx-$g-got.h5 "$SYNTH_FIXTURE" /$g/$s/x
                else
                    check "synth fixture f32: /$s/x within float32 rounding" "$H5CMP" --rtol 1e-6 --atol 1e-7 \
                        fx-$g-got.h5 "$SYNTH_FIXTURE" /$g/$s/x
                fi
            done
        done
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
