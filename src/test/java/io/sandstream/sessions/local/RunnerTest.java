package io.sandstream.sessions.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.sandstream.model.Language;

/** A local pool's language picks its sandbox runner; one no runner runs stops the start, naming the setting. */
class RunnerTest {

    @Test
    void pythonAndJavascriptKeepTheirRunners() {
        assertEquals(Runner.PYTHON, Runner.of("python", Language.PYTHON));
        assertEquals("runner.pyc", Runner.of("python", Language.PYTHON).script);
        assertEquals(Runner.NODE, Runner.of("javascript", Language.JAVASCRIPT));
        assertEquals("runner.js", Runner.of("javascript", Language.JAVASCRIPT).script);
        for (String language : List.of("bash", "c", "cpp", "go", "ruby", "java", "typescript")) {
            Runner runner = Runner.of(language, new Language(language));
            assertEquals(language, runner.language.wireName());
            assertEquals("script_runner.pyc", runner.script);
            assertTrue(runner.scripted());
        }
        assertFalse(Runner.PYTHON.scripted());
    }

    @Test
    void aLanguageNoRunnerRunsIsRefused() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Runner.of("cob", new Language("cobol")));
        assertEquals("sandstream.pools.cob.language: no local sandbox runner runs 'cobol'; local pools run python, javascript,"
                + " bash, ruby, c, cpp, go, java, typescript",
                refused.getMessage());
    }
}
