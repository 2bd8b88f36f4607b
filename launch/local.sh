#!/usr/bin/env bash
# Runs fcnet_dist on this machine under mpirun: one rank per physical core, one OpenBLAS thread per
# rank (data parallelism beats BLAS threads on these nets), and the flags Open MPI needs as root.
#
#   launch/local.sh [fcnet_dist arguments...]
#   launch/local.sh --data datasets/fashion-mnist.h5 --hidden 512,256 --norm batchnorm --optim adam --out runs/x
#   launch/local.sh --resume runs/x/checkpoint.h5 --out runs/x --epochs 20     # continue a run
#   launch/local.sh eval --checkpoint runs/x/checkpoint.h5 --data datasets/fashion-mnist.h5
#
# Environment:
#   FCNET_RANKS        number of ranks (default: physical cores available to this process; with a host list
#                      in FCNET_MPIRUN_ARGS and Open MPI's mpirun, every slot it gives, as mpirun counts them)
#   FCNET_BUILD_DIR    build directory holding fcnet_dist (default: build/; built there when missing)
#   FCNET_MPIRUN_ARGS  extra mpirun arguments, e.g. "--hostfile hosts" for several machines
#   FCNET_RANK_WRAPPER 0: mpirun starts fcnet_dist itself, without the small bash per rank that reports a rank's
#                      death by a signal (below; for tools that take the ranks' PIDs from mpirun, such as
#                      parallel debuggers); default 1
#   OPENBLAS_NUM_THREADS  kept when set; otherwise 1
# The exit status is fcnet_dist's (0 success, 2 usage/config/data error, 3 training diverged, 1 other failure);
# 2 also when mpirun cannot start the ranks at all (its reason is printed).
set -euo pipefail
# A stop signal (pbs.sh's, a preemption's) before mpirun runs the ranks ends the launch: nothing has started,
# so nothing is lost. Acted on once a running build is done, and at once during the start-up check below.
stop_signal=""
trap 'stop_signal=USR1' USR1
trap 'stop_signal=TERM' TERM
stop_before_start() {
    [ -z "$stop_signal" ] && return 0
    echo "local.sh: SIG$stop_signal before the ranks started; nothing to save, not started" >&2
    exit 0
}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FCNET_BUILD_DIR:-$root/build}
exe=$build/fcnet_dist

if [ ! -x "$exe" ]; then
    echo "local.sh: $exe missing; building it (cmake, Release) into $build" >&2
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" --target fcnet_dist -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
fi

# Physical cores this process may use: logical CPUs in our affinity mask, counted once per core.
count_cores() {
    local cpus cores allowed
    cpus=$(nproc 2>/dev/null || echo 1)
    if command -v lscpu >/dev/null 2>&1; then
        # The affinity mask as a list ("0-3,8-11", from /proc), so that only its CPUs' cores are counted: a
        # mask of both hyperthreads of 2 cores on a 16-core machine is 2 cores, not min(16 cores, 4 CPUs).
        allowed=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status 2>/dev/null) || allowed=""
        cores=$(lscpu -p=CPU,CORE,SOCKET 2>/dev/null | awk -F, -v allowed="$allowed" '
            BEGIN { n = split(allowed, part, ","); for (i = 1; i <= n; i++) {
                        if (split(part[i], r, "-") == 1) r[2] = r[1]
                        for (c = r[1] + 0; c <= r[2] + 0; c++) ok[c] = 1 } }
            /^#/ { next }
            allowed == "" || ($1 + 0) in ok { if (!seen[$2 "," $3]++) count++ }
            END { print count + 0 }')
        # Hyperthreads share a core's FPU: one rank per core. Never more than the affinity allows.
        if [ "${cores:-0}" -gt 0 ] && [ "$cores" -lt "$cpus" ]; then
            cpus=$cores
        fi
    fi
    echo "$cpus"
}
# A host list (--hostfile, --host, ...) in FCNET_MPIRUN_ARGS: without FCNET_RANKS Open MPI starts one rank per
# slot of it (this machine's core count said nothing about the hosts: 2 ranks on node1 of a 2 x 16-slot hostfile).
host_list=0
[[ " ${FCNET_MPIRUN_ARGS:-} " =~ \ (--?hostfile|--?machinefile|--?default-hostfile|--?host|-H)[\ =] ]] && host_list=1
ompi=0
mpirun --version 2>/dev/null | grep -q "Open MPI" && ompi=1
if [ -z "${FCNET_RANKS:-}" ] && [ $host_list = 1 ] && [ $ompi = 1 ]; then
    ranks=""
else
    ranks=${FCNET_RANKS:-$(count_cores)}
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# Checked here: mpirun takes -n 0 as "all slots", -n -1 or abc fails without a word, and 100000 local ranks
# hang in its start-up. One machine gets at most 16 ranks per CPU; more needs FCNET_MPIRUN_ARGS (a hostfile).
positive_int() { [[ $1 =~ ^[1-9][0-9]{0,6}$ ]]; }
if [ -n "$ranks" ] && ! positive_int "$ranks"; then
    echo "local.sh: FCNET_RANKS='$ranks': not a positive whole number of ranks" >&2
    exit 2
fi
if [ -z "${FCNET_MPIRUN_ARGS:-}" ] && [ "$ranks" -gt $((16 * $(nproc 2>/dev/null || echo 1))) ]; then
    echo "local.sh: FCNET_RANKS=$ranks: more than 16 ranks per CPU of this machine; for several machines give" \
        "FCNET_MPIRUN_ARGS=\"--hostfile FILE\"" >&2
    exit 2
fi
rank_wrapper=${FCNET_RANK_WRAPPER:-1}
if [ "$rank_wrapper" != 0 ] && [ "$rank_wrapper" != 1 ]; then
    echo "local.sh: FCNET_RANK_WRAPPER='$rank_wrapper': expected 0 or 1" >&2
    exit 2
fi
if ! positive_int "$OPENBLAS_NUM_THREADS"; then
    echo "local.sh: OPENBLAS_NUM_THREADS='$OPENBLAS_NUM_THREADS': not a positive whole number of threads" >&2
    exit 2
fi

mpirun_args=()
[ -z "$ranks" ] || mpirun_args=(-n "$ranks")
quiet=()
if [ $ompi = 1 ]; then
    # Open MPI refuses to start as root without both variables; more ranks than cores need
    # --oversubscribe; --bind-to none leaves placement to the kernel (it copes better when the
    # machine is shared than ranks pinned to busy cores). -x passes the BLAS setting to remote hosts.
    if [ "$(id -u)" -eq 0 ]; then
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
    # -q: a refused run ends with fcnet's one error line, without Open MPI's banner about the exit code.
    quiet=(-q)
    mpirun_args+=(--bind-to none -x OPENBLAS_NUM_THREADS)
    # Every other OPENBLAS_* setting too (OPENBLAS_CORETYPE picks the kernels): ranks on other hosts
    # (FCNET_MPIRUN_ARGS="--hostfile ...") must compute with the same ones.
    for v in ${!OPENBLAS_@}; do
        [ "$v" = OPENBLAS_NUM_THREADS ] || mpirun_args+=(-x "$v")
    done
    # Only on this machine: with a host list, more ranks than its slots is a mistake mpirun must report
    # (the check below shows it), not a reason to overload the hosts.
    if [ $host_list = 0 ] && [ "$ranks" -gt "$(nproc 2>/dev/null || echo 1)" ]; then
        mpirun_args+=(--oversubscribe)
    fi
fi
# shellcheck disable=SC2206  # FCNET_MPIRUN_ARGS is a word list on purpose
[ -n "${FCNET_MPIRUN_ARGS:-}" ] && mpirun_args+=($FCNET_MPIRUN_ARGS)

# -q also keeps mpirun's own failures to itself: a missing hostfile, too few slots, a host it cannot reach
# or one without the program end with exit 1, 132 or 255 and not a word. So first start the program with
# --version, without -q: it needs no MPI_Init (a tenth of a second on one machine) and any such failure shows
# in mpirun's words. In the background, so that a stop signal is acted on at once (wait returns early).
stop_before_start
check_err=$(mktemp "${TMPDIR:-/tmp}/fcnet-local-check.XXXXXX")
mpirun "${mpirun_args[@]}" "$exe" --version >/dev/null 2>"$check_err" &
check_pid=$!
check_rc=0
while :; do
    wait "$check_pid" && check_rc=0 || check_rc=$?
    if [ -n "$stop_signal" ]; then
        kill "$check_pid" 2>/dev/null || true
        rm -f "$check_err"
        stop_before_start
    fi
    kill -0 "$check_pid" 2>/dev/null || break
done
check=$(cat "$check_err")
rm -f "$check_err"
# The program's own words (an older build without --version) mean mpirun did start it.
if [ "$check_rc" -ne 0 ] && ! grep -q "^fcnet_dist" <<<"$check"; then
    # The message without Open MPI's rules and blank lines, at most 12 lines of it.
    words=$(grep -v -e '^-*$' -e '^[[:space:]]*$' <<<"$check" | head -12 | sed 's/^/  /') || true
    how_many=$ranks
    [ -n "$how_many" ] || how_many="the host list's"
    echo "local.sh: mpirun could not start $how_many rank(s) of $exe (exit $check_rc; mpirun ${mpirun_args[*]}):" >&2
    echo "${words:-  (mpirun said nothing)}" >&2
    exit 2
fi

# -q also keeps to itself why the job ended when a rank died of a signal fcnet_dist cannot catch (the OOM killer's
# SIGKILL, a SIGSEGV): mpirun exits 128+N and not a word, and no Open MPI setting keeps that one report while -q
# hides the rest. So with Open MPI each rank is fcnet_dist run by a small bash that says so, on stderr, and then
# exits as fcnet_dist did (mpirun's status stays 128+N). mpirun stays this process (exec), so every signal reaches
# it as before. Open MPI signals a rank's whole process group, this bash and fcnet_dist alike: a signal that this
# bash got too (SIGUSR2 or SIGTERM through mpirun, a batch system's to every process, mpirun's SIGKILL) is not
# reported; one aimed at fcnet_dist alone (the OOM killer's, a kill -9 of its PID, a crash) is. bash's own
# "Killed" line about its child goes nowhere (its stderr is closed meanwhile). Checkpoints are written aside and
# renamed into place, so the last one stays whole whenever a rank dies.
# shellcheck disable=SC2016  # the rank's bash expands these
rank='got=""
for s in HUP INT QUIT TERM USR1 USR2 ALRM PIPE; do trap "got+=\" $s\"" "$s"; done
exec 3>&2 2>&-
"$@" 2>&3 3>&-
rc=$?
exec 2>&3 3>&-
if [ "$rc" -gt 128 ] && [ "$rc" -lt 192 ]; then
    name=$(kill -l $((rc - 128)) 2>/dev/null) || name=""
    case " $got " in
    *" ${name:-?} "*) ;;
    *)
        why=""
        [ "$name" = KILL ] && why=": the kernel'"'"'s OOM killer sends it when memory runs out, see dmesg there; so does kill -9"
        echo "local.sh: rank ${OMPI_COMM_WORLD_RANK:-?} of fcnet_dist (on $HOSTNAME) died of signal $((rc - 128))" \
            "(SIG${name:-?}$why); mpirun ends the job (exit $rc); the last checkpoint in --out, if one was written, is intact" >&2
        ;;
    esac
fi
exit "$rc"'
launch=("$exe" "$@")
# -p: a non-interactive bash sources $BASH_ENV first (a cluster's module setup exports it: Lmod does), which would
# run once per rank between mpirun and fcnet_dist and print into the training log; -p skips it (and SHELLOPTS from
# the environment) and leaves the environment fcnet_dist gets as it was.
[ $ompi = 1 ] && [ "$rank_wrapper" = 1 ] && launch=(bash -p -c "$rank" fcnet_dist_rank "$exe" "$@")
stop_before_start
trap - USR1 TERM
exec mpirun ${quiet[@]+"${quiet[@]}"} "${mpirun_args[@]}" "${launch[@]}"
