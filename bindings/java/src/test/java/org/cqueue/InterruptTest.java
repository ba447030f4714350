package org.cqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * close() from another thread ends the waits and polls in progress at once (through the
 * handle's interrupt), and a call on a subscription does not wait for a poll in progress.
 */
class InterruptTest {
    /**
     * Every wait below has no timeout of its own: only an interrupt ends it. The bound is
     * there so that a wait that does not end fails the test instead of hanging it.
     */
    private static final long HANG_S = 10;

    private static final AtomicInteger SEQ = new AtomicInteger();

    @TempDir
    Path dir;

    /** A new queue whose name is already unlinked (the handle keeps working). */
    private static Queue newQueue() {
        String n = "cqjava-int-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet();
        Queue q = Queue.open(n, new Queue.Options().create(true).capacity(1).maxMessageSize(8));
        Queue.unlink(n);
        return q;
    }

    /** fn in a daemon thread of its own (one that hangs does not hold up the JVM's exit). */
    private static <T> FutureTask<T> start(Callable<T> fn) {
        FutureTask<T> f = new FutureTask<>(fn);
        Thread t = new Thread(f);
        t.setDaemon(true);
        t.start();
        return f;
    }

    private static FutureTask<Void> start(Runnable fn) {
        return start(() -> {
            fn.run();
            return null;
        });
    }

    /** What f returned, once it has returned (fails after HANG_S). */
    private static <T> T result(FutureTask<T> f) throws Exception {
        try {
            return f.get(HANG_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return fail("still running " + HANG_S + " s later");
        }
    }

    /** f ended with ECLOSED (fails after HANG_S). */
    private static void assertClosed(FutureTask<?> f) throws Exception {
        try {
            f.get(HANG_S, TimeUnit.SECONDS);
            fail("returned instead of throwing ECLOSED");
        } catch (TimeoutException e) {
            fail("still waiting " + HANG_S + " s later");
        } catch (ExecutionException e) {
            CqueueException c = assertInstanceOf(CqueueException.class, e.getCause());
            assertEquals(Codes.ECLOSED, c.code());
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void closeEndsEveryWaitInOtherThreads() throws Exception {
        Queue empty = newQueue(), full = newQueue();
        full.put(b("x"));
        List<FutureTask<?>> waits = List.of(start(() -> empty.take(null)), start(() -> empty.take(null)),
                start(() -> empty.take(null)), start(() -> full.put(b("y"), null)));
        Thread.sleep(50); // most likely waiting in the library by now
        result(start(empty::close));
        result(start(full::close));
        for (FutureTask<?> w : waits) assertClosed(w);
    }

    @Test
    void closeRacingTheStartOfAWait() throws Exception {
        // The interrupt may come before the wait is in the library: close() repeats it until
        // the wait has returned. One thread waits, this one closes at once; the waiter starts
        // a little later each round (0 to 6.4 us), so that close() comes at every moment of
        // the wait's start.
        int rounds = 2000;
        AtomicReference<Queue> current = new AtomicReference<>();
        AtomicInteger round = new AtomicInteger(-1), closedWaits = new AtomicInteger();
        FutureTask<Void> waiter = start(() -> {
            for (int i = 0; i < rounds; i++) {
                while (round.get() != i) Thread.yield();
                for (long t0 = System.nanoTime(); System.nanoTime() - t0 < (i % 128) * 50L; ) {
                    Thread.onSpinWait();
                }
                CqueueException e = assertThrows(CqueueException.class, () -> current.get().take(null));
                assertEquals(Codes.ECLOSED, e.code());
                closedWaits.incrementAndGet();
            }
        });
        FutureTask<Void> closer = start(() -> {
            for (int i = 0; i < rounds && !waiter.isDone(); i++) {
                Queue q = newQueue();
                current.set(q);
                round.set(i);
                q.close();
                while (closedWaits.get() != i + 1 && !waiter.isDone()) Thread.yield();
            }
        });
        // Each round must end within HANG_S (not all of them: this is no speed test).
        int seen = -1;
        long since = System.nanoTime();
        while (!closer.isDone()) {
            int now = closedWaits.get();
            if (now != seen) {
                seen = now;
                since = System.nanoTime();
            } else if (System.nanoTime() - since > TimeUnit.SECONDS.toNanos(HANG_S)) {
                fail("round " + now + ": a close() or a wait did not end within " + HANG_S + " s");
            }
            Thread.sleep(10);
        }
        result(closer);
        result(waiter); // rethrows what failed in it
        assertEquals(rounds, closedWaits.get());
    }

    @Test
    void closeEndsPollsInOtherThreads() throws Exception {
        try (Broker br = Broker.open(dir.toString(), null)) {
            Subscription s = br.subscribe("t", null);
            // One waits in the library, the other for its turn.
            FutureTask<Message> poll = start(() -> s.poll(null));
            FutureTask<List<Message>> batch = start(() -> s.pollBatch(8, null));
            Thread.sleep(50);
            result(start(s::close));
            assertClosed(poll);
            assertClosed(batch);
            for (int i = 0; i < 100; i++) {
                Subscription s2 = br.subscribe("t", null);
                FutureTask<Message> p = start(() -> s2.poll(null));
                for (long t0 = System.nanoTime(); System.nanoTime() - t0 < (i % 50) * 1000L; ) {
                    Thread.onSpinWait();
                }
                result(start(s2::close));
                assertClosed(p);
            }
        }
    }

    @Test
    void aPollTimeoutCountsTheWaitForItsTurn() throws Exception {
        try (Broker br = Broker.open(dir.toString(), null)) {
            Subscription s = br.subscribe("t", null);
            long start = System.nanoTime();
            FutureTask<Message> first = start(() -> s.poll(Duration.ofMillis(1000)));
            Thread.sleep(50); // the first poll holds the turn, most likely
            assertNull(s.poll(Duration.ofMillis(1500)));
            // Waiting for the turn (until the first poll's timeout, 1 s after start) and then
            // 1.5 s more would end 2.5 s after start at the earliest.
            long tookMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(tookMs < 2500, "the second poll returned " + tookMs + " ms after the first began");
            assertNull(result(first));
            s.close();
        }
    }

    @Test
    void callsGoBeforeAPollWaitingInAnotherThread() throws Exception {
        try (Broker br = Broker.open(dir.toString(), null)) {
            Subscription s = br.subscribe("t", new Broker.SubscribeOptions().durable("d").earliest(true));
            br.publish("t", b("first"));
            Message first = s.poll(Duration.ofSeconds(HANG_S));
            FutureTask<Message> poll = start(() -> s.poll(null));
            Thread.sleep(50);
            long acked = result(start(() -> {
                s.ack(first);
                assertNull(s.poll(Duration.ZERO));
                return s.stats("t").ackedOffset();
            }));
            assertEquals(1, acked);
            assertFalse(poll.isDone(), "the poll waits again");
            br.publish("t", b("second"));
            assertEquals("second", new String(result(poll).data(), StandardCharsets.UTF_8));
            s.close();
        }
    }
}
