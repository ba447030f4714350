#!/usr/bin/env bash
# ABI check of libcqueue.so.1 against the committed baseline (bindings/abi/libcqueue.abi).
#   bindings/abi/check.sh BUILD_DIR            compare; exit non-zero on any difference
#   bindings/abi/check.sh --update BUILD_DIR   rewrite the baseline (a deliberate ABI change)
# BUILD_DIR must hold a libcqueue.so.1 built with debug info (-g: RelWithDebInfo or Debug):
# without it abidiff sees no types and passes silently (PITFALLS), so that is refused.
# Any non-zero abidiff exit fails, including 4 (ABIDIFF_ABI_CHANGE, e.g. a struct layout
# change) and not only 8 (incompatible change). Added functions are not reported
# (--no-added-syms): adding is allowed by the contract, changing is not. Functions
# matched by suppressions.txt (none now) are left out of both sides.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
baseline=${CQUEUE_ABI_BASELINE:-$here/libcqueue.abi}
update=0
if [[ ${1:-} == --update ]]; then update=1; shift; fi
build=${1:?usage: check.sh [--update] BUILD_DIR}
lib=$build/libcqueue.so.1
[[ -e $lib ]] || { echo "abi: no $lib" >&2; exit 2; }
command -v abidw >/dev/null || { echo "abi: abidw missing (apt-get install abigail-tools)" >&2; exit 2; }
if ! readelf -S --wide "$(readlink -f "$lib")" | grep -q '\.debug_info'; then
  echo "abi: $lib has no debug info; build with -g (RelWithDebInfo) for the ABI check" >&2
  exit 2
fi
headers=$root/capi/include/cqueue
suppr=$here/suppressions.txt
if ((update)); then
  abidw --no-corpus-path --no-comp-dir-path --no-show-locs --drop-private-types \
    --headers-dir "$headers" "$lib" >"$baseline"
  echo "abi: baseline written to $baseline"
  exit 0
fi
set +e
abidiff --no-added-syms --suppressions "$suppr" "$baseline" "$lib"
rc=$?
set -e
if ((rc != 0)); then
  echo "abi: abidiff exit $rc (bits: 1 error, 2 usage, 4 ABI change, 8 incompatible change)"
  echo "abi: 0 passed, 1 failed"
  exit 1
fi
echo "abi: libcqueue.so.1 matches the baseline"
echo "abi: 1 passed, 0 failed"
