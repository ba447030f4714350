#!/usr/bin/env bash
# The library's static TLS must stay small: it uses the initial-exec model
# (core/queue/lanes.hpp), so a dlopen (Python, JNI, plugins) must find room
# for all of it in glibc's small reserve; 10 KiB of thread_local RNGs once
# made every dlopen fail with "cannot allocate memory in static TLS block".
#   check_tls.sh <libcqueue.so.1> [max bytes, default 1024]
set -euo pipefail
lib=$1 max=${2:-1024}
size=$(readelf -lW "$lib" | awk '$1 == "TLS" { print $6 }')
size=$((${size:-0}))  # hex from readelf
if ((size > max)); then
  echo "FAIL: $lib has $size bytes of TLS (limit $max): keep thread_local state small" >&2
  exit 1
fi
echo "tls: $size bytes (limit $max): 1 passed, 0 failed"
