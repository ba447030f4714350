"""libcqueue for Python: a shared-memory MPMC queue and a worker pool.

    import cqueue
    with cqueue.Queue("orders", create=True) as q:
        q.put(b"hello")
        msg = q.get(timeout=1.0)

Errors are subclasses of cqueue.Error carrying the library's code (.code) and
detail (.detail). Blocking calls release the GIL. Queue and Pool objects may be
shared by threads.
"""
import atexit
import threading
import time
import weakref
from concurrent.futures import Future

from . import cqueue_swig as _s

__all__ = [
    "Queue", "Pool", "Error", "Empty", "Full", "Timeout", "MessageTooLarge", "NotFound",
    "Exists", "InvalidArgument", "PermissionDenied", "Corrupt", "VersionMismatch",
    "Closed", "Cancelled", "JobFailed", "version", "unlink",
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


# Long waits are made of slices of at most this long, so close() from another thread
# is noticed (the C API has no way to wake a thread blocked in a wait).
_SLICE_NS = 100_000_000


class _Guard:
    """Counts calls in flight on a handle so that close() frees it only when none is."""

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

    def drain(self):
        with self._cv:
            self._cv.wait_for(lambda: self._inflight == 0)

    def call(self, fn, *args):
        self.enter()
        try:
            return fn(*args)
        finally:
            self.leave()

    def wait_call(self, fn, block, timeout, *args):
        """fn(*args, timeout_ns) in slices until it stops timing out or the time is up."""
        if not block:
            return self.call(fn, *args, 0)
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be non-negative or None")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is None:
                ns = _SLICE_NS
            else:
                ns = max(1, min(_SLICE_NS, int((deadline - time.monotonic()) * 1e9)))
            rc = self.call(fn, *args, ns)
            if rc != _s.ETIMEDOUT or (deadline is not None and time.monotonic() >= deadline):
                return rc


def version():
    """Version of the loaded library."""
    return _s.cqb_version()


def unlink(name):
    """Remove the queue name (open handles keep working)."""
    _check(_s.cqb_queue_unlink(name))


class Queue:
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
            _check(self._g.wait_call(_s.cqb_queue_put, block, timeout, self._h, mv))

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
        n = _check(self._g.wait_call(_s.cqb_queue_get, block, timeout, self._h, buf))
        return bytes(memoryview(buf)[:n])

    def get_nowait(self):
        return self.get(block=False)

    def get_into(self, buffer, block=True, timeout=None):
        """Dequeue into a writable buffer; returns the length (MessageTooLarge if short)."""
        with memoryview(buffer) as mv:
            return _check(self._g.wait_call(_s.cqb_queue_get, block, timeout, self._h, mv))

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
        """Detach (idempotent). Calls blocked in other threads end with Closed within 0.1 s."""
        if self._g.close():
            self._g.drain()
            _check(_s.cqb_queue_close(self._h))

    def __del__(self):
        g = getattr(self, "_g", None)
        try:
            if g is not None and g.close():
                _s.cqb_queue_close(self._h)
        except Exception:  # still pinned by a pool being collected too: it frees itself
            pass

    @property
    def closed(self):
        return self._g._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<cqueue.Queue {self.name!r} {'closed' if self.closed else 'open'}>"


_live_pools = weakref.WeakSet()


@atexit.register
def _shutdown_pools():
    # Workers hold Python thread states: stop them before the interpreter finalises.
    for p in list(_live_pools):
        p.close(cancel=True)


class Pool:
    """A worker pool running Python callables; submit() returns a Future.

    Each worker keeps one Python thread state for its life (cheap callbacks);
    a job's exception is caught in the C trampoline and set on its Future.
    """

    def __init__(self, workers=0, queue_capacity=0):
        self._g = _Guard()
        self._h = _s.CqbPool()
        self._attached = None  # (queue, handler) while workers drain a queue
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

        Must not be called from a job of this pool."""
        if not self._g.close():
            return
        # Shutting down first ends every call in flight (submits get Closed), so the
        # drain below is short and the pool is freed only when nothing uses it.
        _s.cqb_pool_shutdown(self._h, 0 if cancel else -1)
        self._g.drain()
        _s.cqb_pool_destroy(self._h)
        _live_pools.discard(self)
        self._release_queue()

    def _release_queue(self):
        if self._attached is not None:
            self._attached[0]._g.unpin()
            self._attached = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        g = getattr(self, "_g", None)
        if g is not None and g.close():
            _s.cqb_pool_destroy(self._h)
            self._release_queue()
