#!/bin/sh
# Builds datasets/fashion-mnist.h5, or the file $FASHION_MNIST_OUT names (train 55000 / val 5000 /
# test 10000, uint8 x of 784 features, num_classes 10) from the Fashion-MNIST IDX files.
#
# usage: [FASHION_MNIST_OUT=FILE] datasets/fashion-mnist.sh [DIR]
#   FILE the .h5 to write (default datasets/fashion-mnist.h5; a relative one from the current directory):
#        elsewhere than in a read-only checkout, say.
#   DIR  a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
#        and t10k-labels-idx1-ubyte (each plain or .gz). Default: /usr/share/datasets/fashion-mnist,
#        from Debian's dataset-fashion-mnist package, installed with apt-get when missing (as root, or through
#        sudo where it asks no password).
# fcnet_convert is $FCNET_CONVERT, else build/datasets/fcnet_convert, else built into build/.
# An existing output file is reused (it is only ever written complete: the converter writes a
# temporary file and renames it); delete it to rebuild.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${FASHION_MNIST_OUT:-$here/fashion-mnist.h5}
package_dir=/usr/share/datasets/fashion-mnist
dir=${1:-$package_dir}

die() {
    echo "fashion-mnist.sh: $*" >&2
    exit 2
}

if [ -f "$out" ]; then
    echo "fashion-mnist.sh: $out exists; reusing it (delete it to rebuild)"
    exit 0
fi

# The package ships the four files gzip-compressed; a user's directory may hold either form.
find_file() {
    for candidate in "$dir/$1.gz" "$dir/$1"; do
        if [ -f "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ "$dir" = "$package_dir" ] && ! find_file train-images-idx3-ubyte >/dev/null; then
    # As launch/deps.sh installs the other packages: as root, or through sudo where it asks no password.
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
            die "$package_dir is missing: install Debian's dataset-fashion-mnist package (sudo apt-get install dataset-fashion-mnist) or name a directory with the IDX files"
        fi
        sudo=sudo
    fi
    echo "fashion-mnist.sh: installing dataset-fashion-mnist with ${sudo:+sudo }apt-get"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 ||
        { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null; } ||
        die "apt-get install dataset-fashion-mnist failed"
fi
[ -d "$dir" ] || die "$dir: no such directory"

train_images=$(find_file train-images-idx3-ubyte) || die "$dir: train-images-idx3-ubyte[.gz] not found"
train_labels=$(find_file train-labels-idx1-ubyte) || die "$dir: train-labels-idx1-ubyte[.gz] not found"
test_images=$(find_file t10k-images-idx3-ubyte) || die "$dir: t10k-images-idx3-ubyte[.gz] not found"
test_labels=$(find_file t10k-labels-idx1-ubyte) || die "$dir: t10k-labels-idx1-ubyte[.gz] not found"

convert=${FCNET_CONVERT:-}
if [ -z "$convert" ]; then
    convert="$root/build/datasets/fcnet_convert"
    if [ ! -x "$convert" ]; then
        echo "fashion-mnist.sh: building fcnet_convert into $root/build"
        cmake -S "$root" -B "$root/build" >/dev/null
        cmake --build "$root/build" --target fcnet_convert -j 2 >/dev/null
    fi
fi
[ -x "$convert" ] || die "$convert: not an executable (set FCNET_CONVERT)"

"$convert" idx --train-images "$train_images" --train-labels "$train_labels" \
    --test-images "$test_images" --test-labels "$test_labels" --val 5000 --out "$out"
