#!/usr/bin/env bash
# Generates the SWIG Java classes and builds libcqueue_jni.so (RUNPATH $ORIGIN)
# next to a copy of libcqueue.so.1. Run by Maven (generate-sources):
#   build-native.sh TARGET_DIR JAVA_HOME
# Library: CQUEUE_INCLUDE_DIR + CQUEUE_LIB_DIR, else `pkg-config cqueue`.
set -euo pipefail
target=$1
java_home=$2
here=$(cd "$(dirname "$0")" && pwd)
iface=$here/../swig/cqueue.i

if [[ -n ${CQUEUE_INCLUDE_DIR:-} && -n ${CQUEUE_LIB_DIR:-} ]]; then
  inc=$CQUEUE_INCLUDE_DIR
  libdir=$CQUEUE_LIB_DIR
else
  inc=$(pkg-config --variable=includedir cqueue)
  libdir=$(pkg-config --variable=libdir cqueue)
fi
[[ -e $libdir/libcqueue.so.1 ]] || { echo "no libcqueue.so.1 in $libdir" >&2; exit 1; }

gen=$target/generated-sources/swig/org/cqueue/swig
native=$target/native
rm -rf "$gen"
mkdir -p "$gen" "$native"
swig -java -package org.cqueue.swig -I"$inc" -outdir "$gen" -o "$native/cqueue_wrap.c" "$iface"
${CC:-cc} -shared -fPIC -O2 -fno-strict-aliasing -Wall -Wno-unused-parameter -Wno-unused-function \
  -I"$inc" -I"$java_home/include" -I"$java_home/include/linux" \
  -o "$native/libcqueue_jni.so" "$native/cqueue_wrap.c" \
  -L"$libdir" -lcqueue -Wl,-rpath,'$ORIGIN' -Wl,--enable-new-dtags -Wl,-z,defs
cp -L "$libdir/libcqueue.so.1" "$native/libcqueue.so.1"
