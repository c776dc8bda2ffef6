package io.sandstream.poolapi;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import io.sandstream.SandboxProcesses;
import io.sandstream.sessions.SessionPools;

/** A pool whose only session is busy answers a new identifier with 429 and the Azure error, not a wait. */
@Tag("restart")
@QuarkusTest
@TestProfile(PoolApiFullPoolTest.OneSession.class)
public class PoolApiFullPoolTest {

    public static class OneSession implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.pools.python.max-sessions", "1",
                    "sandstream.pools.python.ready-sessions", "1",
                    "sandstream.data-dir", "target/test-data-poolapi-full-" + UUID.randomUUID());
        }
    }

    @Inject
    SessionPools pools;

    @Test
    void aFullPoolIs429WithRetryAfterAndTheHolderKeepsWorking() throws Exception {
        String holder = PoolApiTest.newIdentifier();
        // Busy, not idle: an idle session would be evicted to make room (LocalSessionPoolTest).
        CompletableFuture<JsonNode> busy = CompletableFuture.supplyAsync(() -> {
            try {
                return PoolApiTest.execute("python", holder, "import time\ntime.sleep(10)\n1");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertTrue(SandboxProcesses.waitFor(() -> pools.pool("python").orElseThrow().stats().busy() == 1));

        Response full = PoolApiTest.call(PoolApiTest.newIdentifier()).contentType("application/json")
                .body(PoolApiTest.body("1")).post("/pools/python/code/execute");
        PoolApiTest.assertAzureError(full, 429, "SessionPoolFull");
        assertEquals("2", full.header("Retry-After"));
        PoolApiTest.assertAzureError(PoolApiTest.call(PoolApiTest.newIdentifier()).get("/pools/python/files"), 429,
                "SessionPoolFull");

        // The session that holds the pool's room is still served, state included.
        assertEquals(1, busy.get(60, TimeUnit.SECONDS).at("/properties/result").intValue());
        PoolApiTest.execute("python", holder, "kept = 'yes'");
        assertEquals("yes", PoolApiTest.execute("python", holder, "kept").at("/properties/result").textValue());
        given().header("Authorization", PoolApiTest.KEY).get("/q/health/live").then().statusCode(200);
    }
}
