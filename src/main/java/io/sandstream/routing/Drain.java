package io.sandstream.routing;

import jakarta.enterprise.context.ApplicationScoped;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;

/**
 * Whether this instance is stopping and lets its running executions finish (see
 * {@link Dispatcher#drain}). While it drains it is not ready ({@link DrainHealthCheck}), so load
 * balancers and the Service stop sending it requests, and ingress refuses new work with
 * {@code 503}, which a client retries on another instance. Shown as
 * {@code sandstream.drain.active}, {@code sandstream.drain.in.flight} (executions still running or
 * being stored while it drains) and {@code sandstream.drain.unfinished} (executions the drain
 * timeout interrupted).
 */
@Startup // its meters exist from the start
@ApplicationScoped
public class Drain {

    private volatile boolean active;
    private volatile int inFlight;
    private final Counter unfinished;

    public Drain(MeterRegistry registry) {
        Gauge.builder("sandstream.drain.active", this, d -> d.active ? 1 : 0)
                .description("1 while this instance is stopping and lets its running executions finish").register(registry);
        Gauge.builder("sandstream.drain.in.flight", this, d -> d.inFlight)
                .description("Executions still running or being stored while this instance drains").register(registry);
        this.unfinished = Counter.builder("sandstream.drain.unfinished")
                .description("Executions still running when the drain timeout ended; they run again elsewhere")
                .register(registry);
    }

    public boolean active() {
        return active;
    }

    /** False when the drain had begun already. */
    synchronized boolean begin() {
        if (active) {
            return false;
        }
        active = true;
        return true;
    }

    void inFlight(int executions) {
        inFlight = executions;
    }

    void unfinished(int executions) {
        unfinished.increment(executions);
    }

    int inFlight() {
        return inFlight;
    }
}
