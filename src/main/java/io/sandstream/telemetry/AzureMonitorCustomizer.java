package io.sandstream.telemetry;

import java.util.Optional;

import jakarta.inject.Singleton;

import org.eclipse.microprofile.config.inject.ConfigProperty;

import com.azure.monitor.opentelemetry.autoconfigure.AzureMonitorAutoConfigure;

import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdkBuilder;
import io.quarkus.opentelemetry.runtime.AutoConfiguredOpenTelemetrySdkBuilderCustomizer;

/**
 * Sends traces, metrics and logs to Application Insights when {@code APPLICATIONINSIGHTS_CONNECTION_STRING} is set
 * (the templates set it; application.properties turns the SDK on when it is present). Quarkus builds
 * its SDK with OpenTelemetry's autoconfigure builder and hands it to every bean of this type, only
 * when the SDK is on; the Azure Monitor exporter then runs beside Quarkus' own span processors, so an
 * OTLP endpoint, when configured, still receives every span. The library gives the SDK's meter and
 * logger providers Azure Monitor exporters as well; {@link AzureMonitorSignals} feeds them the
 * Micrometer meters and the log records. Without a connection string nothing is added.
 */
@Singleton
public class AzureMonitorCustomizer implements AutoConfiguredOpenTelemetrySdkBuilderCustomizer {

    private final Optional<String> connectionString;

    public AzureMonitorCustomizer(
            @ConfigProperty(name = "applicationinsights.connection-string") Optional<String> connectionString) {
        this.connectionString = connectionString.map(String::trim).filter(s -> !s.isEmpty());
    }

    @Override
    public void customize(AutoConfiguredOpenTelemetrySdkBuilder builder) {
        connectionString.ifPresent(value -> AzureMonitorAutoConfigure.customize(builder, value));
    }
}
