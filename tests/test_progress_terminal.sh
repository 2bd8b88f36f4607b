#!/bin/bash
# --progress auto end to end: fcnet_dist started without mpirun (a singleton) on a terminal draws the live
# bar; started by mpirun on the same terminal it prints lines (every rank's stdout is a pty there, even
# when the job's output goes to a file); on a pipe it prints lines. The terminal is script(1)'s.
# usage: test_progress_terminal.sh FCNET_SYNTH [MPIEXEC]   (FCNET_DIST in the environment)
set -euo pipefail
SYNTH=${1:?usage: test_progress_terminal.sh FCNET_SYNTH [MPIEXEC]}
MPIEXEC=${2:-mpirun}
DIST=${FCNET_DIST:?FCNET_DIST must name the fcnet_dist binary}
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
if ! command -v script >/dev/null 2>&1; then
    echo "skipped: script(1) is not installed (util-linux)"
    exit 77
fi
tap_scratch progress_terminal
"$SYNTH" --out s.h5 --train 600 --features 10 --classes 3 >/dev/null
args="--data s.h5 --hidden 8 --epochs 1 --batch-size 50 --print-every 4" # one string: script -c takes a command line

bar_drawn() { grep -q $'\repoch 1/1 \[' "$1"; }
lines_printed() { grep -q '^(step 4 / 11) epoch 1 loss' "$1"; } # 540 training rows, 60 validation
# Singleton and mpirun start with no launcher variables of their own: the caller's are removed.
clean=(env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK)

"${clean[@]}" script -qec "$DIST train $args --out single" single.txt >/dev/null
if bar_drawn single.txt && ! lines_printed single.txt; then ok "a singleton on a terminal draws the bar"
else not_ok "a singleton on a terminal draws the bar"; cat -A single.txt | head; fi

"${clean[@]}" script -qec "$MPIEXEC -n 1 --oversubscribe $DIST train $args --out launched" launched.txt >/dev/null
if lines_printed launched.txt && ! bar_drawn launched.txt; then ok "under mpirun on a terminal: lines"
else not_ok "under mpirun on a terminal: lines"; cat -A launched.txt | head; fi

# shellcheck disable=SC2086 # the same words as the command lines above
"${clean[@]}" "$DIST" train $args --out piped | cat >piped.txt
if lines_printed piped.txt && ! bar_drawn piped.txt; then ok "a singleton on a pipe: lines"
else not_ok "a singleton on a pipe: lines"; cat -A piped.txt | head; fi

tap_end "$t0"
