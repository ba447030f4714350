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


def test_publish_batch_and_poll_batch(bdir):
    with cqueue.Broker(bdir) as b:
        sub = b.subscribe("batch", earliest=True)
        assert b.publish_batch("batch", [b"a", bytearray(), memoryview(b"xccc")[1:]]) == (0, 3)
        r = b.publish_batch("batch", (m for m in [b"d", b"e"]))
        assert (r.first_offset, r.count) == (3, 2)
        msgs = sub.poll_batch(100, timeout=5)  # every record is there: one call returns them all
        assert [(m.topic, m.offset, m.data) for m in msgs] == [
            ("batch", 0, b"a"), ("batch", 1, b""), ("batch", 2, b"ccc"), ("batch", 3, b"d"),
            ("batch", 4, b"e")]
        assert all(m.timestamp_ns > 0 for m in msgs)
        assert sub.poll_batch(10, timeout=0) == []
        b.publish_batch("batch", [b"f", b"g", b"h"])
        assert [m.offset for m in sub.poll_batch(2, timeout=0)] == [5, 6]
        assert sub.poll().offset == 7
        with pytest.raises(cqueue.InvalidArgument):
            sub.poll_batch(0)
        with pytest.raises(cqueue.InvalidArgument):
            sub.poll_batch(4097)
        with pytest.raises(cqueue.InvalidArgument):
            b.publish_batch("batch", [])
        with pytest.raises(cqueue.InvalidArgument):
            b.publish_batch("bad topic!", [b"x"])
        with pytest.raises(cqueue.MessageTooLarge):
            b.publish_batch("batch", [b"", bytes(16 * 1024 * 1024 + 1)])
        assert b.stats()["published"] == 8


def _publish_spaced(b, topic):
    """r0..r5 with a pause before r3; returns r3's timestamp (later than r0..r2's)."""
    for i in range(6):
        if i == 3:
            time.sleep(0.002)
        b.publish(topic, f"r{i}".encode())
    with b.subscribe(topic, start_offset=3) as sub:
        m = sub.poll(timeout=5)
        assert m.offset == 3
        return m.timestamp_ns


def test_start_positions_and_seek_time(bdir):
    with cqueue.Broker(bdir) as b:
        t3 = _publish_spaced(b, "st")
        sub = b.subscribe("st", start_time_ns=t3)
        assert sub.poll(timeout=5).offset == 3
        sub.seek(0)
        assert sub.poll(timeout=5).offset == 0
        sub.seek_time(t3)
        assert sub.poll(timeout=5).offset == 3
        sub.seek_time(0)
        assert sub.poll(timeout=5).offset == 0
        # A durable subscription starts there too, in topics it has no ack for yet.
        d = b.subscribe("st", durable_id="late", start_offset=5)
        assert (d.poll(timeout=5).data) == b"r5"
        with pytest.raises(cqueue.InvalidArgument):
            b.subscribe("st", start_offset=1, start_time_ns=t3)
        with pytest.raises(cqueue.InvalidArgument):
            b.subscribe("st", start_offset=-1)


def test_stats_and_metrics(bdir):
    with cqueue.Broker(bdir, fsync="group") as b:
        sub = b.subscribe("m.t", durable_id="watcher", earliest=True)
        b.publish_batch("m.t", [b"12345", b"67890", b"x"])
        sub.ack(sub.poll(timeout=5))
        sub.poll(timeout=5)
        st = sub.stats("m.t")
        assert st == {"durable": 1, "delivered": 2, "missed": 0, "next_offset": 2,
                      "acked_offset": 1, "end_offset": 3, "durable_offset": 3,
                      "lag_records": 1, "lag_bytes": st["lag_bytes"]}
        assert st["lag_bytes"] > 0
        bs = b.stats()
        assert (bs["topics"], bs["published"], bs["published_bytes"], bs["delivered"],
                bs["publish_failures"], bs["sync_failed"]) == (1, 3, 11, 2, 0, 0)
        assert bs["fsyncs"] > 0 and "holes_skipped" in bs and "segments_deleted" in bs
        text = b.metrics()
        assert "cqueue_broker_published_total 3\n" in text
        assert 'cqueue_topic_end_offset{topic="m.t"} 3\n' in text
        assert 'cqueue_subscriber_acked_offset{subscriber="watcher",topic="m.t"} 1\n' in text
    with pytest.raises(cqueue.Closed):
        b.metrics()
