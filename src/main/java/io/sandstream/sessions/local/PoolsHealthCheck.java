package io.sandstream.sessions.local;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/** Ready when every local pool has a warm sandbox or room to start one. */
@Readiness
@ApplicationScoped
public class PoolsHealthCheck implements HealthCheck {

    private final LocalPools pools;

    public PoolsHealthCheck(LocalPools pools) {
        this.pools = pools;
    }

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("session-pools").up();
        pools.all().forEach((name, pool) -> {
            var stats = pool.stats();
            boolean ok = stats.ready() > 0 || stats.busy() + stats.idle() < stats.maxSessions();
            response.withData(name, "ready=" + stats.ready() + " busy=" + stats.busy() + " idle=" + stats.idle());
            if (!ok) {
                response.down();
            }
        });
        return response.build();
    }
}
