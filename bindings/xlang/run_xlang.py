#!/usr/bin/env python3
"""Cross-language test: C, C++, Go, Java, Python and Rust processes share ONE queue.

Usage: run_xlang.py N LANG=COMMAND... (each COMMAND is a shell-split command line)

Protocol of a participant, called as COMMAND QUEUE TAG N OUTFILE SYNCDIR:
  open QUEUE (CQ_CREATE, capacity 64, 64-byte messages: all create it the same way, so
  whoever comes first creates it, race-free), touch SYNCDIR/TAG.ready, wait for
  SYNCDIR/go, then at once produce "TAG:0".."TAG:N-1" (waiting while full) and consume
  (one line per message into OUTFILE) until its own producing is done and the queue
  stayed empty for 1.5 s. Nothing depends on the stdlib of the participants' language
  beyond files; the cqueue package under test is the only shared thing.

Checks: every message consumed exactly once; within one consumer, each producer's
messages in increasing order (FIFO per producer); every process exits 0.
"""
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter


def main():
    n = int(sys.argv[1])
    langs = dict(arg.split("=", 1) for arg in sys.argv[2:])
    name = f"cq-xlang-{os.getpid()}"
    sync = tempfile.mkdtemp(prefix="cq-xlang-")
    procs = {}
    try:
        for tag, cmd in langs.items():
            out = os.path.join(sync, tag + ".out")
            procs[tag] = subprocess.Popen(shlex.split(cmd) + [name, tag, str(n), out, sync])
        deadline = time.monotonic() + 120
        while not all(os.path.exists(os.path.join(sync, t + ".ready")) for t in langs):
            dead = [t for t, p in procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise SystemExit(f"xlang: not ready: {dead or 'timeout'}")
            time.sleep(0.01)
        t0 = time.monotonic()
        open(os.path.join(sync, "go"), "w").close()
        failed = []
        for tag, p in procs.items():
            try:
                rc = p.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "timeout"
            if rc != 0:
                failed.append(f"{tag} exited {rc}")
        elapsed = time.monotonic() - t0

        seen = Counter()
        consumed_by = {}
        order_errors = []
        for tag in langs:
            last = {}
            lines = open(os.path.join(sync, tag + ".out"), "rb").read().split(b"\n")[:-1]
            consumed_by[tag] = len(lines)
            for line in lines:
                src, _, idx = line.decode().partition(":")
                i = int(idx)
                if i <= last.get(src, -1):
                    order_errors.append(f"{tag} got {src}:{i} after {src}:{last[src]}")
                last[src] = i
                seen[(src, i)] += 1
        expected = {(t, i) for t in langs for i in range(n)}
        missing = expected - set(seen)
        dupes = [k for k, c in seen.items() if c > 1]
        extra = set(seen) - expected
        print(f"xlang: {len(langs)} processes x {n} messages through one queue in "
              f"{elapsed:.2f} s; consumed per process: "
              + ", ".join(f"{t}={c}" for t, c in consumed_by.items()))
        problems = failed + [f"missing {len(missing)} e.g. {sorted(missing)[:3]}"] * bool(missing) \
            + [f"duplicated {len(dupes)} e.g. {dupes[:3]}"] * bool(dupes) \
            + [f"unexpected {len(extra)}"] * bool(extra) + order_errors[:5]
        if problems:
            print("xlang: FAILED: " + "; ".join(problems))
            print("xlang: 0 passed, 1 failed")
            return 1
        print(f"xlang: every one of {len(expected)} messages consumed exactly once, "
              "FIFO per producer held in every consumer")
        print("xlang: 1 passed, 0 failed")
        return 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        subprocess.run(["rm", "-rf", sync])
        try:
            import ctypes
            lib = ctypes.CDLL("libc.so.6")
            lib.shm_unlink(("/" + name).encode())
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
