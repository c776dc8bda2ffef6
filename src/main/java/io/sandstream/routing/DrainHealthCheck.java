package io.sandstream.routing;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Not ready while the instance drains: the first thing a stopping instance does (see {@link Drain}). */
@Readiness
@ApplicationScoped
public class DrainHealthCheck implements HealthCheck {

    private final Drain drain;

    public DrainHealthCheck(Drain drain) {
        this.drain = drain;
    }

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("drain").status(!drain.active()).withData("inFlight", drain.inFlight()).build();
    }
}
