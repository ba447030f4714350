package org.cqueue;

import java.util.List;

/**
 * Receives the records of a push subscription ({@link Broker#subscribePush}) on a worker
 * of its {@link Pool}, one call per batch.
 */
@FunctionalInterface
public interface BatchHandler {
    /**
     * Handle {@code msgs} (1 to 64 records, in offset order per topic; an immutable list of
     * the handler's own copies) and return how many leading ones were handled:
     * {@code msgs.size()} for all. Those are acknowledged (persisted for a durable
     * subscription); a return {@code k} below the size fails {@code msgs.get(k)} (its topic
     * is acknowledged no further by this subscription, so a durable resubscription gets it
     * again) and delivers the records after it again in the next call. Throwing fails the
     * batch as returning 0 does; the exception stops at the subscription
     * ({@link PushSubscription#failures()}, {@link PushSubscription#lastFailure()}).
     */
    int handle(List<Message> msgs) throws Exception;
}
