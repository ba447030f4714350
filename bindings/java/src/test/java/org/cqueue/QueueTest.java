package org.cqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class QueueTest {
    private static final AtomicInteger SEQ = new AtomicInteger();
    private final List<String> names = new ArrayList<>();

    private String name() {
        String n = "cqjava-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet();
        names.add(n);
        return n;
    }

    @AfterEach
    void unlinkAll() {
        for (String n : names) {
            try {
                Queue.unlink(n);
            } catch (CqueueException e) {
                assertEquals(Codes.ENOENT, e.code());
            }
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String s(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void roundTripWithByteArraysAndDirectBuffers() {
        try (Queue q = Queue.open(name(), new Queue.Options().create(true).capacity(8).maxMessageSize(32))) {
            assertEquals(32, q.maxMessageSize());
            q.put(b("one"));
            q.put(b("two"), Duration.ofSeconds(1));
            ByteBuffer out = ByteBuffer.allocateDirect(16);
            out.put(b("xxdirect")).flip();
            out.position(2);
            q.put(out, null);
            assertEquals(out.limit(), out.position());
            assertEquals("one", s(q.take()));
            assertEquals("two", s(q.take(Duration.ofSeconds(1))));
            ByteBuffer in = ByteBuffer.allocateDirect(32);
            in.position(4);
            assertEquals(6, q.take(in, Duration.ofSeconds(1)));
            assertEquals(10, in.position());
            byte[] got = new byte[6];
            in.position(4);
            in.get(got);
            assertEquals("direct", s(got));
            Queue.Stats st = q.stats();
            assertEquals(3, st.enqueued());
            assertEquals(3, st.dequeued());
            assertEquals(0, st.length());
            assertNull(q.poll());
        }
    }

    @Test
    void exceptionsCarryTheCode() {
        String n = name();
        CqueueException e = assertThrows(CqueueException.class, () -> Queue.open(n, null));
        assertEquals(Codes.ENOENT, e.code());
        Queue q = Queue.open(n, new Queue.Options().create(true).capacity(2).maxMessageSize(4));
        assertEquals(Codes.EEXIST, assertThrows(CqueueException.class,
                () -> Queue.open(n, new Queue.Options().create(true).exclusive(true))).code());
        assertTrue(assertThrows(CqueueException.class, q::take).isEmpty());
        assertEquals(Codes.EMSGSIZE, assertThrows(CqueueException.class, () -> q.put(b("too long"))).code());
        q.put(b("a"));
        assertTrue(q.offer(b("b")));
        assertFalse(q.offer(b("c")));
        assertTrue(assertThrows(CqueueException.class, () -> q.put(b("c"))).isFull());
        assertEquals(Codes.EMSGSIZE, assertThrows(CqueueException.class,
                () -> q.take(ByteBuffer.allocateDirect(0), null)).code());
        assertEquals("a", s(q.take()));
        assertThrows(IllegalArgumentException.class, () -> q.put(ByteBuffer.allocate(4), null));
        q.close();
        q.close();
        assertEquals(Codes.ECLOSED, assertThrows(CqueueException.class, () -> q.put(b("x"))).code());
    }

    @Test
    void waitsTimeOut() {
        try (Queue q = Queue.open(name(), new Queue.Options().create(true).capacity(1).maxMessageSize(8))) {
            long t0 = System.nanoTime();
            assertTrue(assertThrows(CqueueException.class, () -> q.take(Duration.ofMillis(30))).isTimeout());
            assertTrue(System.nanoTime() - t0 >= 25_000_000L);
            q.put(b("x"));
            assertTrue(assertThrows(CqueueException.class, () -> q.put(b("y"), Duration.ofMillis(10))).isTimeout());
        }
    }

    @Test
    void closeEndsATakeBlockedInAnotherThread() throws Exception {
        Queue q = Queue.open(name(), new Queue.Options().create(true).capacity(4).maxMessageSize(8));
        CqueueException[] got = new CqueueException[1];
        Thread t = new Thread(() -> {
            try {
                q.take(null); // forever
            } catch (CqueueException e) {
                got[0] = e;
            }
        });
        t.start();
        Thread.sleep(50);
        long t0 = System.nanoTime();
        q.close();
        t.join(5000);
        assertFalse(t.isAlive());
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L);
        assertNotNull(got[0]);
        assertEquals(Codes.ECLOSED, got[0].code());
    }

    @Test
    void threadsEveryMessageOnce() throws Exception {
        try (Queue q = Queue.open(name(), new Queue.Options().create(true).capacity(64).maxMessageSize(16))) {
            int per = 2000;
            ConcurrentLinkedQueue<String> got = new ConcurrentLinkedQueue<>();
            List<Thread> ts = new ArrayList<>();
            for (int p = 0; p < 2; p++) {
                int pp = p;
                ts.add(new Thread(() -> {
                    for (int i = 0; i < per; i++) q.put(b(pp + ":" + i), Duration.ofSeconds(10));
                }));
            }
            for (int c = 0; c < 2; c++) {
                ts.add(new Thread(() -> {
                    for (int i = 0; i < per; i++) got.add(s(q.take(Duration.ofSeconds(10))));
                }));
            }
            ts.forEach(Thread::start);
            for (Thread t : ts) t.join();
            Set<String> set = new HashSet<>(got);
            assertEquals(2 * per, got.size());
            assertEquals(2 * per, set.size());
        }
    }
}
