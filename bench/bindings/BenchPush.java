// Push delivery crossing cost, Java: one JNI upcall (a Message[] built in C) per batch of up
// to 64 records. Usage: java ... BenchPush.java N
//
// N records of 16 bytes are published to one topic of a fresh broker before subscribing; a
// 1-worker pool then pushes them from the oldest on to a handler that only counts. Prints the
// time from subscribing until the waiting thread learns that all were handled, per record, and
// the number of calls.
// A first round on another topic warms the JIT on the Java side of the trampoline.
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import org.cqueue.Broker;
import org.cqueue.Pool;
import org.cqueue.PushSubscription;

public class BenchPush {
    /** {nanoseconds from subscribing until all were handled, handler calls} for n records of topic. */
    static long[] run(Broker b, String topic, int n) throws InterruptedException {
        List<byte[]> chunk = Collections.nCopies(1024, "0123456789abcdef".getBytes());
        for (int i = 0; i < n; i += 1024) b.publishBatch(topic, chunk.subList(0, Math.min(1024, n - i)));
        CountDownLatch done = new CountDownLatch(1);
        long[] got = new long[2]; // records, calls: touched by the one worker only, read after done
        try (Pool pool = new Pool(1, 0)) {
            long start = System.nanoTime();
            try (PushSubscription s = b.subscribePush(topic, new Broker.SubscribeOptions().earliest(true), pool,
                    msgs -> {
                        got[0] += msgs.size();
                        got[1]++;
                        if (got[0] >= n) done.countDown();
                        return msgs.size();
                    })) {
                done.await();
                return new long[] {System.nanoTime() - start, got[1]};
            }
        }
    }

    public static void main(String[] a) throws Exception {
        int n = a.length == 1 ? Integer.parseInt(a[0]) : 0;
        if (n < 1) throw new IllegalArgumentException("usage: BenchPush N (records, > 0)");
        Path dir = Files.createTempDirectory("bench_push_java.");
        try (Broker b = Broker.open(dir.toString(), null)) {
            run(b, "warmup", n);
            long[] r = run(b, "bench", n);
            System.out.printf("java push batch: %.0f ns/record (%d records, %d handler calls)%n",
                    (double) r[0] / n, n, r[1]);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }
    }
}
