package io.sandstream.security;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.ValidatableResponse;

/**
 * Per-tenant limits on {@code POST /events} and per-key limits on the pool API and
 * {@code POST /executions}, with limits small enough to hit (and refills slow enough that nothing
 * refills during the test).
 */
@Tag("restart")
@QuarkusTest
@TestProfile(RateLimitTest.SmallLimits.class)
class RateLimitTest {

    public static class SmallLimits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.ingress.max-batch-events", "10",
                    "sandstream.security.rate-limits.ingress.rate", "0.001",
                    "sandstream.security.rate-limits.ingress.burst", "10",
                    "sandstream.security.rate-limits.api.rate", "0.001",
                    "sandstream.security.rate-limits.api.burst", "3",
                    "sandstream.api-keys", "test-reader@*,tenant-a-key@tenant-a/,submitter@*");
        }
    }

    static String event(String source) {
        return """
                {"specversion":"1.0","id":"%s","source":"%s","type":"io.sandstream.code.execute","data":{"code":"1"}}"""
                .formatted(UUID.randomUUID(), source);
    }

    static ValidatableResponse batch(String... sources) {
        List<String> events = new ArrayList<>();
        for (String source : sources) {
            events.add(event(source));
        }
        return given().queryParam("code", "test-key-primary").contentType("application/cloudevents-batch+json")
                .body("[" + String.join(",", events) + "]").post("/events").then();
    }

    static String[] times(int n, String source) {
        String[] sources = new String[n];
        java.util.Arrays.fill(sources, source);
        return sources;
    }

    @Test
    void aTenantOverItsLimitIs429AndOthersAreNotHeldBack() {
        batch(times(10, "/tests/rate/a")).statusCode(202).body("accepted", hasSize(10));
        batch("/tests/rate/a").statusCode(429).contentType("application/problem+json")
                .header("Retry-After", notNullValue())
                .body("type", equalTo("https://sandstream.io/problems/rate-limited"))
                .body("status", equalTo(429));
        given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json")
                .body(event("/tests/rate/a")).post("/events").then().statusCode(429);
        batch(times(3, "/tests/rate/b")).statusCode(202);

        // A request with a tenant over its limit takes nothing from the others in it.
        List<String> mixed = new ArrayList<>(List.of(times(7, "/tests/rate/b")));
        mixed.add("/tests/rate/a");
        batch(mixed.toArray(String[]::new)).statusCode(429);
        batch(times(7, "/tests/rate/b")).statusCode(202);
        batch("/tests/rate/b").statusCode(429);
        assertTrue(metric("sandstream_rate_limited_total{limiter=\"ingress\"}") >= 4);
    }

    @Test
    void aPoolApiKeyOverItsLimitGetsAnAzure429() {
        for (int i = 0; i < 3; i++) {
            given().header("Authorization", "Bearer test-reader").queryParam("api-version", "2025-02-02-preview")
                    .get("/pools/python/listSessions").then().statusCode(200);
        }
        given().header("Authorization", "Bearer test-reader").queryParam("api-version", "2025-02-02-preview")
                .get("/pools/python/listSessions").then().statusCode(429)
                .header("x-ms-error-code", "TooManyRequests")
                .header("Retry-After", not(equalTo("0")))
                .body("error.code", equalTo("TooManyRequests"));
        given().header("Authorization", "Bearer tenant-a-key").queryParam("api-version", "2025-02-02-preview")
                .get("/pools/python/listSessions").then().statusCode(200);
        // A wrong key is still a 401, not a 429: the key is checked first.
        given().header("Authorization", "Bearer wrong").queryParam("api-version", "2025-02-02-preview")
                .get("/pools/python/listSessions").then().statusCode(401);
        assertTrue(metric("sandstream_rate_limited_total{limiter=\"api\"}") >= 1);
    }

    @Test
    void submissionsCountAgainstTheKeysLimit() {
        for (int i = 0; i < 3; i++) {
            given().header("Authorization", "Bearer submitter").contentType("application/json").body("{\"code\":\"1\"}")
                    .post("/executions").then().statusCode(202);
        }
        given().header("Authorization", "Bearer submitter").contentType("application/json").body("{\"code\":\"1\"}")
                .post("/executions").then().statusCode(429).contentType("application/problem+json")
                .header("Retry-After", notNullValue());
    }

    static double metric(String series) {
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        return metrics.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1)))
                .findFirst().orElse(0);
    }
}
