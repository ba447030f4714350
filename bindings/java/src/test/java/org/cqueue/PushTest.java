package org.cqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PushTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private static void publish(Broker b, String topic, int from, int to) {
        for (int i = from; i < to; i++) b.publish(topic, ("r" + i).getBytes(StandardCharsets.UTF_8));
    }

    private static void waitFor(String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) fail("timed out waiting for " + what);
            Thread.sleep(2);
        }
    }

    /** A handler that keeps every batch; ret(call, msgs) says what to return (null: all). */
    private static final class Recorder implements BatchHandler {
        final List<List<Message>> batches = new ArrayList<>();
        final BiFunction<Integer, List<Message>, Integer> ret;

        Recorder(BiFunction<Integer, List<Message>, Integer> ret) {
            this.ret = ret;
        }

        @Override
        public int handle(List<Message> msgs) {
            int call;
            synchronized (this) {
                batches.add(msgs);
                call = batches.size() - 1;
            }
            return ret == null ? msgs.size() : ret.apply(call, msgs);
        }

        synchronized List<List<Long>> offsets() {
            List<List<Long>> out = new ArrayList<>();
            for (List<Message> b : batches) out.add(b.stream().map(Message::offset).toList());
            return out;
        }

        synchronized boolean seen(long offset) {
            return batches.stream().anyMatch(b -> b.stream().anyMatch(m -> m.offset() == offset));
        }

        /** The latest call got offset, and was not given first (a redelivery, after a failure). */
        synchronized boolean lastGot(long offset, long first) {
            if (batches.isEmpty()) return false;
            List<Message> b = batches.get(batches.size() - 1);
            return b.get(0).offset() != first && b.stream().anyMatch(m -> m.offset() == offset);
        }
    }

    @Test
    void deliversBatchesInOrder() throws Exception {
        try (Broker b = Broker.open(dir.toString(), null); Pool pool = new Pool(1, 0)) {
            publish(b, "p.in", 0, 200);
            Recorder r = new Recorder(null);
            PushSubscription s;
            try (PushSubscription p = b.subscribePush("p.>", new Broker.SubscribeOptions().earliest(true), pool, r)) {
                s = p;
                waitFor("offset 199", () -> r.seen(199));
            }
            assertTrue(s.isClosed());
            List<Message> all = new ArrayList<>();
            r.batches.forEach(all::addAll);
            assertEquals(200, all.size());
            for (int i = 0; i < 200; i++) {
                Message m = all.get(i);
                assertEquals(i, m.offset());
                assertEquals("p.in", m.topic());
                assertArrayEquals(("r" + i).getBytes(StandardCharsets.UTF_8), m.data());
                assertTrue(m.timestampNs() > 0);
            }
            // 200 records published before subscribing come in batches of up to 64.
            assertEquals(List.of(64, 64, 64, 8), r.batches.stream().map(List::size).toList());
            assertEquals(0, s.failures());
            assertNull(s.lastFailure());
        }
    }

    @Test
    void shortReturnFailsOneRecordAndRedeliversTheRest() throws Exception {
        try (Broker b = Broker.open(dir.toString(), new Broker.Options().fsync(Broker.Fsync.GROUP));
             Pool pool = new Pool(1, 0)) {
            publish(b, "short", 0, 10);
            Recorder r = new Recorder((call, msgs) -> call == 0 ? 3 : msgs.size());
            try (PushSubscription s = b.subscribePush("short",
                    new Broker.SubscribeOptions().durable("d1").earliest(true), pool, r)) {
                waitFor("offset 9 again", () -> r.lastGot(9, 0));
                assertEquals(0, s.failures());
            }
            List<List<Long>> offs = r.offsets();
            assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L), offs.get(0));
            assertEquals(List.of(4L, 5L, 6L, 7L, 8L, 9L), offs.get(1), "3 failed, 4.. came again");
            assertEquals(0, pool.stats().failed());
            // 0..2 were acknowledged, the topic was not from 3 on: a durable subscriber resumes at 3.
            try (Subscription pull = b.subscribe("short", new Broker.SubscribeOptions().durable("d1"))) {
                assertEquals(3, pull.poll(WAIT).offset());
            }
        }
    }

    @Test
    void exceptionFailsTheBatchAndDurableResumesThere() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom at 5");
        try (Broker b = Broker.open(dir.toString(), new Broker.Options().fsync(Broker.Fsync.GROUP));
             Pool pool = new Pool(1, 0)) {
            publish(b, "boom", 0, 5);
            Recorder r = new Recorder((call, msgs) -> {
                if (msgs.get(0).offset() == 5) throw boom;
                return msgs.size();
            });
            PushSubscription s =
                    b.subscribePush("boom", new Broker.SubscribeOptions().durable("d2").earliest(true), pool, r);
            waitFor("offset 4", () -> r.seen(4));
            publish(b, "boom", 5, 10);
            waitFor("offset 9 after the failure", () -> r.lastGot(9, 5));
            s.close();
            assertEquals(1, s.failures());
            assertSame(boom, s.lastFailure());
            assertEquals(1, pool.stats().failed(), "the pool counts the failed batch");
            List<List<Long>> offs = r.offsets();
            int failed = 0;
            while (offs.get(failed).get(0) != 5) failed++;
            assertEquals(6L, offs.get(failed + 1).get(0), "5 failed, the rest came again");
            try (Subscription pull = b.subscribe("boom", new Broker.SubscribeOptions().durable("d2"))) {
                assertEquals(5, pull.poll(WAIT).offset());
            }
        }
    }

    @Test
    void negativeCountFailsTheBatch() throws Exception {
        try (Broker b = Broker.open(dir.toString(), null); Pool pool = new Pool(1, 0)) {
            Recorder r = new Recorder((call, msgs) -> call == 0 ? -1 : msgs.size());
            try (PushSubscription s = b.subscribePush("neg", new Broker.SubscribeOptions().earliest(true), pool, r)) {
                publish(b, "neg", 0, 2);
                waitFor("a failure", () -> s.failures() == 1);
                assertEquals(Codes.EINVAL, ((CqueueException) s.lastFailure()).code());
                waitFor("offset 1", () -> r.seen(1));
            }
        }
    }

    @Test
    void closeWaitsForTheBatchAndStopsDelivery() throws Exception {
        try (Broker b = Broker.open(dir.toString(), null); Pool pool = new Pool(1, 0)) {
            CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);
            AtomicReference<PushSubscription> sub = new AtomicReference<>();
            List<Integer> refused = new ArrayList<>();
            List<Integer> calls = new ArrayList<>();
            PushSubscription s = b.subscribePush("c", null, pool, msgs -> {
                if (entered.getCount() > 0) {
                    // Closing from the handler would wait for itself: refused.
                    for (Runnable close : List.<Runnable>of(() -> sub.get().close(), b::close, pool::close)) {
                        try {
                            close.run();
                        } catch (CqueueException e) {
                            refused.add(e.code());
                        }
                    }
                    entered.countDown();
                    release.await();
                }
                synchronized (calls) {
                    calls.add(msgs.size());
                }
                return msgs.size();
            });
            sub.set(s);
            b.publish("c", new byte[1]);
            assertTrue(entered.await(5, TimeUnit.SECONDS));
            assertEquals(List.of(Codes.EPERM, Codes.EPERM, Codes.EPERM), refused);
            Thread closer = new Thread(s::close);
            closer.start();
            closer.join(100);
            assertTrue(closer.isAlive(), "close() returned while the batch was in flight");
            release.countDown();
            closer.join(5000);
            assertFalse(closer.isAlive());
            assertTrue(s.isClosed());
            publish(b, "c", 0, 4);
            Thread.sleep(200);
            synchronized (calls) {
                assertEquals(List.of(1), calls);
            }
            assertEquals(0, s.failures());
        }
    }

    @Test
    void brokerOrPoolCloseClosesPushSubscriptions() throws Exception {
        for (String first : List.of("broker", "pool")) {
            Broker b = Broker.open(dir.resolve(first).toString(), null);
            Pool pool = new Pool(1, 0);
            Recorder r = new Recorder(null);
            PushSubscription s = b.subscribePush("w", new Broker.SubscribeOptions().earliest(true), pool, r);
            publish(b, "w", 0, 3);
            waitFor("offset 2", () -> r.seen(2));
            if (first.equals("broker")) b.close();
            else pool.close();
            assertTrue(s.isClosed());
            s.close(); // a no-op now
            int n = r.offsets().size();
            if (first.equals("pool")) {
                publish(b, "w", 3, 6);
                Thread.sleep(100);
            }
            assertEquals(n, r.offsets().size());
            CqueueException e = assertThrows(CqueueException.class, () -> b.subscribePush("w", null, pool, r));
            assertEquals(Codes.ECLOSED, e.code());
            b.close();
            pool.close();
        }
    }

    @Test
    void argumentsAreChecked() {
        try (Broker b = Broker.open(dir.toString(), null); Pool pool = new Pool(1, 0)) {
            BatchHandler all = List::size;
            assertEquals(Codes.EINVAL,
                    assertThrows(CqueueException.class, () -> b.subscribePush("x", null, pool, null)).code());
            assertEquals(Codes.EINVAL,
                    assertThrows(CqueueException.class, () -> b.subscribePush("x", null, null, all)).code());
            assertEquals(Codes.EINVAL,
                    assertThrows(CqueueException.class, () -> b.subscribePush("bad pattern!", null, pool, all)).code());
            assertEquals(Codes.EINVAL, assertThrows(CqueueException.class,
                    () -> b.subscribePush("x", new Broker.SubscribeOptions().durable("bad id!"), pool, all)).code());
        }
    }
}
