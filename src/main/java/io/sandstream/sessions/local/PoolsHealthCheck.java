package io.sandstream.sessions.local;

import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

import io.sandstream.sessions.PoolStats;

/**
 * Ready unless a local pool has no warm sandbox and cannot start one (its last start failed).
 * Lists each pool: {@code <pool>.status}, {@code .ready}, {@code .busy}, {@code .idle}, {@code .max},
 * and {@code .problem} when it is down. A pool whose sessions are all in use stays up: its work
 * waits in the journal, and a replica taken out of service for being busy would refuse events too.
 */
@Readiness
@ApplicationScoped
public class PoolsHealthCheck implements HealthCheck {

    private final LocalPools pools;

    public PoolsHealthCheck(LocalPools pools) {
        this.pools = pools;
    }

    @Override
    public HealthCheckResponse call() {
        return check(pools.all());
    }

    static HealthCheckResponse check(Map<String, LocalSessionPool> pools) {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("session-pools").up();
        pools.forEach((name, pool) -> {
            PoolStats stats = pool.stats();
            String problem = stats.ready() > 0 ? null
                    : pool.startFailure().map(failure -> "sandboxes fail to start (" + failure + ")").orElse(null);
            response.withData(name + ".status", problem == null ? "UP" : "DOWN")
                    .withData(name + ".ready", stats.ready())
                    .withData(name + ".busy", stats.busy())
                    .withData(name + ".idle", stats.idle())
                    .withData(name + ".max", stats.maxSessions());
            if (problem != null) {
                response.withData(name + ".problem", problem).down();
            }
        });
        return response.build();
    }
}
