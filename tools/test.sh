#!/usr/bin/env bash
# Quick start, step 2: the whole test suite. Installs missing packages first.
#   1. Release-ish build with -Werror: every ctest test (unit, threads,
#      processes, SIGSTOP, SIGKILL torture, bad input, ABI, install), then the
#      language bindings against that build (bindings/test.sh: C++, Rust,
#      Python, Go, Java, the cross-language queue test, dlopen, abidiff).
#   2. The same suite under ASan+UBSan.
#   3. The same suite under TSan (fence-free build, see PITFALLS).
#   4. libFuzzer over queue region validation and the broker's on-disk
#      readers, each for a bounded time (clang).
#   5. clang-format check.
# Environment: CQ_FUZZ_SECONDS (default 60), CQ_LOG_FUZZ_SECONDS (default 45),
# JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --deps-only

JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${CQ_FUZZ_SECONDS:-60}
LOG_FUZZ_SECONDS=${CQ_LOG_FUZZ_SECONDS:-45}
status=0
failed_suites=()
step() { echo; echo "=================== $* ==================="; }

run_suite() {  # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCQUEUE_WERROR=ON -DCQUEUE_BUILD_BENCH=OFF "$@" >/dev/null
  ninja -C "$dir" -j "$JOBS"
  (cd "$dir" && ctest --output-on-failure -j "$JOBS") || { status=1; failed_suites+=("$dir"); }
}

# The last 150 lines each failed test printed (from ctest's log), repeated at
# the end of the run, where a truncated CI log still shows them.
failed_output() {  # build dir
  awk -v dir="$1" '
    /^[0-9]+\/[0-9]+ Testing: / { n = 0; failed = 0; name = $0 }
    { line[n++] = $0 }
    /^Test Failed/ { failed = 1 }
    /time elapsed:/ && failed {
      print "--- " dir ": " name
      for (i = (n > 150 ? n - 150 : 0); i < n; i++) print line[i]
      failed = 0
    }' "$1/Testing/Temporary/LastTest.log"
}

step "1/5 build -Werror + ctest, then the bindings"
run_suite build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
bindings/test.sh build-test || status=1

step "2/5 ASan+UBSan + ctest"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
CQ_TEST_SCALE=0.25 CQ_TORTURE_KILLS=150 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCQUEUE_SANITIZE=address,undefined \
  -DCQUEUE_SKIP_INSTALL_TESTS=ON

step "3/5 TSan + ctest"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 CQ_TEST_SCALE=0.1 CQ_TORTURE_KILLS=100 \
  run_suite build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCQUEUE_SANITIZE=thread \
  -DCQUEUE_SKIP_INSTALL_TESTS=ON

step "4/5 libFuzzer: queue region validation (${FUZZ_SECONDS}s), broker log readers (${LOG_FUZZ_SECONDS}s)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCQUEUE_BUILD_FUZZ=ON \
  -DCQUEUE_SANITIZE=address,undefined -DCQUEUE_BUILD_TESTS=OFF -DCQUEUE_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-fuzz -j "$JOBS" region_fuzz log_fuzz
# Every input that once found a bug runs first (tests/fuzz/regressions*/), then
# new fuzzing from the corpus of earlier runs on this machine.
fuzz() {  # name, seconds, regression inputs...
  local name=$1 secs=$2; shift 2
  mkdir -p "build-fuzz/corpus-$name" build-fuzz/artifacts
  if { (($# == 0)) || "build-fuzz/tests/fuzz/$name" -timeout=10 "$@" >"build-fuzz/$name-regressions.log" 2>&1; } &&
     "build-fuzz/tests/fuzz/$name" -max_total_time="$secs" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ \
       "build-fuzz/corpus-$name" 2>"build-fuzz/$name.log"; then
    tail -n 12 "build-fuzz/$name.log"
    echo "fuzz $name: 1 passed, 0 failed"
  else
    tail -n 30 "build-fuzz/$name-regressions.log" 2>/dev/null
    tail -n 60 "build-fuzz/$name.log" 2>/dev/null
    ls build-fuzz/artifacts
    echo "fuzz $name: 0 passed, 1 failed"
    status=1
  fi
}
shopt -s nullglob
fuzz region_fuzz "$FUZZ_SECONDS" tests/fuzz/regressions/*
fuzz log_fuzz "$LOG_FUZZ_SECONDS" tests/fuzz/regressions-log/*
shopt -u nullglob

step "5/5 clang-format"
if git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>/dev/null; then
  echo "format: 1 passed, 0 failed"
else
  git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>&1 | head -20
  echo "format: 0 passed, 1 failed"
  status=1
fi

if ((${#failed_suites[@]})); then
  step "failed tests, their output again"
  for dir in "${failed_suites[@]}"; do failed_output "$dir" || echo "($dir: no ctest log)"; done
fi
exit $status
