#!/usr/bin/env bash
# Quick start, step 1: install what is missing (Debian packages), build, and
# run the demo. Run as root on Debian 12 (or with sudo available).
#   tools/setup.sh              install + build + `cqueue demo`
#   tools/setup.sh --deps-only  install only (used by tools/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake ninja-build meson pkg-config git
          libgtest-dev libgmock-dev libbenchmark-dev libboost-dev libconcurrentqueue-dev
          clang libclang-rt-14-dev clang-format libtbb-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The language bindings' toolchains (swig, JDK, Maven, ...): bindings/deps.sh.
# Not needed to build the library and run the demo, so a missing Go or Rust
# (not installable at the needed versions from Debian 12) is only reported;
# tools/test.sh's bindings step then fails and says what is missing.
bindings/deps.sh || echo "== note: the bindings' toolchains are incomplete (see above); tools/test.sh needs them"
[[ ${1:-} == --deps-only ]] && exit 0

echo "== building (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCQUEUE_BUILD_TESTS=OFF -DCQUEUE_BUILD_BENCH=OFF >/dev/null
ninja -C build cqueue cqueue_cli
echo "== running: build/cqueue demo"
exec build/cqueue demo
