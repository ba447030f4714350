// Java quick example (README): a queue and a pool job.
// Run: java -Djava.library.path=DIR_OF_libcqueue_jni.so -cp cqueue.jar Quick.java
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.cqueue.Pool;
import org.cqueue.Queue;

public class Quick {
    public static void main(String[] args) throws Exception {
        String name = "example-java-" + ProcessHandle.current().pid();
        try (Queue q = Queue.open(name, new Queue.Options().create(true).capacity(1024))) {
            q.put("hello from Java".getBytes(StandardCharsets.UTF_8));
            byte[] msg = q.take(Duration.ofSeconds(1));
            System.out.println(new String(msg, StandardCharsets.UTF_8));
        }
        Queue.unlink(name);
        try (Pool pool = new Pool(2, 0)) {
            pool.submit(() -> System.out.println("job ran")).get();
            pool.shutdown(null);
        }
    }
}
