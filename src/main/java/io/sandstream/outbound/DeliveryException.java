package io.sandstream.outbound;

/**
 * One failed attempt to hand an event to a sink. {@code retryable}: the receiver may take it
 * later (no connection, timeout, 408, 429, 5xx); otherwise it refused this event for good (other
 * 4xx, a redirect) and sending it again cannot help. The message names the cause only, never the
 * receiver's body or the result, so it is safe to log.
 */
public final class DeliveryException extends RuntimeException {

    private final boolean retryable;

    DeliveryException(String reason, boolean retryable) {
        super(reason, null, false, false);
        this.retryable = retryable;
    }

    static DeliveryException status(int status) {
        return new DeliveryException("HTTP " + status, isRetryable(status));
    }

    public boolean retryable() {
        return retryable;
    }

    static boolean isRetryable(int status) {
        return status == 408 || status == 429 || status >= 500;
    }
}
