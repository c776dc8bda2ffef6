package io.sandstream.sessions;

/** Every session of the pool is taken; the caller should retry later rather than wait. */
public class PoolFullException extends RuntimeException {
    public PoolFullException(String pool, int maxSessions) {
        super("session pool '" + pool + "' is full (" + maxSessions + " sessions)", null, false, false);
    }
}
