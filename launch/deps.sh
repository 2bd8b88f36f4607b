# shellcheck shell=bash
# Sourced by the launch scripts: installs the Debian packages fcnet needs when they are missing
# (apt-get as root, or through sudo); elsewhere prints the exact list and exits 2.
fcnet_packages_build="build-essential cmake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev
hdf5-tools check libinih-dev zlib1g-dev"
fcnet_packages_python="python3-numpy python3-h5py python3-matplotlib"
# The suite also runs the quickstart (Fashion-MNIST, the plot), fcnet under valgrind and a private Slurm.
fcnet_packages_test="$fcnet_packages_build $fcnet_packages_python dataset-fashion-mnist valgrind slurm-wlm munge
iproute2"
# Wanted, not required: without them test_clang_warnings, test_torch_interop and test_signals' gdb case report
# themselves skipped.
fcnet_packages_test_optional="clang python3-torch gdb"
fcnet_packages_bench="python3-numpy python3-torch"

# fcnet_try_install_deps PKG...: fcnet_install_deps, but a failure only warns.
fcnet_try_install_deps() {
    (fcnet_install_deps "$@") ||
        echo "fcnet: could not install $* (see above); the tests that need them report themselves skipped" >&2
}

# fcnet_install_deps SET... : SET is build, test, python or bench.
fcnet_install_deps() {
    local wanted="" set pkg missing=""
    for set in "$@"; do
        case $set in
        build) wanted="$wanted $fcnet_packages_build" ;;
        test) wanted="$wanted $fcnet_packages_test" ;;
        python) wanted="$wanted $fcnet_packages_python" ;;
        bench) wanted="$wanted $fcnet_packages_bench" ;;
        *) wanted="$wanted $set" ;;
        esac
    done
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "fcnet: not a Debian/Ubuntu system; install the equivalents of:" $wanted >&2
        exit 2
    fi
    for pkg in $wanted; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo"
        else
            echo "fcnet: missing packages; run as root: apt-get install -y$missing" >&2
            exit 2
        fi
    fi
    echo "== installing:$missing"
    # Without a network apt-get says why in its own lines: end with one line of ours that names the packages
    # and what to do (it used to end the calling script with apt-get's exit 100 and nothing else).
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; then
        echo "fcnet: apt-get update failed (see above); trying the package lists already on this machine" >&2
    fi
    # shellcheck disable=SC2086
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
        echo "fcnet: apt-get could not install:$missing (no network or package source? apt-get's reason is above);" \
            "install them, then run this again" >&2
        exit 2
    fi
}
