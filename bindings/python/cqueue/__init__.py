"""libcqueue for Python: a shared-memory MPMC queue, a worker pool and a broker.

    import cqueue
    with cqueue.Queue("orders", create=True) as q:
        q.put(b"hello")
        msg = q.get(timeout=1.0)

    with cqueue.Broker("/var/lib/app/broker") as b:
        b.publish("orders.eu", b"...")
        with b.subscribe("orders.>", durable_id="billing", earliest=True) as sub:
            for msg in sub.iter(timeout=1.0):   # or `for msg in sub:` (waits forever)
                handle(msg.data)
                sub.ack(msg)
        with cqueue.Pool(workers=1) as pool, \
                b.subscribe_push("orders.>", handle_batch, pool, durable_id="audit"):
            ...                                 # handle_batch(list of Message) on the pool

Errors are subclasses of cqueue.Error carrying the library's code (.code) and
detail (.detail). Blocking calls release the GIL. Queue and Pool objects may be
shared by threads.
"""
import atexit
import collections
import operator
import threading
import time
import weakref
from concurrent.futures import Future

from . import cqueue_swig as _s

__all__ = [
    "Queue", "Pool", "Error", "Empty", "Full", "Timeout", "MessageTooLarge", "NotFound",
    "Exists", "InvalidArgument", "PermissionDenied", "Corrupt", "VersionMismatch",
    "Closed", "Cancelled", "JobFailed", "version", "unlink", "Broker", "Subscription",
    "Message", "PushSubscription", "BatchPublish",
]


class Error(Exception):
    """A libcqueue error: .code is the negative CQ_E* code, .detail the library's text."""

    def __init__(self, code, detail=""):
        self.code = code
        self.detail = detail
        text = _s.cqb_strerror(code)
        super().__init__(f"{text}: {detail}" if detail and detail != text else text)


class Empty(Error):
    """Nothing to dequeue (non-blocking get)."""


class Full(Error):
    """No room (non-blocking put, or a full pool)."""


class Timeout(Error):
    """A wait ran out of time."""


class MessageTooLarge(Error):
    pass


class NotFound(Error):
    pass


class Exists(Error):
    pass


class InvalidArgument(Error, ValueError):
    pass


class PermissionDenied(Error, PermissionError):
    pass


class Corrupt(Error):
    pass


class VersionMismatch(Error):
    pass


class Closed(Error):
    pass


class Cancelled(Error):
    pass


class JobFailed(Error):
    """A pool job failed without a Python exception to report."""


_BY_CODE = {
    _s.EEMPTY: Empty, _s.EFULL: Full, _s.ETIMEDOUT: Timeout, _s.EMSGSIZE: MessageTooLarge,
    _s.ENOENT: NotFound, _s.EEXIST: Exists, _s.EINVAL: InvalidArgument,
    _s.EPERM: PermissionDenied, _s.ECORRUPT: Corrupt, _s.EVERSION: VersionMismatch,
    _s.ECLOSED: Closed, _s.ECANCELED: Cancelled, _s.EIO: JobFailed,
}


def _error(code, detail=None):
    if detail is None:
        detail = _s.cqb_last_error()
    return _BY_CODE.get(code, Error)(code, detail)


def _check(rc):
    if rc < 0:
        raise _error(rc)
    return rc


def _timeout_ns(block, timeout):
    """queue.Queue conventions: block=False never waits; timeout None waits forever."""
    if not block:
        return 0
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("timeout must be non-negative or None")
    return max(1, int(timeout * 1e9))


# close() ends the waits in flight on a handle with its interrupt (cq_interrupt,
# broker_interrupt), which ends only the waits already in the library: the call it is meant
# for may be about to begin one. So it is repeated, after pauses doubling from the first to
# the last, until that call has returned (_interrupt_until).
_RETRY_FIRST = 0.001
_RETRY_LAST = 0.016

# Python runs signal handlers (Ctrl-C: KeyboardInterrupt) only in the main thread, and only
# between bytecodes: a wait in the library does not notice them. So in the main thread a wait
# is made of slices of at most this long, between which the interpreter checks for signals
# (what PyErr_CheckSignals does in C); in other threads it is one call, and close() from
# another thread ends either kind at once.
_SIGNAL_SLICE_NS = 100_000_000


def _interrupt_until(cv, done, interrupt, *args):
    """With cv held: interrupt(*args) until done() is true (cv is notified when it may be)."""
    pause = _RETRY_FIRST
    while not done():
        _check(interrupt(*args))
        cv.wait(pause)
        pause = min(2 * pause, _RETRY_LAST)


class _Guard:
    """Counts calls in flight on a handle so that close() frees it only when none is, after
    ending the waits among them (drain)."""

    def __init__(self):
        self._cv = threading.Condition()
        self._inflight = 0
        self._closed = False
        self._pins = 0  # pools draining this queue (attach_queue)

    def enter(self):
        with self._cv:
            if self._closed:
                raise Closed(_s.ECLOSED, "closed")
            self._inflight += 1

    def leave(self):
        with self._cv:
            self._inflight -= 1
            if self._inflight == 0:
                self._cv.notify_all()

    def close(self):
        """Refuse new calls; False if already closed."""
        with self._cv:
            if self._closed:
                return False
            if self._pins:
                raise PermissionDenied(_s.EPERM, "a pool drains this queue: close the pool first")
            self._closed = True
            return True

    def pin(self):
        with self._cv:
            if self._closed:
                raise Closed(_s.ECLOSED, "closed")
            self._pins += 1

    def unpin(self):
        with self._cv:
            self._pins -= 1

    def drain(self, interrupt=None, *args):
        """After close(): return when no call is in flight; interrupt(*args), the handle's
        interrupt facade, ends the waits among them (Closed)."""
        with self._cv:
            if interrupt is None:
                self._cv.wait_for(lambda: self._inflight == 0)
            else:
                _interrupt_until(self._cv, lambda: self._inflight == 0, interrupt, *args)

    def call(self, fn, *args):
        self.enter()
        try:
            return fn(*args)
        finally:
            self.leave()

    def wait_call(self, block, timeout, fn, *args):
        """fn(*args, timeout_ns), a wait in the library, called until it completes or fails
        (its result or code is returned) or the time is up (CQ_ETIMEDOUT). CQ_ECANCELED (an
        interrupt: close()'s, or one meant for another call) means call it again; entering
        again raises Closed once close() has begun."""
        if not block:
            return self.call(fn, *args, 0)
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be non-negative or None")
        deadline = None if timeout is None else time.monotonic() + timeout
        main = threading.current_thread() is threading.main_thread()
        while True:
            ns = -1 if deadline is None else max(1, int((deadline - time.monotonic()) * 1e9))
            if main:
                ns = _SIGNAL_SLICE_NS if ns < 0 else min(ns, _SIGNAL_SLICE_NS)
            rc = self.call(fn, *args, ns)  # raises Closed once close() has begun
            if rc == _s.ECANCELED:
                continue
            if rc != _s.ETIMEDOUT or (deadline is not None and time.monotonic() >= deadline):
                return rc


class _Turn:
    """One call at a time on a subscription (the C API allows one thread at a time). A poll
    holds the turn while it waits in the library; a call that does not wait and finds it held
    by a poll ends that wait with the subscription's interrupt and goes first (polls waiting
    for the turn let such calls go first); the poll then waits again. So an ack from another
    thread is not held up until a record comes.

    The holder is recorded with its thread, and a caller takes the turn inside the try whose
    finally calls release_mine(): a KeyboardInterrupt (or any exception) arriving anywhere
    after the turn was taken, even before take_*() returned, still gives it back."""

    def __init__(self):
        self._cv = threading.Condition()
        self._holder = None  # None, or ("poll" or "call", the holder's thread ident)
        self._urgent = 0  # calls that do not wait, waiting for the turn

    def _polling(self):
        return self._holder is not None and self._holder[0] == "poll"

    def take_to_poll(self, timeout):
        """Take the turn for a poll, after the calls that do not wait; False if it did not
        come within timeout seconds (None: no limit)."""
        with self._cv:
            if not self._cv.wait_for(lambda: self._holder is None and not self._urgent, timeout):
                return False
            self._holder = ("poll", threading.get_ident())
            return True

    def take(self, interrupt, *args):
        """Take the turn for a call that does not wait, ending the wait of a poll that holds
        it with interrupt(*args)."""
        with self._cv:
            self._urgent += 1
            try:
                _interrupt_until(self._cv, lambda: not self._polling(), interrupt, *args)
                self._cv.wait_for(lambda: self._holder is None)  # another call that does not wait
                self._holder = ("call", threading.get_ident())
            finally:
                self._urgent -= 1
                if self._holder is None:
                    self._cv.notify_all()  # polls that let this call go first

    def release_mine(self):
        """Give the turn back if this thread holds it (the finally of every take)."""
        with self._cv:
            if self._holder is not None and self._holder[1] == threading.get_ident():
                self._holder = None
                self._cv.notify_all()


def version():
    """Version of the loaded library."""
    return _s.cqb_version()


def unlink(name):
    """Remove the queue name (open handles keep working)."""
    _check(_s.cqb_queue_unlink(name))


class _Closable:
    """What every handle class shares: `with` closes it, `closed` says whether it is, and
    a handle collected without close() is freed by the class's _collect()."""

    @property
    def closed(self):
        return self._g._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        g = getattr(self, "_g", None)
        try:
            if g is not None and g.close():
                self._collect()
        except Error:  # a queue still pinned by a pool being collected too: it frees itself
            pass


class Queue(_Closable):
    """A named shared-memory queue (a POSIX shm name, or a path containing '/')."""

    def __init__(self, name, create=False, exclusive=False, capacity=0, max_message_size=0,
                 mode=0):
        flags = (_s.CREATE if create else 0) | (_s.EXCL if exclusive else 0)
        self.name = name
        self._g = _Guard()
        self._h = _s.CqbQueue()
        _check(_s.cqb_queue_open(self._h, name, flags, capacity, max_message_size, mode))
        self._local = threading.local()

    @property
    def capacity(self):
        return self._h.capacity

    @property
    def max_message_size(self):
        return self._h.max_message_size

    def put(self, data, block=True, timeout=None):
        """Enqueue bytes-like data; Full (block=False), Timeout, MessageTooLarge."""
        with memoryview(data) as mv:  # pins the buffer while the GIL is released
            _check(self._g.wait_call(block, timeout, _s.cqb_queue_put, self._h, mv))

    def put_nowait(self, data):
        self.put(data, block=False)

    def _buffer(self):
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = bytearray(self._h.max_message_size)
        return buf

    def get(self, block=True, timeout=None):
        """Dequeue one message as bytes; Empty (block=False) or Timeout."""
        buf = self._buffer()
        n = _check(self._g.wait_call(block, timeout, _s.cqb_queue_get, self._h, buf))
        return bytes(memoryview(buf)[:n])

    def get_nowait(self):
        return self.get(block=False)

    def get_into(self, buffer, block=True, timeout=None):
        """Dequeue into a writable buffer; returns the length (MessageTooLarge if short)."""
        with memoryview(buffer) as mv:
            return _check(self._g.wait_call(block, timeout, _s.cqb_queue_get, self._h, mv))

    def stats(self):
        s = _s.CqbQueueStats()
        _check(self._g.call(_s.cqb_queue_stats, self._h, s))
        return {k: getattr(s, k) for k in ("capacity", "max_message_size", "length",
                                           "free_nodes", "enqueued", "dequeued", "reclaimed")}

    def recover(self):
        return _check(self._g.call(_s.cqb_queue_recover, self._h))

    def __len__(self):
        return self.stats()["length"]

    def __iter__(self):
        """Yield messages until the queue is empty (non-blocking)."""
        while True:
            try:
                yield self.get_nowait()
            except Empty:
                return

    def close(self):
        """Detach (idempotent). Waits in other threads end at once with Closed; the handle is
        freed when they have returned. PermissionDenied while a pool drains the queue."""
        if self._g.close():
            self._g.drain(_s.cqb_queue_interrupt, self._h)
            _check(_s.cqb_queue_close(self._h))

    def _collect(self):
        _s.cqb_queue_close(self._h)

    def __repr__(self):
        return f"<cqueue.Queue {self.name!r} {'closed' if self.closed else 'open'}>"


_live_pools = weakref.WeakSet()


@atexit.register
def _shutdown_pools():
    # Workers hold Python thread states: stop them before the interpreter finalises.
    for p in list(_live_pools):
        p.close(cancel=True)


class Pool(_Closable):
    """A worker pool running Python callables; submit() returns a Future.

    Each worker keeps one Python thread state for its life (cheap callbacks);
    a job's exception is caught in the C trampoline and set on its Future.
    """

    def __init__(self, workers=0, queue_capacity=0):
        self._g = _Guard()
        self._h = _s.CqbPool()
        self._attached = None  # (queue, handler) while workers drain a queue
        self._push = weakref.WeakSet()  # open PushSubscriptions delivering through this pool
        self._lock = threading.Lock()  # _push
        self.handler_failures = 0
        _check(_s.cqb_pool_create(self._h, workers, queue_capacity))
        _live_pools.add(self)

    def submit(self, fn, *args, block=False, timeout=None, **kwargs):
        """Run fn(*args, **kwargs) on a worker. Full when the pool is full (block=False)."""
        fut = Future()
        box = []

        def job():
            box.append(fn(*args, **kwargs))

        def done(status, exc):
            if exc is not None:
                fut.set_exception(exc)
            elif status == _s.OK:
                fut.set_result(box[0] if box else None)
            elif status == _s.ECANCELED:
                fut.cancel()
                fut.set_running_or_notify_cancel()
            else:
                fut.set_exception(_error(status, "job did not run"))

        _check(self._g.call(_s.cqb_pool_submit, self._h, job, done, _timeout_ns(block, timeout)))
        return fut

    def attach_queue(self, queue, handler):
        """Let the workers also drain queue, calling handler(bytes) for each message.

        One queue per pool; the queue cannot be closed until the pool is. A handler
        that raises loses that message; the pool counts it in .handler_failures.
        """
        lock = threading.Lock()

        def guarded(msg):
            try:
                handler(msg)
            except BaseException:
                with lock:
                    self.handler_failures += 1

        queue._g.pin()
        try:
            _check(self._g.call(_s.cqb_pool_attach_queue, self._h, queue._h, guarded))
        except BaseException:
            queue._g.unpin()
            raise
        self._attached = (queue, guarded)

    def shutdown(self, timeout=None):
        """Stop accepting, run what is queued, join. False if the timeout cancelled jobs."""
        rc = self._g.call(_s.cqb_pool_shutdown, self._h,
                          -1 if timeout is None else int(timeout * 1e9))
        if rc == _s.ETIMEDOUT:
            return False
        _check(rc)
        return True

    def stats(self):
        s = _s.CqbPoolStats()
        _check(self._g.call(_s.cqb_pool_stats, self._h, s))
        return {k: getattr(s, k) for k in ("workers", "queue_capacity", "submitted", "completed",
                                           "cancelled", "expired", "failed", "queue_depth")}

    def close(self, cancel=False):
        """Shut down (draining, or with cancel cancelling what is queued) and free. Idempotent.

        Push subscriptions delivering through the pool stop with the shutdown and are closed
        before it is freed. Must not be called from a job of this pool; from a push handler
        it raises PermissionDenied."""
        _refuse_in_push_handler("Pool.close")
        if not self._g.close():
            return
        # Shutting down first ends every call in flight (submits get Closed), so the
        # drain below is short and the pool is freed only when nothing uses it.
        _s.cqb_pool_shutdown(self._h, 0 if cancel else -1)
        self._g.drain()
        with self._lock:
            subs = list(self._push)
        failed = _close_all(subs)  # their dispatchers have stopped with the shutdown
        _s.cqb_pool_destroy(self._h)
        _live_pools.discard(self)
        self._release_queue()
        if failed is not None:
            raise failed

    def _release_queue(self):
        if self._attached is not None:
            self._attached[0]._g.unpin()
            self._attached = None

    def _collect(self):
        _s.cqb_pool_destroy(self._h)
        self._release_queue()


# ---- broker ----------------------------------------------------------------------------------

class Message:
    """One delivered record (its own copy: valid after later polls)."""

    __slots__ = ("topic", "offset", "timestamp_ns", "data")

    def __init__(self, topic, offset, timestamp_ns, data):
        self.topic = topic
        self.offset = offset
        self.timestamp_ns = timestamp_ns
        self.data = data

    def __repr__(self):
        return f"<cqueue.Message {self.topic}@{self.offset} {len(self.data)} bytes>"


# The C side builds Messages itself (poll batches, push handlers): one crossing per batch.
_s.cqb_py_set_message_class(Message)

BatchPublish = collections.namedtuple("BatchPublish", "first_offset count")
BatchPublish.__doc__ = """What Broker.publish_batch appended: count records from first_offset on."""


def _frames(msgs):
    """msgs as cqb_broker_publish_batch takes them: each a 4-byte little-endian length, then
    its bytes."""
    parts = []
    for i, m in enumerate(msgs):
        mv = memoryview(m)
        if mv.nbytes > _s.BROKER_MAX_MESSAGE_SIZE:
            raise MessageTooLarge(_s.EMSGSIZE, f"record {i} has {mv.nbytes} bytes "
                                               f"(max {_s.BROKER_MAX_MESSAGE_SIZE})")
        parts.append(mv.nbytes.to_bytes(4, "little"))
        parts.append(mv)
    if not parts:
        raise InvalidArgument(_s.EINVAL, "no record to publish")
    return b"".join(parts)


def _start(start_offset, start_time_ns):
    """(CQ_START_*, value) for the start arguments of Broker.subscribe / subscribe_push."""
    if start_offset is not None and start_time_ns is not None:
        raise InvalidArgument(_s.EINVAL, "start_offset and start_time_ns exclude each other")
    if start_offset is not None:
        return _s.START_OFFSET, operator.index(start_offset)
    if start_time_ns is not None:
        return _s.START_TIME, operator.index(start_time_ns)
    return _s.START_DEFAULT, 0


def _close_all(items):
    """Close each of items; returns the first exception, or None."""
    first = None
    for item in items:
        try:
            item.close()
        except Exception as e:
            first = first or e
    return first


def _refuse_in_push_handler(what):
    if _s.cqb_push_in_handler():
        raise PermissionDenied(_s.EPERM, f"{what} from a push handler would wait for the "
                                         "handler itself: close from another thread")


# Open push subscriptions, so that one nobody refers to keeps delivering (and keeps its
# broker, pool and handler alive) until it is closed, like a thread.
_live_push = set()
_live_push_lock = threading.Lock()


_FSYNC = {"none": _s.FSYNC_NONE, "interval": _s.FSYNC_INTERVAL, "group": _s.FSYNC_GROUP,
          "always": _s.FSYNC_ALWAYS}
_OVERFLOW = {"block": _s.OVERFLOW_BLOCK, "fail": _s.OVERFLOW_FAIL, "drop": _s.OVERFLOW_DROP}


class Broker(_Closable):
    """A broker directory: durable publish/subscribe over memory-mapped logs.

    May be shared by threads. close() (or leaving the with block) first closes every
    subscription made from it that is still open (push subscriptions included), then the
    broker.
    """

    def __init__(self, directory, fsync="none", fsync_interval_ms=0, overflow="block",
                 segment_size=0, mode=0):
        self.directory = str(directory)
        self._g = _Guard()
        self._h = _s.CqbBroker()
        self._subs = weakref.WeakSet()
        self._lock = threading.Lock()
        try:
            fs, ov = _FSYNC[fsync], _OVERFLOW[overflow]
        except KeyError as e:
            raise ValueError(f"unknown policy {e}") from None
        _check(_s.cqb_broker_open(self._h, self.directory, fs, fsync_interval_ms, ov,
                                  segment_size, mode))

    def publish(self, topic, data):
        """Append one record (bytes-like) to topic; returns its offset."""
        with memoryview(data) as mv:
            return _check(self._g.call(_s.cqb_broker_publish, self._h, topic, mv))

    def publish_batch(self, topic, msgs):
        """Append the records msgs (an iterable of bytes-like) to topic in one call; their
        offsets are consecutive. Returns BatchPublish(first_offset, count): count is below
        the number of records only when an error stopped the batch after some (none
        appended: the error is raised)."""
        out = _s.CqbBatchPublish()
        _check(self._g.call(_s.cqb_broker_publish_batch, self._h, topic, _frames(msgs), out))
        return BatchPublish(out.first_offset, out.count)

    def subscribe(self, pattern, durable_id=None, earliest=False, start_offset=None,
                  start_time_ns=None):
        """A Subscription to every topic matching pattern ("a.*.c", "a.>").

        durable_id: resume after this subscriber's acks (persisted in the directory).
        earliest: a new subscription starts at the oldest retained record, not the next.
        start_offset: start at this offset of each matching topic instead; start_time_ns: at
        the first record published at or after this CLOCK_REALTIME time (for a durable
        subscription, both only in topics it has no ack for yet).
        """
        sub = Subscription(self)
        self._adopt(sub, _s.cqb_broker_subscribe, self._h, sub._h, pattern, durable_id or "",
                    _s.SUB_EARLIEST if earliest else 0, *_start(start_offset, start_time_ns))
        return sub

    def subscribe_push(self, pattern, handler, pool, durable_id=None, earliest=False,
                       start_offset=None, start_time_ns=None):
        """Push the records of every topic matching pattern to handler on pool's workers.

        handler(msgs) gets a list of 1 to 64 Messages (its own copies), in offset order per
        topic, one call per batch, under the GIL taken once per call. It returns None (all
        handled) or how many leading records it handled (an int): those are acknowledged
        (persisted for a durable_id), msgs[k] after them fails (its topic is acknowledged no
        further by this subscription: a durable resubscription gets it again) and the rest
        come again in the next call. A handler that raises fails its batch the same way as
        returning 0; the exception stops there and is counted in .failures and kept in
        .last_exception, a job failure in pool.stats(). Other arguments as subscribe().

        Returns an open PushSubscription. Closing it (or the broker, or the pool) stops the
        delivery after the batch in flight.
        """
        if not callable(handler):
            raise InvalidArgument(_s.EINVAL, "handler is not callable")
        if not isinstance(pool, Pool):
            raise InvalidArgument(_s.EINVAL, "pool is not a cqueue.Pool")
        sub = PushSubscription(self, pool, handler)
        pool._g.call(self._adopt, sub, _s.cqb_broker_subscribe_push, self._h, sub._h, pool._h,
                     pattern, durable_id or "", _s.SUB_EARLIEST if earliest else 0,
                     *_start(start_offset, start_time_ns), sub._deliver_fn)
        return sub

    def _adopt(self, sub, subscribe, *args):
        """subscribe(*args) and register sub to be closed by close(), both while close() waits
        for calls in flight (so it cannot miss sub)."""
        def run():
            _check(subscribe(*args))
            with self._lock:
                self._subs.add(sub)
            sub._opened()

        self._g.call(run)

    def _text(self, what):
        cap = 4096
        while True:
            buf = bytearray(cap)
            need = _check(self._g.call(_s.cqb_broker_text, self._h, what, buf))
            if need <= cap:
                return bytes(buf[:max(0, need - 1)]).decode()
            cap = need

    def topics(self):
        """Names of the topics in the directory."""
        return [t for t in self._text(0).split("\n") if t]

    def metrics(self):
        """Every metric, in the Prometheus text exposition format."""
        return self._text(1)

    def stats(self):
        """Counters of this handle (published..., delivered, fsyncs, segments_deleted,
        publish_failures) and of the directory (topics, holes_skipped, sync_failed)."""
        s = _s.CqbBrokerStats()
        _check(self._g.call(_s.cqb_broker_stats, self._h, s))
        return {k: getattr(s, k) for k in ("topics", "published", "published_bytes", "delivered",
                                           "fsyncs", "holes_skipped", "segments_deleted",
                                           "publish_failures", "sync_failed")}

    def close(self):
        """Close every open subscription (push subscriptions after their batch in flight), then
        the broker (idempotent). From a push handler it raises PermissionDenied."""
        _refuse_in_push_handler("Broker.close")
        if not self._g.close():
            return
        # Calls in flight end first (a subscribe among them has registered its subscription
        # by then); a push handler calling this broker from now on gets Closed.
        self._g.drain()
        with self._lock:
            subs = list(self._subs)
        failed = _close_all(subs)
        rc = _s.cqb_broker_close(self._h)
        if failed is not None:
            raise failed
        _check(rc)

    def _collect(self):
        # Subscriptions hold a reference to their broker (open push subscriptions are
        # held by _live_push): none is left alive here.
        _s.cqb_broker_close(self._h)

    def __repr__(self):
        return f"<cqueue.Broker {self.directory!r} {'closed' if self.closed else 'open'}>"


class Subscription(_Closable):
    """A subscription of a Broker. Iterating blocks for the next record (`for msg in sub`);
    sub.iter(timeout=...) stops when nothing came within timeout. Polls release the GIL.
    Calls from several threads are serialised (the C API allows one thread at a time): a poll
    waits for a poll in progress, any other call goes first (it ends the poll's wait, which
    then waits again). close() ends a poll in progress at once."""

    def __init__(self, broker):
        self._broker = broker  # keeps the broker alive while this is open
        self._g = _Guard()
        self._turn = _Turn()
        self._h = _s.CqbSubscription()

    def _opened(self):
        """Called by Broker._adopt once subscribed (PushSubscription registers itself there)."""

    def poll(self, timeout=None):
        """The next record as a Message, or None when nothing came within timeout
        (None: wait forever; 0: don't wait)."""
        msgs = self._poll(1, timeout)
        return msgs[0] if msgs else None

    def poll_batch(self, max_records=64, timeout=None):
        """Up to max_records (1 .. 4096) records as a list of Messages, in one call: waits as
        poll() for the first and returns what is there with it; [] when nothing came."""
        if not 1 <= max_records <= _s.POLL_BATCH_MAX:
            raise InvalidArgument(_s.EINVAL, f"max_records must be 1 .. {_s.POLL_BATCH_MAX}")
        return self._poll(max_records, timeout)

    def _poll(self, max_records, timeout):
        out = []

        def poll(ns):
            """One poll of the library, the turn held: its code; the records into out."""
            rc = _s.cqb_sub_poll_batch(self._h, max_records, ns)
            if rc > 0:
                out.extend(_s.cqb_sub_batch(self._h))
            return rc

        def wait(ns):
            """poll(ns) with the turn for this wait only: a call that does not wait may
            come in before the next (wait_call calls this again after CQ_ECANCELED). The
            time the turn took counts against ns."""
            start = time.monotonic()
            try:
                if not self._turn.take_to_poll(None if ns < 0 else ns / 1e9):
                    return _s.ETIMEDOUT
                if self._g._closed:
                    return _s.ECANCELED  # wait_call raises Closed
                if ns > 0:
                    ns -= int((time.monotonic() - start) * 1e9)
                    if ns <= 0:
                        return _s.ETIMEDOUT
                return poll(ns)
            finally:
                self._turn.release_mine()

        rc = self._call(poll, 0) if timeout == 0 else self._g.wait_call(True, timeout, wait)
        if rc != _s.ETIMEDOUT:
            _check(rc)
        return out

    def _call(self, fn, *args):
        """fn(*args), a facade call that does not wait, with the turn (see _Turn)."""
        def run():
            try:
                self._turn.take(_s.cqb_sub_interrupt, self._h)
                return fn(*args)
            finally:
                self._turn.release_mine()

        return self._g.call(run)

    def iter(self, timeout=None):
        """Yield records until one does not come within timeout (None: never stop)."""
        while True:
            msg = self.poll(timeout)
            if msg is None:
                return
            yield msg

    def __iter__(self):
        return self.iter(None)

    def ack(self, msg_or_topic, offset=None):
        """Acknowledge a Message (or topic, offset) and everything before it in its topic."""
        if offset is None:
            topic, offset = msg_or_topic.topic, msg_or_topic.offset
        else:
            topic = msg_or_topic
        _check(self._call(_s.cqb_sub_ack, self._h, topic, offset))

    def seek(self, offset, topic=None):
        """Move the cursor of topic (None: every topic) to offset."""
        _check(self._call(_s.cqb_sub_seek, self._h, topic or "", offset))

    def seek_time(self, timestamp_ns):
        """Move every cursor to the first record at or after timestamp_ns (CLOCK_REALTIME)."""
        _check(self._call(_s.cqb_sub_seek_time, self._h, timestamp_ns))

    def stats(self, topic):
        """Counters of this subscription for topic (NotFound if it has no such topic)."""
        s = _s.CqbSubscriptionStats()
        _check(self._call(_s.cqb_sub_stats, self._h, topic, s))
        return {k: getattr(s, k) for k in ("durable", "delivered", "missed", "next_offset",
                                           "acked_offset", "end_offset", "durable_offset",
                                           "lag_records", "lag_bytes")}

    def close(self):
        """Unsubscribe (idempotent), persisting pending acks. A poll waiting in another thread
        ends at once with Closed."""
        if self._g.close():
            self._g.drain(_s.cqb_sub_interrupt, self._h)
            _check(_s.cqb_sub_close(self._h))

    def _collect(self):
        _s.cqb_sub_close(self._h)


class PushSubscription(_Closable):
    """Records of a Broker pushed to a handler on a Pool's workers (Broker.subscribe_push).

    While open it keeps delivering, and keeps its broker, pool and handler alive, even when
    nothing else refers to it (like a thread). close() (or leaving the with block), the
    broker's close() and the pool's close() stop it; each of them returns once the batch in
    flight is done, and none may be called from a push handler (PermissionDenied: it would
    wait for the handler itself). pool.shutdown() stops the delivery too (nothing more is
    acknowledged) but leaves it open until one of those closes it.

    .failures counts the batches whose handler raised (or returned something other than
    None or a count >= 0); .last_exception is the latest such exception.
    """

    def __init__(self, broker, pool, handler):
        self._broker = broker
        self._pool = pool
        self._handler = handler
        self._h = _s.CqbPush()
        self._lock = threading.Lock()
        self._closed = False
        self._deliver_fn = self._deliver  # the one object the library calls, kept while open
        self.failures = 0
        self.last_exception = None

    def _opened(self):
        with self._pool._lock:
            self._pool._push.add(self)
        with _live_push_lock:
            _live_push.add(self)

    def _deliver(self, msgs):
        """Called by the C trampoline with each batch, on a pool worker: the handled count,
        or -1 when the handler failed (nothing propagates into the library's frames)."""
        try:
            n = self._handler(msgs)
            if n is None:
                return len(msgs)
            n = operator.index(n)
            if n < 0:
                raise InvalidArgument(_s.EINVAL, f"push handler returned {n}")
            return min(n, len(msgs))
        except BaseException as e:
            self.failures += 1
            self.last_exception = e
            return -1

    def close(self):
        """Stop the delivery (idempotent): returns once the batch in flight is done; the handler
        is not called after. Pending acknowledgements are persisted."""
        _refuse_in_push_handler("PushSubscription.close")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            rc = _s.cqb_push_close(self._h)  # releases the GIL: the batch in flight can end
            with self._broker._lock:
                self._broker._subs.discard(self)
            with self._pool._lock:
                self._pool._push.discard(self)
            with _live_push_lock:
                _live_push.discard(self)
        _check(rc)

    @property
    def closed(self):
        return self._closed

    def __repr__(self):
        return (f"<cqueue.PushSubscription {'closed' if self._closed else 'open'}, "
                f"{self.failures} failed batches>")
