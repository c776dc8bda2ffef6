package io.sandstream.outbound;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.cloudevents.CloudEvent;
import io.cloudevents.jackson.JsonFormat;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;

/**
 * Results reach real HTTP receivers (the JDK's HttpServer) configured as sinks, through the real
 * pipeline and sandboxes: each sink filters on its own subject prefix, so each test drives one.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(SinkDeliveryTest.WithSinks.class)
class SinkDeliveryTest {

    /** Ports are chosen before the application starts and shared through system properties, which every class loader sees. */
    static int port(String name) {
        return Integer.parseInt(System.getProperties().computeIfAbsent("sinkdeliverytest.port." + name, key -> {
            try (ServerSocket socket = new ServerSocket(0)) {
                return Integer.toString(socket.getLocalPort());
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }).toString());
    }

    public static class WithSinks implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            String up = "http://127.0.0.1:" + port("up");
            Map<String, String> config = new java.util.HashMap<>();
            config.put("sandstream.data-dir", "target/test-data-sinks-" + UUID.randomUUID());
            sink(config, "structured", up + "/structured");
            sink(config, "binary", up + "/binary");
            config.put("sandstream.sinks.binary.mode", "binary");
            sink(config, "grid", up + "/grid");
            config.put("sandstream.sinks.grid.kind", "eventgrid");
            config.put("sandstream.sinks.grid.key", "grid-secret");
            sink(config, "flaky", up + "/flaky");
            sink(config, "bad", up + "/bad");
            // Answers with a redirect to another host: never followed (SSRF), counted as refused.
            sink(config, "redirect", up + "/redirect");
            // Nothing listens here until the test starts a receiver: retried for as long as the test needs.
            sink(config, "down", "http://127.0.0.1:" + port("down") + "/down");
            config.put("sandstream.sinks.down.max-attempts", "1000");
            config.put("sandstream.sinks.down.backoff-max", "500ms");
            // Never answers: one delivery in flight holds the sink, two wait, the rest are dropped.
            sink(config, "hang", up + "/hang");
            config.put("sandstream.sinks.hang.timeout", "120s");
            config.put("sandstream.sinks.hang.max-attempts", "1");
            config.put("sandstream.sinks.hang.concurrency", "1");
            config.put("sandstream.sinks.hang.queue-capacity", "2");
            // Never answers either, but gives up on an attempt quickly: timed out, retried once, then failed.
            sink(config, "slow", up + "/slow");
            config.put("sandstream.sinks.slow.timeout", "500ms");
            config.put("sandstream.sinks.slow.max-attempts", "2");
            return config;
        }

        private static void sink(Map<String, String> config, String name, String url) {
            config.put("sandstream.sinks." + name + ".url", url);
            config.put("sandstream.sinks." + name + ".subject-prefix", "sinks/" + name + "/");
            config.put("sandstream.sinks." + name + ".backoff-initial", "100ms");
            config.put("sandstream.sinks." + name + ".backoff-max", "400ms");
        }
    }

    /** One request a receiver got. */
    record Received(String path, String query, Map<String, List<String>> headers, byte[] body, int answered) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).findFirst()
                    .map(e -> e.getValue().get(0)).orElse(null);
        }
    }

    static final ObjectMapper JSON = new ObjectMapper().registerModule(JsonFormat.getCloudEventJacksonModule());
    static final List<Received> received = new CopyOnWriteArrayList<>();
    static final Map<String, AtomicInteger> flakyTries = new ConcurrentHashMap<>();
    static final CountDownLatch release = new CountDownLatch(1);
    static final ExecutorService receiverThreads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-receiver");
        t.setDaemon(true);
        return t;
    });
    static HttpServer up;
    static HttpServer down;

    @Inject
    MeterRegistry registry;

    @BeforeAll
    static void startReceiver() throws IOException {
        up = receiver(port("up"));
    }

    @AfterAll
    static void stopReceivers() {
        release.countDown();
        if (up != null) {
            up.stop(0);
        }
        if (down != null) {
            down.stop(0);
        }
    }

    static HttpServer receiver(int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 50);
        server.setExecutor(receiverThreads);
        server.createContext("/", SinkDeliveryTest::handle);
        server.start();
        return server;
    }

    /** {@code /flaky} answers 503 three times per event, {@code /bad} 400, {@code /hang} and {@code /slow} not at all, the rest 200. */
    static void handle(HttpExchange exchange) throws IOException {
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readAllBytes();
        }
        String path = exchange.getRequestURI().getPath();
        if (path.equals("/redirect")) {
            exchange.getResponseHeaders().add("Location", "http://localhost:" + port("up") + "/elsewhere");
        }
        int status = switch (path) {
            case "/flaky" -> flakyTries.computeIfAbsent(JSON.readTree(body).get("id").asText(), id -> new AtomicInteger())
                    .incrementAndGet() <= 3 ? 503 : 200;
            case "/bad" -> 400;
            case "/redirect" -> 307;
            default -> 200;
        };
        if (path.equals("/hang") || path.equals("/slow")) {
            received.add(new Received(path, exchange.getRequestURI().getRawQuery(), Map.copyOf(exchange.getRequestHeaders()),
                    body, 0));
            try {
                release.await(150, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.close();
            return;
        }
        received.add(new Received(path, exchange.getRequestURI().getRawQuery(), Map.copyOf(exchange.getRequestHeaders()),
                body, status));
        exchange.sendResponseHeaders(status, -1);
        exchange.close();
    }

    // ---- helpers --------------------------------------------------------------------------------

    static String post(String sink, String code) {
        String body = """
                {"specversion":"1.0","id":"%s","source":"/tests/sinks","type":"io.sandstream.code.execute",
                 "subject":"sinks/%s/job","data":{"code":"%s"}}""".formatted(UUID.randomUUID(), sink, code);
        return given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json").body(body)
                .post("/events").then().statusCode(202).extract().path("accepted[0].executionId");
    }

    /** The stored result, read over the API; fails if it takes longer than a generous bound. */
    static JsonPath result(String executionId) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            JsonPath doc = given().header("Authorization", "Bearer test-reader").get("/executions/" + executionId)
                    .then().statusCode(200).extract().jsonPath();
            if (!doc.getString("status").equals("Queued") && !doc.getString("status").equals("Running")) {
                return doc;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no result for " + executionId);
    }

    static JsonNode resultJson(String executionId) throws IOException {
        return JSON.readTree(given().header("Authorization", "Bearer test-reader").get("/executions/" + executionId)
                .then().statusCode(200).extract().asByteArray());
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting until " + what);
    }

    static List<Received> at(String path) {
        return received.stream().filter(r -> r.path().equals(path)).toList();
    }

    /** Requests to {@code path} that carried the event of {@code executionId}, whatever the mode. */
    static List<Received> carrying(String path, String executionId) {
        return at(path).stream().filter(r -> executionId.equals(r.header("ce-id"))
                || new String(r.body(), java.nio.charset.StandardCharsets.UTF_8).contains(executionId)).toList();
    }

    double count(String sink, String outcome) {
        Counter counter = registry.find("sandstream.sink.deliveries").tags("sink", sink, "outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    double queued(String sink) {
        Gauge gauge = registry.find("sandstream.sink.queue").tags("sink", sink).gauge();
        return gauge == null ? -1 : gauge.value();
    }

    // ---- tests ----------------------------------------------------------------------------------

    @Test
    void aResultArrivesAsAStructuredCloudEvent() throws Exception {
        String id = post("structured", "print('hi')\\n6 * 7");
        assertEquals("Succeeded", result(id).getString("status"));
        await("the receiver has the event", () -> !carrying("/structured", id).isEmpty());

        Received request = carrying("/structured", id).get(0);
        assertTrue(request.header("Content-Type").startsWith("application/cloudevents+json"), request.header("Content-Type"));
        CloudEvent event = new JsonFormat().deserialize(request.body());
        assertEquals("io.sandstream.code.executed", event.getType());
        assertEquals("1.0", event.getSpecVersion().toString());
        assertEquals(URI.create("/tests/sinks"), event.getSource());
        assertEquals("sinks/structured/job", event.getSubject());
        assertEquals(id, event.getId());
        assertEquals(id, event.getExtension("executionid"));
        assertEquals("application/json", event.getDataContentType());
        JsonNode data = JSON.readTree(event.getData().toBytes());
        assertEquals(resultJson(id), data, "data is the result document as GET /executions/{id} serves it");
        assertEquals(42, data.get("result").asInt());
        assertEquals(java.time.OffsetDateTime.parse(data.get("timings").get("completedAt").asText()), event.getTime());
        assertEquals(1, carrying("/structured", id).size(), "delivered once");
    }

    @Test
    void binaryModeSendsCeHeadersAndTheDocument() throws Exception {
        String location = given().header("Authorization", "Bearer test-reader").contentType("application/json")
                .body("{\"code\":\"1 + 1\",\"subject\":\"sinks/binary/direct\"}").post("/executions").then()
                .statusCode(202).extract().header("Location");
        String id = location.substring(location.lastIndexOf('/') + 1);
        result(id);
        await("the receiver has the event", () -> !carrying("/binary", id).isEmpty());

        Received request = carrying("/binary", id).get(0);
        assertEquals("1.0", request.header("ce-specversion"));
        assertEquals("io.sandstream.code.executed", request.header("ce-type"));
        assertEquals(id, request.header("ce-id"));
        assertEquals("sinks%2Fbinary%2Fdirect".replace("%2F", "/"), request.header("ce-subject"));
        assertTrue(request.header("Content-Type").startsWith("application/json"));
        assertEquals(resultJson(id), JSON.readTree(request.body()));
        assertEquals(2, JSON.readTree(request.body()).get("result").asInt());
    }

    @Test
    void anEventGridTopicGetsABatchWithItsKey() throws Exception {
        String id = post("grid", "3");
        result(id);
        await("the topic has the event", () -> !carrying("/grid", id).isEmpty());

        Received request = carrying("/grid", id).get(0);
        assertEquals("grid-secret", request.header("aeg-sas-key"));
        assertTrue(request.header("Content-Type").startsWith("application/cloudevents-batch+json"),
                request.header("Content-Type"));
        assertTrue(request.query() != null && request.query().contains("api-version="), "what the Event Grid SDKs send");
        JsonNode array = JSON.readTree(request.body());
        assertTrue(array.isArray() && array.size() == 1, array.toString());
        List<CloudEvent> events = JSON.readValue(request.body(), new TypeReference<List<CloudEvent>>() {
        });
        assertEquals("io.sandstream.code.executed", events.get(0).getType());
        assertEquals("sinks/grid/job", events.get(0).getSubject());
        assertEquals(resultJson(id), JSON.readTree(events.get(0).getData().toBytes()));
    }

    @Test
    void aReceiverThatFailsForAWhileGetsTheEventExactlyOnceAfterRetries() throws Exception {
        double retriedBefore = count("flaky", "retried");
        double deliveredBefore = count("flaky", "delivered");
        String id = post("flaky", "4");
        result(id);
        await("the event is delivered", () -> carrying("/flaky", id).stream().anyMatch(r -> r.answered() == 200));
        await("the delivery is counted", () -> count("flaky", "delivered") == deliveredBefore + 1);

        List<Received> tries = carrying("/flaky", id);
        assertEquals(List.of(503, 503, 503, 200), tries.stream().map(Received::answered).toList());
        assertEquals(retriedBefore + 3, count("flaky", "retried"));
        assertEquals(0, count("flaky", "failed"));
    }

    @Test
    void aRedirectIsNeverFollowed() throws Exception {
        double droppedBefore = count("redirect", "dropped");
        String id = post("redirect", "6");
        result(id);
        await("the redirect is counted as a refusal", () -> count("redirect", "dropped") == droppedBefore + 1);

        assertEquals(1, carrying("/redirect", id).size(), "one attempt, not retried");
        assertEquals(List.of(), at("/elsewhere"), "the redirect target was never called");
    }

    @Test
    void aRefusedEventIsNotRetried() throws Exception {
        double droppedBefore = count("bad", "dropped");
        String id = post("bad", "5");
        result(id);
        await("the refusal is counted", () -> count("bad", "dropped") == droppedBefore + 1);

        assertEquals(1, carrying("/bad", id).size(), "one attempt, no retry after a 400");
        assertEquals(0, count("bad", "retried"));
        assertEquals(0, count("bad", "delivered"));
    }

    @Test
    void aDeadReceiverDelaysNoResultAndGetsTheEventWhenItComesBack() throws Exception {
        String id = post("down", "print('still runs')");
        JsonPath doc = result(id);
        assertEquals("Succeeded", doc.getString("status"), doc.prettify());
        assertEquals("still runs\n", doc.getString("stdout"));
        await("the dead receiver was tried and retried", () -> count("down", "retried") >= 1);
        assertEquals(0, count("down", "delivered"));

        down = receiver(port("down"));
        await("the event arrives once the receiver is up", () -> !carrying("/down", id).isEmpty());
        await("the delivery is counted", () -> count("down", "delivered") == 1);
        assertEquals(resultJson(id), JSON.readTree(new JsonFormat().deserialize(carrying("/down", id).get(0).body())
                .getData().toBytes()));
    }

    @Test
    void anAttemptThatGetsNoAnswerTimesOutIsRetriedAndTheEventIsCountedFailed() throws Exception {
        String id = post("slow", "8");
        result(id);
        await("both attempts timed out", () -> count("slow", "failed") == 1);
        assertEquals(2, carrying("/slow", id).size(), "the first attempt timed out and was retried once");
        assertEquals(1, count("slow", "retried"));
        assertEquals(0, count("slow", "delivered"));
    }

    @Test
    void aHangingReceiverBlocksNoExecutionAndItsQueueDropsTheOldest() throws Exception {
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(post("hang", String.valueOf(i)));
        }
        for (String id : ids) {
            assertEquals("Succeeded", result(id).getString("status"), "executions complete while the sink hangs");
        }
        // One delivery hangs in flight, two wait in the queue, so two were dropped to make room.
        await("the hanging receiver has one request", () -> at("/hang").size() == 1);
        await("two events wait", () -> queued("hang") == 2);
        await("two events were dropped", () -> count("hang", "dropped") == 2);
        assertEquals(0, count("hang", "delivered"));

        // And the other sinks still deliver meanwhile.
        String other = post("structured", "7");
        result(other);
        await("another sink still delivers", () -> !carrying("/structured", other).isEmpty());
    }
}
