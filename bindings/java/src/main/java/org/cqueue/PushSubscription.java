package org.cqueue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.cqueue.swig.CqbPush;
import org.cqueue.swig.cqueue;

/**
 * Records of a {@link Broker} pushed to a {@link BatchHandler} on a {@link Pool}'s workers
 * ({@link Broker#subscribePush}): one crossing from the library's thread into Java per
 * batch of up to 64 records, on workers attached to the JVM once for their life.
 *
 * <p>While open, the library holds a global reference to it (and so to its handler): it
 * keeps delivering even when nothing else refers to it. {@link #close()}, the broker's
 * {@link Broker#close()} and the pool's {@link Pool#close()} stop it; each returns once the
 * batch in flight is done. None of them may be called from a push handler (EPERM): it would
 * wait for that handler itself. {@link Pool#shutdown} stops the delivery too (nothing more
 * is acknowledged) but leaves it open until one of those closes it.
 */
public final class PushSubscription implements AutoCloseable, Broker.Dependent {
    private final CqbPush h = new CqbPush();
    private final Broker broker;
    private final Pool pool;
    private final BatchHandler handler;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicLong failures = new AtomicLong();
    private volatile Throwable lastFailure;
    private volatile boolean closed;

    PushSubscription(Broker broker, Pool pool, BatchHandler handler) {
        this.broker = broker;
        this.pool = pool;
        this.handler = handler;
    }

    CqbPush handle() {
        return h;
    }

    /** Throws EPERM when the calling thread runs a push handler (what would wait for it). */
    static void refuseInHandler(String what) {
        if (cqueue.cqb_push_in_handler() != 0) {
            throw new CqueueException(Codes.EPERM,
                    what + " from a push handler would wait for the handler itself: close from another thread");
        }
    }

    /**
     * Called through JNI by the native trampoline with each batch, on a pool worker: the
     * handled count, or -1 when the handler failed. Nothing thrown gets past this method.
     */
    int deliver(Message[] msgs) {
        try {
            int n = handler.handle(List.of(msgs));
            if (n < 0) throw new CqueueException(Codes.EINVAL, "push handler returned " + n);
            return Math.min(n, msgs.length);
        } catch (Throwable t) {
            failures.incrementAndGet();
            lastFailure = t;
            return -1;
        }
    }

    /** Batches whose handler threw (or returned a negative count). */
    public long failures() {
        return failures.get();
    }

    /** What the latest failed batch's handler threw; null if none failed. */
    public Throwable lastFailure() {
        return lastFailure;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Stop the delivery (idempotent): returns once the batch in flight is done; the handler
     * is not called after. Pending acknowledgements are persisted.
     */
    @Override
    public void close() {
        refuseInHandler("PushSubscription.close()");
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            int rc = cqueue.cqb_push_close(h);
            cqueue.cqb_push_release_java(h);
            h.delete();
            broker.forget(this);
            pool.forget(this);
            CqueueException.check(rc);
        } finally {
            lock.unlock();
        }
    }
}
