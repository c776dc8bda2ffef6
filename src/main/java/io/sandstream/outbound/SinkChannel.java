package io.sandstream.outbound;

import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.Executor;

import jakarta.enterprise.util.TypeLiteral;

import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;

import io.micrometer.core.instrument.MeterRegistry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.sandstream.config.SandstreamConfig.Sink;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultStore;
import io.sandstream.telemetry.ExecutionTracing;
import io.sandstream.telemetry.TraceContext;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.smallrye.mutiny.Uni;

/**
 * One configured HTTP sink: its bounded queue ({@link SinkQueue}), a few deliveries in flight,
 * retries with exponential backoff behind a circuit breaker (SmallRye Fault Tolerance), and its
 * metrics. {@link #offer} only enqueues, so the publisher never waits for a receiver.
 */
final class SinkChannel implements Outlet {

    private final String name;
    private final Sink config;
    private final ResultEvents events;
    private final ResultStore store;
    private final SinkClient client;
    private final Executor executor;
    private final TypedGuard<Uni<Integer>> guard;
    private final ExecutionTracing tracing;
    private final SinkQueue queue;
    private final SinkMeters meters;

    private int inFlight; // guarded by this

    SinkChannel(String name, Sink config, ResultEvents events, ResultStore store, SinkClient client, Executor executor,
            MeterRegistry registry, ExecutionTracing tracing) {
        this.name = name;
        this.tracing = tracing;
        this.config = config;
        this.events = events;
        this.store = store;
        this.client = client;
        this.executor = executor;
        this.queue = new SinkQueue(config.queueCapacity());
        this.meters = new SinkMeters(name, registry, queue::size);
        this.guard = guard(config);
    }

    /**
     * Retries what the receiver may take later (see {@link DeliveryException}), and waits out an
     * open circuit breaker the same way. The breaker counts only those failures, so one refused
     * event does not stop the others; while it is open, attempts fail at once instead of holding a
     * connection to a receiver that hangs.
     */
    private TypedGuard<Uni<Integer>> guard(Sink sink) {
        long initial = sink.backoffInitial().toMillis();
        long max = Math.max(initial, sink.backoffMax().toMillis());
        // A bound the retries never reach by themselves: maxAttempts decides, not the clock.
        long maxDuration = 2L * sink.maxAttempts() * (sink.timeout().toMillis() + max + initial);
        return TypedGuard.create(new TypeLiteral<Uni<Integer>>() {
        })
                .withDescription("sink " + name)
                .withRetry()
                    .maxRetries(sink.maxAttempts() - 1)
                    .delay(initial, ChronoUnit.MILLIS)
                    .jitter(initial / 4, ChronoUnit.MILLIS)
                    .maxDuration(maxDuration, ChronoUnit.MILLIS)
                    .whenException(SinkChannel::worthRetrying)
                    .beforeRetry(failure -> meters.retried.increment())
                    .withExponentialBackoff().factor(2).maxDelay(max, ChronoUnit.MILLIS).done()
                    .done()
                .withCircuitBreaker()
                    .when(failure -> failure instanceof DeliveryException d && d.retryable())
                    .requestVolumeThreshold(10)
                    .failureRatio(0.5)
                    .delay(max, ChronoUnit.MILLIS)
                    .done()
                .build();
    }

    private static boolean worthRetrying(Throwable failure) {
        return failure instanceof DeliveryException d ? d.retryable() : failure instanceof CircuitBreakerOpenException;
    }

    @Override
    public boolean wants(ResultDocument document) {
        return wants(config, document);
    }

    static boolean wants(Sink config, ResultDocument document) {
        if (config.subjectPrefix().isPresent()
                && (document.subject() == null || !document.subject().startsWith(config.subjectPrefix().get()))) {
            return false;
        }
        List<ExecutionStatus> statuses = config.status().orElse(List.of());
        return statuses.isEmpty() || statuses.contains(document.status());
    }

    /** Enqueues and returns: never blocks, never does I/O on the publisher's thread. */
    @Override
    public void offer(ResultDocument document) {
        if (!queue.offer(document.executionId())) {
            meters.droppedOldest(queue.capacity());
        }
        executor.execute(this::pump);
    }

    @Override
    public String name() {
        return name;
    }

    /** Starts deliveries while there is room in flight; called again whenever one ends. */
    private void pump() {
        while (true) {
            SinkQueue.Pending next;
            synchronized (this) {
                if (inFlight >= config.inFlight() || (next = queue.poll()) == null) {
                    return;
                }
                inFlight++;
            }
            deliver(next).subscribe().with(ignored -> ended(), failure -> ended());
        }
    }

    private void ended() {
        synchronized (this) {
            inFlight--;
        }
        if (!queue.stopped()) {
            executor.execute(this::pump);
        }
    }

    /**
     * One event to this sink: read and encode once, then attempts under the guard, then count the
     * outcome. The event carries the publication's trace context; the request's own
     * {@code traceparent} header is this delivery's span.
     */
    private Uni<Void> deliver(SinkQueue.Pending pending) {
        Span span = tracing.delivering(name, pending.trace());
        return pending.load(store)
                .map(document -> client.prepare(events.of(document, TraceContext.of(pending.trace())),
                        TraceContext.of(Context.root().with(span))))
                .flatMap(prepared -> guard.get(() -> attempt(prepared)))
                .invoke(status -> meters.delivered(pending.publishedNanos()))
                .onFailure().invoke(this::gaveUp)
                .onItemOrFailure().invoke((status, failure) -> ExecutionTracing.delivered(span, status, failure))
                .onFailure().recoverWithNull()
                .replaceWithVoid();
    }

    private Uni<Integer> attempt(SinkClient.Prepared prepared) {
        if (queue.stopped()) {
            return Uni.createFrom().failure(new DeliveryException("shutting down", false));
        }
        return client.send(prepared)
                .onFailure().invoke(failure -> meters.problem(failure.getMessage()));
    }

    private void gaveUp(Throwable failure) {
        if (queue.stopped()) {
            return;
        }
        if (failure instanceof DeliveryException d && !d.retryable()) {
            meters.dropped.increment(); // refused by the receiver (or gone): sending it again cannot help
            meters.problem("dropped an event (" + d.getMessage() + "), not retried");
        } else {
            meters.failed.increment();
            meters.problem("gave up on an event after " + config.maxAttempts() + " attempts ("
                    + (failure instanceof CircuitBreakerOpenException ? "circuit open" : failure.getMessage()) + ")");
        }
    }

    /**
     * Drops what waits; deliveries in flight end at their next attempt (an attempt already sent
     * ends by its timeout at the latest).
     */
    @Override
    public Uni<Void> stop() {
        queue.stop();
        return client.close();
    }
}
