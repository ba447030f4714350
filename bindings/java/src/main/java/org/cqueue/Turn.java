package org.cqueue;

import java.util.function.IntSupplier;

/**
 * One call at a time on a subscription (the C API allows one thread at a time). A poll holds
 * the turn while it waits in the library; a call that does not wait and finds it held by a
 * poll ends that wait with the subscription's interrupt and goes first (polls waiting for the
 * turn let such calls go first); the poll then waits again. So an ack from another thread is
 * not held up until a record comes. Like {@link Gate}, it does not answer
 * {@link Thread#interrupt()} (the interrupt status is kept).
 */
final class Turn {
    private enum Holder { NONE, POLL, CALL }

    private Holder holder = Holder.NONE;
    private int urgent; // calls that do not wait, waiting for the turn

    /**
     * Takes the turn for a poll, after the calls that do not wait: false if it did not come
     * within timeoutNs (negative: no limit).
     */
    synchronized boolean takeToPoll(long timeoutNs) {
        long deadline = System.nanoTime() + timeoutNs;
        boolean interrupted = false;
        try {
            while (holder != Holder.NONE || urgent > 0) {
                long left = deadline - System.nanoTime();
                if (timeoutNs >= 0 && left <= 0) return false;
                try {
                    if (timeoutNs < 0) {
                        wait();
                    } else {
                        wait(left / 1_000_000, (int) (left % 1_000_000));
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            holder = Holder.POLL;
            return true;
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /** Takes the turn for a call that does not wait, ending the wait of a poll that holds it with interrupt. */
    synchronized void take(IntSupplier interrupt) {
        urgent++;
        boolean interrupted = false;
        try {
            Gate.interruptUntil(this, () -> holder != Holder.POLL, interrupt);
            while (holder != Holder.NONE) { // another call that does not wait
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            holder = Holder.CALL;
        } finally {
            urgent--;
            if (holder == Holder.NONE) notifyAll(); // polls that let this call go first
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    synchronized void release() {
        holder = Holder.NONE;
        notifyAll();
    }
}
