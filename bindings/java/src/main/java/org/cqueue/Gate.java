package org.cqueue;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/**
 * Guards a native handle that {@code close()} frees while other threads may be using it,
 * some of them waiting in the library. A call enters and leaves the gate; {@link #close}
 * shuts it: no call enters any more, the waits in flight are ended with the handle's
 * interrupt (they throw ECLOSED), and the handle is freed once no call is left.
 *
 * <p>Nothing here answers {@link Thread#interrupt()}: a thread waiting in the library
 * cannot be woken by it (the JDK has no public hook for that), and the blocking methods of
 * this API do not throw {@link InterruptedException}, as java.net.Socket's reads do not.
 * Waits end by their timeout or by {@code close()} from another thread; a thread's
 * interrupt status is kept for its code to check.
 */
final class Gate {
    /** Added to the count of calls in flight once close() has begun. */
    private static final long CLOSING = 1L << 62;

    /**
     * The interrupt ends only the waits already in the library, and the call it is meant for
     * may be about to begin one (it has entered, it has not waited yet): so it is repeated,
     * after pauses doubling from the first to the last, until that call has returned.
     */
    private static final long FIRST_RETRY_MS = 1;
    private static final long LAST_RETRY_MS = 16;

    private final String what;
    private final AtomicLong state = new AtomicLong(); // calls in flight (+ CLOSING)
    private int pins; // pools draining the queue (Pool.attachQueue); guarded by this
    private boolean freed; // guarded by this

    Gate(String what) {
        this.what = what;
    }

    /** Admits a call; ECLOSED once close() has begun. */
    void enter() {
        for (;;) {
            long s = state.get();
            if ((s & CLOSING) != 0) throw new CqueueException(Codes.ECLOSED, what + " is closed");
            if (state.compareAndSet(s, s + 1)) return;
        }
    }

    void leave() {
        if (state.decrementAndGet() == CLOSING) {
            synchronized (this) {
                notifyAll(); // the last call in flight of a close() that waits for them
            }
        }
    }

    boolean closing() {
        return (state.get() & CLOSING) != 0;
    }

    /** A use that outlives calls (a pool draining the queue): close() fails with EPERM until {@link #unpin}. */
    synchronized void pin() {
        if (closing()) throw new CqueueException(Codes.ECLOSED, what + " is closed");
        pins++;
    }

    synchronized void unpin() {
        pins--;
    }

    /**
     * Shuts the gate, ends the calls in flight with {@code interrupt} (the handle's interrupt
     * facade) and then runs {@code free}; returns free's code. A close() that comes second
     * waits for the first and returns OK.
     */
    synchronized int close(IntSupplier interrupt, IntSupplier free) {
        if (closing()) {
            boolean interrupted = false;
            while (!freed) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            return Codes.OK;
        }
        if (pins > 0) throw new CqueueException(Codes.EPERM, "a pool drains this queue: close the pool first");
        state.addAndGet(CLOSING);
        try {
            interruptUntil(this, () -> state.get() == CLOSING, interrupt);
            return free.getAsInt();
        } finally {
            freed = true;
            notifyAll();
        }
    }

    /**
     * With monitor held: interrupt until done (checked whenever monitor is notified, and after
     * each pause). A failing interrupt throws its CqueueException.
     */
    static void interruptUntil(Object monitor, BooleanSupplier done, IntSupplier interrupt) {
        boolean interrupted = false;
        long pause = FIRST_RETRY_MS;
        while (!done.getAsBoolean()) {
            CqueueException.check(interrupt.getAsInt());
            try {
                monitor.wait(pause);
            } catch (InterruptedException e) {
                interrupted = true;
            }
            pause = Math.min(2 * pause, LAST_RETRY_MS);
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
