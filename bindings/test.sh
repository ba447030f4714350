#!/usr/bin/env bash
# Builds and tests every language binding against one build of the library.
#   bindings/test.sh [BUILD_DIR]     (default build-bind; must hold libcqueue.so.1)
# Everything is written under BUILD_DIR/bindings (the source tree stays clean, except
# for Go's generated internal/raw/{raw.go,cqueue_wrap.c}, which `go build` needs there;
# they are git-ignored). Prints each ecosystem's own summary, then one line per step;
# exits non-zero if any step failed. Needs what bindings/deps.sh installs.
# Environment: CQ_XLANG_N (messages per process in the cross-language test, default 2000),
#              CQ_XLANG_BROKER_N (records per process and run in the cross-language
#              broker test, default 500),
#              CQ_BINDINGS_STEPS (space-separated subset of: cpp rust python go java
#              xlang xlang-broker dlopen abi; default all).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=$(realpath "${1:-build-bind}")
[[ -e $build/libcqueue.so.1 ]] || { echo "bindings: no libcqueue.so.1 in $build" >&2; exit 2; }
work=$build/bindings
prefix=$work/prefix
mkdir -p "$work"
steps=${CQ_BINDINGS_STEPS:-cpp rust python go java xlang xlang-broker dlopen abi}
N=${CQ_XLANG_N:-2000}
NB=${CQ_XLANG_BROKER_N:-500}

declare -a summary
status=0
banner() { echo; echo "=================== bindings: $* ==================="; }
record() { # step rc seconds
  if [[ $2 -eq 0 ]]; then summary+=("PASS  $1 ($3 s)"); else summary+=("FAIL  $1 ($3 s)"); status=1; fi
}
want() { [[ " $steps " == *" $1 "* ]]; }
run_step() { # name function
  local t0=$SECONDS
  banner "$1"
  "$2"
  record "$1" $? $((SECONDS - t0))
}

# The library, installed into a private prefix: headers, cqueue.pc and the CMake package.
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null || { echo "bindings: install failed"; exit 1; }
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export CQUEUE_INCLUDE_DIR=$prefix/include CQUEUE_LIB_DIR=$prefix/lib
export GOFLAGS=-buildvcs=false
export CARGO_TARGET_DIR=$work/rust-target
venv=$work/venv
jbuild=$work/java

step_cpp() {
  # Plain, then with the wrapper and its tests under ASan+UBSan (the library as built).
  local rc=0 v flags
  for v in cpp cpp-asan; do
    flags="-Werror"
    [[ $v == cpp-asan ]] && flags="-Werror -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
    cmake -S bindings/cpp -B "$work/$v" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" >/dev/null &&
      ninja -C "$work/$v" -j2 >/dev/null &&
      (cd "$work/$v" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure) || rc=1
  done
  return $rc
}

step_rust() {
  cd bindings/rust || return 1
  local rc=0
  cargo fmt --all -- --check || { echo "rust: not rustfmt-formatted"; rc=1; }
  cargo test --locked --workspace >"$work/cargo-test.log" 2>&1 || rc=1
  grep -vE '^\s+(Compiling|Running|Doc-tests|Finished|Locking|Downloaded|Downloading)' \
    "$work/cargo-test.log" | grep -v '^$'
  cargo clippy --locked -q --all-targets -- -D warnings || { echo "rust: clippy warnings"; rc=1; }
  cargo build --locked -q --example xlang --example xlang_broker --example quick || rc=1
  # The README's Rust example (examples/rust/quick.rs): exit status and exact output.
  local out
  if out=$("$CARGO_TARGET_DIR/debug/examples/quick") && [[ $out == $'hello from Rust\njob ran' ]]; then
    echo "rust example: 1 passed, 0 failed"
  else
    echo "rust example: printed '$out'"; echo "rust example: 0 passed, 1 failed"; rc=1
  fi
  cd "$root"
  return $rc
}

step_python() {
  rm -rf "$work/pysrc" && mkdir -p "$work/pysrc" &&
    cp -r bindings/python bindings/swig "$work/pysrc/" &&
    { [[ -x $venv/bin/python ]] || python3 -m venv --system-site-packages "$venv"; } &&
    "$venv/bin/pip" install -q --force-reinstall --no-deps \
      "$work/pysrc/python" &&
    (cd "$work" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/bindings/python/tests")
}

step_go() {
  export CGO_LDFLAGS="-Wl,-rpath,$prefix/lib"
  (cd bindings/go && go generate ./... && test -z "$(gofmt -l . ../xlang/go ../../examples/go)" &&
    go vet ./... && (cd ../../examples/go && go vet .) && (cd ../xlang/go && go vet ./...) &&
    go test -race -count=1 ./...) || { echo "go: failed (gofmt -l: $(cd bindings/go && gofmt -l . ../xlang/go ../../examples/go))"; return 1; }
}

step_java() {
  local rc=0
  (cd bindings/java && mvn -B -Dcqueue.build.dir="$jbuild" test >"$work/mvn-test.log" 2>&1) || rc=1
  grep -E 'Tests run|FAIL|ERROR\]|BUILD' "$work/mvn-test.log" | sed 's/\x1b\[[0-9;]*m//g'
  return $rc
}

step_xlang() {
  local x=$work/xlang
  mkdir -p "$x"
  cc -std=c11 -O2 -Wall -Wextra -Werror -I"$prefix/include" bindings/xlang/xlang_c.c -o "$x/xlang_c" \
    -L"$prefix/lib" -lcqueue -pthread -Wl,-rpath,"$prefix/lib" &&
    c++ -std=c++20 -O2 -Wall -Wextra -Werror -Ibindings/cpp/include -I"$prefix/include" \
      bindings/xlang/xlang_cpp.cpp -o "$x/xlang_cpp" -L"$prefix/lib" -lcqueue -pthread \
      -Wl,-rpath,"$prefix/lib" &&
    (cd bindings/xlang/go && CGO_LDFLAGS="-Wl,-rpath,$prefix/lib" go build -o "$x/xlang_go" .) &&
    [[ -x $CARGO_TARGET_DIR/debug/examples/xlang ]] && [[ -x $venv/bin/python ]] &&
    [[ -e $jbuild/classes/org/cqueue/Queue.class ]] || { echo "xlang: a participant is missing (did every language step pass?)"; return 1; }
  # The checker's own test: a participant that duplicates, then one that drops, must fail it.
  local brk want
  for brk in dup drop; do
    want=duplicated; [[ $brk == drop ]] && want=missing
    if CQ_XLANG_BREAK=$brk python3 bindings/xlang/run_xlang.py 50 "c=$x/xlang_c" \
        "python=$venv/bin/python $root/bindings/xlang/xlang.py" >"$x/selftest-$brk.log" 2>&1 ||
       ! grep -q "FAILED: .*$want" "$x/selftest-$brk.log"; then
      cat "$x/selftest-$brk.log"
      echo "xlang selftest: the checker did not report the '$brk' participant as '$want'"
      return 1
    fi
  done
  echo "xlang selftest: the checker catches a duplicated and a dropped message"
  python3 bindings/xlang/run_xlang.py "$N" \
    "c=$x/xlang_c" "cpp=$x/xlang_cpp" "go=$x/xlang_go" \
    "java=java -Djava.library.path=$jbuild/native -cp $jbuild/classes $root/bindings/xlang/Xlang.java" \
    "python=$venv/bin/python $root/bindings/xlang/xlang.py" \
    "rust=$CARGO_TARGET_DIR/debug/examples/xlang"
}

step_xlang_broker() {
  # C and every language with broker support: C++, Rust, Python, Go, Java (run_xlang_broker.py).
  local x=$work/xlang
  mkdir -p "$x"
  cc -std=c11 -O2 -Wall -Wextra -Werror -I"$prefix/include" bindings/xlang/xlang_broker_c.c \
    -o "$x/xlang_broker_c" -L"$prefix/lib" -lcqueue -pthread -Wl,-rpath,"$prefix/lib" &&
    c++ -std=c++20 -O2 -Wall -Wextra -Werror -Ibindings/cpp/include -I"$prefix/include" \
    bindings/xlang/xlang_broker_cpp.cpp -o "$x/xlang_broker_cpp" -L"$prefix/lib" -lcqueue -pthread \
    -Wl,-rpath,"$prefix/lib" &&
    (cd bindings/xlang/go && CGO_LDFLAGS="-Wl,-rpath,$prefix/lib" go build -o "$x/xlang_broker_go" ./broker) &&
    [[ -x $CARGO_TARGET_DIR/debug/examples/xlang_broker ]] && [[ -x $venv/bin/python ]] &&
    [[ -e $jbuild/classes/org/cqueue/Broker.class ]] || { echo "xlang-broker: a participant is missing (did every language step pass?)"; return 1; }
  # The checker's own test: a subscriber that duplicates, then one that drops, must fail it.
  local brk want
  for brk in dup drop; do
    want=duplicated; [[ $brk == drop ]] && want=missing
    if CQ_XLANG_BREAK=$brk python3 bindings/xlang/run_xlang_broker.py 20 "cpp=$x/xlang_broker_cpp" \
        "python=$venv/bin/python $root/bindings/xlang/xlang_broker.py" >"$x/broker-selftest-$brk.log" 2>&1 ||
       ! grep -q "FAILED: .*$want" "$x/broker-selftest-$brk.log"; then
      cat "$x/broker-selftest-$brk.log"
      echo "xlang-broker selftest: the checker did not report the '$brk' subscriber as '$want'"
      return 1
    fi
  done
  echo "xlang-broker selftest: the checker catches a duplicated and a dropped record"
  python3 bindings/xlang/run_xlang_broker.py "$NB" \
    "c=$x/xlang_broker_c" "cpp=$x/xlang_broker_cpp" "go=$x/xlang_broker_go" \
    "java=java -Djava.library.path=$jbuild/native -cp $jbuild/classes $root/bindings/xlang/XlangBroker.java" \
    "python=$venv/bin/python $root/bindings/xlang/xlang_broker.py" \
    "rust=$CARGO_TARGET_DIR/debug/examples/xlang_broker"
}

step_dlopen() {
  local rc=0 san
  # Say why dlopen would fail before it does: a library whose TLS must be static
  # (initial-exec accesses set STATIC_TLS) can only be dlopen()ed if all its TLS fits
  # in glibc's small static-TLS surplus (Python extensions, JNI glue and plugins load
  # it that way).
  local lib tls
  lib=$(readlink -f "$prefix/lib/libcqueue.so.1")
  tls=$(readelf -lW "$lib" | awk '$1 == "TLS" {print $6}')
  if [[ -n $tls ]]; then tls=$((16#${tls#0x})); else tls=0; fi
  if readelf -dW "$lib" | grep -q STATIC_TLS; then
    echo "dlopen: libcqueue.so.1 has STATIC_TLS and ${tls:-0} bytes of TLS"
    ((${tls:-0} <= 1024)) ||
      echo "dlopen: that is more than dlopen() can place in static TLS (expect 'cannot allocate memory in static TLS block')"
  fi
  for san in "" address,undefined; do
    local out=$work/dlopen${san:+-asan} ok=0 bad=0
    make -s -C examples/dlopen OUT="$out" CQ_PREFIX="$prefix" SAN="$san" || return 1
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    if LD_LIBRARY_PATH=$prefix/lib "$out/host_dlopen"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    if "$out/host_plugin" "$out/libcq_plugin.so"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    unset ASAN_OPTIONS UBSAN_OPTIONS
    echo "dlopen${san:+ under $san}: $ok passed, $bad failed"
    ((bad == 0)) || rc=1
  done
  return $rc
}

step_abi() {
  bindings/abi/check.sh "$build" && bindings/abi/selftest.sh "$build"
}

for s in cpp rust python go java xlang xlang-broker dlopen abi; do
  want "$s" && run_step "$s" "step_${s//-/_}"
done

banner "summary"
printf '%s\n' "${summary[@]}"
exit $status
