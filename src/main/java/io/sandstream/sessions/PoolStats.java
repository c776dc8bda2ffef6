package io.sandstream.sessions;

/** Sizes of a pool right now. */
public record PoolStats(int ready, int busy, int idle, int maxSessions) {
}
