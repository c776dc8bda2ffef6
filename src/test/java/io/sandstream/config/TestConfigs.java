package io.sandstream.config;

import java.time.Duration;
import java.util.Map;

import io.quarkus.runtime.configuration.DurationConverter;

import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;

/** Builds the real config mapping from a few properties, for tests that construct stages directly. */
public final class TestConfigs {

    private TestConfigs() {
    }

    public static SandstreamConfig sandstream(Map<String, String> properties) {
        return new SmallRyeConfigBuilder()
                .withMapping(SandstreamConfig.class)
                .withConverter(Duration.class, 100, new DurationConverter()) // Quarkus' "30s" form
                .withSources(new PropertiesConfigSource(properties, "test", 500))
                .build()
                .getConfigMapping(SandstreamConfig.class);
    }
}
