package io.sandstream.results;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;

/**
 * Ready only while the result store can take writes. Results are not lost meanwhile (the journal
 * holds the work and the dispatcher retries), but they stop arriving, which is worth a signal.
 */
@Readiness
@ApplicationScoped
public class ResultStoreHealthCheck implements AsyncHealthCheck {

    private final ResultStore store;

    public ResultStoreHealthCheck(ResultStore store) {
        this.store = store;
    }

    @Override
    public Uni<HealthCheckResponse> call() {
        return store.health().map(health -> {
            var response = HealthCheckResponse.named("results").status(health.up());
            health.data().forEach((key, value) -> response.withData(key, String.valueOf(value)));
            return response.build();
        });
    }
}
