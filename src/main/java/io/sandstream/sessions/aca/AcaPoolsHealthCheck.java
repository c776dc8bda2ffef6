package io.sandstream.sessions.aca;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

import io.smallrye.faulttolerance.api.CircuitBreakerState;

/**
 * Ready unless an ACA pool's circuit breaker is open, i.e. its endpoint kept failing (5xx, no
 * answer) on real calls. Judged from that traffic rather than a probe of its own: in the legacy
 * contract every call allocates a session, so a probe would cost one.
 */
@Readiness
@ApplicationScoped
public class AcaPoolsHealthCheck implements HealthCheck {

    private final AcaPools pools;

    public AcaPoolsHealthCheck(AcaPools pools) {
        this.pools = pools;
    }

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("aca-pools").up();
        pools.all().forEach((name, pool) -> {
            CircuitBreakerState breaker = pool.breaker();
            var stats = pool.stats();
            response.withData(name, "circuit=" + breaker.name().toLowerCase(java.util.Locale.ROOT) + " busy="
                    + stats.busy() + " max=" + stats.maxSessions());
            if (breaker == CircuitBreakerState.OPEN) {
                response.down();
            }
        });
        return response.build();
    }
}
