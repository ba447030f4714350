#!/usr/bin/env bash
# Crossing cost per language, next to C, in two parts:
#  1. Pool jobs: what one no-op job costs on a pool worker, trampoline and completion
#     callback included, in each binding.
#  2. Push delivery (broker_subscribe_push_batch): what one record costs when a broker
#     subscription pushes it to a handler of the language on a pool worker, one call per
#     run of up to 64 records; C also per record, and a pull loop (broker_poll_batch) for
#     scale.
#   bench/bindings/run.sh [BUILD_DIR] [N] [N_PUSH]   (defaults: build-bind, 10000, 100000)
# Needs bindings/test.sh BUILD_DIR to have run (it leaves the installed library, the
# Python venv and the Java classes under BUILD_DIR/bindings).
# Pool method: one worker; a first job holds it at a gate while N no-op jobs are queued
# (each in the language's own form: C fn pointer, C++ lambda, Rust closure, Go func,
# Java Runnable -> CompletableFuture, Python callable -> Future); then the gate opens
# and the time until pool_shutdown has drained them, divided by N, is printed. The
# submitting thread is idle meanwhile, so this is the worker side only: dequeue, the
# crossing into the language and back, and the completion callback.
# Push method: N_PUSH records of 16 bytes are published first; the time from subscribing
# (earliest, 1-worker pool, a handler that only counts) until the main thread, asleep on
# a condition, learns that all were handled, divided by N_PUSH. Java warms up first.
# Run on an otherwise idle machine (2 vCPUs here): nothing else heavy at the same time.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=$(realpath "${1:-build-bind}")
N=${2:-10000}
NP=${3:-100000}
work=$build/bindings
prefix=$work/prefix
out=$work/bench
[[ -e $prefix/lib/libcqueue.so.1 && -x $work/venv/bin/python && -d $work/java/classes ]] ||
  { echo "run bindings/test.sh $build first" >&2; exit 2; }
mkdir -p "$out"
here=bench/bindings
cc -std=c11 -O2 -I"$prefix/include" $here/bench_c.c -o "$out/bench_c" -L"$prefix/lib" -lcqueue \
  -Wl,-rpath,"$prefix/lib"
c++ -std=c++20 -O2 -Ibindings/cpp/include -I"$prefix/include" $here/bench_cpp.cpp -o "$out/bench_cpp" \
  -L"$prefix/lib" -lcqueue -pthread -Wl,-rpath,"$prefix/lib"
cc -std=c11 -O2 -I"$prefix/include" $here/bench_push_c.c -o "$out/bench_push_c" -L"$prefix/lib" \
  -lcqueue -pthread -Wl,-rpath,"$prefix/lib"
(cd bindings/rust && PKG_CONFIG_PATH=$prefix/lib/pkgconfig CARGO_TARGET_DIR=$work/rust-target \
  cargo build -q --release --locked --example bench_pool --example bench_push)
(cd bindings/go && PKG_CONFIG_PATH=$prefix/lib/pkgconfig go generate ./...)
for d in go:bench_go go_push:bench_push_go; do # source dir:program
  (cd "$here/${d%%:*}" && PKG_CONFIG_PATH=$prefix/lib/pkgconfig \
    CGO_LDFLAGS="-Wl,-rpath,$prefix/lib" GOFLAGS=-buildvcs=false go build -o "$out/${d#*:}" .)
done

echo "crossing cost, $(nproc) vCPU $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "command: bench/bindings/run.sh ${1:-build-bind} $N $NP   (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
java_run() { java -Djava.library.path="$work/java/native" -cp "$work/java/classes" "$@"; }
for rep in 1 2 3; do
  echo "-- pool jobs, run $rep"
  "$out/bench_c" "$N"
  "$out/bench_cpp" "$N"
  "$work/rust-target/release/examples/bench_pool" "$N"
  "$out/bench_go" "$N"
  java_run $here/BenchPool.java "$N"
  "$work/venv/bin/python" $here/bench_pool.py "$N"
done
for rep in 1 2 3; do
  echo "-- push, run $rep"
  "$out/bench_push_c" "$NP"
  "$work/rust-target/release/examples/bench_push" "$NP"
  "$out/bench_push_go" "$NP"
  java_run $here/BenchPush.java "$NP"
  "$work/venv/bin/python" $here/bench_push.py "$NP"
done
