package io.sandstream.results;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.hamcrest.Matchers.oneOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.sandstream.telemetry.PrometheusText;

/** From a CloudEvent to a stored result, over HTTP, through the real journal, scheduler and sandboxes. */
@QuarkusTest
public class PipelineTest {

    public static final String READER = "Bearer test-reader";

    public static String post(String data, String subject) {
        String body = """
                {"specversion":"1.0","id":"%s","source":"/tests/pipeline","type":"io.sandstream.code.execute",
                 "subject":"%s","data":%s}""".formatted(UUID.randomUUID(), subject, data);
        return given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json").body(body)
                .post("/events").then().statusCode(202).extract().path("accepted[0].executionId");
    }

    public static JsonPath awaitResult(String executionId, String authorization) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            JsonPath doc = given().header("Authorization", authorization).get("/executions/" + executionId)
                    .then().statusCode(200).extract().jsonPath();
            if (!doc.getString("status").equals("Queued") && !doc.getString("status").equals("Running")) {
                return doc;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no result for " + executionId);
    }

    @Test
    void anEventBecomesAStoredResult() throws Exception {
        String id = post("{\"code\":\"print('hello')\\n6 * 7\"}", "code-execution/pipeline");
        JsonPath doc = awaitResult(id, READER);
        org.junit.jupiter.api.Assertions.assertEquals("Succeeded", doc.getString("status"), doc.prettify());
        org.junit.jupiter.api.Assertions.assertEquals("hello\n", doc.getString("stdout"));
        org.junit.jupiter.api.Assertions.assertEquals(42, doc.getInt("result"));
        org.junit.jupiter.api.Assertions.assertEquals("local", doc.getString("backend"));
        org.junit.jupiter.api.Assertions.assertEquals("python", doc.getString("language"));
        org.junit.jupiter.api.Assertions.assertEquals("code-execution/pipeline", doc.getString("subject"));
        org.junit.jupiter.api.Assertions.assertNotNull(doc.getString("timings.completedAt"));
    }

    @Test
    void statefulSessionAcrossEvents() throws Exception {
        String session = "pipe-" + UUID.randomUUID().toString().substring(0, 8);
        awaitResult(post("{\"code\":\"counter = 41\",\"sessionId\":\"" + session + "\"}", "s/1"), READER);
        JsonPath second = awaitResult(post("{\"code\":\"counter + 1\",\"sessionId\":\"" + session + "\"}", "s/2"), READER);
        org.junit.jupiter.api.Assertions.assertEquals(42, second.getInt("result"), second.prettify());
    }

    @Test
    void oneSessionRunsItsEventsOneAtATimeInArrivalOrder() throws Exception {
        String session = "order-" + UUID.randomUUID().toString().substring(0, 8);
        StringBuilder batch = new StringBuilder("[");
        for (int i = 0; i < 6; i++) {
            // Each event notes its number, and whether another one was inside the session at the time.
            String code = (i == 0 ? "seen = []\\nbusy = False\\n" : "")
                    + "assert not busy\\nbusy = True\\nimport time\\ntime.sleep(0.05)\\nseen.append(" + i
                    + ")\\nbusy = False\\nseen";
            batch.append(i == 0 ? "" : ",").append("""
                    {"specversion":"1.0","id":"%s","source":"/tests/pipeline","type":"io.sandstream.code.execute",
                     "subject":"order/%d","data":{"code":"%s","sessionId":"%s"}}""".formatted(UUID.randomUUID(), i, code, session));
        }
        java.util.List<String> ids = given().queryParam("code", "test-key-primary")
                .contentType("application/cloudevents-batch+json").body(batch.append("]").toString())
                .post("/events").then().statusCode(202).extract().path("accepted.executionId");
        for (int i = 0; i < ids.size(); i++) {
            JsonPath doc = awaitResult(ids.get(i), READER);
            org.junit.jupiter.api.Assertions.assertEquals("Succeeded", doc.getString("status"), doc.prettify());
            org.junit.jupiter.api.Assertions.assertEquals(java.util.stream.IntStream.rangeClosed(0, i).boxed().toList(),
                    doc.getList("result", Integer.class), "events of one session ran in arrival order");
        }
    }

    @Test
    void submitAndWaitReturnsTheResult() {
        given().header("Authorization", READER).contentType("application/json")
                .body("{\"code\":\"console.log('js'); 1 + 2\",\"language\":\"javascript\",\"subject\":\"direct/wait\"}")
                .queryParam("wait", 30).post("/executions").then()
                .statusCode(200)
                .body("status", equalTo("Succeeded"))
                .body("result", equalTo(3))
                .body("stdout", equalTo("js\n"));
    }

    @Test
    void submitWithoutWaitIsAcceptedWithALocation() throws Exception {
        String location = given().header("Authorization", READER).contentType("application/json")
                .body("{\"code\":\"1\"}").post("/executions").then()
                .statusCode(202).header("Location", notNullValue()).body("status", equalTo("Queued"))
                .extract().header("Location");
        awaitResult(location.substring(location.lastIndexOf('/') + 1), READER);
    }

    /** {@code POST /executions} goes down the same ingress path as {@code /events}, and is counted as its own door. */
    @Test
    void submissionsAreCountedByTheIngressPath() {
        given().header("Authorization", READER).contentType("application/json")
                .body("{\"code\":\"1\"}").post("/executions").then().statusCode(202);
        given().header("Authorization", READER).contentType("application/json")
                .body("{\"code\":1}").post("/executions").then().statusCode(400)
                .body("detail", startsWith("The request is not valid: "));
        given().header("Authorization", READER).get("/q/metrics").then().statusCode(200)
                .body(containsString("sandstream_events_received_total{endpoint=\"executions\",outcome=\"accepted\"}"))
                .body(containsString("sandstream_events_received_total{endpoint=\"executions\",outcome=\"rejected\"}"));
    }

    @Test
    void keysOnlySeeTheirSubjects() throws Exception {
        String mine = post("{\"code\":\"1\"}", "tenant-a/job");
        String theirs = post("{\"code\":\"1\"}", "tenant-b/job");
        awaitResult(mine, "Bearer tenant-a-key");
        awaitResult(theirs, READER);
        given().header("Authorization", "Bearer tenant-a-key").get("/executions/" + theirs).then().statusCode(404);
        given().get("/executions/" + mine).then().statusCode(401);
        given().header("Authorization", "Bearer tenant-a-key").contentType("application/json")
                .body("{\"code\":\"1\",\"subject\":\"tenant-b/x\"}").post("/executions").then().statusCode(403);
        given().header("Authorization", "Bearer tenant-a-key").contentType("application/json")
                .body("{\"code\":\"1\"}").queryParam("wait", 30).post("/executions").then()
                .statusCode(200).body("subject", equalTo("tenant-a/"));
    }

    @Test
    void rejectedEventsInABatchGetRejectedResults() throws Exception {
        String bad = UUID.randomUUID().toString();
        String body = """
                [{"specversion":"1.0","id":"%s","source":"/tests/pipeline","type":"io.sandstream.code.execute","data":{"language":"cobol"}}]"""
                .formatted(bad);
        String id = given().queryParam("code", "test-key-primary").contentType("application/cloudevents-batch+json")
                .body(body).post("/events").then().statusCode(202).extract().path("rejected[0].executionId");
        JsonPath doc = awaitResult(id, READER);
        org.junit.jupiter.api.Assertions.assertEquals("Rejected", doc.getString("status"));
        org.junit.jupiter.api.Assertions.assertTrue(doc.getString("error.message").contains("/data/code"), doc.prettify());
    }

    @Test
    void limitsShowInTheResult() throws Exception {
        JsonPath doc = awaitResult(post("{\"code\":\"while True: pass\",\"timeoutSeconds\":1}", "limits/wall"), READER);
        org.junit.jupiter.api.Assertions.assertEquals("TimedOut", doc.getString("status"));
        org.junit.jupiter.api.Assertions.assertEquals("wall", doc.getString("limitHit"));
    }

    @Test
    void invalidDirectSubmissionsAre400() {
        given().header("Authorization", READER).contentType("application/json").body("{\"language\":\"python\"}")
                .post("/executions").then().statusCode(400).body("errors[0].pointer", containsString("/data/code"));
        given().header("Authorization", READER).contentType("application/json").body("{\"code\":\"1\"}")
                .queryParam("wait", 999).post("/executions").then().statusCode(400);
        given().header("Authorization", READER).get("/executions/nope").then().statusCode(404)
                .body("status", oneOf(404));
    }

    /** A refused {@code ?wait} submission gets no result, so nothing may go on waiting for one. */
    @Test
    void aRefusedWaitingSubmissionLeavesNoWaiterBehind() {
        double before = waiters();
        for (int i = 0; i < 5; i++) {
            given().header("Authorization", READER).contentType("application/json").body("{\"code\":\"1\",\"language\":\"cobol\"}")
                    .queryParam("wait", 30).post("/executions").then().statusCode(400);
        }
        double after = waiters();
        assertTrue(after <= before, before + " waiters before five refused submissions, " + after + " after");
    }

    private static double waiters() {
        return PrometheusText.of(given().header("Authorization", READER).get("/q/metrics").then().statusCode(200).extract().asString())
                .value("sandstream_results_waiters", Map.of());
    }
}
