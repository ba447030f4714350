// Cross-language test participant in Java: see run_xlang.py for the protocol.
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.cqueue.CqueueException;
import org.cqueue.Queue;

public class Xlang {
    public static void main(String[] a) throws Exception {
        String name = a[0], tag = a[1], outfile = a[3];
        int n = Integer.parseInt(a[2]);
        Path sync = Path.of(a[4]);
        try (Queue q = Queue.open(name, new Queue.Options().create(true).capacity(64).maxMessageSize(64))) {
            Files.writeString(sync.resolve(tag + ".ready"), "");
            while (!Files.exists(sync.resolve("go"))) Thread.sleep(1);
            final boolean[] producedAll = {false};
            Thread producer = new Thread(() -> {
                for (int i = 0; i < n; i++) q.put((tag + ":" + i).getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(10));
                synchronized (producedAll) {
                    producedAll[0] = true;
                }
            });
            producer.start();
            try (BufferedWriter out = new BufferedWriter(new FileWriter(outfile, StandardCharsets.UTF_8))) {
                double idle = 0;
                for (;;) {
                    try {
                        out.write(new String(q.take(Duration.ofMillis(100)), StandardCharsets.UTF_8));
                        out.write('\n');
                        idle = 0;
                    } catch (CqueueException e) {
                        if (!e.isTimeout()) throw e;
                        boolean done;
                        synchronized (producedAll) {
                            done = producedAll[0];
                        }
                        if (done && (idle += 0.1) >= 1.5) break;
                    }
                }
            }
            producer.join();
        }
    }
}
