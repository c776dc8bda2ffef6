package io.sandstream.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import io.sandstream.config.SandstreamConfig.TenantFrom;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;

/**
 * The enumerated settings are typed: the spellings the docs, manifests and tests use bind, and a
 * value outside the set stops the service with a message naming the setting and what it allows.
 */
class TypedSettingsTest {

    /** Binds the mapping as the service does at start; returns the error message when it refuses. */
    static String refusal(Map<String, String> properties) {
        RuntimeException refused = assertThrows(RuntimeException.class, () -> TestConfigs.sandstream(properties));
        return refused.getMessage();
    }

    static void assertRefused(Map<String, String> properties, String property, String... allowed) {
        String message = refusal(properties);
        assertTrue(message.contains(property), message);
        for (String value : allowed) {
            assertTrue(message.contains(value), value + " in: " + message);
        }
    }

    @Test
    void routingTenant() {
        assertEquals(TenantFrom.SOURCE, TestConfigs.sandstream(Map.of()).routing().tenant());
        assertEquals(TenantFrom.SUBJECT, TestConfigs.sandstream(Map.of("sandstream.routing.tenant", "subject")).routing().tenant());
        assertEquals(TenantFrom.SOURCE, TestConfigs.sandstream(Map.of("sandstream.routing.tenant", "SOURCE")).routing().tenant());
        assertRefused(Map.of("sandstream.routing.tenant", "subjects"), "sandstream.routing.tenant", "source", "subject");
    }

    @Test
    void rulePriority() {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.routing.rules[0].priority", "high",
                "sandstream.routing.rules[1].priority", "Low", "sandstream.routing.rules[2].pool", "python"));
        assertEquals(List.of(Optional.of(Priority.HIGH), Optional.of(Priority.LOW), Optional.empty()),
                config.routing().rules().stream().map(SandstreamConfig.Rule::priority).toList());
        assertRefused(Map.of("sandstream.routing.rules[0].priority", "urgent"), "sandstream.routing.rules[0].priority",
                "high", "normal", "low");
    }

    @Test
    void sinkStatus() {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.sinks.s.url", "http://127.0.0.1/",
                "sandstream.sinks.s.status", "Failed,TimedOut,timed-out"));
        assertEquals(List.of(ExecutionStatus.Failed, ExecutionStatus.TimedOut, ExecutionStatus.TimedOut),
                config.sinks().get("s").status().orElseThrow());
        assertRefused(Map.of("sandstream.sinks.s.url", "http://127.0.0.1/", "sandstream.sinks.s.status", "Failed,Done"),
                "sandstream.sinks.s.status", "failed", "timed-out", "succeeded");
    }

    @Test
    void poolLanguagesAreNormalizedNames() {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.pools.py.language", "Python",
                "sandstream.pools.rb.language", "ruby", "sandstream.aca-pools.js.endpoint", "http://127.0.0.1:9/",
                "sandstream.aca-pools.js.language", "JAVASCRIPT"));
        assertEquals(Language.PYTHON, config.pools().get("py").language());
        assertEquals(new Language("ruby"), config.pools().get("rb").language());
        assertEquals(Language.JAVASCRIPT, config.acaPools().get("js").language());
        assertRefused(Map.of("sandstream.pools.py.language", "py thon"), "sandstream.pools.py.language",
                "not a language name", "a letter, then letters, digits");
        // Which names a pool can run is the pool's to say at start: see RunnerTest and AcaContractTest.
    }

    @Test
    void theOtherKindsAndModesRefuseUnknownValuesToo() {
        assertRefused(Map.of("sandstream.journal.kind", "kafak"), "sandstream.journal.kind", "sqlite", "kafka");
        assertRefused(Map.of("sandstream.results.store", "blob"), "sandstream.results.store", "sqlite", "azure-blob");
        assertRefused(Map.of("sandstream.kafka.auth", "sas"), "sandstream.kafka.auth", "none", "entra", "connection-string");
        assertEquals(SandstreamConfig.StoreKind.AZURE_BLOB,
                TestConfigs.sandstream(Map.of("sandstream.results.store", "azure-blob")).results().store());
    }
}
