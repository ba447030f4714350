package org.cqueue;

/** Receives each message of a queue attached to a {@link Pool}, on a worker thread. */
@FunctionalInterface
public interface MessageHandler {
    void onMessage(byte[] message);
}
