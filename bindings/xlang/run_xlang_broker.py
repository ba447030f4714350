#!/usr/bin/env python3
"""Cross-language broker test: C and every language publishes to ONE topic of ONE broker
directory and subscribes to it durably, then is restarted and resumes after its acks.

Usage: run_xlang_broker.py N LANG=COMMAND... (each COMMAND is a shell-split command line)

A participant is called as COMMAND MODE DIR TAG N TOTAL OUTFILE SYNCDIR, topic
"xlang.broker", durable subscriber id "xl-TAG":
  run1     open DIR, subscribe durably with CQ_SUB_EARLIEST, touch SYNCDIR/TAG.ready,
           wait for SYNCDIR/go, publish "TAG:1:0".."TAG:1:N-1", then poll until TOTAL
           records came, writing "OFFSET PAYLOAD" per record to OUTFILE and acking
           each; then poll 0.3 s more (anything that comes is written too: an extra).
  publish  open DIR, publish "TAG:2:0".."TAG:2:N-1", close (between the two runs).
  run2     open DIR, subscribe durably with the same id (no flag: it resumes after its
           acks) and poll as in run1, publishing nothing.
Every process exits 0 on success.

Checks, per subscriber: run1 got offsets 0..TOTAL-1 in order and every "T:1:i" exactly
once; run2 got exactly the records published between the runs (offsets TOTAL..2*TOTAL-1,
every "T:2:i" exactly once, in order); all subscribers saw the same record at each offset.
"""
import os
import shlex
import subprocess
import sys
import tempfile
import time

TIMEOUT = 120


def run_all(procs, what):
    failed = []
    deadline = time.monotonic() + TIMEOUT
    for tag, p in procs.items():
        try:
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "timeout"
        if rc != 0:
            failed.append(f"{tag} {what} exited {rc}")
    return failed


def main():
    n = int(sys.argv[1])
    langs = dict(arg.split("=", 1) for arg in sys.argv[2:])
    total = n * len(langs)
    work = tempfile.mkdtemp(prefix="cq-xlang-broker-")
    bdir = os.path.join(work, "broker")
    procs = {}

    def start(mode, tag, sync, out):
        return subprocess.Popen(shlex.split(langs[tag]) + [mode, bdir, tag, str(n), str(total),
                                                           out, sync])

    def outfile(tag, run):
        return os.path.join(work, f"{tag}.run{run}.out")

    try:
        sync = os.path.join(work, "sync1")
        os.mkdir(sync)
        procs = {t: start("run1", t, sync, outfile(t, 1)) for t in langs}
        deadline = time.monotonic() + TIMEOUT
        while not all(os.path.exists(os.path.join(sync, t + ".ready")) for t in langs):
            dead = [t for t, p in procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise SystemExit(f"xlang-broker: not ready: {dead or 'timeout'}")
            time.sleep(0.01)
        t0 = time.monotonic()
        open(os.path.join(sync, "go"), "w").close()
        failed = run_all(procs, "run1")
        t1 = time.monotonic() - t0
        procs = {t: start("publish", t, sync, "-") for t in langs}
        failed += run_all(procs, "publish")
        t0 = time.monotonic()
        procs = {t: start("run2", t, sync, outfile(t, 2)) for t in langs}
        failed += run_all(procs, "run2")
        t2 = time.monotonic() - t0

        problems = list(failed)
        at_offset = {}
        for run in (1, 2):
            base = 0 if run == 1 else total
            expected = [f"{t}:{run}:{i}" for t in langs for i in range(n)]
            for tag in langs:
                try:
                    lines = open(outfile(tag, run), encoding="utf-8").read().splitlines()
                except OSError:
                    problems.append(f"{tag} run{run}: no output")
                    continue
                recs = [(int(o), p) for o, _, p in (ln.partition(" ") for ln in lines)]
                offs = [o for o, _ in recs]
                pays = [p for _, p in recs]
                if offs != list(range(base, base + total)):
                    bad = next((i for i, o in enumerate(offs) if o != base + i), len(offs))
                    problems.append(f"{tag} run{run}: offsets not {base}..{base + total - 1} in "
                                    f"order (got {len(offs)} records, first wrong at #{bad}: "
                                    f"{offs[bad:bad + 3]})")
                dup = len(pays) - len(set(pays))
                missing = set(expected) - set(pays)
                extra = set(pays) - set(expected)
                if dup:
                    problems.append(f"{tag} run{run}: duplicated {dup}")
                if missing:
                    problems.append(f"{tag} run{run}: missing {len(missing)} e.g. "
                                    f"{sorted(missing)[:3]}")
                if extra:
                    problems.append(f"{tag} run{run}: unexpected {sorted(extra)[:3]}")
                # Per publisher, its records keep their publish order in the log.
                for src in langs:
                    idx = [int(p.rsplit(":", 1)[1]) for p in pays if p.startswith(src + ":")]
                    if idx != sorted(idx):
                        problems.append(f"{tag} run{run}: {src}'s records out of order")
                for o, p in recs:
                    if at_offset.setdefault(o, p) != p:
                        problems.append(f"{tag} run{run}: offset {o} is {p!r}, another "
                                        f"subscriber got {at_offset[o]!r}")
                        break
        print(f"xlang-broker: {len(langs)} processes ({', '.join(langs)}) x {n} records into "
              f"one topic; run1 (publish + durable subscribe) {t1:.2f} s, run2 (restart, "
              f"resume after acks) {t2:.2f} s")
        if problems:
            print("xlang-broker: FAILED: " + "; ".join(problems[:10]))
            print("xlang-broker: 0 passed, 1 failed")
            return 1
        print(f"xlang-broker: every subscriber got all {total} records exactly once in offset "
              f"order, and after its restart exactly the {total} published in between")
        print("xlang-broker: 1 passed, 0 failed")
        return 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
