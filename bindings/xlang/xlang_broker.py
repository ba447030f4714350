"""Cross-language broker test participant in Python: see run_xlang_broker.py."""
import os
import sys
import time

import cqueue

mode, bdir, tag, n, total, outfile, sync = sys.argv[1:8]
n, total = int(n), int(total)
TOPIC = "xlang.broker"

# CQ_XLANG_BREAK=dup|drop makes this participant misbehave: the checker's own test.
BREAK = os.environ.get("CQ_XLANG_BREAK", "")

with cqueue.Broker(bdir) as b:
    if mode == "publish":
        for i in range(n):
            b.publish(TOPIC, f"{tag}:2:{i}".encode())
        sys.exit(0)
    sub = b.subscribe(TOPIC, durable_id="xl-" + tag, earliest=(mode == "run1"))
    if mode == "run1":
        open(os.path.join(sync, tag + ".ready"), "w").close()
        while not os.path.exists(os.path.join(sync, "go")):
            time.sleep(0.001)
        for i in range(n):
            b.publish(TOPIC, f"{tag}:1:{i}".encode())
    with open(outfile, "w", encoding="utf-8") as out:
        got = 0
        while got < total:
            m = sub.poll(timeout=30)
            if m is None:
                sys.exit(f"python: only {got} of {total} records")
            got += 1
            if BREAK == "drop" and got == 2:
                continue
            out.write(f"{m.offset} {m.data.decode()}\n")
            if BREAK == "dup" and got == 2:
                out.write(f"{m.offset} {m.data.decode()}\n")
            sub.ack(m)
        for m in sub.iter(timeout=0.3):
            out.write(f"{m.offset} {m.data.decode()}\n")
    sub.close()
