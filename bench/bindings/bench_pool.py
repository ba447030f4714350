"""Pool job crossing cost, Python callables: see run.sh. Usage: bench_pool.py N

Two figures: the API (Pool.submit -> Future, the job wrapped in a closure, the Future
completed by the done callback) and the bare trampoline (the facade called directly
with a builtin as the job and no done callback): the difference is Python-level work.
"""
import sys
import threading
import time

import cqueue
from cqueue import cqueue_swig as raw

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000


def run(label, submit_all):
    pool = cqueue.Pool(workers=1, queue_capacity=16384)
    gate = threading.Event()
    pool.submit(gate.wait)
    check = submit_all(pool)
    t0 = time.perf_counter()
    gate.set()
    pool.shutdown()
    t1 = time.perf_counter()
    check()
    pool.close()
    print(f"{label:6} {n:6d} jobs  {(t1 - t0) * 1e9 / n:8.0f} ns/job")


def api(pool):
    futs = [pool.submit(int) for _ in range(n)]
    return lambda: all(f.done() for f in futs) or sys.exit("jobs not done")


def bare(pool):
    for _ in range(n):
        if raw.cqb_pool_submit(pool._h, int, None, 0) != 0:
            sys.exit("submit failed")
    return lambda: pool.stats()["completed"] == n + 1 or sys.exit("jobs not done")


run("python", api)
run("py-raw", bare)
