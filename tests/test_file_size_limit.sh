#!/usr/bin/env bash
# shellcheck disable=SC2054 # "--hidden 1000,1000": the commas belong to the value, not array syntax
# A file size limit (ulimit -f, RLIMIT_FSIZE: a batch system's, or a user's guard) below what a program writes. A
# write past it raised SIGXFSZ, whose default action ended the process without a word (exit 153): fcnet_dist died
# in its room check before training, or in a later save leaving its temporary file, and fcnet_synth left
# OUT.tmp behind. Now each write fails with EFBIG and is reported like a full disk, naming the limit:
#  1. a fresh 2-rank run whose first checkpoint (~16 MB) is larger than the limit: refused before training, exit 2,
#     one line naming --out and ulimit -f, no --out directory left;
#  2. a resume whose checkpoint passes the room check under the limit but does not fit when saved: exit 1, one line
#     naming the checkpoint and ulimit -f, the checkpoint before unchanged (it evaluates), no temporary file;
#  3. fcnet_synth writing a set larger than the limit: exit 1, one line naming ulimit -f, no output, no .tmp.
# Open MPI backs shared-memory windows with files in /dev/shm, whose ftruncate failed the same way (SIGXFSZ; with it
# ignored, MPI aborted the job in MPI_Win_allocate_shared): the room check weighs the limit as it weighs /dev/shm.
#  4. a 3-rank sgd run whose checkpoint (8 MB) fits under the limit and whose shared-memory exchange (17 MB) does
#     not: one warning naming ulimit -f, the run trains over MPI messages;
#  5. a 2-rank run on a 6 MB dataset under a 5 MB limit: one warning naming ulimit -f, every rank its own copy.
# (Open MPI's own start needs files of about 4 MB, so the limits of the fcnet_dist cases stay above that.)
#   tests/test_file_size_limit.sh FCNET_SYNTH H5CMP [MPIEXEC]       (FCNET_DIST from the environment)
set -uo pipefail
# shellcheck source=tests/ckpt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh" "$@"
N=2
hard=$(ulimit -Hf)
if [ "$hard" != unlimited ]; then
    echo "skipped: a hard ulimit -f of $hard blocks; the cases need to set their own"
    cd / && rm -rf "$W"
    exit 77
fi
"$SYNTH" --out s.h5 --train 400 --val 50 --features 20 --classes 5 --seed 5 >/dev/null || exit 1
# 20-1000-1000-5 with adam: 1,026,005 parameters, x4 (values, two slots, the best copy) x 4 bytes = 16.4 MB.
NET=(--data "$W/s.h5" --hidden 1000,1000 --optim adam --batch-size 100)

# limited KB WHAT ARG...: ARG... under ulimit -f KB (1 KB blocks in bash), killed after 120 s; output in WHAT.out
# and WHAT.err, the exit status in rc.
limited() {
    local kb=$1 what=$2
    shift 2
    (ulimit -f "$kb" && exec timeout -s KILL 120 "$@") >"$what.out" 2>"$what.err"
    rc=$?
}

# ---- 1. the first checkpoint is larger than the limit ----
limited 8000 fresh "$MPIEXEC" "${MPI_FLAGS[@]}" -n $N "$FCNET_DIST" train "${NET[@]}" --epochs 1 --out "$W/big/run"
expect_error "fresh run, checkpoint larger than ulimit -f" 2 fresh.out fresh.err "$rc" \
    "--out: no room in '$W/big/run'" "File too large (this process's file size limit, ulimit -f, is 7.81 MiB)"
if [ -e "$W/big" ]; then fail "fresh run: $W/big left behind"; else pass "fresh run: no $W/big"; fi

# ---- 2. a save that passes the room check and then does not fit ----
# The room a run asks for is at least 90% of the checkpoint's real size, not above it (test_ckpt): a limit between the
# two (16.4 and 17.2 MB) lets the resume start and fails its save for real.
must_run $N one.log train "${NET[@]}" --epochs 1 --out "$W/run" || finish
cp "$W/run/checkpoint.h5" before.h5
limited 16400 later "$MPIEXEC" "${MPI_FLAGS[@]}" -n $N "$FCNET_DIST" train --resume "$W/run/checkpoint.h5" --epochs 2 \
    --out "$W/run"
expect_error "resumed run's checkpoint larger than ulimit -f" 1 later.out later.err "$rc" \
    "cannot write checkpoint $W/run/checkpoint.h5" \
    "File too large (this process's file size limit, ulimit -f, is 16.0 MiB)"
if cmp -s before.h5 "$W/run/checkpoint.h5" &&
    "$FCNET_DIST" eval --checkpoint "$W/run/checkpoint.h5" --data "$W/s.h5" --split val >later.eval 2>&1; then
    pass "resumed run's checkpoint larger than ulimit -f: the one before unchanged, and it evaluates"
else
    fail "resumed run's checkpoint larger than ulimit -f: checkpoint.h5 changed, or eval failed: $(tail -2 later.eval)"
fi
left=$(cd "$W/run" && find . -mindepth 1 | sed 's|^\./||' | sort | tr '\n' ' ')
if [ "$left" = ".fcnet-lock checkpoint.h5 " ]; then pass "resumed run: no temporary file"; else
    fail "resumed run: --out holds '$left'"
fi

# ---- 4. the shared-memory exchange's file larger than the limit ----
limited 12000 exchange "$MPIEXEC" "${MPI_FLAGS[@]}" -n 3 "$FCNET_DIST" train --data "$W/s.h5" --hidden 1000,1000 \
    --optim sgd --batch-size 99 --epochs 1 --out "$W/exchange"
warnings=$(grep -c "warning" exchange.out exchange.err | awk -F: '{ n += $2 } END { print n }')
if [ "$rc" = 0 ] && [ "$warnings" = 1 ] && [ -f "$W/exchange/checkpoint.h5" ] &&
    grep -q "file size limit (ulimit -f) allows a shared-memory file of 10.7 MiB and the shared-memory exchange \
needs 16.0 MiB: exchanging with MPI messages instead" exchange.out exchange.err; then
    pass "exchange larger than ulimit -f: trained over messages, one warning"
else
    fail "exchange larger than ulimit -f: exit $rc, $warnings warning(s): $(grep -h -m2 . exchange.err)"
fi

# ---- 5. the node's one copy of the data larger than the limit ----
"$SYNTH" --out big-data.h5 --train 30000 --val 100 --features 50 --classes 5 >/dev/null || exit 1
limited 5000 data "$MPIEXEC" "${MPI_FLAGS[@]}" -n $N "$FCNET_DIST" train --data "$W/big-data.h5" --hidden 20 \
    --epochs 1 --out "$W/data"
if [ "$rc" = 0 ] && [ -f "$W/data/checkpoint.h5" ] && grep -q "file size limit (ulimit -f) allows a shared-memory \
file of 3.88 MiB and one copy of $W/big-data.h5 for this node needs 5.86 MiB: every rank reads its own copy" data.out \
    data.err; then
    pass "data copy larger than ulimit -f: trained on private copies, one warning"
else
    fail "data copy larger than ulimit -f: exit $rc: $(grep -h -m2 . data.err)"
fi

# ---- 3. fcnet_synth ----
limited 100 synth "$SYNTH" --out "$W/big.h5" --train 20000 --features 50
expect_error "fcnet_synth, set larger than ulimit -f" 1 synth.out synth.err "$rc" "$W/big.h5.tmp" \
    "File too large (this process's file size limit, ulimit -f, is 100 KiB)"
if ls "$W"/big.h5* >/dev/null 2>&1; then fail "fcnet_synth: left $(ls "$W"/big.h5*)"; else
    pass "fcnet_synth: no output, no .tmp"
fi

finish
