package org.cqueue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.ToIntFunction;
import org.cqueue.swig.CqbQueue;
import org.cqueue.swig.CqbQueueStats;
import org.cqueue.swig.cqueue;
import org.cqueue.swig.cqueueConstants;

/**
 * An open shared-memory queue. Safe for use by many threads; {@link #close()} ends the
 * waits in other threads at once (ECLOSED) and frees the handle when they have returned.
 * {@link Thread#interrupt()} does not end a wait (a thread waiting in the library cannot be
 * woken by it, and these methods throw no InterruptedException): its timeout or close() does.
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
    private final Gate gate = new Gate("queue");

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

    /** A call that takes a timeout in nanoseconds and returns a length or a code. */
    private interface TimedCall {
        int call(CqbQueue h, long timeoutNs);
    }

    /**
     * Runs call, waiting up to timeout (null: forever) in one call into the library, until
     * it completes or fails: close() from another thread ends it (the queue's interrupt,
     * CQ_ECANCELED, then ECLOSED). Thread.interrupt() does not (see {@link Gate}).
     */
    private int timed(TimedCall call, Duration timeout) {
        if (timeout != null && timeout.isNegative()) throw new IllegalArgumentException("negative timeout");
        long deadline = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
        gate.enter();
        try {
            for (;;) {
                long ns = timeout == null ? -1 : Math.max(1, deadline - System.nanoTime());
                int rc = call.call(h, ns);
                if (rc != Codes.ECANCELED) return CqueueException.check(rc);
                // The queue's interrupt, which only close() calls here; one meant for
                // another wait would leave this one to wait again.
                if (gate.closing()) throw new CqueueException(Codes.ECLOSED, "queue is closed");
            }
        } finally {
            gate.leave();
        }
    }

    /** Runs f, a call that does not wait, with the handle. */
    private int call(ToIntFunction<CqbQueue> f) {
        gate.enter();
        try {
            return CqueueException.check(f.applyAsInt(h));
        } finally {
            gate.leave();
        }
    }

    /** Enqueue without waiting; EFULL when there is no room. */
    public void put(byte[] msg) {
        call(h -> cqueue.cqb_queue_put(h, msg, 0));
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
        return Arrays.copyOf(buf, call(h -> cqueue.cqb_queue_get(h, buf, 0)));
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
        CqbQueueStats s = new CqbQueueStats();
        try {
            call(h -> cqueue.cqb_queue_stats(h, s));
            return new Stats(s.getCapacity(), s.getMax_message_size(), s.getLength(), s.getFree_nodes(),
                    s.getEnqueued(), s.getDequeued(), s.getReclaimed());
        } finally {
            s.delete();
        }
    }

    /** A pool drains the queue until {@link #unpin}: close() fails with EPERM meanwhile. */
    void pin() {
        gate.pin();
    }

    void unpin() {
        gate.unpin();
    }

    CqbQueue handleForPool() {
        return h;
    }

    /**
     * Detach; the queue itself stays. Idempotent. Waits in other threads end at once with
     * ECLOSED; the handle is freed when they have returned. EPERM while a pool drains the
     * queue (close the pool first).
     */
    @Override
    public void close() {
        CqueueException.check(gate.close(() -> cqueue.cqb_queue_interrupt(h), () -> {
            int rc = cqueue.cqb_queue_close(h);
            h.delete();
            return rc;
        }));
    }
}
