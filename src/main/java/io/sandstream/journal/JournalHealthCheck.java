package io.sandstream.journal;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready only while the journal's writer runs and its last commit succeeded. */
@Readiness
@ApplicationScoped
public class JournalHealthCheck implements HealthCheck {

    private final Journal journal;

    public JournalHealthCheck(Journal journal) {
        this.journal = journal;
    }

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("journal").status(journal.healthy())
                .withData("pending", journal.pendingCount()).build();
    }
}
