"""Push delivery crossing cost, Python: one handler call (GIL taken once, a list of Messages
built in C) per batch of up to 64 records. Usage: bench_push.py N

N records of 16 bytes are published to one topic of a fresh broker before subscribing; a
1-worker pool then pushes them from the oldest on to a handler that only counts. Prints the
time from subscribing until the waiting thread learns that all were handled, per record, and
the number of calls.
"""
import sys
import tempfile
import threading
import time

import cqueue

if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
    sys.exit("usage: bench_push.py N (records, > 0)")
n = int(sys.argv[1])
with tempfile.TemporaryDirectory(prefix="bench_push_py.") as d, cqueue.Broker(d) as b, \
        cqueue.Pool(workers=1) as pool:
    record = b"0123456789abcdef"
    for i in range(0, n, 1024):
        b.publish_batch("bench", [record] * min(1024, n - i))
    got = calls = 0
    done = threading.Event()

    def count(msgs):
        global got, calls
        got += len(msgs)
        calls += 1
        if got >= n:
            done.set()

    start = time.perf_counter_ns()
    with b.subscribe_push("bench", count, pool, earliest=True):
        done.wait()
        end = time.perf_counter_ns()
    print(f"python push batch: {(end - start) / n:.0f} ns/record ({n} records, "
          f"{calls} handler calls)")
