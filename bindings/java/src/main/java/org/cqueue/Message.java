package org.cqueue;

/** One record delivered by a {@link Subscription} (its own copy of the body). */
public record Message(String topic, long offset, long timestampNs, byte[] data) {}
