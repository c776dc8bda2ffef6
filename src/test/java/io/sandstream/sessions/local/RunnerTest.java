package io.sandstream.sessions.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

import io.sandstream.model.Language;

/** A local pool's language picks its sandbox runner; one no runner runs stops the start, naming the setting. */
class RunnerTest {

    @Test
    void pythonAndJavascriptKeepTheirRunners() {
        assertEquals(Runner.PYTHON, Runner.of("python", Language.PYTHON));
        assertEquals("runner.py", Runner.of("python", Language.PYTHON).script);
        assertEquals(Runner.NODE, Runner.of("javascript", Language.JAVASCRIPT));
        assertEquals("runner.js", Runner.of("javascript", Language.JAVASCRIPT).script);
    }

    @Test
    void aLanguageNoRunnerRunsIsRefused() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Runner.of("rb", new Language("ruby")));
        assertEquals("sandstream.pools.rb.language: no local sandbox runner runs 'ruby'; local pools run python, javascript",
                refused.getMessage());
    }
}
