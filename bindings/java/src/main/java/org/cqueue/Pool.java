package org.cqueue;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.ToIntFunction;
import org.cqueue.swig.CqbPool;
import org.cqueue.swig.CqbPoolStats;
import org.cqueue.swig.cqueue;

/**
 * A pool of library-owned worker threads running Java jobs. Workers are attached
 * to the JVM once, as daemon threads, for their whole life. A job's exception is
 * caught by the native trampoline and completes its future exceptionally.
 * {@link #close()} without {@link #shutdown} cancels what is still queued, and closes the
 * {@link PushSubscription}s delivering through the pool before freeing it (their delivery
 * stops with the shutdown; a pool only shut down leaves them open and idle).
 */
public final class Pool implements AutoCloseable {

    public record Stats(long workers, long queueCapacity, long submitted, long completed,
                        long cancelled, long expired, long failed, long queueDepth) {}

    private final CqbPool h = new CqbPool();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final AtomicLong handlerFailures = new AtomicLong();
    private final Set<PushSubscription> push = ConcurrentHashMap.newKeySet(); // open, delivering through this pool
    private boolean closed; // guarded by lock
    private Queue attached; // the queue the workers drain, if any

    /** workers 0: one per CPU; queueCapacity 0: the library default. */
    public Pool(int workers, int queueCapacity) {
        int rc = cqueue.cqb_pool_create(h, workers, queueCapacity);
        if (rc < 0) {
            CqueueException e = CqueueException.last(rc);
            h.delete();
            throw e;
        }
    }

    private static final class Job<T> implements PoolJob {
        final Callable<T> fn;
        final CompletableFuture<T> future = new CompletableFuture<>();
        T result;

        Job(Callable<T> fn) {
            this.fn = fn;
        }

        @Override
        public void run() throws Exception {
            result = fn.call(); // an exception goes to the native trampoline
        }

        @Override
        public void done(int status, Throwable error) {
            if (error != null) {
                future.completeExceptionally(error);
            } else if (status == Codes.OK) {
                future.complete(result);
            } else if (status == Codes.ECANCELED) {
                future.cancel(false);
            } else {
                future.completeExceptionally(new CqueueException(status, "job did not run"));
            }
        }
    }

    private <T> CompletableFuture<T> submit(Callable<T> fn, long timeoutNs) {
        Job<T> job = new Job<>(fn);
        lock.readLock().lock();
        try {
            if (closed) throw new CqueueException(Codes.ECLOSED, "pool is closed");
            CqueueException.check(cqueue.cqb_pool_submit(h, job, timeoutNs));
        } finally {
            lock.readLock().unlock();
        }
        return job.future;
    }

    /** Run fn on a worker without waiting for room (EFULL, ECLOSED). */
    public <T> CompletableFuture<T> submit(Callable<T> fn) {
        return submit(fn, 0);
    }

    /** Run r on a worker without waiting for room (EFULL, ECLOSED). */
    public CompletableFuture<Void> submit(Runnable r) {
        return submit(() -> {
            r.run();
            return null;
        }, 0);
    }

    /** Submit, waiting up to timeout (null: forever) for room; ETIMEDOUT. */
    public <T> CompletableFuture<T> submit(Callable<T> fn, Duration timeout) {
        return submit(fn, timeout == null ? -1 : Math.max(1, timeout.toNanos()));
    }

    /**
     * Let the workers also drain {@code queue}, calling handler for each message between
     * jobs. One queue per pool (EINVAL for a second); the queue cannot be closed (EPERM)
     * until the pool is. A handler that throws loses that message; the exception is
     * caught and counted in {@link #handlerFailures()}.
     */
    public void attachQueue(Queue queue, MessageHandler handler) {
        MessageHandler guarded = m -> {
            try {
                handler.onMessage(m);
            } catch (Throwable t) {
                handlerFailures.incrementAndGet();
            }
        };
        lock.writeLock().lock();
        try {
            if (closed) throw new CqueueException(Codes.ECLOSED, "pool is closed");
            queue.pin();
            try {
                CqueueException.check(cqueue.cqb_pool_attach_queue(h, queue.handleForPool(), guarded));
            } catch (RuntimeException e) {
                queue.unpin();
                throw e;
            }
            attached = queue;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Runs subscribe with the open handle under the read lock and registers p for {@link #close()}. */
    int adopt(PushSubscription p, ToIntFunction<CqbPool> subscribe) {
        lock.readLock().lock();
        try {
            if (closed) throw new CqueueException(Codes.ECLOSED, "pool is closed");
            int rc = CqueueException.check(subscribe.applyAsInt(h));
            push.add(p);
            return rc;
        } finally {
            lock.readLock().unlock();
        }
    }

    void forget(PushSubscription p) {
        push.remove(p);
    }

    /** Messages whose handler threw (see {@link #attachQueue}). */
    public long handlerFailures() {
        return handlerFailures.get();
    }

    /** Stop accepting, run what is queued, join; false when the timeout cancelled jobs. */
    public boolean shutdown(Duration timeout) {
        lock.readLock().lock();
        try {
            if (closed) return true;
            int rc = cqueue.cqb_pool_shutdown(h, timeout == null ? -1 : timeout.toNanos());
            if (rc == Codes.ETIMEDOUT) return false;
            CqueueException.check(rc);
            return true;
        } finally {
            lock.readLock().unlock();
        }
    }

    public Stats stats() {
        lock.readLock().lock();
        try {
            if (closed) throw new CqueueException(Codes.ECLOSED, "pool is closed");
            CqbPoolStats s = new CqbPoolStats();
            try {
                CqueueException.check(cqueue.cqb_pool_stats(h, s));
                return new Stats(s.getWorkers(), s.getQueue_capacity(), s.getSubmitted(),
                        s.getCompleted(), s.getCancelled(), s.getExpired(), s.getFailed(),
                        s.getQueue_depth());
            } finally {
                s.delete();
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Shut down without grace (if not done), close the push subscriptions delivering through
     * the pool, and free it. Must not be called from a job; EPERM from a push handler.
     */
    @Override
    public void close() {
        PushSubscription.refuseInHandler("Pool.close()");
        if (!closing.compareAndSet(false, true)) return;
        // Shut down first, outside the lock: calls in flight (a shutdown() waiting in
        // another thread, a job submitting more) end at once, so taking the write lock
        // cannot wait on them forever; then free the pool when nothing uses it.
        cqueue.cqb_pool_shutdown(h, 0);
        lock.writeLock().lock();
        try {
            closed = true; // calls in flight have ended; later ones get ECLOSED
        } finally {
            lock.writeLock().unlock();
        }
        // Delivery stopped with the shutdown. Without the lock: a push handler still running
        // may call this pool (and get ECLOSED) while its subscription waits for it.
        RuntimeException failed = Broker.closeAll(push);
        cqueue.cqb_pool_destroy(h);
        cqueue.cqb_pool_release_java(h);
        h.delete();
        if (attached != null) attached.unpin();
        if (failed != null) throw failed;
    }
}
