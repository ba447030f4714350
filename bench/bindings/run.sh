#!/usr/bin/env bash
# Pool job crossing cost per language: what one no-op job costs on a pool worker,
# trampoline and completion callback included, in each binding, next to C.
#   bench/bindings/run.sh [BUILD_DIR] [N]     (defaults: build-bind, 10000)
# Needs bindings/test.sh BUILD_DIR to have run (it leaves the installed library, the
# Python venv and the Java classes under BUILD_DIR/bindings).
# Method: one worker; a first job holds it at a gate while N no-op jobs are queued
# (each in the language's own form: C fn pointer, C++ lambda, Rust closure, Go func,
# Java Runnable -> CompletableFuture, Python callable -> Future); then the gate opens
# and the time until pool_shutdown has drained them, divided by N, is printed. The
# submitting thread is idle meanwhile, so this is the worker side only: dequeue, the
# crossing into the language and back, and the completion callback.
# Run on an otherwise idle machine (2 vCPUs here): nothing else heavy at the same time.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=$(realpath "${1:-build-bind}")
N=${2:-10000}
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
(cd bindings/rust && PKG_CONFIG_PATH=$prefix/lib/pkgconfig CARGO_TARGET_DIR=$work/rust-target \
  cargo build -q --release --locked --example bench_pool)
(cd bindings/go && PKG_CONFIG_PATH=$prefix/lib/pkgconfig go generate ./...)
(cd $here/go && PKG_CONFIG_PATH=$prefix/lib/pkgconfig CGO_LDFLAGS="-Wl,-rpath,$prefix/lib" \
  GOFLAGS=-buildvcs=false go build -o "$out/bench_go" .)

echo "pool job crossing cost, $(nproc) vCPU $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "command: bench/bindings/run.sh $1 $N   (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
for rep in 1 2 3; do
  echo "-- run $rep"
  "$out/bench_c" "$N"
  "$out/bench_cpp" "$N"
  "$work/rust-target/release/examples/bench_pool" "$N"
  "$out/bench_go" "$N"
  java -Djava.library.path="$work/java/native" -cp "$work/java/classes" $here/BenchPool.java "$N"
  "$work/venv/bin/python" $here/bench_pool.py "$N"
done
