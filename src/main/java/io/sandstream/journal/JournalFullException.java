package io.sandstream.journal;

/** The journal holds as many pending executions as it may; the append recorded nothing. */
public class JournalFullException extends RuntimeException {

    private final long limit;

    public JournalFullException(long limit) {
        super("the journal holds its limit of " + limit + " pending executions", null, false, false);
        this.limit = limit;
    }

    public long limit() {
        return limit;
    }
}
