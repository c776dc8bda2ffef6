package io.sandstream.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import io.sandstream.config.TestConfigs;
import io.sandstream.model.Priority;

class RoutingRulesTest {

    private final RoutingRules rules = new RoutingRules(TestConfigs.sandstream(Map.of(
            "sandstream.routing.rules[0].subject-prefix", "code-execution/realtime/",
            "sandstream.routing.rules[0].priority", "high",
            "sandstream.routing.rules[1].type", "io.sandstream.code.execute",
            "sandstream.routing.rules[1].subject-suffix", "/batch",
            "sandstream.routing.rules[1].priority", "low",
            "sandstream.routing.rules[1].pool", "python-batch",
            "sandstream.routing.rules[2].type-prefix", "Microsoft.",
            "sandstream.routing.rules[2].pool", "python-azure")));

    @Test
    void theFirstMatchingRuleDecides() {
        assertEquals(Optional.of(Priority.HIGH), rules.priority("x", "code-execution/realtime/1"));
        assertEquals(Optional.of(Priority.LOW), rules.priority("io.sandstream.code.execute", "jobs/batch"));
        assertEquals(Optional.empty(), rules.priority("other.type", "jobs/batch"), "every condition must hold");
        assertEquals(Optional.of("python-batch"), rules.pool("io.sandstream.code.execute", "jobs/batch"));
        assertEquals(Optional.of("python-azure"), rules.pool("Microsoft.EventGrid.ExecuteCode", "code-execution/test"));
        assertEquals(Optional.empty(), rules.pool("x", "code-execution/realtime/1"), "that rule sets no pool");
        assertEquals(Optional.empty(), rules.priority(null, null));
    }

    @Test
    void noRulesMeansNoOpinion() {
        RoutingRules none = new RoutingRules(TestConfigs.sandstream(Map.of()));
        assertEquals(Optional.empty(), none.priority("t", "s"));
    }
}
