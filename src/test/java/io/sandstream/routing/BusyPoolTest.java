package io.sandstream.routing;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.sandstream.SandboxProcesses;
import io.sandstream.results.PipelineTest;
import io.sandstream.sessions.SessionPools;

/**
 * More distinct sessions than the pool has room for, sent at once while the pool is full of busy
 * sessions of other users (the dynamic-sessions API): acknowledged work waits for room, however
 * long, and is never abandoned. Issue 17's "25 sessionIds on a 20-session pool", made small.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(BusyPoolTest.TwoSessions.class)
class BusyPoolTest {

    static final int SESSIONS = 5;

    public static class TwoSessions implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.pools.python.max-sessions", "2",
                    "sandstream.pools.python.ready-sessions", "1",
                    "sandstream.routing.retry-backoff", "50ms",
                    "sandstream.data-dir", "target/test-data-busy-pool-" + UUID.randomUUID());
        }
    }

    @Inject
    SessionPools pools;

    @Test
    void moreDistinctSessionsThanThePoolHoldsAllRunNoneIsAbandoned() throws Exception {
        // Both sessions busy with someone else's code: the pool has no room and nothing idle to evict.
        List<CompletableFuture<Integer>> holders = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            String identifier = "holder-" + i + "-" + UUID.randomUUID();
            holders.add(CompletableFuture.supplyAsync(() -> given().header("Authorization", PipelineTest.READER)
                    .queryParam("api-version", "2024-02-02-preview").queryParam("identifier", identifier)
                    .contentType("application/json")
                    .body("{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"synchronous\","
                            + "\"code\":\"import time\\ntime.sleep(12)\\n1\"}}")
                    .post("/pools/python/code/execute").statusCode()));
        }
        assertTrue(SandboxProcesses.waitFor(() -> pools.pool("python").orElseThrow().stats().busy() == 2),
                "both sessions busy");

        List<String> ids = new ArrayList<>();
        for (int i = 0; i < SESSIONS; i++) {
            ids.add(PipelineTest.post("{\"code\":\"'session %d'\",\"sessionId\":\"busy-%d-%s\"}".formatted(i, i,
                    UUID.randomUUID().toString().substring(0, 8)), "busy-pool/" + i));
        }
        List<String> whileHeld = new ArrayList<>();
        for (String id : ids) {
            whileHeld.add(given().header("Authorization", PipelineTest.READER).get("/executions/" + id).jsonPath()
                    .getString("status"));
        }
        boolean held = holders.stream().noneMatch(CompletableFuture::isDone);
        if (held) {
            // Read while both holders still ran: the pool had no room, so each was still waiting.
            assertTrue(whileHeld.stream().allMatch(s -> s.equals("Queued") || s.equals("Running")), whileHeld.toString());
        }
        for (CompletableFuture<Integer> holder : holders) {
            assertEquals(200, holder.get(120, TimeUnit.SECONDS));
        }

        for (int i = 0; i < SESSIONS; i++) {
            JsonPath doc = PipelineTest.awaitResult(ids.get(i), PipelineTest.READER);
            assertEquals("Succeeded", doc.getString("status"), doc.prettify());
            assertEquals("session " + i, doc.getString("result"));
            assertNull(doc.get("error"), doc.prettify());
            assertEquals("python", doc.getString("language"));
            assertEquals(1, doc.getInt("attempt"));
        }
        System.out.printf("busy pool: %d distinct sessions on a 2-session pool held busy by others: statuses %s (holders still "
                + "running: %s), all %d succeeded%n", SESSIONS, whileHeld, held, SESSIONS);
    }
}
