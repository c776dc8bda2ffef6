package io.sandstream.sessions.aca;

import java.time.Clock;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;

import com.azure.identity.DefaultAzureCredentialBuilder;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.sessions.PoolStats;
import io.sandstream.tenancy.TenantQuotas;

/**
 * The configured Azure Container Apps pools ({@code sandstream.aca-pools.<name>.*}), each with its
 * own REST client (the endpoint is per pool) and its own token source: the pool's {@code api-key}
 * when set, else {@code DefaultAzureCredential}, which finds a managed or workload identity in
 * Azure and the developer's Azure CLI login elsewhere.
 */
@ApplicationScoped
public class AcaPools {

    /** By name, so that "the first ACA pool of a language" (its default pool) does not depend on map order. */
    private final Map<String, AcaSessionPool> pools = new TreeMap<>();

    public AcaPools(SandstreamConfig config, MeterRegistry registry, TenantQuotas quotas) {
        config.acaPools().forEach((name, poolConfig) -> {
            AcaSessionPool pool = new AcaSessionPool(name, poolConfig, AcaSessionPool.client(poolConfig),
                    tokens(poolConfig), registry, quotas, config.tenants().acaIdentifierKey().orElse(""));
            pools.put(name, pool);
            gauge(registry, pool, "busy", PoolStats::busy);
            gauge(registry, pool, "idle", PoolStats::idle);
            gauge(registry, pool, "max", PoolStats::maxSessions);
        });
    }

    private static AccessTokens tokens(SandstreamConfig.AcaPool config) {
        if (config.apiKey().isPresent()) {
            return AccessTokens.fixed(config.apiKey().get());
        }
        DefaultAzureCredentialBuilder credential = new DefaultAzureCredentialBuilder();
        config.managedIdentityClientId().ifPresent(credential::managedIdentityClientId);
        return new EntraAccessTokens(credential.build(), config.tokenScope(), config.tokenRefreshMargin(),
                Clock.systemUTC());
    }

    private static void gauge(MeterRegistry registry, AcaSessionPool pool, String state,
            java.util.function.ToIntFunction<PoolStats> value) {
        Gauge.builder("sandstream.pool.sessions", pool, p -> value.applyAsInt(p.stats()))
                .tag("pool", pool.name()).tag("state", state).description("Sessions of a pool by state")
                .register(registry);
    }

    public Map<String, AcaSessionPool> all() {
        return Collections.unmodifiableMap(pools);
    }

    @PreDestroy
    void stop() {
        pools.values().forEach(AcaSessionPool::close);
    }
}
