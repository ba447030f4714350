#!/usr/bin/env bash
# Install test: install libcqueue into a temporary prefix, then build and run
# tests/install/consumer.c against it the ways a downstream project would:
# pkg-config, CMake find_package(cqueue) and Meson dependency('cqueue').
#
#   install_test.sh cmake <cmake build dir>   install that (built) CMake tree
#   install_test.sh meson <source root>       build with Meson and install it
#
# Tools come from the environment (tests/install/CMakeLists.txt sets them):
# CMAKE, CC, CXX, PKG_CONFIG, MESON, NINJA; CQ_SANITIZE ("" or the
# -fsanitize= list the library was built with); CQ_VERSION (expected version);
# CQ_JOBS (parallel jobs for the Meson build, default 2); CQ_KEEP_TMP=1 keeps
# the temporary directory. Exit status 77 (skipped) when a tool is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${1:-}
target=${2:-}
if [[ $mode != cmake && $mode != meson ]] || [[ -z $target ]]; then
    echo "usage: $0 cmake <cmake build dir> | meson <source root>" >&2
    exit 2
fi

CMAKE=${CMAKE:-cmake}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
MESON=${MESON:-meson}
NINJA=${NINJA:-ninja}
version=${CQ_VERSION:-1.0.0}
sanitize=${CQ_SANITIZE:-}
export CC

need() {
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "SKIPPED: $tool not found" >&2
            exit 77
        fi
    done
}
need "$CMAKE" "$CC" "$PKG_CONFIG" "$MESON" "$NINJA" nm readelf ldd

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cqueue-install-$mode.XXXXXX")
cleanup() {
    if [[ ${CQ_KEEP_TMP:-0} == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
prefix=$tmp/prefix

step() { printf '== %s\n' "$*"; }
die() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
# Run a command with its output in a log; show the log if it fails.
run() {
    local log=$tmp/last.log
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        die "command failed: $*"
    fi
}

san_flags=()
[[ -z $sanitize ]] || san_flags=("-fsanitize=$sanitize" -fno-omit-frame-pointer)

# Run a built consumer; it must print exactly "ok" and load libcqueue.so.1
# from the prefix under test. Extra arguments are environment assignments.
check_consumer() {
    local exe=$1 libdir=$2
    shift 2
    local out resolved
    resolved=$(env -u LD_LIBRARY_PATH "$@" ldd "$exe" | awk '$1 == "libcqueue.so.1" { print $3 }')
    [[ $resolved == "$libdir/libcqueue.so.1" ]] ||
        die "$exe loads libcqueue.so.1 from '$resolved', expected $libdir/libcqueue.so.1"
    out=$(env -u LD_LIBRARY_PATH "$@" "$exe") || die "$exe exited with status $?: $out"
    [[ $out == ok ]] || die "$exe printed '$out', expected 'ok'"
}

# The installed tree: one library with its links, one .pc, one CMake config,
# every public header, the CLI. Sets libdir, pcdir, cmakedir.
check_tree() {
    local found
    found=$(find "$prefix" -name libcqueue.so.1)
    [[ -n $found && $found != *$'\n'* ]] || die "expected one libcqueue.so.1 in $prefix, found: '$found'"
    libdir=$(dirname "$found")
    [[ -f $libdir/libcqueue.so.$version && ! -L $libdir/libcqueue.so.$version ]] ||
        die "missing $libdir/libcqueue.so.$version"
    [[ $(readlink "$libdir/libcqueue.so.1") == "libcqueue.so.$version" ]] ||
        die "libcqueue.so.1 does not link to libcqueue.so.$version"
    [[ $(readlink "$libdir/libcqueue.so") == libcqueue.so.1 ]] ||
        die "libcqueue.so does not link to libcqueue.so.1"
    pcdir=$libdir/pkgconfig
    [[ -f $pcdir/cqueue.pc ]] || die "missing $pcdir/cqueue.pc"
    cmakedir=$libdir/cmake/cqueue
    [[ -f $cmakedir/cqueueConfig.cmake && -f $cmakedir/cqueueConfigVersion.cmake ]] ||
        die "missing cqueueConfig.cmake or cqueueConfigVersion.cmake in $cmakedir"
    [[ -x $prefix/bin/cqueue ]] || die "missing $prefix/bin/cqueue"
    local installed expected src
    # The C headers and the header-only C++ wrapper (bindings/cpp).
    installed=$(cd "$prefix/include/cqueue" && ls)
    expected=$( (cd "$root/capi/include/cqueue" && ls -- *.h; echo cqueue.hpp) | sort)
    [[ $installed == "$expected" ]] ||
        die "installed headers '${installed//$'\n'/ }' differ from '${expected//$'\n'/ }'"
    for h in $expected; do
        src=$root/capi/include/cqueue/$h
        [[ $h == cqueue.hpp ]] && src=$root/bindings/cpp/include/cqueue/cqueue.hpp
        cmp -s "$src" "$prefix/include/cqueue/$h" || die "installed $h differs"
    done
}

# (a) pkg-config --cflags --libs cqueue, with PKG_CONFIG_PATH into the prefix.
consume_pkgconfig() {
    step "pkg-config"
    local flags got
    export PKG_CONFIG_PATH=$pcdir
    got=$("$PKG_CONFIG" --modversion cqueue) || die "pkg-config does not find cqueue in $pcdir"
    [[ $got == "$version" ]] || die "pkg-config --modversion cqueue gives '$got', expected $version"
    got=$("$PKG_CONFIG" --variable=libdir cqueue)
    [[ $got -ef $libdir ]] || die "cqueue.pc has libdir=$got, expected $libdir"
    got=$("$PKG_CONFIG" --variable=includedir cqueue)
    [[ $got -ef $prefix/include ]] || die "cqueue.pc has includedir=$got, expected $prefix/include"
    flags=$("$PKG_CONFIG" --cflags --libs cqueue)
    echo "   pkg-config --cflags --libs cqueue: $flags"
    # shellcheck disable=SC2086 # the flags are meant to split
    run "$CC" -std=c11 -Wall -Wextra -Werror -pedantic "${san_flags[@]}" \
        "$here/consumer.c" $flags -o "$tmp/consumer-pkgconfig"
    check_consumer "$tmp/consumer-pkgconfig" "$libdir" LD_LIBRARY_PATH="$libdir"
    unset PKG_CONFIG_PATH
}

# (b) find_package(cqueue 1.0 CONFIG REQUIRED) + cqueue::cqueue.
consume_cmake() {
    step "CMake find_package"
    local san="${san_flags[*]}"
    run "$CMAKE" -S "$here/cmake-consumer" -B "$tmp/cmake-consumer" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCQ_EXPECTED_PREFIX="$prefix" \
        -DCQ_CONSUMER_SOURCE="$here/consumer.c" -DCMAKE_C_COMPILER="$CC" \
        -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
    grep -F -- "-- cqueue $version from " "$tmp/last.log" | sed 's/^--/  /'
    run "$CMAKE" --build "$tmp/cmake-consumer"
    # No LD_LIBRARY_PATH: the imported target's location must be enough (RUNPATH).
    check_consumer "$tmp/cmake-consumer/consumer" "$libdir"
}

# (c) a Meson project with dependency('cqueue') through pkg-config.
consume_meson() {
    step "Meson dependency('cqueue')"
    mkdir -p "$tmp/meson-consumer"
    cp "$here/meson-consumer/meson.build" "$here/consumer.c" "$tmp/meson-consumer/"
    local b_sanitize=none
    [[ -z $sanitize ]] || b_sanitize=$sanitize
    PKG_CONFIG_PATH=$pcdir run "$MESON" setup "$tmp/meson-consumer-build" "$tmp/meson-consumer" \
        -Db_sanitize="$b_sanitize"
    run "$NINJA" -C "$tmp/meson-consumer-build"
    check_consumer "$tmp/meson-consumer-build/consumer" "$libdir" LD_LIBRARY_PATH="$libdir"
}

case $mode in
cmake)
    step "cmake --install $target --prefix $prefix"
    [[ -f $target/CMakeCache.txt ]] || die "$target is not a CMake build directory"
    run "$CMAKE" --install "$target" --prefix "$prefix"
    check_tree
    consume_pkgconfig
    consume_cmake
    consume_meson
    ;;
meson)
    b_sanitize=none
    [[ -z $sanitize ]] || b_sanitize=$sanitize
    step "meson setup + build + install into $prefix"
    # Warnings are fatal: among them the one saying that a source file on disk
    # is not listed in meson.build. No optimisation: only the packaging is tested.
    run "$MESON" setup "$tmp/build" "$target" --fatal-meson-warnings \
        --prefix "$prefix" --buildtype plain -Dwerror=true -Dtests=disabled -Dbench=disabled \
        -Db_sanitize="$b_sanitize"
    run nice "$NINJA" -C "$tmp/build" -j "${CQ_JOBS:-2}"
    run "$MESON" install -C "$tmp/build" --no-rebuild
    check_tree
    step "exported symbols of the Meson-built library"
    NM=nm READELF=readelf "$root/tests/abi/check_symbols.sh" "$libdir/libcqueue.so.1" \
        "$root/capi/include/cqueue" || die "the Meson-built library fails the symbol check"
    consume_pkgconfig
    consume_cmake
    consume_meson
    ;;
esac
echo "ok: $mode install of libcqueue $version consumed via pkg-config, find_package and Meson"
