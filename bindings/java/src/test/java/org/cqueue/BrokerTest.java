package org.cqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BrokerTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void publishReturnsOffsetsAndPollDeliversInOrder() {
        try (Broker br = Broker.open(dir.toString(), null);
             Subscription s = br.subscribe("orders.>", new Broker.SubscribeOptions().earliest(true))) {
            assertEquals(0, br.publish("orders.eu", b("zero")));
            assertEquals(1, br.publish("orders.eu", b("one")));
            assertEquals(0, br.publish("orders.us", new byte[0]), "offsets are per topic");
            List<String> eu = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Message m = s.poll(WAIT);
                assertNotNull(m);
                assertTrue(m.timestampNs() > 0);
                if (m.topic().equals("orders.eu")) {
                    assertEquals(eu.size(), m.offset());
                    eu.add(new String(m.data(), StandardCharsets.UTF_8));
                } else {
                    assertEquals("orders.us", m.topic());
                    assertEquals(0, m.data().length);
                }
            }
            assertEquals(List.of("zero", "one"), eu);
            assertNull(s.poll(Duration.ZERO));
            assertNull(s.poll(Duration.ofMillis(20)));
            assertEquals(Set.of("orders.eu", "orders.us"), new HashSet<>(br.topics()));
            assertEquals(3, br.stats().published());
        }
    }

    @Test
    void errorsCarryTheCode() {
        Broker br = Broker.open(dir.toString(), null);
        CqueueException e = assertThrows(CqueueException.class, () -> br.publish("bad topic!", b("x")));
        assertEquals(Codes.EINVAL, e.code());
        e = assertThrows(CqueueException.class,
                () -> br.subscribe("a.b", new Broker.SubscribeOptions().durable("bad id!")));
        assertEquals(Codes.EINVAL, e.code());
        Subscription s = br.subscribe("a.b", null);
        e = assertThrows(CqueueException.class, () -> s.stats("nope"));
        assertEquals(Codes.ENOENT, e.code());
        br.close(); // closes s too
        assertEquals(Codes.ECLOSED, assertThrows(CqueueException.class, () -> s.poll(Duration.ZERO)).code());
        assertEquals(Codes.ECLOSED, assertThrows(CqueueException.class, () -> br.publish("a.b", b("x"))).code());
        br.close();
    }

    @Test
    void durableSubscriptionResumesAfterItsAcks() {
        try (Broker br = Broker.open(dir.toString(), new Broker.Options().fsync(Broker.Fsync.GROUP));
             Subscription s = br.subscribe("jobs", new Broker.SubscribeOptions().durable("worker-1").earliest(true))) {
            for (int i = 0; i < 5; i++) br.publish("jobs", b("r" + i));
            for (int i = 0; i < 3; i++) {
                Message m = s.poll(WAIT);
                assertEquals(i, m.offset());
                s.ack(m);
            }
            Subscription.Stats st = s.stats("jobs");
            assertEquals(3, st.ackedOffset());
            assertTrue(st.durable());
        }
        try (Broker br = Broker.open(dir.toString(), null);
             Subscription s = br.subscribe("jobs", new Broker.SubscribeOptions().durable("worker-1"))) {
            Message m = s.poll(WAIT);
            assertEquals(3, m.offset());
            assertArrayEquals(b("r3"), m.data());
            s.seek(null, 1);
            assertEquals(1, s.poll(WAIT).offset());
        }
    }

    @Test
    void threadsPublishAndCloseEndsABlockedPoll() throws Exception {
        try (Broker br = Broker.open(dir.toString(), null)) {
            Subscription s = br.subscribe("mt", new Broker.SubscribeOptions().earliest(true));
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int tt = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; i < 100; i++) br.publish("mt", b(tt + "-" + i));
                });
                th.start();
                ts.add(th);
            }
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 400; i++) {
                Message m = s.poll(WAIT);
                assertEquals(i, m.offset());
                assertTrue(seen.add(new String(m.data(), StandardCharsets.UTF_8)));
            }
            for (Thread th : ts) th.join();
            AtomicReference<Throwable> err = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                try {
                    s.poll(null);
                } catch (Throwable t) {
                    err.set(t);
                }
            });
            reader.start();
            Thread.sleep(20);
            s.close();
            reader.join(5000);
            assertFalse(reader.isAlive());
            assertTrue(err.get() instanceof CqueueException);
            assertEquals(Codes.ECLOSED, ((CqueueException) err.get()).code());
        }
    }

    @Test
    void publishBatchAndPollBatch() {
        try (Broker br = Broker.open(dir.toString(), null);
             Subscription s = br.subscribe("batch", new Broker.SubscribeOptions().earliest(true))) {
            assertEquals(new Broker.BatchPublish(0, 3),
                    br.publishBatch("batch", List.of(b("a"), new byte[0], b("ccc"))));
            assertEquals(new Broker.BatchPublish(3, 2), br.publishBatch("batch", List.of(b("d"), b("e"))));
            List<Message> msgs = s.pollBatch(100, WAIT); // every record is there: one call returns them all
            assertEquals(5, msgs.size());
            List<String> want = List.of("a", "", "ccc", "d", "e");
            for (int i = 0; i < 5; i++) {
                assertEquals(i, msgs.get(i).offset());
                assertEquals("batch", msgs.get(i).topic());
                assertEquals(want.get(i), new String(msgs.get(i).data(), StandardCharsets.UTF_8));
            }
            assertEquals(List.of(), s.pollBatch(10, Duration.ZERO));
            br.publishBatch("batch", List.of(b("f"), b("g"), b("h")));
            assertEquals(List.of(5L, 6L), s.pollBatch(2, Duration.ZERO).stream().map(Message::offset).toList());
            assertEquals(7, s.poll(WAIT).offset());
            assertEquals(Codes.EINVAL, assertThrows(CqueueException.class, () -> s.pollBatch(0, WAIT)).code());
            assertEquals(Codes.EINVAL, assertThrows(CqueueException.class, () -> s.pollBatch(4097, WAIT)).code());
            assertEquals(Codes.EINVAL,
                    assertThrows(CqueueException.class, () -> br.publishBatch("batch", List.of())).code());
            assertEquals(Codes.EINVAL,
                    assertThrows(CqueueException.class, () -> br.publishBatch("bad topic!", List.of(b("x")))).code());
            assertEquals(Codes.EMSGSIZE, assertThrows(CqueueException.class,
                    () -> br.publishBatch("batch", List.of(new byte[0], new byte[16 * 1024 * 1024 + 1]))).code());
            assertEquals(8, br.stats().published());
        }
    }

    /** r0..r5 with a pause before r3; returns r3's timestamp (later than r0..r2's). */
    private static long publishSpaced(Broker br, String topic) throws InterruptedException {
        for (int i = 0; i < 6; i++) {
            if (i == 3) Thread.sleep(2);
            br.publish(topic, b("r" + i));
        }
        try (Subscription s = br.subscribe(topic, new Broker.SubscribeOptions().startAtOffset(3))) {
            Message m = s.poll(WAIT);
            assertEquals(3, m.offset());
            return m.timestampNs();
        }
    }

    @Test
    void startPositionsAndSeekTime() throws Exception {
        try (Broker br = Broker.open(dir.toString(), null)) {
            long t3 = publishSpaced(br, "st");
            Subscription s = br.subscribe("st", new Broker.SubscribeOptions().startAtTime(t3));
            assertEquals(3, s.poll(WAIT).offset());
            s.seek(null, 0);
            assertEquals(0, s.poll(WAIT).offset());
            s.seekTime(t3);
            assertEquals(3, s.poll(WAIT).offset());
            s.seekTime(0);
            assertEquals(0, s.poll(WAIT).offset());
            // A durable subscription starts there too, in topics it has no ack for yet.
            Subscription d = br.subscribe("st", new Broker.SubscribeOptions().durable("late").startAtOffset(5));
            assertArrayEquals(b("r5"), d.poll(WAIT).data());
            assertEquals(Codes.EINVAL, assertThrows(CqueueException.class,
                    () -> br.subscribe("st", new Broker.SubscribeOptions().startAtOffset(-1))).code());
        }
    }

    @Test
    void statsAndMetrics() {
        Broker br = Broker.open(dir.toString(), new Broker.Options().fsync(Broker.Fsync.GROUP));
        try (Subscription s = br.subscribe("m.t", new Broker.SubscribeOptions().durable("watcher").earliest(true))) {
            br.publishBatch("m.t", List.of(b("12345"), b("67890"), b("x")));
            s.ack(s.poll(WAIT));
            s.poll(WAIT);
            Subscription.Stats st = s.stats("m.t");
            assertTrue(st.lagBytes() > 0);
            assertEquals(new Subscription.Stats(true, 2, 0, 2, 1, 3, 3, 1, st.lagBytes()), st);
            Broker.Stats bs = br.stats();
            assertEquals(1, bs.topics());
            assertEquals(3, bs.published());
            assertEquals(11, bs.publishedBytes());
            assertEquals(2, bs.delivered());
            assertTrue(bs.fsyncs() > 0);
            assertEquals(0, bs.publishFailures());
            assertFalse(bs.syncFailed());
            String text = br.metrics();
            assertTrue(text.contains("cqueue_broker_published_total 3\n"), text);
            assertTrue(text.contains("cqueue_topic_end_offset{topic=\"m.t\"} 3\n"), text);
            assertTrue(text.contains("cqueue_subscriber_acked_offset{subscriber=\"watcher\",topic=\"m.t\"} 1\n"), text);
        }
        br.close();
        assertEquals(Codes.ECLOSED, assertThrows(CqueueException.class, br::metrics).code());
    }
}
