package io.sandstream.tenancy;

import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Tenant;

/** The quotas that apply to each tenant: its overrides, else the defaults; none for the shared tenant. */
@ApplicationScoped
public class TenantQuotas {

    /** Limits of one tenant; {@link Long#MAX_VALUE} where none applies. */
    public record Quota(long maxSessions, long maxSessionBytes, long maxQueued) {
        public static final Quota NONE = new Quota(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);
    }

    private final SandstreamConfig.Tenants config;
    private final MeterRegistry registry;

    public TenantQuotas(SandstreamConfig config, MeterRegistry registry) {
        this.config = config.tenants();
        this.registry = registry;
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

    /** Counts a refusal by {@code quota} ({@code sessions}, {@code session-bytes}, {@code queued}). */
    public void refused(String quota) {
        registry.counter("sandstream.tenant.quota.exceeded", "quota", quota).increment();
    }

    /**
     * Fails with {@link QuotaExceededException} (counted) when a tenant that already holds
     * {@code held} sessions in {@code pool} may hold no more there.
     */
    public void requireSessionRoom(Tenant tenant, long held, String pool) {
        long allowed = of(tenant).maxSessions();
        if (held >= allowed) {
            refused("sessions");
            throw new QuotaExceededException(tenant, "TenantSessionLimitReached",
                    "this tenant already holds " + held + " sessions in pool '" + pool + "' (limit " + allowed + ")",
                    config.retryAfterSeconds());
        }
    }

    /** The default quotas as gauges (overrides are in the configuration); refusals are counted where they happen. */
    void register(@Observes StartupEvent started) {
        Map.<String, Number>of("max_sessions", config.maxSessions(), "max_session_bytes", config.maxSessionBytes(),
                "max_queued", config.maxQueued(), "overrides", config.quota().size())
                .forEach((limit, value) -> Gauge.builder("sandstream.tenant.limit", value::doubleValue).tag("limit", limit)
                        .description("A default per-tenant quota (sandstream.tenants.*)").register(registry));
    }
}
