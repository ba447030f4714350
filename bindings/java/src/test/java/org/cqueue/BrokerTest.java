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
}
