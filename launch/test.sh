#!/usr/bin/env bash
# README command 2: from a fresh clone, install what is missing, build every variant the suite needs,
# run the whole suite through ctest. The exit status is the result.
#   launch/test.sh [ctest arguments...]      e.g. launch/test.sh -R sync_bn
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=launch/deps.sh
source "$root/launch/deps.sh"
fcnet_install_deps test
# shellcheck disable=SC2086
fcnet_try_install_deps $fcnet_packages_test_optional

build=${FCNET_BUILD_DIR:-$root/build}
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
jobs=$(nproc 2>/dev/null || echo 2)

echo "== configure ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFCNET_WERROR=$werror -DFCNET_TESTS=ON >/dev/null
echo "== build"
cmake --build "$build" -j "$jobs"

# The sanitizer build runs the tests labelled 'sanitize' (bad input, faults, the exchange) under ASan+UBSan,
# in a whole-suite run only: with ctest arguments (a selection) it is neither built nor run.
asan=${FCNET_ASAN_BUILD_DIR:-$root/build-asan}
# Its tests run only when built here: a build-asan/ left by an earlier run holds binaries of older sources.
asan_built=0
if [ $# -eq 0 ] && [ -n "$(grep -rl 'LABELS sanitize' "$root/tests" 2>/dev/null || true)" ] &&
    [ "${FCNET_SKIP_ASAN:-0}" != 1 ]; then
    echo "== configure + build sanitizer variant ($asan)"
    cmake -S "$root" -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DFCNET_SANITIZE=ON -DFCNET_WERROR=$werror >/dev/null
    cmake --build "$asan" -j "$jobs"
    asan_built=1
fi

# failed_checks DIR: after a failed ctest run in DIR, the lines of each failed test's output that say what failed
# (`not ok`, `FAIL`, a Check failure `file:line:F:`, a sanitizer's report), each with up to 5 of the indented lines
# the tests print under a failure (the stderr it got, a diff), at most 30 lines per test, cut to 300 characters:
# the full outputs stand far above, among the other tests' lines, and a log shown by its ends omits them.
failed_checks() {
    local failed=$1/Testing/Temporary/LastTestsFailed.log log=$1/Testing/Temporary/LastTest.log name lines
    [ -s "$failed" ] && [ -f "$log" ] || return 0
    echo "== failed checks ($1)"
    while IFS=: read -r _ name; do
        lines=$(awk -v t="$name" '$0 ~ "^[0-9]+/[0-9]+ Test: " t "$" { on = 1; next } /^<end of output>/ { on = 0 }
            !on { next }
            /^(not ok|FAIL)|:[0-9]+:[FE]:|ERROR: [A-Za-z]*Sanitizer|runtime error:/ { print; detail = 5; next }
            detail > 0 && /^    / { print; detail--; next }
            { detail = 0 }' "$log" | head -n 30 | cut -c 1-300) || true # awk cut short by head
        [ -n "$lines" ] || lines="(no line says; a timeout or a crash: see its output above)"
        printf '%s\n' "$lines" | sed "s/^/$name: /"
    done <"$failed"
}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
echo "== test"
release=0
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@" || release=$?
sanitized=0
if [ "$asan_built" = 1 ]; then
    echo "== test (sanitizers)"
    ASAN_OPTIONS=detect_leaks=0 ctest --test-dir "$asan" --output-on-failure -j "$jobs" -L sanitize || sanitized=$?
fi
[ "$release" = 0 ] || failed_checks "$build"
[ "$sanitized" = 0 ] || failed_checks "$asan"
status=$release
[ "$sanitized" = 0 ] || status=$sanitized
exit $status
