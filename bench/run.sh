#!/usr/bin/env bash
# Builds the benchmarks in Release (in their own build directory) and runs
# both; raw output goes to bench/results/<stamp>-*.{txt,json}.
#
#   bench/run.sh [extra bench_xproc arguments, e.g. --scale 0.2 --reps 1]
#
# BUILD_DIR (default build-bench) and JOBS (default 1; the machine is
# shared) change the build.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$bench_dir")
build=${BUILD_DIR:-$root/build-bench}
results=$bench_dir/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCQUEUE_BUILD_TESTS=OFF -DCQUEUE_BUILD_BENCH=ON >/dev/null
nice ninja -C "$build" -j"${JOBS:-1}" bench_queue_gbench bench_xproc

mkdir -p "$results"
{
  echo "tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
       "$(git -C "$root" status --porcelain 2>/dev/null | grep -vc ' bench/' || true) modified paths outside bench/"
  echo "command: $0 $*"
} | tee "$results/$stamp-tree.txt"
gb_json=$results/$stamp-gbench.json
# Pinned to one CPU: a single-threaded benchmark that migrates is noisier.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 1)
# Random interleaving and repetitions keep a slow moment from landing on one
# benchmark only; the medians are what bench_xproc reads.
"${pin[@]}" "$build/bench/bench_queue_gbench" \
  --benchmark_repetitions=9 --benchmark_min_time=0.3 \
  --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$gb_json" --benchmark_out_format=json 2>&1 \
  | tee "$results/$stamp-gbench.txt"

"$build/bench/bench_xproc" --gbench-json "$gb_json" "$@" \
  | tee "$results/$stamp-xproc.md"
echo "raw output: $results/$stamp-*"
