package io.sandstream.sessions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;

/** The start-up checks of the pool registry: one name, one pool; no rule routes to nowhere. */
class SessionPoolsTest {

    private static List<SandstreamConfig.Rule> rules(Map<String, String> properties) {
        return TestConfigs.sandstream(properties).routing().rules();
    }

    @Test
    void distinctNamesAndKnownPoolsPass() {
        SessionPools.check(Set.of("aca-python"), Set.of("python", "javascript"),
                rules(Map.of("sandstream.routing.rules[0].subject-prefix", "x/", "sandstream.routing.rules[0].pool", "aca-python",
                        "sandstream.routing.rules[1].type", "t", "sandstream.routing.rules[1].pool", "javascript",
                        "sandstream.routing.rules[2].type", "u", "sandstream.routing.rules[2].priority", "high")));
    }

    @Test
    void aNameUsedByBothKindsStopsTheStart() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SessionPools.check(Set.of("python"), Set.of("python", "javascript"), List.of()));
        assertEquals("pool name 'python' is configured both as a local pool (sandstream.pools) and as an ACA pool"
                + " (sandstream.aca-pools); pool names must be unique", e.getMessage());
    }

    @Test
    void aRuleNamingNoPoolStopsTheStart() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> SessionPools.check(Set.of(),
                Set.of("python"), rules(Map.of("sandstream.routing.rules[0].type", "t", "sandstream.routing.rules[0].pool", "pyhton"))));
        assertEquals("routing rule names pool 'pyhton', which is not configured", e.getMessage());
    }
}
