package io.sandstream.sessions;

/**
 * A file operation that was refused: no such file or session, an invalid name, a size limit, or
 * one that did not finish within its deadline (the session's sandbox was destroyed).
 */
public class SessionFileException extends RuntimeException {

    public enum Reason { NOT_FOUND, INVALID, TOO_LARGE, FAILED, TIMED_OUT }

    private final Reason reason;

    public SessionFileException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
