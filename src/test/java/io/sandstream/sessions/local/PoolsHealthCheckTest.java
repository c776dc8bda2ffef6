package io.sandstream.sessions.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import org.eclipse.microprofile.health.HealthCheckResponse;
import org.junit.jupiter.api.Test;

import io.sandstream.sessions.PoolStats;

/** Readiness per pool, on real pools: one whose sandboxes start, one whose interpreter is missing; the warm-up it starts. */
class PoolsHealthCheckTest {

    @Test
    void aPoolWhoseSandboxesCannotStartIsDownAndNamed() throws Exception {
        Path dataDir = Files.createTempDirectory("pools-health");
        try (PoolFixture pools = new PoolFixture(dataDir, Map.of("sandstream.sessions.node", "/nonexistent/node"))) {
            Map<String, LocalSessionPool> all = Map.of("python", pools.python, "javascript", pools.javascript);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while ((pools.python.stats().ready() == 0 || pools.javascript.startFailure().isEmpty())
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            HealthCheckResponse response = PoolsHealthCheck.check(all);
            Map<String, Object> data = response.getData().orElseThrow();
            assertEquals(HealthCheckResponse.Status.DOWN, response.getStatus(), data.toString());
            assertEquals("UP", data.get("python.status"), data.toString());
            assertTrue(((Number) data.get("python.ready")).longValue() > 0, data.toString());
            assertEquals("DOWN", data.get("javascript.status"), data.toString());
            assertEquals(0L, ((Number) data.get("javascript.ready")).longValue());
            assertTrue(data.get("javascript.problem").toString().startsWith("sandboxes fail to start"), data.toString());

            assertEquals(HealthCheckResponse.Status.UP, PoolsHealthCheck.check(Map.of("python", pools.python)).getStatus());
        }
    }

    @Test
    void aReadinessCheckStartsTheWarmUp() {
        AtomicInteger warmUps = new AtomicInteger();
        LocalPools pools = new LocalPools(null, null, null, null) {
            @Override
            void warmUp() {
                warmUps.incrementAndGet();
            }
        };
        assertEquals(HealthCheckResponse.Status.UP, new PoolsHealthCheck(pools).call().getStatus());
        assertEquals(1, warmUps.get(), "the first readiness check starts the pools' warm sandboxes");
    }

    @Test
    void aPoolWhoseSessionsAreAllWedgedIsDown() {
        PoolStats full = new PoolStats(0, 4, 0, 4);
        assertTrue(PoolsHealthCheck.problem(full, 4, Optional.empty()).startsWith("every session is wedged"));
        assertEquals(null, PoolsHealthCheck.problem(new PoolStats(1, 4, 0, 4), 3, Optional.empty()), "one session still works");
        assertEquals(null, PoolsHealthCheck.problem(new PoolStats(1, 4, 0, 4), 0, Optional.empty()), "busy is not wedged");
    }
}
