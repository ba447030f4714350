import threading
import time

import pytest

import cqueue


@pytest.fixture
def bdir(tmp_path):
    return tmp_path / "broker"


def test_publish_returns_offsets_and_iteration_delivers_in_order(bdir):
    with cqueue.Broker(bdir) as b:
        sub = b.subscribe("orders.>", earliest=True)
        assert b.publish("orders.eu", b"zero") == 0
        assert b.publish("orders.eu", bytearray(b"one")) == 1
        assert b.publish("orders.us", memoryview(b"xxus")[2:]) == 0
        got = [(m.topic, m.offset, m.data) for m in sub.iter(timeout=0.2)]
        assert sorted(got) == [("orders.eu", 0, b"zero"), ("orders.eu", 1, b"one"),
                               ("orders.us", 0, b"us")]
        eu = [g for g in got if g[0] == "orders.eu"]
        assert [g[1] for g in eu] == [0, 1]
        assert sub.poll(timeout=0) is None
        assert sorted(b.topics()) == ["orders.eu", "orders.us"]
        assert b.stats()["published"] == 3
        assert "orders" in b.metrics()
    assert b.closed and sub.closed, "closing the broker closes its subscriptions"


def test_errors_are_subclasses_with_codes(bdir):
    with cqueue.Broker(bdir) as b:
        with pytest.raises(cqueue.InvalidArgument):
            b.publish("bad topic!", b"x")
        with pytest.raises(cqueue.InvalidArgument):
            b.subscribe("a.b", durable_id="bad id!")
        with pytest.raises(ValueError):
            cqueue.Broker(bdir, fsync="sometimes")
        sub = b.subscribe("a.b")
        with pytest.raises(cqueue.NotFound):
            sub.stats("nope")
    with pytest.raises(cqueue.Closed):
        b.publish("a.b", b"x")


def test_durable_subscription_resumes_after_its_acks(bdir):
    with cqueue.Broker(bdir, fsync="group") as b:
        with b.subscribe("jobs", durable_id="worker-1", earliest=True) as sub:
            for i in range(5):
                b.publish("jobs", f"r{i}".encode())
            for i, msg in enumerate(sub):
                assert msg.offset == i
                sub.ack(msg)
                if i == 2:
                    break
            st = sub.stats("jobs")
            assert st["acked_offset"] == 3 and st["durable"] == 1
    with cqueue.Broker(bdir) as b:
        sub = b.subscribe("jobs", durable_id="worker-1")
        msg = sub.poll(timeout=5)
        assert (msg.offset, msg.data) == (3, b"r3")
        sub.ack("jobs", 3)
        assert sub.poll(timeout=5).offset == 4
        sub.seek(0, topic="jobs")
        assert sub.poll(timeout=5).offset == 0
        sub.seek(2)
        assert sub.poll(timeout=5).offset == 2


def test_poll_releases_the_gil_and_close_ends_a_blocked_poll(bdir):
    with cqueue.Broker(bdir) as b:
        sub = b.subscribe("t", earliest=True)
        got = []

        def reader():
            try:
                for m in sub:
                    got.append(m.data)
            except cqueue.Closed:
                got.append("closed")

        th = threading.Thread(target=reader)
        th.start()
        # The reader waits in C with the GIL released: this thread keeps running.
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 0.2:
            n += 1
        b.publish("t", b"hello")
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got == [b"hello"]
        assert n > 1000
        sub.close()
        th.join(timeout=5)
        assert not th.is_alive()
        assert got == [b"hello", "closed"]


def test_threads_publish_through_one_broker(bdir):
    with cqueue.Broker(bdir) as b:
        sub = b.subscribe("mt", earliest=True)
        threads = [threading.Thread(target=lambda t=t: [b.publish("mt", f"{t}-{i}".encode())
                                                        for i in range(200)])
                   for t in range(4)]
        for t in threads:
            t.start()
        seen = []
        for i in range(800):
            m = sub.poll(timeout=5)
            assert m.offset == i
            seen.append(m.data)
        for t in threads:
            t.join()
        assert len(set(seen)) == 800
