"""Cross-language test participant in Python: see run_xlang.py for the protocol."""
import os
import sys
import threading
import time

import cqueue

name, tag, n, outfile, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
q = cqueue.Queue(name, create=True, capacity=64, max_message_size=64)
open(os.path.join(sync, tag + ".ready"), "w").close()
while not os.path.exists(os.path.join(sync, "go")):
    time.sleep(0.001)

done = threading.Event()


# CQ_XLANG_BREAK=dup|drop makes this participant misbehave: the checker's own test.
BREAK = os.environ.get("CQ_XLANG_BREAK", "")


def produce():
    for i in range(n - 1 if BREAK == "drop" else n):
        q.put(f"{tag}:{i}".encode(), timeout=10)
    if BREAK == "dup":
        q.put(f"{tag}:0".encode(), timeout=10)
    done.set()


t = threading.Thread(target=produce)
t.start()
idle = 0.0
with open(outfile, "wb") as out:
    while True:
        try:
            out.write(q.get(timeout=0.1) + b"\n")
            idle = 0.0
        except cqueue.Timeout:
            if done.is_set():
                idle += 0.1
                if idle >= 1.5:
                    break
t.join()
q.close()
