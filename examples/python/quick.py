"""Python quick example (README): a queue and a pool job."""
import os

import cqueue

name = f"example-python-{os.getpid()}"
with cqueue.Queue(name, create=True, capacity=1024) as q:
    q.put(b"hello from Python")
    print(q.get(timeout=1.0).decode())

with cqueue.Pool(workers=2) as pool:
    print(pool.submit(lambda x: f"job ran {x}", 42).result(timeout=5))
cqueue.unlink(name)
