import gc
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest

import cqueue

_n = 0


@pytest.fixture
def name():
    global _n
    _n += 1
    n = f"cqpy-{os.getpid()}-{_n}"
    yield n
    try:
        cqueue.unlink(n)
    except cqueue.NotFound:
        pass


def test_round_trip_with_every_buffer_type(name):
    with cqueue.Queue(name, create=True, capacity=8, max_message_size=32) as q:
        assert q.max_message_size == 32 and q.capacity == 8
        q.put(b"bytes")
        q.put(bytearray(b"bytearray"))
        q.put(memoryview(b"xxmemoryview")[2:])
        assert q.get(timeout=1.0) == b"bytes"
        assert q.get_nowait() == b"bytearray"
        buf = bytearray(32)
        n = q.get_into(buf, timeout=1.0)
        assert bytes(buf[:n]) == b"memoryview"
        st = q.stats()
        assert (st["enqueued"], st["dequeued"], st["length"]) == (3, 3, 0)
    assert q.closed


def test_errors_are_subclasses_with_codes(name):
    with pytest.raises(cqueue.NotFound) as e:
        cqueue.Queue(name)
    assert e.value.code == cqueue.cqueue_swig.ENOENT
    assert isinstance(e.value, cqueue.Error)
    q = cqueue.Queue(name, create=True, capacity=2, max_message_size=4)
    with pytest.raises(cqueue.Exists):
        cqueue.Queue(name, create=True, exclusive=True)
    with pytest.raises(cqueue.Empty):
        q.get_nowait()
    with pytest.raises(cqueue.MessageTooLarge):
        q.put(b"too long")
    q.put(b"a")
    q.put(b"b")
    with pytest.raises(cqueue.Full):
        q.put_nowait(b"c")
    with pytest.raises(cqueue.MessageTooLarge):
        q.get_into(bytearray(0))
    assert q.get_nowait() == b"a"  # still queued after MessageTooLarge
    with pytest.raises(TypeError):
        q.put("not bytes")
    with pytest.raises(cqueue.InvalidArgument):
        cqueue.Queue("bad name!", create=True)
    q.close()
    with pytest.raises(cqueue.Closed):
        q.put(b"x")


def test_waits_time_out(name):
    q = cqueue.Queue(name, create=True, capacity=1, max_message_size=8)
    t0 = time.monotonic()
    with pytest.raises(cqueue.Timeout):
        q.get(timeout=0.05)
    assert time.monotonic() - t0 >= 0.04
    q.put(b"x")
    with pytest.raises(cqueue.Timeout):
        q.put(b"y", timeout=0.01)
    q.close()


def test_blocking_get_releases_the_gil(name):
    q = cqueue.Queue(name, create=True, capacity=4, max_message_size=8)
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    t0 = time.monotonic()
    t.start()
    time.sleep(0.05)  # the other thread is now blocked inside the library
    q.put(b"wake")  # would wait 10 s for the GIL if the blocked get held it
    t.join()
    assert got == [b"wake"]
    assert time.monotonic() - t0 < 2
    q.close()


def test_threads_every_message_once(name):
    q = cqueue.Queue(name, create=True, capacity=64, max_message_size=16)
    per = 1000
    out = [[], []]

    def produce(p):
        for i in range(per):
            q.put(f"{p}:{i}".encode(), timeout=10)

    def consume(c):
        for _ in range(per):
            out[c].append(q.get(timeout=10))

    ts = [threading.Thread(target=produce, args=(p,)) for p in range(2)]
    ts += [threading.Thread(target=consume, args=(c,)) for c in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    allm = out[0] + out[1]
    assert len(allm) == 2 * per and len(set(allm)) == 2 * per
    q.close()


def test_pool_runs_callables_and_reports_exceptions():
    with cqueue.Pool(workers=2) as pool:
        futs = [pool.submit(lambda x: x * x, i) for i in range(200)]
        assert sum(f.result(timeout=10) for f in futs) == sum(i * i for i in range(200))

        class Boom(Exception):
            pass

        def bad():
            raise Boom("job broke")

        f = pool.submit(bad)
        with pytest.raises(Boom, match="job broke"):
            f.result(timeout=10)
        assert pool.shutdown(timeout=10)
        st = pool.stats()
        assert st["completed"] == 200 and st["failed"] == 1
        with pytest.raises(cqueue.Closed):
            pool.submit(print)


def test_pool_full_and_cancel_on_close():
    pool = cqueue.Pool(workers=1, queue_capacity=1)
    gate = threading.Event()
    started = threading.Event()
    pool.submit(lambda: (started.set(), gate.wait(10)))
    assert started.wait(10)
    queued = []
    with pytest.raises(cqueue.Full):
        for _ in range(10000):
            queued.append(pool.submit(lambda: None))
    assert queued, "the pool took no job at all"
    threading.Timer(0.05, gate.set).start()
    pool.close(cancel=True)  # no grace: queued jobs are cancelled
    assert all(f.cancelled() for f in queued)


def test_pool_jobs_from_many_threads_and_gc():
    pool = cqueue.Pool(workers=2)
    results = []
    lock = threading.Lock()

    def submitter(k):
        for i in range(100):
            f = pool.submit(lambda a, b: a + b, k, i, block=True, timeout=10)
            with lock:
                results.append(f)

    ts = [threading.Thread(target=submitter, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sum(f.result(timeout=10) for f in results) == sum(k + i for k in range(4) for i in range(100))
    # Dropped without close(): __del__ frees it (its workers hold no reference to it).
    ref = weakref.ref(pool)
    pool = None
    gc.collect()
    assert ref() is None


def test_quick_example_runs():
    example = Path(__file__).resolve().parents[3] / "examples" / "python" / "quick.py"
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello from Python\njob ran 42\n"


def test_exit_with_a_live_pool_is_clean():
    code = "import cqueue; p = cqueue.Pool(workers=2); f = p.submit(lambda: 1); f.result(5)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_a_worker_keeps_one_thread_state_for_all_its_jobs():
    # With a thread state made per job, threading.local would be empty in every job.
    local = threading.local()
    with cqueue.Pool(workers=1) as pool:
        def first():
            local.mark = threading.get_ident()

        pool.submit(first).result(timeout=10)
        seen = pool.submit(lambda: (getattr(local, "mark", None), threading.get_ident()))
        mark, ident = seen.result(timeout=10)
        assert mark == ident


def test_close_ends_a_get_blocked_in_another_thread(name):
    q = cqueue.Queue(name, create=True, capacity=4, max_message_size=8)
    errors = []

    def waiter():
        try:
            q.get()  # forever
        except cqueue.Error as e:
            errors.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    q.close()
    t.join(timeout=5)
    assert not t.is_alive()
    assert time.monotonic() - t0 < 2
    assert len(errors) == 1 and isinstance(errors[0], cqueue.Closed)


def test_pool_close_while_another_thread_shuts_down():
    pool = cqueue.Pool(workers=2)
    gate = threading.Event()
    for _ in range(20):
        pool.submit(gate.wait, 5)
    t = threading.Thread(target=pool.shutdown)
    t.start()
    time.sleep(0.05)
    threading.Timer(0.1, gate.set).start()
    pool.close(cancel=True)
    t.join(timeout=10)
    assert not t.is_alive()


def test_attached_queue_messages_reach_the_handler(name):
    q = cqueue.Queue(name, create=True, capacity=256, max_message_size=16)
    got = []
    lock = threading.Lock()

    def handler(msg):
        if msg == b"boom":
            raise RuntimeError("bad message")
        with lock:
            got.append(msg)

    pool = cqueue.Pool(workers=2)
    pool.attach_queue(q, handler)
    with pytest.raises(cqueue.PermissionDenied):
        q.close()  # the pool still drains it
    for i in range(100):
        q.put(b"m%d" % i, timeout=5)
    q.put(b"boom", timeout=5)
    deadline = time.monotonic() + 10
    while (len(got) < 100 or pool.handler_failures < 1) and time.monotonic() < deadline:
        time.sleep(0.001)
    pool.close()
    assert sorted(got) == sorted(b"m%d" % i for i in range(100))
    assert pool.handler_failures == 1
    assert q.stats()["length"] == 0
    q.close()  # allowed once the pool is closed
