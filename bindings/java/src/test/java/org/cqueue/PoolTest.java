package org.cqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PoolTest {
    @Test
    void runsJobsAndReportsExceptions() throws Exception {
        try (Pool pool = new Pool(2, 1024)) {
            AtomicLong sum = new AtomicLong();
            List<CompletableFuture<Integer>> fs = new ArrayList<>();
            for (int i = 1; i <= 100; i++) {
                int v = i;
                fs.add(pool.submit(() -> {
                    sum.addAndGet(v);
                    return v * 2;
                }));
            }
            int total = 0;
            for (CompletableFuture<Integer> f : fs) total += f.get(10, TimeUnit.SECONDS);
            assertEquals(10100, total);
            CompletableFuture<Object> bad = pool.submit(() -> {
                throw new IllegalStateException("job broke");
            });
            ExecutionException e = assertThrows(ExecutionException.class, () -> bad.get(10, TimeUnit.SECONDS));
            assertInstanceOf(IllegalStateException.class, e.getCause());
            assertEquals("job broke", e.getCause().getMessage());
            assertTrue(pool.shutdown(Duration.ofSeconds(10)));
            assertEquals(5050, sum.get());
            Pool.Stats st = pool.stats();
            assertEquals(100, st.completed());
            assertEquals(1, st.failed());
            assertEquals(Codes.ECLOSED, assertThrows(CqueueException.class, () -> pool.submit(() -> 1)).code());
        }
    }

    @Test
    void fullPoolAndCloseCancelsQueuedJobs() throws Exception {
        Pool pool = new Pool(1, 1);
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        pool.submit(() -> {
            started.countDown();
            release.await();
            return null;
        });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        List<CompletableFuture<Object>> queued = new ArrayList<>();
        CqueueException full = null;
        for (int i = 0; i < 10000 && full == null; i++) {
            try {
                queued.add(pool.submit(() -> null));
            } catch (CqueueException e) {
                full = e;
            }
        }
        assertNotNull(full, "never full");
        assertTrue(full.isFull());
        assertFalse(queued.isEmpty());
        new Thread(() -> {
            try {
                Thread.sleep(20);
            } catch (InterruptedException ignored) {
            }
            release.countDown();
        }).start();
        pool.close(); // no grace: queued jobs are cancelled
        for (CompletableFuture<Object> f : queued) assertTrue(f.isCancelled());
    }

    @Test
    void workersAreAttachedOnceAsDaemons() throws Exception {
        try (Pool pool = new Pool(1, 0)) {
            Thread first = pool.submit(Thread::currentThread).get(10, TimeUnit.SECONDS);
            Thread second = pool.submit(Thread::currentThread).get(10, TimeUnit.SECONDS);
            assertSame(first, second, "re-attached between jobs");
            assertTrue(first.isDaemon());
            assertNotSame(Thread.currentThread(), first);
        }
    }

    @Test
    void closeWhileAnotherThreadShutsDown() throws Exception {
        Pool pool = new Pool(2, 0);
        CountDownLatch gate = new CountDownLatch(1);
        for (int i = 0; i < 20; i++) {
            pool.submit(() -> {
                gate.await(5, TimeUnit.SECONDS);
                return null;
            });
        }
        Thread t = new Thread(() -> pool.shutdown(null));
        t.start();
        Thread.sleep(50);
        new Thread(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException ignored) {
            }
            gate.countDown();
        }).start();
        pool.close();
        t.join(10000);
        assertFalse(t.isAlive());
    }

    @Test
    void attachedQueueMessagesReachTheHandler() throws Exception {
        String name = "cqjava-attach-" + ProcessHandle.current().pid();
        Queue q = Queue.open(name, new Queue.Options().create(true).capacity(256).maxMessageSize(16));
        try {
            java.util.Set<String> got = java.util.concurrent.ConcurrentHashMap.newKeySet();
            Pool pool = new Pool(2, 0);
            pool.attachQueue(q, m -> {
                String s = new String(m, java.nio.charset.StandardCharsets.UTF_8);
                if (s.equals("boom")) throw new IllegalStateException("bad message");
                got.add(s);
            });
            assertEquals(Codes.EINVAL, assertThrows(CqueueException.class, () -> pool.attachQueue(q, m -> {})).code());
            assertEquals(Codes.EPERM, assertThrows(CqueueException.class, q::close).code());
            for (int i = 0; i < 100; i++) q.put(("m" + i).getBytes(), Duration.ofSeconds(5));
            q.put("boom".getBytes(), Duration.ofSeconds(5));
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((got.size() < 100 || pool.handlerFailures() < 1) && System.nanoTime() < deadline) Thread.sleep(1);
            pool.close();
            assertEquals(100, got.size());
            assertEquals(1, pool.handlerFailures());
            assertEquals(0, q.stats().length());
        } finally {
            q.close(); // allowed once the pool is closed
            Queue.unlink(name);
        }
    }

    @Test
    void quickExampleRuns() throws Exception {
        Path example = Path.of(System.getenv("CQUEUE_EXAMPLES_DIR"), "Quick.java");
        assertTrue(Files.exists(example), example.toString());
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(javaBin,
                "-Djava.library.path=" + System.getProperty("java.library.path"),
                "-cp", System.getProperty("java.class.path"), example.toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertEquals("hello from Java\njob ran\n", out);
    }
}
