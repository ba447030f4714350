package org.cqueue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.cqueue.swig.CqbQueue;
import org.cqueue.swig.CqbQueueStats;
import org.cqueue.swig.cqueue;
import org.cqueue.swig.cqueueConstants;

/**
 * An open shared-memory queue. Safe for use by many threads; {@link #close()}
 * waits for operations in flight.
 *
 * <pre>
 * try (Queue q = Queue.open("orders", new Queue.Options().create(true))) {
 *     q.put("hello".getBytes());
 *     byte[] msg = q.take(Duration.ofSeconds(1));
 * }
 * </pre>
 */
public final class Queue implements AutoCloseable {

    /** Options for {@link #open}; zero values take the library's defaults. */
    public static final class Options {
        int flags;
        long capacity;
        long maxMessageSize;
        long mode;

        public Options create(boolean on) {
            flags = on ? flags | cqueueConstants.CREATE : flags & ~cqueueConstants.CREATE;
            return this;
        }

        public Options exclusive(boolean on) {
            flags = on ? flags | cqueueConstants.EXCL : flags & ~cqueueConstants.EXCL;
            return this;
        }

        public Options capacity(long n) {
            capacity = n;
            return this;
        }

        public Options maxMessageSize(long n) {
            maxMessageSize = n;
            return this;
        }

        public Options mode(long m) {
            mode = m;
            return this;
        }
    }

    /** Counters of a queue. */
    public record Stats(long capacity, long maxMessageSize, long length, long freeNodes,
                        long enqueued, long dequeued, long reclaimed) {}

    private final CqbQueue h;
    private final int max;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;
    private int pins; // pools draining this queue (guarded by lock)

    private Queue(CqbQueue h) {
        this.h = h;
        this.max = (int) h.getMax_message_size();
    }

    /** Open (with create, create) the queue {@code name}. */
    public static Queue open(String name, Options opts) {
        Options o = opts == null ? new Options() : opts;
        CqbQueue h = new CqbQueue();
        int rc = cqueue.cqb_queue_open(h, name, o.flags, o.capacity, o.maxMessageSize, o.mode);
        if (rc < 0) {
            CqueueException e = CqueueException.last(rc);
            h.delete();
            throw e;
        }
        return new Queue(h);
    }

    /** Remove the name; open handles keep working. */
    public static void unlink(String name) {
        CqueueException.check(cqueue.cqb_queue_unlink(name));
    }

    public int maxMessageSize() {
        return max;
    }

    private CqbQueue handle() {
        if (closed) throw new CqueueException(Codes.ECLOSED, "queue is closed");
        return h;
    }

    /** Longest single wait in the library, so that close() is never held up for longer. */
    private static final long SLICE_NS = 100_000_000L;

    /** A call that takes a timeout in nanoseconds and returns a length or a code. */
    private interface TimedCall {
        int call(CqbQueue h, long timeoutNs);
    }

    /**
     * Runs call under the read lock in slices of at most SLICE_NS until it stops timing
     * out or timeout (null: never) has passed: the C API cannot wake a blocked wait, so
     * this is how close() from another thread ends it (ECLOSED) within one slice.
     */
    private int timed(TimedCall call, Duration timeout) {
        if (timeout != null && timeout.isNegative()) throw new IllegalArgumentException("negative timeout");
        long deadline = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
        for (;;) {
            long ns = SLICE_NS;
            if (timeout != null) ns = Math.max(1, Math.min(SLICE_NS, deadline - System.nanoTime()));
            int rc;
            lock.readLock().lock();
            try {
                rc = call.call(handle(), ns);
            } finally {
                lock.readLock().unlock();
            }
            if (rc != Codes.ETIMEDOUT || (timeout != null && System.nanoTime() - deadline >= 0)) {
                return CqueueException.check(rc);
            }
        }
    }

    private int now(TimedCall call) {
        lock.readLock().lock();
        try {
            return CqueueException.check(call.call(handle(), 0));
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Enqueue without waiting; EFULL when there is no room. */
    public void put(byte[] msg) {
        now((h, ns) -> cqueue.cqb_queue_put(h, msg, ns));
    }

    /** Enqueue, waiting up to timeout (null: forever) while full; ETIMEDOUT. */
    public void put(byte[] msg, Duration timeout) {
        timed((h, ns) -> cqueue.cqb_queue_put(h, msg, ns), timeout);
    }

    /** Enqueue without waiting; false when full. */
    public boolean offer(byte[] msg) {
        try {
            put(msg);
            return true;
        } catch (CqueueException e) {
            if (e.isFull()) return false;
            throw e;
        }
    }

    /** Enqueue the bytes of a direct buffer from position to limit; advances position. */
    public void put(ByteBuffer direct, Duration timeout) {
        requireDirect(direct);
        int pos = direct.position(), len = direct.remaining();
        timed((h, ns) -> cqueue.cqb_queue_put_direct(h, direct, pos, len, ns), timeout);
        direct.position(direct.limit());
    }

    /** Dequeue without waiting; EEMPTY when there is nothing. */
    public byte[] take() {
        byte[] buf = new byte[max];
        return Arrays.copyOf(buf, now((h, ns) -> cqueue.cqb_queue_get(h, buf, ns)));
    }

    /** Dequeue, waiting up to timeout (null: forever); ETIMEDOUT. */
    public byte[] take(Duration timeout) {
        byte[] buf = new byte[max];
        return Arrays.copyOf(buf, timed((h, ns) -> cqueue.cqb_queue_get(h, buf, ns), timeout));
    }

    /** Dequeue without waiting; null when empty. */
    public byte[] poll() {
        try {
            return take();
        } catch (CqueueException e) {
            if (e.isEmpty()) return null;
            throw e;
        }
    }

    /**
     * Dequeue into a direct buffer at its position (up to its limit); advances the
     * position and returns the length. EMSGSIZE when the room is too small.
     */
    public int take(ByteBuffer direct, Duration timeout) {
        requireDirect(direct);
        int pos = direct.position(), room = direct.remaining();
        int n = timed((h, ns) -> cqueue.cqb_queue_get_direct(h, direct, pos, room, ns), timeout);
        direct.position(pos + n);
        return n;
    }

    private static void requireDirect(ByteBuffer b) {
        if (b == null || !b.isDirect()) throw new IllegalArgumentException("a direct ByteBuffer is required");
    }

    public Stats stats() {
        lock.readLock().lock();
        try {
            CqbQueueStats s = new CqbQueueStats();
            try {
                CqueueException.check(cqueue.cqb_queue_stats(handle(), s));
                return new Stats(s.getCapacity(), s.getMax_message_size(), s.getLength(),
                        s.getFree_nodes(), s.getEnqueued(), s.getDequeued(), s.getReclaimed());
            } finally {
                s.delete();
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    void pin() {
        lock.writeLock().lock();
        try {
            handle();
            pins++;
        } finally {
            lock.writeLock().unlock();
        }
    }

    void unpin() {
        lock.writeLock().lock();
        try {
            pins--;
        } finally {
            lock.writeLock().unlock();
        }
    }

    CqbQueue handleForPool() {
        return h;
    }

    /**
     * Detach; the queue itself stays. Idempotent. Waits in other threads end with
     * ECLOSED. EPERM while a pool drains the queue (close the pool first).
     */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) return;
            if (pins > 0) throw new CqueueException(Codes.EPERM, "a pool drains this queue: close the pool first");
            closed = true;
            int rc = cqueue.cqb_queue_close(h);
            h.delete();
            CqueueException.check(rc);
        } finally {
            lock.writeLock().unlock();
        }
    }
}
