package io.sandstream.telemetry;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;

/**
 * Where finished spans go in tests: memory. Quarkus exports to every CDI {@code SpanExporter} (and
 * then creates no OTLP exporter), but only under a profile that turns the SDK on
 * ({@link TelemetryTest.Tracing}); elsewhere tracing stays off, as in production by default.
 */
@ApplicationScoped
public class TestSpanExporter {

    @Produces
    @Singleton
    InMemorySpanExporter spans() {
        return InMemorySpanExporter.create();
    }
}
