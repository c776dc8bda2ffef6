package io.sandstream.telemetry;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.sandstream.results.PipelineTest;

/**
 * What an operator reads: the metrics of issue 6 are in {@code /q/metrics} and move when work
 * runs, and readiness lists the journal, the result store and each pool.
 */
@QuarkusTest
class OperationsTest {

    static final Map<String, String> NORMAL = Map.of("lane", "normal");
    static final Map<String, String> PYTHON_OK = Map.of("pool", "python", "language", "python", "status", "Succeeded");

    @TestHTTPResource("/")
    URI base;

    static String post(String subject, String data) {
        return given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json").body("""
                {"specversion":"1.0","id":"%s","source":"/tests/operations","type":"io.sandstream.code.execute",
                 "subject":"%s","data":%s}""".formatted(UUID.randomUUID(), subject, data))
                .post("/events").then().statusCode(202).extract().path("accepted[0].executionId");
    }

    @Test
    void everyMeterIsThereAndMovesWhenWorkRuns() throws Exception {
        // A first execution, so that the meters created on first use exist before "before" is read.
        PipelineTest.awaitResult(post("ops/warmup", "{\"code\":\"1\"}"), PipelineTest.READER);
        PrometheusText before = PrometheusText.scrape();

        PipelineTest.awaitResult(post("ops/ok", "{\"code\":\"print(1)\"}"), PipelineTest.READER);
        JsonPath limited = PipelineTest.awaitResult(post("ops/limit", "{\"code\":\"print('x' * 2000000)\"}"),
                PipelineTest.READER);
        assertEquals("output", limited.getString("limitHit"), limited.prettify());
        given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json")
                .body("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/ops\",\"type\":\"io.sandstream.code.execute\"}")
                .post("/events").then().statusCode(400);
        PrometheusText after = PrometheusText.scrape();

        record Moves(String name, Map<String, String> labels, double by) {
        }
        for (Moves m : List.of(
                new Moves("sandstream_events_received_total", Map.of("outcome", "accepted"), 2),
                new Moves("sandstream_events_received_total", Map.of("outcome", "rejected"), 1),
                new Moves("sandstream_queue_wait_seconds_count", NORMAL, 2),
                new Moves("sandstream_pool_executions_total", PYTHON_OK, 1),
                new Moves("sandstream_pool_executions_total", Map.of("pool", "python", "limit", "output"), 1),
                new Moves("sandstream_execution_duration_seconds_count", PYTHON_OK, 1),
                new Moves("sandstream_pool_allocation_seconds_count", Map.of("pool", "python"), 2),
                new Moves("sandstream_results_put_seconds_count", Map.of("store", "sqlite", "outcome", "success"), 2),
                new Moves("sandstream_journal_commit_seconds_count", Map.of(), 2))) {
            double moved = after.value(m.name(), m.labels()) - before.value(m.name(), m.labels());
            assertTrue(moved >= m.by(), m.name() + m.labels() + " moved by " + moved + ", expected at least " + m.by());
        }
        for (String gauge : List.of("sandstream_queue_depth", "sandstream_journal_pending", "sandstream_results_unpersisted",
                "sandstream_pool_sessions", "sandstream_results_put_failures_total", "sandstream_sse_subscribers",
                "sandstream_pool_allocation_seconds_bucket", "sandstream_execution_duration_seconds_bucket")) {
            assertTrue(after.has(gauge), gauge + " is missing");
        }
        for (String metric : dashboardMetrics()) {
            assertTrue(metric.startsWith("sandstream_sink_") || after.has(metric), "the dashboard reads " + metric);
        }
        for (String state : List.of("ready", "busy", "idle")) {
            assertTrue(after.toString().contains("sandstream_pool_sessions{pool=\"python\",state=\"" + state + "\"}"), state);
        }
    }

    /** Every metric the Grafana dashboard queries. */
    static Set<String> dashboardMetrics() throws IOException {
        String dashboard = Files.readString(Path.of("kubernetes/dashboards/sandstream.json"));
        Set<String> metrics = new TreeSet<>();
        Matcher name = Pattern.compile("\\b(?:sandstream|http_server)_[a-z_]+").matcher(dashboard);
        while (name.find()) {
            metrics.add(name.group());
        }
        assertTrue(metrics.size() > 15, metrics.toString());
        return metrics;
    }

    @Test
    void sseSubscribersAreCountedWhileAStreamIsOpen() throws Exception {
        Map<String, String> results = Map.of("stream", "results");
        double idle = PrometheusText.scrape().value("sandstream_sse_subscribers", results);
        try (Socket client = new Socket(base.getHost(), base.getPort())) {
            client.getOutputStream().write(("GET /executions/stream HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                    + "Authorization: " + PipelineTest.READER + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String status = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII))
                    .readLine();
            assertTrue(status.contains(" 200 "), status);
            assertEquals(idle + 1, (double) TelemetryTest.await("the subscriber", () -> {
                double now = PrometheusText.scrape().value("sandstream_sse_subscribers", results);
                return now > idle ? now : null;
            }));
        }
        assertEquals(idle, (double) TelemetryTest.await("the client's leaving", () -> {
            double now = PrometheusText.scrape().value("sandstream_sse_subscribers", results);
            return now == idle ? now : null;
        }));
    }

    @Test
    void readinessListsTheJournalTheStoreAndEachPool() {
        JsonPath ready = given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"))
                .body("checks.name", hasItems("journal", "results", "session-pools")).extract().jsonPath();
        Map<String, Object> pools = ready.getMap("checks.find { it.name == 'session-pools' }.data");
        for (String pool : List.of("python", "javascript")) {
            assertEquals("UP", pools.get(pool + ".status"), pools.toString());
            for (String count : List.of("ready", "busy", "idle", "max")) {
                assertTrue(pools.get(pool + "." + count) instanceof Number, pool + "." + count + " in " + pools);
            }
        }
        assertEquals(20, ((Number) pools.get("python.max")).intValue());
        assertTrue(ready.getMap("checks.find { it.name == 'journal' }.data").containsKey("pending"));
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    }
}
