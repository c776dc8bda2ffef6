package io.sandstream.sessions;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The session backend did not answer usefully (unreachable, 5xx after retries, circuit breaker
 * open, no access token). Like any I/O failure it is transient for the dispatcher, which retries
 * it with backoff and ends the execution {@code Failed} only when it persists; user code that
 * fails is a result, never this.
 */
public class BackendUnavailableException extends UncheckedIOException {

    public BackendUnavailableException(String message) {
        super(message, new IOException(message));
    }

    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause instanceof IOException io ? io : new IOException(message, cause));
    }
}
