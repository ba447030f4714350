package org.cqueue;

/**
 * What the native trampoline calls on a worker thread: {@link #run()} once, then
 * {@link #done(int, Throwable)} exactly once (also instead of run, for a job
 * cancelled or expired). An exception thrown by run() is caught by the
 * trampoline, the job is marked failed and the exception handed to done.
 */
public interface PoolJob {
    void run() throws Exception;

    void done(int status, Throwable error);
}
