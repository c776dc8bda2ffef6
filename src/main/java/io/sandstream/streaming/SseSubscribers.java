package io.sandstream.streaming;

import java.util.concurrent.atomic.AtomicInteger;

import jakarta.enterprise.context.ApplicationScoped;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import io.smallrye.mutiny.Multi;

/** Counts open SSE streams, as {@code sandstream.sse.subscribers{stream=execution|results}} (0 from the start). */
@Startup
@ApplicationScoped
public class SseSubscribers {

    private final AtomicInteger execution = new AtomicInteger();
    private final AtomicInteger results = new AtomicInteger();

    public SseSubscribers(MeterRegistry registry) {
        gauge(registry, "execution", execution);
        gauge(registry, "results", results);
    }

    private static void gauge(MeterRegistry registry, String stream, AtomicInteger count) {
        Gauge.builder("sandstream.sse.subscribers", count, AtomicInteger::get).tag("stream", stream)
                .description("Open server-sent event streams").register(registry);
    }

    /** {@code GET /executions/{id}/events}, counted while a client is subscribed. */
    <T> Multi<T> execution(Multi<T> stream) {
        return counted(stream, execution);
    }

    /** {@code GET /executions/stream}, counted while a client is subscribed. */
    <T> Multi<T> results(Multi<T> stream) {
        return counted(stream, results);
    }

    private static <T> Multi<T> counted(Multi<T> stream, AtomicInteger count) {
        return Multi.createFrom().deferred(() -> {
            count.incrementAndGet();
            AtomicInteger once = new AtomicInteger();
            return stream.onTermination().invoke(() -> {
                if (once.getAndIncrement() == 0) {
                    count.decrementAndGet();
                }
            });
        });
    }
}
