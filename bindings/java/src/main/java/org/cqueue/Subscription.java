package org.cqueue;

import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;
import org.cqueue.swig.CqbSubscription;
import org.cqueue.swig.CqbSubscriptionStats;
import org.cqueue.swig.cqueue;
import org.cqueue.swig.cqueueConstants;

/**
 * A subscription of a {@link Broker}. Calls from several threads are serialised (the C API
 * allows one thread at a time): a poll waits for a poll in progress, any other call goes
 * first (it ends the poll's wait, which then waits again). {@link #close()} ends a
 * {@link #poll} waiting in another thread at once (ECLOSED). {@link Thread#interrupt()}
 * does not end a poll (a thread waiting in the library cannot be woken by it, and these
 * methods throw no InterruptedException): its timeout or close() does.
 */
public final class Subscription implements AutoCloseable, Broker.Dependent {

    /** Counters of this subscription for one topic. */
    public record Stats(boolean durable, long delivered, long missed, long nextOffset,
                        long ackedOffset, long endOffset, long durableOffset, long lagRecords,
                        long lagBytes) {}

    private final CqbSubscription h;
    private final Broker broker;
    private final Gate gate = new Gate("subscription");
    private final Turn turn = new Turn();

    Subscription(CqbSubscription h, Broker broker) {
        this.h = h;
        this.broker = broker;
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
        if (timeout != null && timeout.isZero()) {
            return now(() -> {
                int rc = cqueue.cqb_sub_poll_batch(h, max, 0);
                if (rc == Codes.ETIMEDOUT) return List.of();
                CqueueException.check(rc);
                return batch();
            });
        }
        long deadline = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
        gate.enter();
        try {
            for (;;) {
                long ns = timeout == null ? -1 : deadline - System.nanoTime();
                if (timeout != null && ns <= 0) return List.of();
                // The turn for this wait only: a call that does not wait may come in between.
                if (!turn.takeToPoll(ns)) return List.of();
                int rc;
                try {
                    if (gate.closing()) throw new CqueueException(Codes.ECLOSED, "subscription is closed");
                    if (timeout != null) { // the time the turn took counts
                        ns = deadline - System.nanoTime();
                        if (ns <= 0) return List.of();
                    }
                    rc = cqueue.cqb_sub_poll_batch(h, max, ns);
                    if (rc > 0) return batch();
                } finally {
                    turn.release();
                }
                // ECANCELED: close() (ECLOSED) or a call that went first (wait again).
                if (rc == Codes.ECANCELED && gate.closing()) {
                    throw new CqueueException(Codes.ECLOSED, "subscription is closed");
                }
                if (rc != Codes.ECANCELED && rc != Codes.ETIMEDOUT) throw CqueueException.last(rc);
            }
        } finally {
            gate.leave();
        }
    }

    /** The records of the last poll (copied with the turn held: the next poll replaces them). */
    private List<Message> batch() {
        return List.of((Message[]) cqueue.cqb_sub_batch(h));
    }

    /** Runs f, calls that do not wait, with the turn (see {@link Turn}). */
    private <T> T now(Supplier<T> f) {
        gate.enter();
        try {
            turn.take(() -> cqueue.cqb_sub_interrupt(h));
            try {
                return f.get();
            } finally {
                turn.release();
            }
        } finally {
            gate.leave();
        }
    }

    private void call(ToIntFunction<CqbSubscription> f) {
        now(() -> CqueueException.check(f.applyAsInt(h)));
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
        CqbSubscriptionStats s = new CqbSubscriptionStats();
        try {
            call(sub -> cqueue.cqb_sub_stats(sub, topic, s));
            return new Stats(s.getDurable() != 0, s.getDelivered(), s.getMissed(), s.getNext_offset(),
                    s.getAcked_offset(), s.getEnd_offset(), s.getDurable_offset(), s.getLag_records(),
                    s.getLag_bytes());
        } finally {
            s.delete();
        }
    }

    /** Unsubscribe, persisting pending acks. Idempotent. A poll waiting in another thread ends at once (ECLOSED). */
    @Override
    public void close() {
        CqueueException.check(gate.close(() -> cqueue.cqb_sub_interrupt(h), () -> {
            int rc = cqueue.cqb_sub_close(h);
            h.delete();
            broker.forget(this);
            return rc;
        }));
    }
}
