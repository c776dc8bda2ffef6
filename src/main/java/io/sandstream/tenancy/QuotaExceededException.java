package io.sandstream.tenancy;

import io.sandstream.model.Tenant;

/** A tenant reached one of its quotas (sessions in a pool, bytes in a session): {@code 429}, try later. */
public class QuotaExceededException extends RuntimeException {

    private final String code;
    private final int retryAfterSeconds;

    public QuotaExceededException(Tenant tenant, String code, String message, int retryAfterSeconds) {
        super(message + " (tenant " + tenant + ")", null, false, false);
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** The Azure-style error code: {@code TenantSessionLimitReached} or {@code SessionStorageQuotaExceeded}. */
    public String code() {
        return code;
    }
}
