package io.sandstream.journal;

import io.sandstream.model.Tenant;

/**
 * The journal holds as many pending executions as it may, in all or for one tenant
 * ({@code sandstream.tenants.max-queued}); the append recorded nothing.
 */
public class JournalFullException extends RuntimeException {

    private final long limit;

    public JournalFullException(long limit) {
        super("Too many executions are waiting (limit " + limit + ")", null, false, false);
        this.limit = limit;
    }

    public JournalFullException(Tenant tenant, long limit) {
        super("Too many executions of tenant '" + tenant + "' are waiting (limit " + limit + ")", null, false, false);
        this.limit = limit;
    }

    public long limit() {
        return limit;
    }
}
