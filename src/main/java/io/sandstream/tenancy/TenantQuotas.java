package io.sandstream.tenancy;

import jakarta.enterprise.context.ApplicationScoped;

import io.sandstream.config.SandstreamConfig;

/** The quotas that apply to each tenant: its overrides, else the defaults; none for the shared tenant. */
@ApplicationScoped
public class TenantQuotas {

    /** Limits of one tenant; {@link Long#MAX_VALUE} where none applies. */
    public record Quota(long maxSessions, long maxSessionBytes, long maxQueued) {
        public static final Quota NONE = new Quota(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);
    }

    private final SandstreamConfig.Tenants config;

    public TenantQuotas(SandstreamConfig config) {
        this.config = config.tenants();
    }

    public Quota of(Tenant tenant) {
        if (tenant.shared()) {
            return Quota.NONE;
        }
        SandstreamConfig.Quota own = config.quota().get(tenant.id());
        if (own == null) {
            return new Quota(config.maxSessions(), config.maxSessionBytes(), config.maxQueued());
        }
        return new Quota(own.maxSessions().orElse(config.maxSessions()),
                own.maxSessionBytes().orElse(config.maxSessionBytes()), own.maxQueued().orElse(config.maxQueued()));
    }

    public int retryAfterSeconds() {
        return config.retryAfterSeconds();
    }
}
