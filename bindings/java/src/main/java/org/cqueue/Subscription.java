package org.cqueue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;
import org.cqueue.swig.CqbSubscription;
import org.cqueue.swig.CqbSubscriptionStats;
import org.cqueue.swig.cqueue;

/**
 * A subscription of a {@link Broker}. Calls from several threads are serialised
 * (the C API allows one thread at a time); a {@link #poll} waiting in another
 * thread ends with ECLOSED within one wait slice of {@link #close()}.
 */
public final class Subscription implements AutoCloseable {

    /** Counters of this subscription for one topic. */
    public record Stats(boolean durable, long delivered, long missed, long nextOffset,
                        long ackedOffset, long endOffset, long lagRecords) {}

    private static final long SLICE_NS = 100_000_000L;

    private final CqbSubscription h;
    private final Broker broker;
    private final ReentrantLock lock = new ReentrantLock(true); // fair: close() gets in between slices
    private final byte[] topicBuf = new byte[256];
    private boolean closed;

    Subscription(CqbSubscription h, Broker broker) {
        this.h = h;
        this.broker = broker;
    }

    private CqbSubscription handle() {
        if (closed) throw new CqueueException(Codes.ECLOSED, "subscription is closed");
        return h;
    }

    /**
     * The next record of any matching topic, waiting up to timeout (null: forever,
     * zero: not at all); null when none came in time.
     */
    public Message poll(Duration timeout) {
        if (timeout != null && timeout.isNegative()) throw new IllegalArgumentException("negative timeout");
        long deadline = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
        for (;;) {
            long ns = SLICE_NS;
            if (timeout != null) ns = timeout.isZero() ? 0 : Math.max(1, Math.min(SLICE_NS, deadline - System.nanoTime()));
            lock.lock();
            try {
                int rc = cqueue.cqb_sub_poll(handle(), ns);
                if (rc >= 0) {
                    byte[] data = new byte[rc];
                    cqueue.cqb_sub_copy_data(h, data);
                    int tl = cqueue.cqb_sub_copy_topic(h, topicBuf);
                    return new Message(new String(topicBuf, 0, Math.min(tl, topicBuf.length), StandardCharsets.UTF_8),
                            cqueue.cqb_sub_offset(h), cqueue.cqb_sub_timestamp(h), data);
                }
                if (rc != Codes.ETIMEDOUT) throw CqueueException.last(rc);
            } finally {
                lock.unlock();
            }
            if (timeout != null && System.nanoTime() - deadline >= 0) return null;
        }
    }

    private void call(java.util.function.ToIntFunction<CqbSubscription> f) {
        lock.lock();
        try {
            CqueueException.check(f.applyAsInt(handle()));
        } finally {
            lock.unlock();
        }
    }

    /** Acknowledge m and every earlier record of its topic. */
    public void ack(Message m) {
        ack(m.topic(), m.offset());
    }

    /** Acknowledge every record of topic up to and including offset. */
    public void ack(String topic, long offset) {
        call(s -> cqueue.cqb_sub_ack(s, topic, offset));
    }

    /** Move the cursor of topic (null: every topic) to offset. */
    public void seek(String topic, long offset) {
        call(s -> cqueue.cqb_sub_seek(s, topic == null ? "" : topic, offset));
    }

    public Stats stats(String topic) {
        lock.lock();
        try {
            CqbSubscriptionStats s = new CqbSubscriptionStats();
            try {
                CqueueException.check(cqueue.cqb_sub_stats(handle(), topic, s));
                return new Stats(s.getDurable() != 0, s.getDelivered(), s.getMissed(), s.getNext_offset(),
                        s.getAcked_offset(), s.getEnd_offset(), s.getLag_records());
            } finally {
                s.delete();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Unsubscribe, persisting pending acks. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            int rc = cqueue.cqb_sub_close(h);
            h.delete();
            broker.forget(this);
            CqueueException.check(rc);
        } finally {
            lock.unlock();
        }
    }
}
