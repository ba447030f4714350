// Cross-language broker test participant in Java: see run_xlang_broker.py for the protocol.
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.cqueue.Broker;
import org.cqueue.Message;
import org.cqueue.Subscription;

public class XlangBroker {
    static final String TOPIC = "xlang.broker";

    public static void main(String[] a) throws Exception {
        String mode = a[0], dir = a[1], tag = a[2], outfile = a[5];
        int n = Integer.parseInt(a[3]), total = Integer.parseInt(a[4]);
        Path sync = Path.of(a[6]);
        try (Broker b = Broker.open(dir, null)) {
            if (mode.equals("publish")) {
                for (int i = 0; i < n; i++) b.publish(TOPIC, (tag + ":2:" + i).getBytes(StandardCharsets.UTF_8));
                return;
            }
            try (Subscription s = b.subscribe(TOPIC,
                    new Broker.SubscribeOptions().durable("xl-" + tag).earliest(mode.equals("run1")));
                 BufferedWriter out = new BufferedWriter(new FileWriter(outfile, StandardCharsets.UTF_8))) {
                if (mode.equals("run1")) {
                    Files.writeString(sync.resolve(tag + ".ready"), "");
                    while (!Files.exists(sync.resolve("go"))) Thread.sleep(1);
                    for (int i = 0; i < n; i++) b.publish(TOPIC, (tag + ":1:" + i).getBytes(StandardCharsets.UTF_8));
                }
                for (int got = 0; got < total; got++) {
                    Message m = s.poll(Duration.ofSeconds(30));
                    if (m == null) {
                        System.err.println("java: only " + got + " of " + total + " records");
                        System.exit(1);
                    }
                    out.write(m.offset() + " " + new String(m.data(), StandardCharsets.UTF_8) + "\n");
                    s.ack(m);
                }
                for (Message m; (m = s.poll(Duration.ofMillis(300))) != null; ) {
                    out.write(m.offset() + " " + new String(m.data(), StandardCharsets.UTF_8) + "\n");
                }
            }
        }
    }
}
