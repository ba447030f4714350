"""close() from another thread ends the waits and polls in progress at once (through the
handle's interrupt), and a call on a subscription does not wait for a poll in progress."""
import contextlib
import itertools
import os
import signal
import threading
import time

import pytest

import cqueue

# Every wait below has no timeout of its own: only an interrupt ends it. The bound is there so
# that a wait that does not end fails the test instead of hanging it.
HANG = 10

_names = itertools.count()


def new_queue(capacity=1):
    name = f"cqpy-int-{os.getpid()}-{next(_names)}"
    q = cqueue.Queue(name, create=True, capacity=capacity, max_message_size=8)
    cqueue.unlink(name)  # the handle keeps working
    return q


class Call(threading.Thread):
    """fn(*args) in a thread of its own (a daemon: one that hangs does not hold up the exit)."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self._fn, self._args = fn, args
        self.result = self.exc = None
        self.start()

    def run(self):
        try:
            self.result = self._fn(*self._args)
        except BaseException as e:
            self.exc = e

    def outcome(self):
        """What fn returned or raised, once it has returned (fails the test after HANG s)."""
        self.join(HANG)
        assert not self.is_alive(), f"{self._fn.__qualname__} still running {HANG} s later"
        return self.exc if self.exc is not None else self.result


def closed(call):
    return isinstance(call.outcome(), cqueue.Closed)


def test_close_ends_every_wait_in_other_threads():
    empty, full = new_queue(), new_queue()
    full.put(b"x")
    waits = [Call(empty.get) for _ in range(3)] + [Call(full.put, b"y")]
    time.sleep(0.05)  # most likely waiting in the library by now
    assert Call(empty.close).outcome() is None
    assert Call(full.close).outcome() is None
    assert all(closed(w) for w in waits)


def test_close_racing_the_start_of_a_wait():
    # The interrupt may come before the wait is in the library: close() repeats it until the
    # wait has returned.
    for i in range(300):
        q = new_queue()
        wait = Call(q.get)
        for _ in range(i % 50):  # close at every moment of the wait's start
            pass
        assert Call(q.close).outcome() is None
        assert closed(wait)


def test_close_ends_polls_in_other_threads(tmp_path):
    with cqueue.Broker(tmp_path / "b") as b:
        sub = b.subscribe("t")
        polls = [Call(sub.poll), Call(sub.poll_batch, 8)]  # one waits in the library, one its turn
        time.sleep(0.05)
        assert Call(sub.close).outcome() is None
        assert all(closed(p) for p in polls)
        for i in range(100):
            sub = b.subscribe("t")
            poll = Call(sub.poll)
            for _ in range(i % 50):
                pass
            assert Call(sub.close).outcome() is None
            assert closed(poll)


def test_calls_go_before_a_poll_waiting_in_another_thread(tmp_path):
    with cqueue.Broker(tmp_path / "b") as b:
        sub = b.subscribe("t", durable_id="d", earliest=True)
        b.publish("t", b"first")
        first = sub.poll(timeout=HANG)
        poll = Call(sub.poll)
        time.sleep(0.05)

        def calls():
            sub.ack(first)
            assert sub.poll(timeout=0) is None
            return sub.stats("t")["acked_offset"]

        assert Call(calls).outcome() == 1
        assert poll.is_alive(), "the poll waits again"
        b.publish("t", b"second")
        assert poll.outcome().data == b"second"
        sub.close()


def test_a_poll_timeout_counts_the_wait_for_its_turn(tmp_path):
    # Both polls in threads other than the main one, where a wait is not cut into slices.
    with cqueue.Broker(tmp_path / "b") as b:
        sub = b.subscribe("t")
        start = time.monotonic()
        first = Call(sub.poll, 1.0)
        time.sleep(0.05)  # the first poll holds the turn, most likely
        second = Call(sub.poll, 1.5)
        assert second.outcome() is None
        # Waiting for the turn (until the first poll's timeout, 1 s after start) and then
        # 1.5 s more would end 2.5 s after start at the earliest.
        took = time.monotonic() - start
        assert took < 2.5, f"the second poll returned {took:.2f} s after the first began"
        assert first.outcome() is None
        sub.close()


@pytest.mark.parametrize("what", ["get", "poll", "poll waiting for its turn"])
def test_a_wait_of_the_main_thread_notices_signals(what, tmp_path):
    # Python runs signal handlers in the main thread between bytecodes only: there a wait is
    # made of short slices (KeyboardInterrupt on Ctrl-C). SIGUSR1 stands in for SIGINT.
    assert threading.current_thread() is threading.main_thread()

    class Signalled(Exception):
        pass

    def handler(signum, frame):
        raise Signalled

    with contextlib.ExitStack() as stack:
        if what == "get":
            handle = stack.enter_context(new_queue())
        else:
            broker = stack.enter_context(cqueue.Broker(tmp_path / "b"))
            handle = stack.enter_context(broker.subscribe("t"))
        other = None
        if what == "poll waiting for its turn":
            other = Call(handle.poll)  # holds the turn until close() ends it
            time.sleep(0.05)
        wait = handle.get if what == "get" else handle.poll
        old = signal.signal(signal.SIGUSR1, handler)
        watchdog = threading.Timer(HANG, handle.close)  # ends the wait if the signal did not
        try:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            watchdog.start()
            with pytest.raises(Signalled):
                wait()
            assert not handle.closed, f"the signal was handled only when the wait ended, {HANG} s later"
        finally:
            watchdog.cancel()
            signal.signal(signal.SIGUSR1, old)
        handle.close()
        if other is not None:
            assert closed(other)


def test_close_from_another_thread_ends_a_wait_of_the_main_thread():
    q = new_queue()
    closer = threading.Timer(0.05, q.close)
    closer.start()
    with pytest.raises(cqueue.Closed):
        q.get()
    closer.join()


@pytest.mark.parametrize("taker", ["take_to_poll", "take"])
def test_an_exception_right_after_taking_the_turn_gives_it_back(taker, tmp_path, monkeypatch):
    # A KeyboardInterrupt can arrive between any two bytecodes, also just after the turn
    # was taken and before the call's try began. Made to happen every time here; then
    # calls and polls from another thread must still get the turn.
    original = getattr(cqueue._Turn, taker)

    def take_then_raise(self, *args):
        result = original(self, *args)
        raise KeyboardInterrupt

    with cqueue.Broker(tmp_path / "b") as b:
        sub = b.subscribe("t", durable_id="d", earliest=True)
        b.publish("t", b"first")
        monkeypatch.setattr(cqueue._Turn, taker, take_then_raise)
        with pytest.raises(KeyboardInterrupt):
            if taker == "take":
                sub.stats("t")
            else:
                sub.poll(timeout=HANG)
        monkeypatch.undo()
        assert Call(sub.poll, HANG).outcome().data == b"first"
        assert Call(sub.stats, "t").outcome()["acked_offset"] == 0
        sub.close()
