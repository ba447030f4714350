import gc
import subprocess
import sys
import threading
import time

import pytest

import cqueue


@pytest.fixture
def bdir(tmp_path):
    return tmp_path / "broker"


@pytest.fixture
def pool():
    with cqueue.Pool(workers=1) as p:
        yield p


def wait_for(what, cond, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


class Recorder:
    """A push handler that keeps each batch's offsets; ret(call, msgs) says what to return."""

    def __init__(self, ret=None):
        self.batches = []
        self.msgs = []
        self.ret = ret
        self.lock = threading.Lock()

    def __call__(self, msgs):
        with self.lock:
            self.batches.append([m.offset for m in msgs])
            self.msgs.extend(msgs)
            call = len(self.batches) - 1
        return self.ret(call, msgs) if self.ret else None

    def seen(self, offset):
        with self.lock:
            return any(offset in b for b in self.batches)

    def last_got(self, offset, first):
        """The latest call got offset, and was not given first (a redelivery, after a failure)."""
        with self.lock:
            return bool(self.batches) and self.batches[-1][0] != first and \
                offset in self.batches[-1]


def publish(b, topic, rng):
    for i in rng:
        b.publish(topic, f"r{i}".encode())


def test_push_delivers_batches_in_order(bdir, pool):
    with cqueue.Broker(bdir) as b:
        publish(b, "p.in", range(200))
        r = Recorder()
        with b.subscribe_push("p.>", r, pool, earliest=True) as sub:
            wait_for("200 records", lambda: len(r.msgs) >= 200)
        assert sub.closed
        assert [(m.topic, m.offset, m.data) for m in r.msgs] == \
            [("p.in", i, f"r{i}".encode()) for i in range(200)]
        assert all(isinstance(m, cqueue.Message) and m.timestamp_ns > 0 for m in r.msgs)
        # 200 records published before subscribing come in batches of up to 64: 4 calls.
        assert [len(x) for x in r.batches] == [64, 64, 64, 8]
        assert sub.failures == 0 and sub.last_exception is None


def test_short_return_fails_one_record_and_redelivers_the_rest(bdir, pool):
    with cqueue.Broker(bdir, fsync="group") as b:
        publish(b, "short", range(10))
        r = Recorder(lambda call, msgs: 3 if call == 0 else None)
        with b.subscribe_push("short", r, pool, durable_id="d1", earliest=True) as sub:
            wait_for("offset 9 again", lambda: r.last_got(9, 0))
        assert r.batches[:2] == [list(range(10)), list(range(4, 10))], "3 failed, 4.. came again"
        assert sub.failures == 0 and pool.stats()["failed"] == 0
        # 0..2 were acknowledged; the topic was not from 3 on: a durable subscriber resumes at 3.
        assert b.subscribe("short", durable_id="d1").poll(timeout=5).offset == 3


def test_exception_fails_the_batch_and_durable_resumes_there(bdir, pool):
    boom = RuntimeError("boom at 5")

    def ret(call, msgs):
        if msgs[0].offset == 5:
            raise boom

    with cqueue.Broker(bdir, fsync="group") as b:
        publish(b, "boom", range(5))
        r = Recorder(ret)
        with b.subscribe_push("boom", r, pool, durable_id="d2", earliest=True) as sub:
            wait_for("offset 4", lambda: r.seen(4))
            publish(b, "boom", range(5, 10))
            wait_for("offset 9 after the failure", lambda: r.last_got(9, 5))
        assert sub.failures == 1 and sub.last_exception is boom
        assert pool.stats()["failed"] == 1, "the pool counts the failed batch"
        after = r.batches.index(next(bt for bt in r.batches if bt[0] == 5)) + 1
        assert r.batches[after][0] == 6, "5 failed, the rest came again"
        assert b.subscribe("boom", durable_id="d2").poll(timeout=5).offset == 5


def test_bad_return_values_fail_the_batch(bdir, pool):
    with cqueue.Broker(bdir) as b:
        r = Recorder(lambda call, msgs: ["not a count", -1][call] if call < 2 else len(msgs))
        sub = b.subscribe_push("bad", r, pool, earliest=True)
        publish(b, "bad", range(3))
        wait_for("two failures", lambda: sub.failures == 2)
        assert isinstance(sub.last_exception, cqueue.InvalidArgument)
        wait_for("offset 2", lambda: r.seen(2))
        sub.close()


def test_close_waits_for_the_batch_and_stops_delivery(bdir, pool):
    with cqueue.Broker(bdir) as b:
        entered, release = threading.Event(), threading.Event()
        refused = []
        holder = {}

        def handler(msgs):
            if not entered.is_set():
                # Closing from the handler would wait for itself: refused.
                for close in (holder["sub"].close, b.close, pool.close):
                    try:
                        close()
                    except cqueue.PermissionDenied as e:
                        refused.append(e)
                entered.set()
                release.wait()
            holder.setdefault("calls", []).append(len(msgs))

        holder["sub"] = sub = b.subscribe_push("c", handler, pool)
        b.publish("c", b"first")
        assert entered.wait(5)
        assert len(refused) == 3
        closer = threading.Thread(target=sub.close)
        closer.start()
        closer.join(0.1)
        assert closer.is_alive(), "close() returned while the batch was in flight"
        release.set()
        closer.join(5)
        assert not closer.is_alive() and sub.closed
        publish(b, "c", range(4))
        time.sleep(0.2)
        assert holder["calls"] == [1]
        assert not b.closed and not pool._g._closed


def test_broker_or_pool_close_closes_push_subscriptions(tmp_path):
    for first in ("broker", "pool"):
        b = cqueue.Broker(tmp_path / first)
        pool = cqueue.Pool(workers=1)
        r = Recorder()
        sub = b.subscribe_push("w", r, pool, earliest=True)
        publish(b, "w", range(3))
        wait_for("offset 2", lambda: r.seen(2))
        (b if first == "broker" else pool).close()
        assert sub.closed
        sub.close()  # a no-op now
        n = len(r.batches)
        if first == "pool":
            publish(b, "w", range(3, 6))
            time.sleep(0.1)
        assert len(r.batches) == n
        with pytest.raises(cqueue.Closed):
            b.subscribe_push("w", r, pool)
        b.close()
        pool.close()


def test_an_unreferenced_push_subscription_keeps_delivering(bdir, pool):
    with cqueue.Broker(bdir) as b:
        r = Recorder()
        b.subscribe_push("u", r, pool)  # not kept: it lives until closed (here by b.close())
        gc.collect()
        publish(b, "u", range(3))
        wait_for("offset 2", lambda: r.seen(2))
    assert not cqueue._live_push


def test_exit_with_a_live_push_subscription_is_clean(bdir):
    # Nothing closed: at exit the pool is closed, which closes the subscription first.
    code = ("import cqueue, sys, threading; b = cqueue.Broker(sys.argv[1]); "
            "p = cqueue.Pool(workers=1); got = threading.Event(); "
            "b.subscribe_push('t', lambda msgs: got.set(), p); b.publish('t', b'x'); "
            "assert got.wait(5)")
    out = subprocess.run([sys.executable, "-c", code, str(bdir)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


def test_push_arguments_are_checked(bdir, pool):
    with cqueue.Broker(bdir) as b:
        with pytest.raises(cqueue.InvalidArgument):
            b.subscribe_push("x", "not callable", pool)
        with pytest.raises(cqueue.InvalidArgument):
            b.subscribe_push("x", print, "not a pool")
        with pytest.raises(cqueue.InvalidArgument):
            b.subscribe_push("bad pattern!", print, pool)
        with pytest.raises(cqueue.InvalidArgument):
            b.subscribe_push("x", print, pool, durable_id="bad id!")
