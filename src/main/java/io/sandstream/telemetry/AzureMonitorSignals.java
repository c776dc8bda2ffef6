package io.sandstream.telemetry;

import java.util.Optional;
import java.util.logging.Logger;

import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Singleton;

import org.eclipse.microprofile.config.inject.ConfigProperty;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.instrumentation.micrometer.v1_5.OpenTelemetryMeterRegistry;
import io.quarkus.opentelemetry.runtime.logs.OpenTelemetryLogHandler;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;

/**
 * The service's metrics and logs to Application Insights, beside its traces: with a connection
 * string and the SDK on, {@link AzureMonitorCustomizer} has given the SDK's meter and logger
 * providers the Azure Monitor exporters, and this feeds them. Quarkus' own bridges cannot, because
 * they are chosen at build time ({@code quarkus.otel.metrics.enabled}, {@code quarkus.otel.logs.enabled})
 * and bring OTLP exporters of their own; here both are decided at run time:
 * <ul>
 * <li>metrics: OpenTelemetry's Micrometer bridge ({@code opentelemetry-micrometer-1.5}) joins
 * Micrometer's global registry, so every {@code sandstream.*} meter (those made before it too)
 * is also an OpenTelemetry instrument; Prometheus on {@code /q/metrics} is unchanged;</li>
 * <li>logs: Quarkus' OpenTelemetry log handler on the root logger, so every log record the console
 * prints also becomes an OpenTelemetry log record (with the trace and span ids of its context).</li>
 * </ul>
 * Without a connection string, or with {@code QUARKUS_OTEL_SDK_DISABLED=true}, nothing is added.
 */
@Singleton
public class AzureMonitorSignals {

    private final boolean on;
    private final Instance<OpenTelemetry> openTelemetry;
    private MeterRegistry bridge;
    private OpenTelemetryLogHandler logs;

    public AzureMonitorSignals(
            @ConfigProperty(name = AzureMonitorSwitch.CONNECTION_STRING) Optional<String> connectionString,
            @ConfigProperty(name = AzureMonitorSwitch.SDK_DISABLED) boolean sdkDisabled, Instance<OpenTelemetry> openTelemetry) {
        this.on = !sdkDisabled && connectionString.filter(s -> !s.isBlank()).isPresent();
        this.openTelemetry = openTelemetry;
    }

    void start(@Observes StartupEvent event) {
        if (!on) {
            return;
        }
        OpenTelemetry sdk = openTelemetry.get();
        bridge = OpenTelemetryMeterRegistry.builder(sdk).build();
        Metrics.globalRegistry.add(bridge);
        logs = new OpenTelemetryLogHandler(sdk);
        Logger.getLogger("").addHandler(logs);
    }

    void stop(@Observes ShutdownEvent event) {
        if (logs != null) {
            Logger.getLogger("").removeHandler(logs);
            logs.close();
        }
        if (bridge != null) {
            Metrics.globalRegistry.remove(bridge);
            bridge.close();
        }
    }
}
