#!/usr/bin/env bash
# A/B of libcqueue builds under one harness: runs bench_xproc --only cqueue
# with each library in turn (LD_LIBRARY_PATH overrides the harness's
# RUNPATH), ROUNDS times, and prints the 8-byte 1P1C and 2P2C medians with the
# cache-line round trip of each. Alternating keeps the host's moves of the
# vCPUs (~150 ns vs ~500 ns per line) from landing on one build only; compare
# rows with similar "line" only.
#
#   bench/ab.sh DIR_A DIR_B ...   (each DIR holds a libcqueue.so.1)
#
# To get a DIR for a tree: build it in Release and copy
# build/libcqueue.so.1 (cp -L) there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
xproc=${XPROC:-$root/build-bench/bench/bench_xproc}
(($# >= 1)) || { echo "usage: $0 DIR_A [DIR_B ...]" >&2; exit 64; }
echo "round build | 8 B 1P1C median (range) | line | 8 B 2P2C median (range) | line"
for round in $(seq 1 "${ROUNDS:-5}"); do
  for dir in "$@"; do
    [[ -e $dir/libcqueue.so.1 ]] || { echo "$dir has no libcqueue.so.1" >&2; exit 66; }
    # bench_xproc exits 2 when a cell it was not asked for is empty: ignore.
    row=$( (LD_LIBRARY_PATH=$dir "$xproc" --only cqueue --reps "${REPS:-2}" 2>&1 || true) |
      grep -E '^\| cqueue \| 8 \| [0-9.]+ [Mk]' | awk -F'|' '{print $4 "|" $5 "|" $6 "|" $7}')
    echo "$round $(basename "$dir") |$row"
  done
done
