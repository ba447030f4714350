#!/bin/sh
# Runs the README's broker example (examples/c/broker_quickstart.c) twice on
# one directory: the first run prints its three records, the second only the
# three it published itself (the durable subscriber resumed after its acks).
set -eu
exe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
first=$("$exe" "$dir")
second=$("$exe" "$dir")
expect_first="orders.eu #0 eu:1
orders.eu #1 eu:3
orders.us #0 us:2"
expect_second="orders.eu #2 eu:1
orders.eu #3 eu:3
orders.us #1 us:2"
sorted() { printf '%s\n' "$1" | sort; }
if [ "$(sorted "$first")" != "$(sorted "$expect_first")" ]; then
  printf 'first run printed:\n%s\n' "$first" >&2; exit 1
fi
if [ "$(sorted "$second")" != "$(sorted "$expect_second")" ]; then
  printf 'second run printed:\n%s\n' "$second" >&2; exit 1
fi
echo "example: both runs printed what they should"
