package org.cqueue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.cqueue.swig.CqbBroker;
import org.cqueue.swig.CqbBrokerStats;
import org.cqueue.swig.CqbSubscription;
import org.cqueue.swig.cqueue;
import org.cqueue.swig.cqueueConstants;

/**
 * An open broker directory: durable publish/subscribe over memory-mapped logs.
 * Safe for use by many threads; {@link #close()} first closes every
 * {@link Subscription} of it still open.
 *
 * <pre>
 * try (Broker b = Broker.open("/var/lib/app/broker", null);
 *      Subscription s = b.subscribe("orders.&gt;", new Broker.SubscribeOptions().durable("billing"))) {
 *     long offset = b.publish("orders.eu", "hello".getBytes());
 *     Message m = s.poll(Duration.ofSeconds(1));
 *     s.ack(m);
 * }
 * </pre>
 */
public final class Broker implements AutoCloseable {

    /** When a publish is on disk. */
    public enum Fsync {
        NONE(cqueueConstants.FSYNC_NONE), INTERVAL(cqueueConstants.FSYNC_INTERVAL),
        GROUP(cqueueConstants.FSYNC_GROUP), ALWAYS(cqueueConstants.FSYNC_ALWAYS);

        final int code;

        Fsync(int code) {
            this.code = code;
        }
    }

    /** Options for {@link #open}; zero values take the library's defaults. */
    public static final class Options {
        Fsync fsync = Fsync.NONE;
        long fsyncIntervalMs;
        long overflow;
        long segmentSize;
        long mode;

        public Options fsync(Fsync f) {
            fsync = f;
            return this;
        }

        public Options fsyncIntervalMs(long ms) {
            fsyncIntervalMs = ms;
            return this;
        }

        /** cqueueConstants.OVERFLOW_BLOCK, _FAIL or _DROP. */
        public Options overflow(int policy) {
            overflow = policy;
            return this;
        }

        public Options segmentSize(long bytes) {
            segmentSize = bytes;
            return this;
        }

        public Options mode(long m) {
            mode = m;
            return this;
        }
    }

    /** Options for {@link #subscribe}: ephemeral, from the next record, by default. */
    public static final class SubscribeOptions {
        String durableId = "";
        long flags;

        /** Durable: resume after this subscriber's acknowledged offsets. */
        public SubscribeOptions durable(String id) {
            durableId = id == null ? "" : id;
            return this;
        }

        /** A new subscription starts at the oldest retained record. */
        public SubscribeOptions earliest(boolean on) {
            flags = on ? flags | cqueueConstants.SUB_EARLIEST : flags & ~cqueueConstants.SUB_EARLIEST;
            return this;
        }
    }

    /** Counters of this handle and of the directory. */
    public record Stats(long topics, long published, long publishedBytes, long delivered,
                        long fsyncs, long publishFailures, boolean syncFailed) {}

    private final CqbBroker h;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Set<Subscription> subs = ConcurrentHashMap.newKeySet();
    private boolean closed;

    private Broker(CqbBroker h) {
        this.h = h;
    }

    /** Open (creating if missing) the broker directory {@code dir}; opts may be null. */
    public static Broker open(String dir, Options opts) {
        Options o = opts == null ? new Options() : opts;
        CqbBroker h = new CqbBroker();
        int rc = cqueue.cqb_broker_open(h, dir, o.fsync.code, o.fsyncIntervalMs, o.overflow,
                o.segmentSize, o.mode);
        if (rc < 0) {
            CqueueException e = CqueueException.last(rc);
            h.delete();
            throw e;
        }
        return new Broker(h);
    }

    private CqbBroker handle() {
        if (closed) throw new CqueueException(Codes.ECLOSED, "broker is closed");
        return h;
    }

    /** Append one record to topic; returns its offset. */
    public long publish(String topic, byte[] data) {
        lock.readLock().lock();
        try {
            long off = cqueue.cqb_broker_publish(handle(), topic, data);
            if (off < 0) throw CqueueException.last((int) off);
            return off;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Subscribe to every topic matching pattern ("a.*.c", "a.&gt;"); opts may be null. */
    public Subscription subscribe(String pattern, SubscribeOptions opts) {
        SubscribeOptions o = opts == null ? new SubscribeOptions() : opts;
        lock.readLock().lock();
        try {
            CqbSubscription s = new CqbSubscription();
            int rc = cqueue.cqb_broker_subscribe(handle(), s, pattern, o.durableId, o.flags,
                    cqueueConstants.START_DEFAULT, 0);
            if (rc < 0) {
                CqueueException e = CqueueException.last(rc);
                s.delete();
                throw e;
            }
            Subscription sub = new Subscription(s, this);
            subs.add(sub);
            return sub;
        } finally {
            lock.readLock().unlock();
        }
    }

    void forget(Subscription s) {
        subs.remove(s);
    }

    /** Names of the topics in the directory. */
    public List<String> topics() {
        lock.readLock().lock();
        try {
            byte[] buf = new byte[4096];
            for (;;) {
                long need = cqueue.cqb_broker_text(handle(), 0, buf);
                if (need < 0) throw CqueueException.last((int) need);
                if (need <= buf.length) {
                    String text = new String(buf, 0, (int) Math.max(0, need - 1), StandardCharsets.UTF_8);
                    List<String> out = new ArrayList<>();
                    for (String t : text.split("\n")) {
                        if (!t.isEmpty()) out.add(t);
                    }
                    return out;
                }
                buf = new byte[(int) need];
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    public Stats stats() {
        lock.readLock().lock();
        try {
            CqbBrokerStats s = new CqbBrokerStats();
            try {
                CqueueException.check(cqueue.cqb_broker_stats(handle(), s));
                return new Stats(s.getTopics(), s.getPublished(), s.getPublished_bytes(),
                        s.getDelivered(), s.getFsyncs(), s.getPublish_failures(), s.getSync_failed() != 0);
            } finally {
                s.delete();
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Close every open subscription, then the broker. Idempotent. */
    @Override
    public void close() {
        for (Subscription s : Arrays.asList(subs.toArray(new Subscription[0]))) {
            s.close();
        }
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            int rc = cqueue.cqb_broker_close(h);
            h.delete();
            CqueueException.check(rc);
        } finally {
            lock.writeLock().unlock();
        }
    }
}
