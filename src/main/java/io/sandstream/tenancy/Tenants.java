package io.sandstream.tenancy;

import io.sandstream.config.SandstreamConfig.TenantFrom;

/**
 * Who a piece of work belongs to, for fairness (the lane scheduler's turns) and for the ingress
 * rate limits: its {@code source}, or with {@code sandstream.routing.tenant=subject} the first
 * segment of its {@code subject}.
 */
public final class Tenants {

    private Tenants() {
    }

    /** The tenant of an event under the configured {@code mode} ({@code source} or {@code subject}). */
    public static String of(TenantFrom mode, String source, String subject) {
        if (mode == TenantFrom.SUBJECT && subject != null) {
            int slash = subject.indexOf('/');
            return slash < 0 ? subject : subject.substring(0, slash);
        }
        return source == null ? "" : source;
    }
}
