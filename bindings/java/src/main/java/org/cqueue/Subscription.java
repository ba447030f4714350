package org.cqueue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.cqueue.swig.CqbSubscription;
import org.cqueue.swig.CqbSubscriptionStats;
import org.cqueue.swig.cqueue;
import org.cqueue.swig.cqueueConstants;

/**
 * A subscription of a {@link Broker}. Calls from several threads are serialised
 * (the C API allows one thread at a time); a {@link #poll} waiting in another
 * thread ends with ECLOSED within one wait slice of {@link #close()}.
 */
public final class Subscription implements AutoCloseable, Broker.Dependent {

    /** Counters of this subscription for one topic. */
    public record Stats(boolean durable, long delivered, long missed, long nextOffset,
                        long ackedOffset, long endOffset, long durableOffset, long lagRecords,
                        long lagBytes) {}

    private static final long SLICE_NS = 100_000_000L;

    private final CqbSubscription h;
    private final Broker broker;
    private final ReentrantLock lock = new ReentrantLock(true); // fair: close() gets in between slices
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
        List<Message> m = poll(1, timeout);
        return m.isEmpty() ? null : m.get(0);
    }

    /**
     * Up to {@code max} (1 .. 4096) records in one call: waits as {@link #poll} for the
     * first and returns what is there with it; an empty list when none came in time.
     */
    public List<Message> pollBatch(int max, Duration timeout) {
        if (max < 1 || max > cqueueConstants.POLL_BATCH_MAX) {
            throw new CqueueException(Codes.EINVAL, "max must be 1 .. " + cqueueConstants.POLL_BATCH_MAX);
        }
        return poll(max, timeout);
    }

    private List<Message> poll(int max, Duration timeout) {
        if (timeout != null && timeout.isNegative()) throw new IllegalArgumentException("negative timeout");
        long deadline = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
        for (;;) {
            long ns = SLICE_NS;
            if (timeout != null) ns = timeout.isZero() ? 0 : Math.max(1, Math.min(SLICE_NS, deadline - System.nanoTime()));
            lock.lock();
            try {
                int rc = cqueue.cqb_sub_poll_batch(handle(), max, ns);
                if (rc > 0) return List.of((Message[]) cqueue.cqb_sub_batch(h));
                if (rc != Codes.ETIMEDOUT) throw CqueueException.last(rc);
            } finally {
                lock.unlock();
            }
            if (timeout != null && System.nanoTime() - deadline >= 0) return List.of();
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

    /**
     * Move every cursor to the first record published at or after {@code timestampNs}
     * (CLOCK_REALTIME nanoseconds, as {@link Message#timestampNs()}).
     */
    public void seekTime(long timestampNs) {
        call(s -> cqueue.cqb_sub_seek_time(s, timestampNs));
    }

    /** Counters of this subscription for topic (ENOENT if it has no such topic). */
    public Stats stats(String topic) {
        lock.lock();
        try {
            CqbSubscriptionStats s = new CqbSubscriptionStats();
            try {
                CqueueException.check(cqueue.cqb_sub_stats(handle(), topic, s));
                return new Stats(s.getDurable() != 0, s.getDelivered(), s.getMissed(), s.getNext_offset(),
                        s.getAcked_offset(), s.getEnd_offset(), s.getDurable_offset(), s.getLag_records(),
                        s.getLag_bytes());
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
