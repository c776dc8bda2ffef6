package io.sandstream.routing;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.sandstream.model.Priority;

/**
 * Priority and fairness end to end: one python session at a time, held by a slow execution while
 * the rest queues up; then the order in which queued work starts is checked.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(SchedulingTest.OneAtATime.class)
class SchedulingTest {

    public static class OneAtATime implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.pools.python.max-sessions", "1",
                    "sandstream.pools.python.ready-sessions", "1",
                    "sandstream.routing.rules[0].subject-prefix", "urgent/",
                    "sandstream.routing.rules[0].priority", "high",
                    "sandstream.data-dir", "target/test-data-scheduling-" + UUID.randomUUID());
        }
    }

    static String json(String source, String subject, String priority, String code) {
        return """
                {"specversion":"1.0","id":"%s","source":"%s","type":"io.sandstream.code.execute","subject":"%s",%s
                 "data":{"code":"%s"}}""".formatted(UUID.randomUUID(), source, subject,
                priority == null ? "" : "\"priority\":\"" + priority + "\",", code);
    }

    static String event(String source, String subject, String priority, String code) {
        return given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json")
                .body(json(source, subject, priority, code))
                .post("/events").then().statusCode(202).extract().path("accepted[0].executionId");
    }

    /** One batch, so the whole flood is queued at once however slow the machine is. */
    static List<String> batch(List<String> events) {
        return given().queryParam("code", "test-key-primary").contentType("application/cloudevents-batch+json")
                .body("[" + String.join(",", events) + "]")
                .post("/events").then().statusCode(202).extract().path("accepted.executionId");
    }

    static JsonPath await(String id) throws InterruptedException {
        for (int i = 0; i < 1200; i++) {
            JsonPath doc = given().header("Authorization", "Bearer test-reader").get("/executions/" + id).then()
                    .statusCode(200).extract().jsonPath();
            String status = doc.getString("status");
            if (!status.equals("Queued") && !status.equals("Running")) {
                return doc;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no result for " + id);
    }

    /**
     * Queues {@code events} in one batch while a slow execution holds the pool's one session, and
     * returns their execution ids. The hold must cover the batch's arrival: on a machine so loaded
     * that it did not (the blocker finished before the batch was accepted), the scenario runs
     * again with a blocker twice as long, so the test never concludes from an unheld pool.
     */
    static List<String> queueWhileHeld(List<String> events) throws InterruptedException {
        for (int seconds = 3; seconds <= 48; seconds *= 2) {
            String blocker = event("/tests/blocker", "hold", "low", "import time\\ntime.sleep(" + seconds + ")");
            if (!sawRunning(blocker)) {
                continue;
            }
            List<String> ids = batch(events.stream().map(e -> e.replace("\"id\":\"", "\"id\":\"" + UUID.randomUUID())).toList());
            Instant journalled = Instant.now(); // the 202 comes once the whole batch is journalled (same clock as the service's)
            if (journalled.isBefore(Instant.parse(await(blocker).getString("timings.completedAt")))) {
                return ids;
            }
            for (String id : ids) {
                await(id); // this round's work ends before the next one's starts
            }
        }
        throw new AssertionError("the pool could not be held while the batch was queued");
    }

    private static boolean sawRunning(String blocker) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            String status = given().header("Authorization", "Bearer test-reader").get("/executions/" + blocker).then()
                    .extract().path("status");
            if (status.equals("Running")) {
                return true;
            }
            if (!status.equals("Queued")) {
                return false; // already over: too slow a machine for this hold
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the blocker never ran");
    }

    /** Execution ids in the order they started. */
    static List<String> startOrder(List<String> ids) throws InterruptedException {
        List<JsonPath> docs = new ArrayList<>();
        for (String id : ids) {
            JsonPath doc = await(id);
            assertEquals("Succeeded", doc.getString("status"), doc.prettify());
            docs.add(doc);
        }
        docs.sort(Comparator.comparing(d -> Instant.parse(d.getString("timings.startedAt"))));
        return docs.stream().map(d -> d.getString("executionId")).toList();
    }

    @Test
    void highWorkOvertakesALowFloodAndLowStillRuns() throws Exception {
        List<String> events = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            events.add(json("/tests/flood", "bulk/" + i, "low", "1"));
        }
        events.add(json("/tests/other", "urgent/now", null, "2"));
        events.add(json("/tests/other", "whatever", "high", "3"));
        List<String> all = queueWhileHeld(events);
        String byRule = all.get(8);
        String byAttribute = all.get(9);
        List<String> order = startOrder(all);
        assertTrue(order.indexOf(byRule) < 2 && order.indexOf(byAttribute) < 2, "high work ran first: " + order);
        assertEquals(all.size(), order.size(), "every low execution ran as well");
    }

    @Test
    void tenantsTakeTurnsWithinALane() throws Exception {
        List<String> events = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            events.add(json("/tenants/flooder", "t/" + i, null, "1"));
        }
        events.add(json("/tenants/quiet", "q/1", null, "1"));
        events.add(json("/tenants/quiet", "q/2", null, "1"));
        List<String> all = queueWhileHeld(events);
        String quiet1 = all.get(8);
        String quiet2 = all.get(9);
        List<String> order = startOrder(all);
        assertTrue(order.indexOf(quiet1) <= 2 && order.indexOf(quiet2) <= 4,
                "the quiet tenant is not stuck behind the flood: " + order);
    }
}
