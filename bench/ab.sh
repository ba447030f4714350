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
#
# PER_RUN=1 prints every run instead of the medians, with its line round
# trip and its stalls per message (back-off pauses of the producers, "full",
# and of the consumers, "empty"): a queue kept full moves fewer messages
# than one its consumer keeps up with, so compare runs in the same regime.
# ONLY=cqueue-batch measures the batch cells instead (PER_RUN only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
xproc=${XPROC:-$root/build-bench/bench/bench_xproc}
(($# >= 1)) || { echo "usage: $0 DIR_A [DIR_B ...]" >&2; exit 64; }
if [[ ${PER_RUN:-0} == 1 ]]; then
  echo "round build | cell | msgs/s | line | stalls/msg full | empty"
else
  echo "round build | 8 B 1P1C median (range) | line | 8 B 2P2C median (range) | line"
fi
for round in $(seq 1 "${ROUNDS:-5}"); do
  for dir in "$@"; do
    [[ -e $dir/libcqueue.so.1 ]] || { echo "$dir has no libcqueue.so.1" >&2; exit 66; }
    # bench_xproc exits 2 when a cell it was not asked for is empty: ignore.
    out=$(LD_LIBRARY_PATH=$dir "$xproc" --only "${ONLY:-cqueue}" --reps "${REPS:-2}" 2>&1 || true)
    if [[ ${PER_RUN:-0} == 1 ]]; then
      # The per-run lines: "<transport> <size>B <shape> <n> msgs/s ... line <ns> ns
      # stalls/msg full <f> empty <e>".
      grep -E '^cqueue.* [0-9]+B .*msgs/s' <<<"$out" |
        awk -v r="$round" -v b="$(basename "$dir")" '{
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^[0-9]+B$/) cell = $i " " $(i + 1)
            if ($i == "msgs/s") v = $(i - 1)
            if ($i == "line") l = $(i + 1)
            if ($i == "full") f = $(i + 1)
            if ($i == "empty") e = $(i + 1)
          }
          printf "%s %s | %s | %.2f M | %s ns | %s | %s\n", r, b, cell, v / 1e6, l, f, e
        }'
    else
      row=$(grep -E '^\| cqueue \| 8 \| [0-9.]+ [Mk]' <<<"$out" |
        awk -F'|' '{print $4 "|" $5 "|" $6 "|" $7}')
      echo "$round $(basename "$dir") |$row"
    fi
  done
done
