package io.sandstream.sessions.local;

import static io.sandstream.sessions.local.PoolFixture.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionResult.Status;

class LocalSessionPoolTest {

    @TempDir
    static Path dir;
    static PoolFixture pools;

    @BeforeAll
    static void start() {
        pools = new PoolFixture(dir, Map.of());
    }

    @AfterAll
    static void stop() {
        pools.close();
    }

    @Test
    void pythonKeepsStateAndReturnsTheLastExpression() {
        ExecutionResult first = run(pools.python, "py-state", "import math\nx = 40\nprint('hello')");
        assertEquals(Status.Succeeded, first.status(), first.toString());
        assertEquals("hello\n", first.stdout());
        ExecutionResult second = run(pools.python, "py-state", "x + 2");
        assertEquals(42, second.result().asInt(), second.toString());
        ExecutionResult failed = run(pools.python, "py-state", "1/0");
        assertEquals(Status.Failed, failed.status());
        assertEquals("ZeroDivisionError", failed.errorType());
        assertTrue(failed.stderr().contains("Traceback"), failed.stderr());
    }

    @Test
    void javascriptKeepsStateAndReturnsTheLastExpression() {
        ExecutionResult first = run(pools.javascript, "js-state", "var y = 40; console.log('hi')");
        assertEquals(Status.Succeeded, first.status(), first.toString());
        assertEquals("hi\n", first.stdout());
        ExecutionResult second = run(pools.javascript, "js-state", "({sum: y + 2})");
        assertEquals(42, second.result().path("sum").asInt(), second.toString());
    }
}
