package io.sandstream.kafka;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/**
 * Starts a real in-process Kafka broker for a {@code @QuarkusTest} and points the service's Kafka
 * journal at it; a test field annotated {@link InjectKafkaBroker} receives the broker (to create
 * topics, or to read what the service wrote).
 */
public class KafkaBrokerResource implements QuarkusTestResourceLifecycleManager {

    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.FIELD)
    public @interface InjectKafkaBroker {
    }

    private KafkaBroker broker;

    @Override
    public Map<String, String> start() {
        broker = KafkaBroker.start();
        return Map.of("sandstream.kafka.bootstrap-servers", broker.bootstrapServers(),
                "sandstream.journal.kind", "kafka");
    }

    @Override
    public void inject(TestInjector testInjector) {
        testInjector.injectIntoFields(broker, new TestInjector.AnnotatedAndMatchesType(InjectKafkaBroker.class, KafkaBroker.class));
    }

    @Override
    public void stop() {
        if (broker != null) {
            broker.close();
            broker = null;
        }
    }
}
