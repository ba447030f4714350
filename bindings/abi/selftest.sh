#!/usr/bin/env bash
# Proves that check.sh fails on real ABI breaks, in copies of the baseline:
#  1. the offsets of two fields of cq_queue_options swapped (what reordering them in
#     queue.h would do): abidiff exit 4;
#  2. cq_recover renamed in the baseline (what removing it from the library would do).
# Usage: bindings/abi/selftest.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$here/libcqueue.abi" "$tmp/reordered.abi" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("<class-decl name='cq_queue_options'")
j = s.index("</class-decl>", i)
blk = s[i:j]
a = "layout-offset-in-bits='32'>\n        <var-decl name='flags'"
b = "layout-offset-in-bits='64'>\n        <var-decl name='capacity'"
assert a in blk and b in blk, "baseline layout of cq_queue_options not as expected"
blk = blk.replace(a, a.replace("'32'", "'64'")).replace(b, b.replace("'64'", "'32'"))
open(sys.argv[2], "w").write(s[:i] + blk + s[j:])
r = s.replace("name='cq_recover' mangled-name='cq_recover'", "name='cq_recovr' mangled-name='cq_recovr'")
r = r.replace("elf-symbol-id='cq_recover@@", "elf-symbol-id='cq_recovr@@")
r = r.replace("<elf-symbol name='cq_recover'", "<elf-symbol name='cq_recovr'")
assert r != s, "cq_recover not in the baseline"
open(sys.argv[2].replace("reordered", "removed"), "w").write(r)
PY
if CQUEUE_ABI_BASELINE=$tmp/reordered.abi "$here/check.sh" "$1" >"$tmp/out" 2>&1; then
  cat "$tmp/out"
  echo "abi selftest: a reordered struct passed the check"
  echo "abi selftest: 0 passed, 1 failed"
  exit 1
fi
grep -q "offset changed" "$tmp/out" || { cat "$tmp/out"; echo "abi selftest: 0 passed, 1 failed"; exit 1; }
if CQUEUE_ABI_BASELINE=$tmp/removed.abi "$here/check.sh" "$1" >"$tmp/out2" 2>&1 ||
   ! grep -q "1 Removed function" "$tmp/out2"; then
  cat "$tmp/out2"
  echo "abi selftest: a removed cq_recover passed the check"
  echo "abi selftest: 0 passed, 1 failed"
  exit 1
fi
echo "abi selftest: the check fails on a reordered cq_queue_options and on a removed cq_recover"
echo "abi selftest: 2 passed, 0 failed"
