package io.sandstream.console;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.sandstream.telemetry.PrometheusText;

/** The console's page and its overview endpoint over HTTP. */
@QuarkusTest
class ConsoleResourceTest {

    static final String READER = "Bearer test-reader";

    @Test
    void theOverviewNeedsAnApiKey() {
        given().get("/console/api/overview").then().statusCode(401).contentType("application/problem+json");
        given().header("Authorization", "Bearer wrong").get("/console/api/overview").then().statusCode(401);
        given().queryParam("code", "test-key-primary").get("/console/api/overview").then().statusCode(401);
        // Any read key will do: the numbers are aggregates, not a subject's content.
        given().header("Authorization", "Bearer tenant-a-key").get("/console/api/overview").then().statusCode(200);
    }

    @Test
    void thePageAndItsAssetsAreStaticAndHoldNoKey() {
        String page = given().get("/").then().statusCode(200).contentType(containsString("text/html"))
                .body(containsString("console/console.js")).extract().asString();
        for (String secret : new String[] { "test-reader", "tenant-a-key", "test-key-primary" }) {
            assertTrue(!page.contains(secret), "the page holds " + secret);
        }
        given().get("/console/console.js").then().statusCode(200).body(containsString("sessionStorage"),
                not(containsString("localStorage")));
        given().get("/console/console.css").then().statusCode(200);
    }

    @Test
    void theOverviewReadsThePoolsLanesAndExecutionsMeters() throws Exception {
        JsonPath before = overview();
        assertEquals(List.of("high", "normal", "low"), before.getList("lanes.lane"));
        assertTrue(before.getList("pools.pool").containsAll(List.of("python", "javascript")));
        assertEquals("python", before.getString("pools.find { it.pool == 'python' }.language"));
        assertEquals(10000, before.getLong("journal.pendingLimit"));

        String id = given().header("Authorization", READER).contentType("application/json")
                .body("{\"code\":\"7 * 6\",\"priority\":\"high\"}").queryParam("wait", 60)
                .post("/executions").then().statusCode(200).body("status", equalTo("Succeeded")).extract().path("executionId");
        assertTrue(id != null);

        // At least: work left over by an earlier test class may finish meanwhile.
        JsonPath after = overview();
        assertTrue(after.getLong("executions.total") >= before.getLong("executions.total") + 1, after.prettify());
        assertTrue(count(after, "Succeeded") >= count(before, "Succeeded") + 1);
        assertTrue(after.getLong("pools.find { it.pool == 'python' }.executions")
                >= before.getLong("pools.find { it.pool == 'python' }.executions") + 1);
        assertTrue(after.getLong("lanes.find { it.lane == 'high' }.started")
                >= before.getLong("lanes.find { it.lane == 'high' }.started") + 1);
        assertTrue(after.getDouble("lanes.find { it.lane == 'high' }.waitMaxMs") > 0, "a start in the recent window");
        Number p50 = after.get("lanes.find { it.lane == 'high' }.waitP50Ms");
        assertTrue(p50 == null || p50.doubleValue() > 0, "a median is a real wait or none: " + p50);
        assertTrue(after.getDouble("executions.perSecond") >= 0);

        // The numbers /q/metrics exposes, read between two overviews.
        long exposed = (long) PrometheusText.scrape().value("sandstream_pool_executions_total", Map.of());
        JsonPath later = overview();
        assertTrue(after.getLong("executions.total") <= exposed && exposed <= later.getLong("executions.total"),
                exposed + " exposed, overview " + after.getLong("executions.total") + ".." + later.getLong("executions.total"));
    }

    private static long count(JsonPath overview, String status) {
        Object value = overview.get("executions.byStatus." + status);
        return value == null ? 0 : ((Number) value).longValue();
    }

    private static JsonPath overview() {
        return given().header("Authorization", READER).get("/console/api/overview").then().statusCode(200)
                .body("lanes.lane", hasItems("high", "normal", "low")).extract().jsonPath();
    }
}
