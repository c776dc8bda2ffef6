package io.sandstream.telemetry;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;

import io.cloudevents.CloudEvent;
import io.cloudevents.jackson.JsonFormat;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.sandstream.journal.Journal;
import io.sandstream.results.PipelineTest;

/**
 * Tracing and log hygiene on the real pipeline, sandboxes and HTTP sinks, with the OpenTelemetry
 * SDK on and spans kept in memory ({@link TestSpanExporter}): a CloudEvent's trace reaches every
 * stage and the result event; nothing of the code, its output or a key reaches the logs or spans.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(TelemetryTest.Tracing.class)
class TelemetryTest {

    static final Duration WAIT = Duration.ofSeconds(60);
    static final List<String> STAGES = List.of("sandstream.receive", "sandstream.journal", "sandstream.route",
            "sandstream.allocate", "sandstream.execute", "sandstream.persist", "sandstream.publish");

    /** Shared through system properties, which the test's and the application's class loaders both see. */
    static String shared(String key, Supplier<String> value) {
        return System.getProperties().computeIfAbsent("telemetrytest." + key, k -> value.get()).toString();
    }

    static int port(String name) {
        return Integer.parseInt(shared("port." + name, () -> {
            try (ServerSocket socket = new ServerSocket(0)) {
                return Integer.toString(socket.getLocalPort());
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }));
    }

    static Path log() {
        return Path.of(shared("log", () -> "target/telemetry-test-" + UUID.randomUUID() + ".log"));
    }

    public static class Tracing implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> config = new HashMap<>();
            config.put("quarkus.otel.sdk.disabled", "false");
            config.put("quarkus.otel.bsp.schedule.delay", "50ms");
            config.put("sandstream.data-dir", "target/test-data-telemetry-" + UUID.randomUUID());
            // Everything the service logs, down to its own debug lines, lands in a file the test reads.
            config.put("quarkus.log.file.enabled", "true");
            config.put("quarkus.log.file.path", log().toString());
            config.put("quarkus.log.category.\"io.sandstream\".level", "DEBUG");
            String receiver = "http://127.0.0.1:" + port("receiver");
            sink(config, "structured", receiver + "/structured");
            sink(config, "binary", receiver + "/binary");
            config.put("sandstream.sinks.binary.mode", "binary");
            // Nothing listens there: its failures are logged, and must not quote the result.
            sink(config, "dead", "http://127.0.0.1:" + port("dead") + "/dead");
            config.put("sandstream.sinks.dead.max-attempts", "2");
            return config;
        }

        private static void sink(Map<String, String> config, String name, String url) {
            config.put("sandstream.sinks." + name + ".url", url);
            config.put("sandstream.sinks." + name + ".subject-prefix", "telemetry/");
            config.put("sandstream.sinks." + name + ".backoff-initial", "100ms");
            config.put("sandstream.sinks." + name + ".backoff-max", "200ms");
        }
    }

    /** One request the receiver got. */
    record Received(String path, Map<String, List<String>> headers, byte[] body) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).findFirst()
                    .map(e -> e.getValue().get(0)).orElse(null);
        }
    }

    static final ObjectMapper JSON = new ObjectMapper();
    static final JsonFormat FORMAT = new JsonFormat();
    static final List<Received> received = new CopyOnWriteArrayList<>();
    static HttpServer receiver;

    @Inject
    InMemorySpanExporter spans;
    @Inject
    Journal journal;

    @BeforeAll
    static void startReceiver() throws IOException {
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", port("receiver")), 0);
        receiver.createContext("/", exchange -> {
            received.add(new Received(exchange.getRequestURI().getPath(), Map.copyOf(exchange.getRequestHeaders()),
                    exchange.getRequestBody().readAllBytes()));
            exchange.sendResponseHeaders(202, -1);
            exchange.close();
        });
        receiver.start();
    }

    @AfterAll
    static void stopReceiver() {
        receiver.stop(0);
    }

    static String hex(int bytes) {
        byte[] random = new byte[bytes];
        ThreadLocalRandom.current().nextBytes(random);
        return HexFormat.of().formatHex(random);
    }

    static <T> T await(String what, Supplier<T> probe) throws InterruptedException {
        return await(what, probe, () -> "");
    }

    /** Waits for {@code probe}; on a timeout the failure says what {@code state} shows then. */
    static <T> T await(String what, Supplier<T> probe, Supplier<String> state) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            T value = probe.get();
            if (value != null) {
                return value;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting for " + what + " " + state.get());
    }

    static String structured(String subject, String extensions, String data) {
        return """
                {"specversion":"1.0","id":"%s","source":"/tests/telemetry","type":"io.sandstream.code.execute",
                 "subject":"%s"%s,"data":%s}""".formatted(UUID.randomUUID(), subject, extensions, data);
    }

    static String postEvent(String body, Map<String, String> headers) {
        return given().queryParam("code", "test-key-primary").headers(headers).contentType("application/cloudevents+json")
                .body(body).post("/events").then().statusCode(202).extract().path("accepted[0].executionId");
    }

    /** Every span of one execution once its stages and its deliveries to the two live sinks have ended. */
    List<SpanData> spansOf(String executionId) throws InterruptedException {
        return await("the spans of " + executionId, () -> {
            Map<String, SpanData> byId = spans.getFinishedSpanItems().stream()
                    .collect(Collectors.toMap(SpanData::getSpanId, s -> s, (a, b) -> a));
            List<SpanData> mine = byId.values().stream().filter(s -> belongsTo(s, executionId, byId)).toList();
            Set<String> names = mine.stream().map(SpanData::getName).collect(Collectors.toSet());
            long deliveries = mine.stream().filter(s -> s.getName().equals("sandstream.deliver")).count();
            return names.containsAll(STAGES) && deliveries >= 2 ? mine : null;
        });
    }

    /** Its stages name the execution; the journal span is the receive span's child, deliveries the publish span's. */
    private static boolean belongsTo(SpanData span, String executionId, Map<String, SpanData> byId) {
        for (SpanData s = span; s != null; s = byId.get(s.getParentSpanId())) {
            if (executionId.equals(s.getAttributes().get(ExecutionTrace.EXECUTION_ID))) {
                return true;
            }
        }
        return false;
    }

    static SpanData named(List<SpanData> spans, String name) {
        return spans.stream().filter(s -> s.getName().equals(name)).findFirst().orElseThrow(() -> new AssertionError(name));
    }

    Received delivery(String path, String executionId) throws InterruptedException {
        return await(path + " delivery of " + executionId, () -> received.stream()
                .filter(r -> r.path().equals(path) && new String(r.body(), StandardCharsets.UTF_8).contains(executionId))
                .findFirst().orElse(null));
    }

    @Test
    void aCloudEventsTraceparentRunsThroughEveryStageToTheResultEvent() throws Exception {
        String traceId = hex(16);
        String sender = hex(8);
        String id = postEvent(structured("telemetry/trace/" + UUID.randomUUID(),
                ",\"traceparent\":\"00-" + traceId + "-" + sender + "-01\",\"tracestate\":\"sender=1\"",
                "{\"code\":\"print(6 * 7)\"}"), Map.of());
        assertEquals("Succeeded", PipelineTest.awaitResult(id, PipelineTest.READER).getString("status"));

        List<SpanData> trace = spansOf(id);
        trace.forEach(s -> assertEquals(traceId, s.getTraceId(), s.getName() + " is in the event's trace"));
        List<String> order = trace.stream().filter(s -> STAGES.contains(s.getName()))
                .sorted(Comparator.comparingLong(SpanData::getStartEpochNanos)).map(SpanData::getName).toList();
        assertEquals(STAGES, order, "one span per stage, in the order the stages run");
        for (String stage : List.of("sandstream.receive", "sandstream.route", "sandstream.allocate",
                "sandstream.execute", "sandstream.persist")) {
            assertEquals(sender, named(trace, stage).getParentSpanId(), stage + " continues the sender's span");
        }
        assertEquals(named(trace, "sandstream.receive").getSpanId(), named(trace, "sandstream.journal").getParentSpanId());
        SpanData publish = named(trace, "sandstream.publish");
        assertEquals(named(trace, "sandstream.persist").getSpanId(), publish.getParentSpanId());
        assertEquals("python", named(trace, "sandstream.route").getAttributes().get(ExecutionTrace.POOL));
        assertEquals("accepted", named(trace, "sandstream.receive").getAttributes().get(IngressTrace.OUTCOME));

        // The result event continues the trace from its publication; the request's own header is the delivery's span.
        CloudEvent event = FORMAT.deserialize(delivery("/structured", id).body());
        assertEquals("00-" + traceId + "-" + publish.getSpanId() + "-01", event.getExtension("traceparent"));
        assertEquals("sender=1", event.getExtension("tracestate"));
        Received binary = delivery("/binary", id);
        assertEquals("00-" + traceId + "-" + publish.getSpanId() + "-01", binary.header("ce-traceparent"));
        String hop = binary.header("traceparent");
        assertTrue(hop.startsWith("00-" + traceId + "-"), hop);
        assertTrue(trace.stream().anyMatch(s -> s.getName().equals("sandstream.deliver") && hop.contains(s.getSpanId())
                && s.getParentSpanId().equals(publish.getSpanId())), "the hop header is a delivery span under publish");
    }

    @Test
    void anMcpToolCallIsTheParentOfItsRunsTrace() throws Exception {
        String accept = "application/json, text/event-stream";
        String session = given().header("Authorization", PipelineTest.READER).contentType("application/json").accept(accept)
                .body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                        + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}")
                .post("/mcp").then().statusCode(200).extract().header("Mcp-Session-Id");
        String sse = given().header("Authorization", PipelineTest.READER).header("Mcp-Session-Id", session)
                .contentType("application/json").accept(accept)
                .body("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"run_code\","
                        + "\"arguments\":{\"code\":\"print(6 * 7)\"}}}")
                .post("/mcp").then().statusCode(200).extract().asString();
        java.util.regex.Matcher execution = java.util.regex.Pattern.compile("\\[execution ([0-9a-f-]{36})").matcher(sse);
        assertTrue(execution.find(), sse);
        String id = execution.group(1);
        SpanData tool = await("the mcp.tool span", () -> spans.getFinishedSpanItems().stream()
                .filter(s -> s.getName().equals("mcp.tool run_code")).findFirst().orElse(null));
        SpanData receive = await("the receive span of " + id, () -> spans.getFinishedSpanItems().stream()
                .filter(s -> s.getName().equals("sandstream.receive") && id.equals(s.getAttributes().get(ExecutionTrace.EXECUTION_ID)))
                .findFirst().orElse(null));
        assertEquals("run_code", tool.getAttributes().get(io.opentelemetry.api.common.AttributeKey.stringKey("mcp.tool.name")));
        assertEquals(tool.getSpanId(), receive.getParentSpanId(), "the run's trace starts at the tool call");
        assertEquals(tool.getTraceId(), receive.getTraceId());
    }

    @Test
    void binaryModeContinuesCeTraceparentAndLinksTheHttpRequest() throws Exception {
        String eventTrace = hex(16);
        String httpTrace = hex(16);
        String id = given().queryParam("code", "test-key-primary")
                .header("ce-specversion", "1.0").header("ce-id", UUID.randomUUID().toString())
                .header("ce-source", "/tests/telemetry").header("ce-type", "io.sandstream.code.execute")
                .header("ce-subject", "telemetry/binary").header("ce-traceparent", "00-" + eventTrace + "-" + hex(8) + "-01")
                .header("traceparent", "00-" + httpTrace + "-" + hex(8) + "-01")
                .contentType("text/x-python").body("print('binary')")
                .post("/events").then().statusCode(202).extract().path("accepted[0].executionId");
        PipelineTest.awaitResult(id, PipelineTest.READER);
        List<SpanData> trace = spansOf(id);
        trace.forEach(s -> assertEquals(eventTrace, s.getTraceId(), s.getName()));
        SpanData receive = named(trace, "sandstream.receive");
        assertEquals(httpTrace, receive.getLinks().get(0).getSpanContext().getTraceId(), "linked to the HTTP request");
        assertTrue(spans.getFinishedSpanItems().stream().anyMatch(s -> s.getTraceId().equals(httpTrace)
                && s.getName().startsWith("POST")), "the HTTP server span continues the traceparent header");
    }

    @Test
    void withoutAnExtensionTheHttpHeaderIsContinuedAndSurvivesTheJournal() throws Exception {
        String httpTrace = hex(16);
        String id = postEvent(structured("telemetry/header", "", "{\"code\":\"1 + 1\"}"),
                Map.of("traceparent", "00-" + httpTrace + "-" + hex(8) + "-01"));
        PipelineTest.awaitResult(id, PipelineTest.READER);
        spansOf(id).forEach(s -> assertEquals(httpTrace, s.getTraceId(), s.getName()));
        // What a restarted service would dispatch from: the journalled event itself carries the context.
        byte[] journalled = journal.load(id).await().atMost(WAIT).orElseThrow().entry().event();
        CloudEvent event = FORMAT.deserialize(journalled);
        assertTrue(event.getExtension("traceparent").toString().startsWith("00-" + httpTrace + "-"));
        CloudEvent out = FORMAT.deserialize(delivery("/structured", id).body());
        assertTrue(out.getExtension("traceparent").toString().startsWith("00-" + httpTrace + "-"));
    }

    @Test
    void noCodeOutputOrKeyReachesTheLogsOrTheSpans() throws Exception {
        String marker = "MARKER" + hex(8);
        String code = "import sys\\nprint('" + marker + "')\\nprint('" + marker + "', file=sys.stderr)\\n"
                + "raise ValueError('" + marker + "')";
        String id = postEvent(structured("telemetry/logs/" + marker, "", "{\"code\":\"" + code + "\"}"), Map.of());
        assertEquals("Failed", PipelineTest.awaitResult(id, PipelineTest.READER).getString("status"));
        // Refused with the marker in it: a single invalid event, and a batch with a broken one.
        given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json")
                .body(structured("telemetry/logs", "", "{\"code\":\"" + marker + "\",\"timeoutSeconds\":9999}"))
                .post("/events").then().statusCode(400);
        given().queryParam("code", "test-key-primary").contentType("application/cloudevents-batch+json")
                .body("[" + structured("telemetry/logs", "", "{\"code\":\"" + code + "\"}") + ",{\"id\":\"" + marker + "\"}]")
                .post("/events").then().statusCode(202);
        // Through the read API and the pool API too.
        given().header("Authorization", PipelineTest.READER).contentType("application/json")
                .body("{\"code\":\"print('" + marker + "')\",\"subject\":\"telemetry/logs\"}")
                .queryParam("wait", 30).post("/executions").then().statusCode(200);
        given().header("Authorization", PipelineTest.READER).contentType("application/json")
                .queryParam("api-version", "2024-02-02-preview").queryParam("identifier", "telemetry-logs")
                .body("{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"synchronous\",\"code\":\"print('"
                        + marker + "')\"}}")
                .post("/pools/python/code/execute").then().statusCode(200);
        spansOf(id);

        String logs = await("the dead sink's warning in the log", () -> {
            try {
                String text = Files.readString(log());
                return text.contains("sink dead is failing") ? text : null;
            } catch (IOException e) {
                return null;
            }
        });
        assertTrue(logs.contains("sandstream"), "the log file holds the service's log");
        assertFalse(logs.contains(marker), "code or output in the log:\n" + logs);
        assertFalse(logs.contains("test-key-primary"), "an ingress key in the log");

        for (SpanData span : spans.getFinishedSpanItems()) {
            String attributes = span.getAttributes().toString() + span.getEvents() + span.getStatus();
            assertFalse(attributes.contains(marker), "code or output in span " + span);
            assertFalse(attributes.contains("test-key-primary"), "a key in span " + span);
            assertFalse(attributes.contains("test-reader"), "a key in span " + span);
        }
        assertTrue(spans.getFinishedSpanItems().stream()
                .anyMatch(s -> "code=REDACTED".equals(s.getAttributes().get(QueryRedaction.URL_QUERY))),
                "the ingress key's query parameter is redacted");
    }

    @Test
    void sinkMetricsMoveWithDeliveries() throws Exception {
        PrometheusText before = PrometheusText.scrape();
        String id = postEvent(structured("telemetry/metrics", "", "{\"code\":\"1\"}"), Map.of());
        delivery("/structured", id);
        delivery("/binary", id);
        // Each sink records its delivery when its own call completes: wait for both, not one.
        PrometheusText after = await("the delivered counters and the structured sink's latency", () -> {
            PrometheusText now = PrometheusText.scrape();
            return now.value("sandstream_sink_deliveries_total", Map.of("sink", "binary", "outcome", "delivered"))
                    > before.value("sandstream_sink_deliveries_total", Map.of("sink", "binary", "outcome", "delivered"))
                    && now.value("sandstream_sink_latency_seconds_count", Map.of("sink", "structured"))
                    > before.value("sandstream_sink_latency_seconds_count", Map.of("sink", "structured"))
                    ? now : null;
        }, () -> "sink series before:\n" + before.series("sandstream_sink_") + "\nnow:\n" + PrometheusText.scrape().series("sandstream_sink_"));
        for (String metric : OperationsTest.dashboardMetrics()) {
            assertTrue(!metric.startsWith("sandstream_sink_") || after.has(metric), "the dashboard reads " + metric);
        }
    }
}
