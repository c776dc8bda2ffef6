package io.sandstream.telemetry;

import java.util.List;

import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.quarkus.arc.lookup.LookupIfProperty;

/**
 * Keeps Quarkus' OTLP span exporter off unless an OTLP endpoint is configured. Quarkus creates it
 * whenever the SDK is on, aimed at {@code localhost:4317} when no endpoint is set, and an empty
 * endpoint cannot switch it off at run time (quarkus#44200); so with the SDK on for Application
 * Insights alone, every batch failed against a collector that is not there and logged a warning.
 * Quarkus leaves its OTLP exporter out when the application has a span exporter of its own, so
 * this gives it one that drops everything, looked up only while neither
 * {@code quarkus.otel.exporter.otlp.endpoint} nor {@code quarkus.otel.exporter.otlp.traces.endpoint}
 * names an endpoint other than that default. Set either (QUARKUS_OTEL_EXPORTER_OTLP_ENDPOINT) and
 * the OTLP exporter is back; for a collector on this host, write the address differently
 * (http://127.0.0.1:4317).
 */
@Singleton
public class OtlpOnlyWhenConfigured {

    /** Quarkus' default endpoint, which stands for "none configured". */
    static final String DEFAULT_ENDPOINT = "http://localhost:4317/";

    @Produces
    @Singleton
    @LookupIfProperty(name = "quarkus.otel.exporter.otlp.endpoint", stringValue = DEFAULT_ENDPOINT, lookupIfMissing = true)
    @LookupIfProperty(name = "quarkus.otel.exporter.otlp.traces.endpoint", stringValue = DEFAULT_ENDPOINT, lookupIfMissing = true)
    SpanExporter noOtlpEndpoint() {
        return SpanExporter.composite(List.of());
    }
}
