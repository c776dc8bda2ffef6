package io.sandstream.telemetry;

import io.smallrye.config.ConfigSourceInterceptor;
import io.smallrye.config.ConfigSourceInterceptorContext;
import io.smallrye.config.ConfigValue;

/**
 * Turns the OpenTelemetry SDK on when an Application Insights connection string is configured
 * ({@code APPLICATIONINSIGHTS_CONNECTION_STRING}), since application.properties keeps it off so that
 * nothing calls a collector that is not there. Only the application's own default gives way: a
 * {@code quarkus.otel.sdk.disabled} from the environment, a system property or a test profile (any
 * source above application.properties) is kept, so {@code QUARKUS_OTEL_SDK_DISABLED=true} still
 * turns it off. The flag is runtime configuration, read when the SDK is built. A config expression
 * could not do this without logging the connection string (the boolean converter warns with the
 * value it converts).
 */
public class AzureMonitorSwitch implements ConfigSourceInterceptor {

    static final String SDK_DISABLED = "quarkus.otel.sdk.disabled";
    static final String CONNECTION_STRING = "applicationinsights.connection-string";
    /** application.properties inside the application. */
    private static final int APPLICATION_PROPERTIES = 250;

    @Override
    public ConfigValue getValue(ConfigSourceInterceptorContext context, String name) {
        ConfigValue value = context.proceed(name);
        if (!SDK_DISABLED.equals(name) || value != null && value.getConfigSourceOrdinal() > APPLICATION_PROPERTIES) {
            return value;
        }
        ConfigValue connectionString = context.proceed(CONNECTION_STRING);
        if (connectionString == null || connectionString.getValue() == null || connectionString.getValue().isBlank()) {
            return value;
        }
        return value != null ? value.withValue("false")
                : ConfigValue.builder().withName(SDK_DISABLED).withValue("false").build();
    }
}
