package io.sandstream.outbound;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * One sink's metrics, the same for every kind ({@code sink=<name>}), and its problem log: the first
 * problem of an outage is a warning, the rest are logged at debug until it delivers again.
 */
final class SinkMeters {

    private static final Logger LOG = Logger.getLogger(Sinks.class);

    private final String name;
    final Counter delivered;
    final Counter retried;
    final Counter dropped;
    final Counter failed;
    private final Timer latency;
    /** Set by the first problem after a success, so an outage logs one warning, not one per event. */
    private final AtomicBoolean failing = new AtomicBoolean();
    private final AtomicLong problems = new AtomicLong();

    SinkMeters(String name, MeterRegistry registry, Supplier<Number> queued) {
        this.name = name;
        this.delivered = outcome(registry, "delivered");
        this.retried = outcome(registry, "retried");
        this.dropped = outcome(registry, "dropped");
        this.failed = outcome(registry, "failed");
        this.latency = Timer.builder("sandstream.sink.latency").tag("sink", name)
                .description("From a result's publication to its receiver's acknowledgement, queueing and retries included")
                .publishPercentiles(0.5, 0.99).register(registry);
        Gauge.builder("sandstream.sink.queue", queued).tag("sink", name).strongReference(true)
                .description("Events waiting for a sink (not counting those in flight)").register(registry);
    }

    private Counter outcome(MeterRegistry registry, String outcome) {
        return Counter.builder("sandstream.sink.deliveries").tag("sink", name).tag("outcome", outcome)
                .description("Outbound deliveries by outcome; retried counts retries, the others count events")
                .register(registry);
    }

    /** The receiver took an event published at {@code publishedNanos}. */
    void delivered(long publishedNanos) {
        delivered.increment();
        latency.record(System.nanoTime() - publishedNanos, TimeUnit.NANOSECONDS);
        if (failing.compareAndSet(true, false)) {
            LOG.infof("sink %s delivers again (%d problems while it failed)", name, problems.getAndSet(0));
        }
    }

    /** The queue was full: its oldest waiting event is gone. */
    void droppedOldest(int capacity) {
        dropped.increment();
        problem("queue full (" + capacity + "), dropped the oldest waiting event");
    }

    /** Logs the first problem of an outage as a warning and the rest at debug; names no URL (it may hold a key). */
    void problem(String what) {
        problems.incrementAndGet();
        if (failing.compareAndSet(false, true)) {
            LOG.warnf("sink %s is failing: %s (results are stored regardless; further problems are logged at debug level"
                    + " until it delivers again)", name, what);
        } else {
            LOG.debugf("sink %s: %s", name, what);
        }
    }
}
