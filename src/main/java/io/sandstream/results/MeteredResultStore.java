package io.sandstream.results;

import java.util.List;
import java.util.Optional;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.sandstream.model.ResultDocument;
import io.smallrye.mutiny.Uni;

/**
 * Times every put of whichever store is configured, so both report the same meters:
 * {@code sandstream.results.put{store,outcome}} and {@code sandstream.results.put.failures{store}}.
 * A failed put is retried by the dispatcher, so failures count tries, not lost results.
 */
public final class MeteredResultStore implements ResultStore, AutoCloseable {

    private final ResultStore delegate;
    private final Timer succeeded;
    private final Timer failed;
    private final Counter failures;

    public MeteredResultStore(ResultStore delegate, String store, MeterRegistry registry) {
        this.delegate = delegate;
        this.succeeded = timer(registry, store, "success");
        this.failed = timer(registry, store, "failure");
        this.failures = Counter.builder("sandstream.results.put.failures").tag("store", store)
                .description("Result puts that failed (each is retried)").register(registry);
    }

    private static Timer timer(MeterRegistry registry, String store, String outcome) {
        return Timer.builder("sandstream.results.put").tag("store", store).tag("outcome", outcome)
                .description("Storing one result, until stored or failed").publishPercentiles(0.5, 0.99)
                .register(registry);
    }

    @Override
    public Uni<StoredResult> put(ResultDocument document) {
        // Deferred: each retry by the caller is timed on its own.
        return Uni.createFrom().deferred(() -> {
            Timer.Sample sample = Timer.start();
            return delegate.put(document)
                    .onItem().invoke(stored -> sample.stop(succeeded))
                    .onFailure().invoke(failure -> {
                        sample.stop(failed);
                        failures.increment();
                    });
        });
    }

    @Override
    public Uni<Optional<StoredResult>> get(String executionId) {
        return delegate.get(executionId);
    }

    @Override
    public boolean storedNow(String executionId) {
        return delegate.storedNow(executionId);
    }

    @Override
    public Uni<List<StoredResult>> after(long sequence, int limit) {
        return delegate.after(sequence, limit);
    }

    @Override
    public Uni<Long> latest() {
        return delegate.latest();
    }

    @Override
    public Uni<Void> caughtUp() {
        return delegate.caughtUp();
    }

    @Override
    public Uni<Health> health() {
        return delegate.health();
    }

    @Override
    public void close() throws Exception {
        if (delegate instanceof AutoCloseable closeable) {
            closeable.close();
        }
    }
}
