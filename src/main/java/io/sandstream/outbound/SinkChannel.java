package io.sandstream.outbound;

import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.enterprise.util.TypeLiteral;

import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
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
 * One configured sink: its bounded queue, a few deliveries in flight, retries with exponential
 * backoff behind a circuit breaker (SmallRye Fault Tolerance), and its metrics. {@link #offer}
 * only enqueues, so the publisher never waits for a receiver; when the queue is full the
 * <em>oldest</em> waiting event is dropped: the results are stored either way (and replayable over
 * SSE), and a receiver that comes back is more interested in what is current.
 */
final class SinkChannel {

    private static final Logger LOG = Logger.getLogger(Sinks.class);

    /**
     * An event waiting for this sink, and when it was published (for the latency timer). Only the
     * id waits: results can carry a MiB of output each, and a full queue during an outage must not
     * hold thousands of them; the document is read back from the store when its turn comes.
     * {@code trace} is the publication's context: the event continues it.
     */
    private record Pending(String executionId, long publishedNanos, Context trace) {
    }

    private final String name;
    private final Sink config;
    private final ResultEvents events;
    private final ResultStore store;
    private final SinkClient client;
    private final Executor executor;
    private final TypedGuard<Uni<Integer>> guard;
    private final ExecutionTracing tracing;

    private final ArrayDeque<Pending> queue = new ArrayDeque<>(); // guarded by this
    private int inFlight; // guarded by this
    private volatile boolean stopped;

    private final Counter delivered;
    private final Counter retried;
    private final Counter dropped;
    private final Counter failed;
    private final Timer latency;
    /** Set by the first problem after a success, so an outage logs one warning, not one per event. */
    private final AtomicBoolean failing = new AtomicBoolean();
    private final AtomicLong problems = new AtomicLong();

    SinkChannel(String name, Sink config, ResultEvents events, ResultStore store, SinkClient client, Executor executor,
            MeterRegistry registry, ExecutionTracing tracing) {
        this.name = name;
        this.tracing = tracing;
        this.config = config;
        this.events = events;
        this.store = store;
        this.client = client;
        this.executor = executor;
        this.delivered = outcome(registry, "delivered");
        this.retried = outcome(registry, "retried");
        this.dropped = outcome(registry, "dropped");
        this.failed = outcome(registry, "failed");
        this.latency = Timer.builder("sandstream.sink.latency").tag("sink", name)
                .description("From a result's publication to its receiver's 2xx, queueing and retries included")
                .publishPercentiles(0.5, 0.99).register(registry);
        Gauge.builder("sandstream.sink.queue", this, SinkChannel::queued).tag("sink", name).strongReference(true)
                .description("Events waiting for a sink (not counting those in flight)").register(registry);
        this.guard = guard(config);
    }

    private Counter outcome(MeterRegistry registry, String outcome) {
        return Counter.builder("sandstream.sink.deliveries").tag("sink", name).tag("outcome", outcome)
                .description("Outbound deliveries by outcome; retried counts retries, the others count events")
                .register(registry);
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
                    .beforeRetry(failure -> retried.increment())
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

    boolean wants(ResultDocument document) {
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
    void offer(ResultDocument document) {
        Pending oldest = null;
        synchronized (this) {
            if (stopped) {
                return;
            }
            if (queue.size() >= config.queueCapacity()) {
                oldest = queue.pollFirst();
            }
            queue.addLast(new Pending(document.executionId(), System.nanoTime(), Context.current()));
        }
        if (oldest != null) {
            dropped.increment();
            problem("queue full (" + config.queueCapacity() + "), dropped the oldest waiting event");
        }
        executor.execute(this::pump);
    }

    String name() {
        return name;
    }

    synchronized int queued() {
        return queue.size();
    }

    /** Starts deliveries while there is room in flight; called again whenever one ends. */
    private void pump() {
        while (true) {
            Pending next;
            synchronized (this) {
                if (stopped || inFlight >= config.concurrency() || queue.isEmpty()) {
                    return;
                }
                next = queue.pollFirst();
                inFlight++;
            }
            deliver(next).subscribe().with(ignored -> ended(), failure -> ended());
        }
    }

    private void ended() {
        synchronized (this) {
            inFlight--;
        }
        if (!stopped) {
            executor.execute(this::pump);
        }
    }

    /**
     * One event to this sink: read and encode once, then attempts under the guard, then count the
     * outcome. The event carries the publication's trace context; the request's own
     * {@code traceparent} header is this delivery's span.
     */
    private Uni<Void> deliver(Pending pending) {
        Span span = tracing.delivering(name, pending.trace());
        return load(pending)
                .map(document -> client.prepare(events.of(document, TraceContext.of(pending.trace())),
                        TraceContext.of(Context.root().with(span))))
                .flatMap(prepared -> guard.get(() -> attempt(prepared)))
                .invoke(status -> succeeded(pending))
                .onFailure().invoke(this::gaveUp)
                .onItemOrFailure().invoke((status, failure) -> ExecutionTracing.delivered(span, status, failure))
                .onFailure().recoverWithNull()
                .replaceWithVoid();
    }

    private Uni<ResultDocument> load(Pending pending) {
        return store.get(pending.executionId())
                .map(stored -> stored.orElseThrow(() -> new DeliveryException("result no longer in the store", false))
                        .document());
    }

    private Uni<Integer> attempt(SinkClient.Prepared prepared) {
        if (stopped) {
            return Uni.createFrom().failure(new DeliveryException("shutting down", false));
        }
        return client.send(prepared)
                .onFailure().invoke(failure -> problem(failure.getMessage()));
    }

    private void succeeded(Pending pending) {
        delivered.increment();
        latency.record(System.nanoTime() - pending.publishedNanos(), TimeUnit.NANOSECONDS);
        if (failing.compareAndSet(true, false)) {
            LOG.infof("sink %s delivers again (%d problems while it failed)", name, problems.getAndSet(0));
        }
    }

    private void gaveUp(Throwable failure) {
        if (stopped) {
            return;
        }
        if (failure instanceof DeliveryException d && !d.retryable()) {
            dropped.increment(); // refused by the receiver (or gone): sending it again cannot help
            problem("dropped an event (" + d.getMessage() + "), not retried");
        } else {
            failed.increment();
            problem("gave up on an event after " + config.maxAttempts() + " attempts ("
                    + (failure instanceof CircuitBreakerOpenException ? "circuit open" : failure.getMessage()) + ")");
        }
    }

    /** Logs the first problem of an outage as a warning and the rest at debug; names no URL (it may hold a key). */
    private void problem(String what) {
        problems.incrementAndGet();
        if (failing.compareAndSet(false, true)) {
            LOG.warnf("sink %s is failing: %s (results are stored regardless; further problems are logged at debug level"
                    + " until it delivers again)", name, what);
        } else {
            LOG.debugf("sink %s: %s", name, what);
        }
    }

    /**
     * Drops what waits; deliveries in flight end at their next attempt (an attempt already sent
     * ends by its timeout at the latest).
     */
    Uni<Void> stop() {
        synchronized (this) {
            stopped = true;
            queue.clear();
        }
        return client.close();
    }
}
