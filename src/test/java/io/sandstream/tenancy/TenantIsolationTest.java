package io.sandstream.tenancy;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;

/**
 * API.md §3 as a matrix: two tenants (scoped keys) and the operator, on every path that can name a
 * session — both pool-API contracts, {@code POST /executions} (what the console uses too),
 * {@code /events} with scoped and unscoped ingress keys — asserting isolation both ways, on the real
 * sandboxes. Then each per-tenant quota.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(TenantIsolationTest.Tenants.class)
class TenantIsolationTest {

    static final String A = "code-execution/tenant-a";
    static final String B = "code-execution/tenant-b";
    /** One tenant per quota test, so that no test's sessions count against another's quota. */
    static final String Q = "code-execution/tenant-q";
    static final String R = "code-execution/tenant-r";
    static final String S = "code-execution/tenant-s";

    public static class Tenants implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "sandstream.api-keys", "op-key@*,a-key@" + A + ",b-key@" + B + ",q-key@" + Q + ",r-key@" + R
                            + ",s-key@" + S,
                    "sandstream.ingress-keys", "ingest-all,ingest-a@" + A,
                    "sandstream.tenants.quota.\"" + Q + "\".max-sessions", "2",
                    "sandstream.tenants.quota.\"" + R + "\".max-session-bytes", "1000",
                    "sandstream.tenants.quota.\"" + S + "\".max-queued", "2",
                    "sandstream.data-dir", "target/test-data-tenants-" + UUID.randomUUID());
        }
    }

    static final String LEGACY = "2024-08-02-preview";
    static final String RESOURCE = "2025-02-02-preview";

    static RequestSpecification as(String key, String version, String identifier) {
        RequestSpecification spec = given().header("Authorization", "Bearer " + key).queryParam("api-version", version);
        return identifier == null ? spec : spec.queryParam("identifier", identifier);
    }

    static JsonPath legacyExecute(String key, String identifier, String code) {
        return as(key, LEGACY, identifier).contentType("application/json")
                .body(Map.of("properties", Map.of("codeInputType", "inline", "executionType", "synchronous", "code", code)))
                .post("/pools/python/code/execute").then().statusCode(200).extract().jsonPath();
    }

    static JsonPath submitAndWait(String key, String subject, String sessionId, String code) {
        return given().header("Authorization", "Bearer " + key).contentType("application/json")
                .body(Map.of("code", code, "subject", subject, "sessionId", sessionId)).queryParam("wait", 60)
                .post("/executions").then().statusCode(200).extract().jsonPath();
    }

    static String event(String key, String subject, String sessionId, String code, int status) {
        String body = """
                {"specversion":"1.0","id":"%s","source":"/tests/tenants","type":"io.sandstream.code.execute",
                 "subject":"%s","data":{"code":%s,"sessionId":"%s"}}""".formatted(UUID.randomUUID(), subject,
                quoted(code), sessionId);
        var response = given().queryParam("code", key).contentType("application/cloudevents+json").body(body)
                .post("/events").then().statusCode(status);
        return status == 202 ? response.extract().path("accepted[0].executionId") : null;
    }

    static String quoted(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }

    static JsonPath awaitResult(String executionId, String key) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            JsonPath doc = given().header("Authorization", "Bearer " + key).get("/executions/" + executionId)
                    .then().statusCode(200).extract().jsonPath();
            if (!List.of("Queued", "Running").contains(doc.getString("status"))) {
                return doc;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no result for " + executionId);
    }

    static String id(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** The owner's session holds a file and a variable; the other tenant reaches neither on any pool-API path. */
    void assertApartOnThePoolApi(String owner, String other) {
        String s1 = id("same");
        JsonPath written = legacyExecute(owner, s1, "secret_var = 'x'\nopen('/mnt/data/secret.txt', 'w').write('"
                + owner + "')");
        assertEquals("Success", written.getString("properties.status"), written.prettify());

        // Looking is not creating: the other tenant's view of s1 does not exist yet.
        as(other, RESOURCE, s1).get("/pools/python/session").then().statusCode(404);
        as(other, RESOURCE, s1).delete("/pools/python/session").then().statusCode(404);
        // Any call that would create it creates the other tenant's own, empty session.
        as(other, LEGACY, s1).get("/pools/python/files/content/secret.txt").then().statusCode(404);
        as(other, RESOURCE, s1).get("/pools/python/files/secret.txt").then().statusCode(404);
        as(other, RESOURCE, s1).get("/pools/python/files/secret.txt/content").then().statusCode(404);
        as(other, RESOURCE, s1).delete("/pools/python/files/secret.txt").then().statusCode(404);
        assertEquals(List.of(), as(other, LEGACY, s1).get("/pools/python/files").then().statusCode(200)
                .extract().jsonPath().getList("value"));
        assertEquals(List.of(), as(other, RESOURCE, s1).get("/pools/python/files").then().statusCode(200)
                .extract().jsonPath().getList("value"));
        JsonPath probe = legacyExecute(other, s1, "secret_var");
        assertEquals("Failure", probe.getString("properties.status"), "no variable of the owner: " + probe.prettify());
        // An upload lands in the other tenant's session, never the owner's.
        as(other, RESOURCE, s1).multiPart("file", "secret.txt", "overwritten".getBytes()).post("/pools/python/files")
                .then().statusCode(200);
        as(other, RESOURCE, s1).delete("/pools/python/session").then().statusCode(204);

        // The owner's session is intact.
        assertEquals(owner, as(owner, LEGACY, s1).get("/pools/python/files/content/secret.txt").then().statusCode(200)
                .extract().asString());
        as(owner, RESOURCE, s1).get("/pools/python/session").then().statusCode(200);

        // Async executions: the other tenant cannot poll the owner's.
        String op = as(owner, RESOURCE, s1).contentType("application/json")
                .body(Map.of("code", "1 + 1", "executionType", "asynchronous")).post("/pools/python/executions")
                .then().statusCode(202).extract().path("id");
        as(other, RESOURCE, s1).get("/pools/python/executions/" + op).then().statusCode(404);
        as(owner, RESOURCE, s1).get("/pools/python/executions/" + op).then().statusCode(200);

        // listSessions: only the caller's; the operator sees every tenant's, with the tenant.
        String only = id("only");
        legacyExecute(owner, only, "1");
        assertFalse(as(other, RESOURCE, null).get("/pools/python/listSessions").then().statusCode(200).extract()
                .jsonPath().getList("sessions.identifier").contains(only));
        assertTrue(as(owner, RESOURCE, null).get("/pools/python/listSessions").then().statusCode(200).extract()
                .jsonPath().getList("sessions.identifier").contains(only));
        JsonPath all = as("op-key", RESOURCE, null).get("/pools/python/listSessions").then().statusCode(200)
                .extract().jsonPath();
        List<Map<String, String>> mine = all.getList("sessions.findAll { it.identifier == '" + only + "' }");
        assertEquals(1, mine.size(), all.prettify());
        assertEquals(owner.equals("a-key") ? A : B, mine.get(0).get("tenant"));
    }

    @Test
    void tenantBReachesNothingOfTenantA() {
        assertApartOnThePoolApi("a-key", "b-key");
    }

    @Test
    void tenantAReachesNothingOfTenantB() {
        assertApartOnThePoolApi("b-key", "a-key");
    }

    /** The issue's second finding: /executions with sessionId runs in the caller's own session only. */
    @Test
    void executionsAndEventsRunInTheirOwnTenantsSession() throws Exception {
        String s1 = id("exec");
        legacyExecute("b-key", s1, "open('/mnt/data/secret.txt', 'w').write('b-secret')\nb_var = 1");

        JsonPath fromA = submitAndWait("a-key", A + "/job", s1, "print(open('/mnt/data/secret.txt').read())");
        assertEquals("Failed", fromA.getString("status"), fromA.prettify());
        assertEquals("FileNotFoundError", fromA.getString("error.type"));

        // b's own /executions (the console's path) is in b's session, as is the pool API.
        JsonPath fromB = submitAndWait("b-key", B + "/job", s1, "print(open('/mnt/data/secret.txt').read())\nb_var");
        assertEquals("Succeeded", fromB.getString("status"), fromB.prettify());
        assertEquals("b-secret\n", fromB.getString("stdout"));

        // An event through tenant a's scoped ingress key runs in a's session.
        JsonPath viaScopedEvent = awaitResult(event("ingest-a", A + "/e", s1, "b_var", 202), "a-key");
        assertEquals("NameError", viaScopedEvent.getString("error.type"), viaScopedEvent.prettify());

        // The platform's unscoped key sets subjects: the subject's tenant is the one whose prefix covers it.
        JsonPath viaPlatform = awaitResult(event("ingest-all", B + "/e", s1, "b_var + 1", 202), "b-key");
        assertEquals(2, viaPlatform.getInt("result"), viaPlatform.prettify());
    }

    @Test
    void aScopedIngressKeyCannotForgeAnotherTenantsSubject() {
        event("ingest-a", B + "/forged", id("f"), "1", 403);
        given().queryParam("code", "ingest-a").contentType("application/cloudevents+json")
                .body("{\"specversion\":\"1.0\",\"id\":\"no-subject\",\"source\":\"/t\",\"type\":\"io.sandstream.code.execute\","
                        + "\"data\":{\"code\":\"1\"}}")
                .post("/events").then().statusCode(403);

        String forgedId = UUID.randomUUID().toString();
        String batch = """
                [{"specversion":"1.0","id":"%s","source":"/tests/tenants","type":"io.sandstream.code.execute",
                  "subject":"%s","data":{"code":"1"}},
                 {"specversion":"1.0","id":"%s","source":"/tests/tenants","type":"io.sandstream.code.execute",
                  "subject":"%s","data":{"code":"2"}}]""".formatted(UUID.randomUUID(), A + "/fine", forgedId, B + "/forged");
        JsonPath answer = given().queryParam("code", "ingest-a").contentType("application/cloudevents-batch+json")
                .body(batch).post("/events").then().statusCode(202).extract().jsonPath();
        assertEquals(1, answer.getList("accepted").size(), answer.prettify());
        assertEquals(forgedId, answer.getString("rejected[0].id"));
        assertTrue(answer.getString("rejected[0].reason").contains("outside the subjects"), answer.prettify());
        // Nothing was recorded under tenant b's subject.
        given().header("Authorization", "Bearer op-key").get("/executions/" + answer.getString("rejected[0].executionId"))
                .then().statusCode(404);
    }

    // ---- quotas --------------------------------------------------------------------------------------

    @Test
    void aTenantHoldsAtMostItsQuotaOfSessionsInAPool() {
        legacyExecute("q-key", id("q1"), "1");
        legacyExecute("q-key", id("q2"), "1");
        as("q-key", LEGACY, id("q3")).contentType("application/json")
                .body(Map.of("properties", Map.of("code", "1"))).post("/pools/python/code/execute")
                .then().statusCode(429).header("x-ms-error-code", "TenantSessionLimitReached")
                .header("Retry-After", "5");
        // Other tenants are not held back.
        legacyExecute("a-key", id("a-free"), "1");
        for (Object held : as("q-key", RESOURCE, null).get("/pools/python/listSessions").then().extract().jsonPath()
                .getList("sessions.identifier")) {
            as("q-key", RESOURCE, (String) held).delete("/pools/python/session").then().statusCode(204);
        }
        legacyExecute("q-key", id("q3"), "1");
    }

    @Test
    void aSessionHoldsAtMostItsTenantsQuotaOfBytes() {
        String s = id("bytes");
        as("r-key", RESOURCE, s).multiPart("file", "a.bin", new byte[600]).post("/pools/python/files").then().statusCode(200);
        as("r-key", RESOURCE, s).multiPart("file", "b.bin", new byte[600]).post("/pools/python/files")
                .then().statusCode(429).header("x-ms-error-code", "SessionStorageQuotaExceeded")
                .header("Retry-After", notNullValue());
        // Replacing a file counts its new size only.
        as("r-key", RESOURCE, s).multiPart("file", "a.bin", new byte[900]).post("/pools/python/files").then().statusCode(200);
        as("r-key", RESOURCE, s).delete("/pools/python/session").then().statusCode(204);
    }

    @Test
    void aTenantHasAtMostItsQuotaOfExecutionsWaiting() throws Exception {
        String s = id("queue");
        List<String> held = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
            held.add(given().header("Authorization", "Bearer s-key").contentType("application/json")
                    .body(Map.of("code", "import time\ntime.sleep(3)", "sessionId", s)).post("/executions")
                    .then().statusCode(202).extract().path("executionId"));
        }
        var refused = given().header("Authorization", "Bearer s-key").contentType("application/json")
                .body(Map.of("code", "1")).post("/executions").then().statusCode(429)
                .contentType("application/problem+json").extract();
        assertNotNull(refused.header("Retry-After"));
        assertTrue(refused.path("detail").toString().contains(S), refused.asString());
        assertTrue(given().get("/q/metrics").then().statusCode(200).extract().asString()
                .contains("sandstream_tenant_quota_exceeded_total{quota=\"queued\"} 1.0"), "the refusal is counted");
        // Another tenant is not held back by q's queue.
        given().header("Authorization", "Bearer a-key").contentType("application/json").body(Map.of("code", "1"))
                .post("/executions").then().statusCode(202);
        for (String id : held) {
            assertEquals("Succeeded", awaitResult(id, "s-key").getString("status"));
        }
        given().header("Authorization", "Bearer s-key").contentType("application/json").body(Map.of("code", "1"))
                .post("/executions").then().statusCode(202);
    }

    private static org.hamcrest.Matcher<Object> notNullValue() {
        return org.hamcrest.Matchers.notNullValue();
    }
}
