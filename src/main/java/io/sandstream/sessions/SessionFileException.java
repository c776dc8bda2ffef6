package io.sandstream.sessions;

/** A file operation that was refused: no such file or session, an invalid name, a size limit. */
public class SessionFileException extends RuntimeException {

    public enum Reason { NOT_FOUND, INVALID, TOO_LARGE, FAILED }

    private final Reason reason;

    public SessionFileException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
