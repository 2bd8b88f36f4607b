#!/bin/bash
# Configuring without a dependency that pkg-config provides (openblas, inih, check), simulated with a
# PKG_CONFIG_LIBDIR that holds every .pc file this machine has but that module's: configure fails with an
# error naming the module and the Debian package that provides it; without check, -DFCNET_TESTS=OFF
# configures. Nothing is built.
# usage: test_configure.sh CMAKE SOURCE_DIR
set -euo pipefail
CMAKE=${1:?usage: test_configure.sh CMAKE SOURCE_DIR}
SRC=${2:?}
# shellcheck source=tests/tap_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
t0=$(now)
tap_scratch configure

# without MODULE: a pkg-config directory with links to every .pc file pkg-config would find, but MODULE's.
without() {
    local dir=$T/pc-without-$1 d f
    mkdir -p "$dir"
    IFS=: read -ra dirs <<<"${PKG_CONFIG_PATH:-}:$(pkg-config --variable pc_path pkg-config)"
    for d in "${dirs[@]}"; do
        for f in "$d"/*.pc; do
            [ -f "$f" ] && [ "$(basename "$f")" != "$1.pc" ] && [ ! -e "$dir/$(basename "$f")" ] && ln -s "$f" "$dir/"
        done
    done
    echo "$dir"
}

for dep in openblas:libopenblas-dev inih:libinih-dev check:check; do
    module=${dep%%:*} package=${dep#*:}
    rc=0
    PKG_CONFIG_PATH='' PKG_CONFIG_LIBDIR=$(without "$module") "$CMAKE" -S "$SRC" -B "b-$module" \
        >"$module.out" 2>"$module.err" || rc=$?
    check "without $module: configure fails" test "$rc" != 0
    # CMake wraps its messages: join the lines first.
    msg=$(tr -s ' \n' ' ' <"$module.err")
    check "without $module: the error names the module and the Debian package $package" \
        grep -q "pkg-config found no module '$module': .*(Debian: $package)" <<<"$msg"
done
check "without check: the error names -DFCNET_TESTS=OFF" grep -q -- "-DFCNET_TESTS=OFF" <<<"$msg"
rc=0
PKG_CONFIG_PATH='' PKG_CONFIG_LIBDIR=$(without check) "$CMAKE" -S "$SRC" -B b-notests -DFCNET_TESTS=OFF \
    >notests.out 2>&1 || rc=$?
check "without check: -DFCNET_TESTS=OFF configures" test "$rc" = 0

tap_end "$t0"
