package io.sandstream.results;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/**
 * Starts a real Azurite for a {@code @QuarkusTest} and points the service's blob result store at
 * it; a test field annotated {@link InjectAzurite} receives the instance (to stop and restart it).
 */
public class AzuriteResource implements QuarkusTestResourceLifecycleManager {

    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.FIELD)
    public @interface InjectAzurite {
    }

    private Azurite azurite;

    @Override
    public Map<String, String> start() {
        azurite = Azurite.startFresh();
        return Map.of("sandstream.results.store", "azure-blob",
                "sandstream.results.azure.connection-string", azurite.connectionString(),
                // Short, so that an outage shows quickly in the outage test; Azurite answers in ms.
                "sandstream.results.azure.request-timeout", "3s");
    }

    @Override
    public void inject(TestInjector testInjector) {
        testInjector.injectIntoFields(azurite, new TestInjector.AnnotatedAndMatchesType(InjectAzurite.class, Azurite.class));
    }

    @Override
    public void stop() {
        if (azurite != null) {
            azurite.stop();
        }
    }
}
