// Pool job crossing cost, Java Runnables: see run.sh. Usage: java ... BenchPool.java N
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.cqueue.Pool;

public class BenchPool {
    public static void main(String[] a) throws Exception {
        int n = a.length > 0 ? Integer.parseInt(a[0]) : 10000;
        // Warm the JIT on the Java side of the trampoline first.
        try (Pool warm = new Pool(1, 16384)) {
            for (int i = 0; i < 20000; i++) warm.submit(() -> null, null);
            warm.shutdown(null);
        }
        try (Pool pool = new Pool(1, 16384)) {
            CountDownLatch gate = new CountDownLatch(1);
            pool.submit(() -> {
                gate.await();
                return null;
            });
            AtomicInteger ran = new AtomicInteger();
            for (int i = 0; i < n; i++) pool.submit(() -> { ran.incrementAndGet(); });
            long t0 = System.nanoTime();
            gate.countDown();
            pool.shutdown(null);
            long t1 = System.nanoTime();
            if (ran.get() != n) throw new AssertionError(ran.get());
            System.out.printf("java   %6d jobs  %8.0f ns/job%n", n, (double) (t1 - t0) / n);
        }
    }
}
