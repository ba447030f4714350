package org.cqueue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.IntSupplier;
import org.cqueue.swig.CqbBatchPublish;
import org.cqueue.swig.CqbBroker;
import org.cqueue.swig.CqbBrokerStats;
import org.cqueue.swig.CqbSubscription;
import org.cqueue.swig.cqueue;
import org.cqueue.swig.cqueueConstants;

/**
 * An open broker directory: durable publish/subscribe over memory-mapped logs.
 * Safe for use by many threads; {@link #close()} first closes every
 * {@link Subscription} and {@link PushSubscription} of it still open.
 *
 * <pre>
 * try (Broker b = Broker.open("/var/lib/app/broker", null);
 *      Subscription s = b.subscribe("orders.&gt;", new Broker.SubscribeOptions().durable("billing"))) {
 *     long offset = b.publish("orders.eu", "hello".getBytes());
 *     Message m = s.poll(Duration.ofSeconds(1));
 *     s.ack(m);
 * }
 * try (Pool pool = new Pool(1, 0);
 *      PushSubscription p = b.subscribePush("orders.&gt;", null, pool, msgs -&gt; msgs.size())) {
 *     ...
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

    /** Options for {@link #subscribe} and {@link #subscribePush}: ephemeral, from the next record, by default. */
    public static final class SubscribeOptions {
        String durableId = "";
        long flags;
        long start = cqueueConstants.START_DEFAULT;
        long startValue;

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

        /**
         * Start at {@code offset} (&gt;= 0) of each matching topic (for a durable subscription,
         * only in topics it has no ack for yet). Replaces {@link #startAtTime}.
         */
        public SubscribeOptions startAtOffset(long offset) {
            start = cqueueConstants.START_OFFSET;
            startValue = offset;
            return this;
        }

        /**
         * Start at the first record published at or after {@code timestampNs} (CLOCK_REALTIME
         * nanoseconds, as {@link Message#timestampNs()}), as {@link #startAtOffset}.
         */
        public SubscribeOptions startAtTime(long timestampNs) {
            start = cqueueConstants.START_TIME;
            startValue = timestampNs;
            return this;
        }
    }

    /** Counters of this handle (published..., delivered, fsyncs, segmentsDeleted,
     *  publishFailures) and of the directory (topics, holesSkipped, syncFailed). */
    public record Stats(long topics, long published, long publishedBytes, long delivered,
                        long fsyncs, long holesSkipped, long segmentsDeleted, long publishFailures,
                        boolean syncFailed) {}

    /** What {@link #publishBatch} appended: {@code count} records from {@code firstOffset} on. */
    public record BatchPublish(long firstOffset, int count) {}

    /** What {@link #close()} closes first: the subscriptions of this broker still open. */
    interface Dependent {
        void close();
    }

    private final CqbBroker h;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Set<Dependent> subs = ConcurrentHashMap.newKeySet();
    private boolean closed; // guarded by lock

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

    /**
     * Append the records {@code msgs} to topic in one call; their offsets are consecutive.
     * {@code count} is below {@code msgs.size()} only when an error stopped the batch after
     * some records (when none was appended, the error is thrown).
     */
    public BatchPublish publishBatch(String topic, List<byte[]> msgs) {
        byte[] frames = frames(msgs);
        CqbBatchPublish out = new CqbBatchPublish();
        lock.readLock().lock();
        try {
            CqueueException.check(cqueue.cqb_broker_publish_batch(handle(), topic, frames, out));
            return new BatchPublish(out.getFirst_offset(), (int) out.getCount());
        } finally {
            lock.readLock().unlock();
            out.delete();
        }
    }

    /** msgs as cqb_broker_publish_batch takes them: each a 4-byte little-endian length, then its bytes. */
    private static byte[] frames(List<byte[]> msgs) {
        if (msgs == null || msgs.isEmpty()) throw new CqueueException(Codes.EINVAL, "no record to publish");
        long total = 0;
        for (byte[] m : msgs) {
            if (m == null) throw new CqueueException(Codes.EINVAL, "a record is null");
            if (m.length > cqueueConstants.BROKER_MAX_MESSAGE_SIZE) {
                throw new CqueueException(Codes.EMSGSIZE, "a record has " + m.length + " bytes (max "
                        + cqueueConstants.BROKER_MAX_MESSAGE_SIZE + ")");
            }
            total += 4 + m.length;
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new CqueueException(Codes.EMSGSIZE, "a batch of " + total + " bytes does not fit one call");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
        for (byte[] m : msgs) buf.putInt(m.length).put(m);
        return buf.array();
    }

    /** Subscribe to every topic matching pattern ("a.*.c", "a.&gt;"); opts may be null. */
    public Subscription subscribe(String pattern, SubscribeOptions opts) {
        SubscribeOptions o = opts == null ? new SubscribeOptions() : opts;
        CqbSubscription s = new CqbSubscription();
        Subscription sub = new Subscription(s, this);
        try {
            adopt(sub, () -> cqueue.cqb_broker_subscribe(h, s, pattern, o.durableId, o.flags, o.start,
                    o.startValue));
        } catch (RuntimeException e) {
            s.delete();
            throw e;
        }
        return sub;
    }

    /**
     * Push the records of every topic matching pattern to {@code handler} on {@code pool}'s
     * workers, one call per batch of up to 64 (see {@link BatchHandler}); opts may be null.
     * The subscription must be closed before its pool and broker are freed: their
     * {@code close()} close it first.
     */
    public PushSubscription subscribePush(String pattern, SubscribeOptions opts, Pool pool,
                                          BatchHandler handler) {
        if (pool == null || handler == null) throw new CqueueException(Codes.EINVAL, "pool and handler are required");
        SubscribeOptions o = opts == null ? new SubscribeOptions() : opts;
        PushSubscription p = new PushSubscription(this, pool, handler);
        try {
            adopt(p, () -> pool.adopt(p, ph -> cqueue.cqb_broker_subscribe_push(h, p.handle(), ph, pattern,
                    o.durableId, o.flags, o.start, o.startValue, p)));
        } catch (RuntimeException e) {
            p.handle().delete();
            throw e;
        }
        return p;
    }

    /** Runs subscribe under the read lock and registers sub for {@link #close()}, which cannot miss it. */
    private void adopt(Dependent sub, IntSupplier subscribe) {
        lock.readLock().lock();
        try {
            handle();
            CqueueException.check(subscribe.getAsInt());
            subs.add(sub);
        } finally {
            lock.readLock().unlock();
        }
    }

    void forget(Dependent s) {
        subs.remove(s);
    }

    /** Text of the directory (what 0: topics, 1: metrics), see cqb_broker_text. */
    private String text(int what) {
        lock.readLock().lock();
        try {
            byte[] buf = new byte[4096];
            for (;;) {
                long need = cqueue.cqb_broker_text(handle(), what, buf);
                if (need < 0) throw CqueueException.last((int) need);
                if (need <= buf.length) {
                    return new String(buf, 0, (int) Math.max(0, need - 1), StandardCharsets.UTF_8);
                }
                buf = new byte[(int) need];
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Names of the topics in the directory. */
    public List<String> topics() {
        List<String> out = new ArrayList<>();
        for (String t : text(0).split("\n")) {
            if (!t.isEmpty()) out.add(t);
        }
        return out;
    }

    /** Every metric of the directory and this handle, in the Prometheus text exposition format. */
    public String metrics() {
        return text(1);
    }

    public Stats stats() {
        lock.readLock().lock();
        try {
            CqbBrokerStats s = new CqbBrokerStats();
            try {
                CqueueException.check(cqueue.cqb_broker_stats(handle(), s));
                return new Stats(s.getTopics(), s.getPublished(), s.getPublished_bytes(),
                        s.getDelivered(), s.getFsyncs(), s.getHoles_skipped(), s.getSegments_deleted(),
                        s.getPublish_failures(), s.getSync_failed() != 0);
            } finally {
                s.delete();
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Close each of ds (a snapshot); returns the first exception, or null. */
    static RuntimeException closeAll(Collection<? extends Dependent> ds) {
        RuntimeException first = null;
        for (Dependent d : new ArrayList<>(ds)) {
            try {
                d.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        return first;
    }

    /**
     * Close every open subscription (push subscriptions after their batch in flight), then
     * the broker. Idempotent. EPERM from a push handler.
     */
    @Override
    public void close() {
        PushSubscription.refuseInHandler("Broker.close()");
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true; // calls in flight have ended; later ones get ECLOSED
        } finally {
            lock.writeLock().unlock();
        }
        // Without the lock: a push handler may still call this broker while its subscription
        // waits for it to return.
        RuntimeException failed = closeAll(subs);
        int rc = cqueue.cqb_broker_close(h);
        h.delete();
        if (failed != null) throw failed;
        CqueueException.check(rc);
    }
}
