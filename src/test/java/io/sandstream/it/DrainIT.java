package io.sandstream.it;

import static io.sandstream.it.ScaleOutIT.KEY;
import static io.sandstream.it.ScaleOutIT.event;
import static io.sandstream.it.ScaleOutIT.executions;
import static io.sandstream.it.ScaleOutIT.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.telemetry.PrometheusText;

/**
 * Stopping and crashing instances while they run work (issue 22, points 3 and 4): packaged
 * services on one real KRaft broker, each on a host (network namespace) of its own, reused from
 * test to test (in order: each test goes on with the instances the previous one left, starting as
 * few as it can).
 * SIGTERM drains: the running execution finishes where it runs, the stopping instance refuses new
 * work and is not ready meanwhile, and no other instance runs it again. SIGKILL moves the work on,
 * its start counted. An execution whose instance dies every time it runs it (a poison event, here
 * killed by the test whenever it runs) is given up after {@code max-attempts} starts, with an
 * {@code ExecutionAbandoned} result and the event on the dead-letter topic. The SQLite journal
 * drains the same way.
 */
@Tag("packaged")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DrainIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Sandbox uids of the instances: a range of their own (the other ITs start at 700,000 and 760,000). */
    private static final int FIRST_UID = 820_000;
    private static final String PREFIX = "drain-";
    private static final int MAX_ATTEMPTS = 2;
    private static NetworkNamespaces network;
    private static BrokerProcess broker;
    /** The cluster's two instances; a test that stops one starts another in its place. */
    private static final ServiceProcess[] instances = new ServiceProcess[2];
    private static int started;

    /** Kept when a test fails: the instances' and the broker's logs are in it. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path temp;

    @BeforeAll
    static void startCluster() throws Exception {
        network = NetworkNamespaces.create();
        broker = BrokerProcess.start(network.node("broker"), temp.resolve("broker.log"));
        instances[0] = instance();
        instances[1] = instance();
    }

    @AfterAll
    static void stopCluster() throws Exception {
        try (NetworkNamespaces closing = network) {
            for (ServiceProcess instance : instances) {
                if (instance != null) {
                    instance.close();
                }
            }
            if (broker != null) {
                broker.close();
            }
        }
    }

    /** A new instance of the cluster (own data directory, own uid range, own log). */
    private static ServiceProcess instance() throws Exception {
        int index = started++;
        Map<String, String> env = ServiceProcess.clusterEnv(broker.bootstrapServers(), PREFIX, index, FIRST_UID);
        env.put("SANDSTREAM_KAFKA_LANE_PARTITIONS", "4");
        env.put("SANDSTREAM_ROUTING_MAX_ATTEMPTS", Integer.toString(MAX_ATTEMPTS));
        return start(index, env);
    }

    private static ServiceProcess start(int index, Map<String, String> extra) throws Exception {
        Map<String, String> env = new HashMap<>(extra);
        env.put("SANDSTREAM_INGRESS_KEYS", KEY);
        env.put("SANDSTREAM_API_KEYS", "it-reader@*");
        env.putIfAbsent("SANDSTREAM_SESSIONS_FIRST_UID", Integer.toString(FIRST_UID + index * 8192));
        env.put("SANDSTREAM_POOLS_PYTHON_MAX_SESSIONS", "2");
        env.put("SANDSTREAM_POOLS_PYTHON_READY_SESSIONS", "1");
        env.put("SANDSTREAM_POOLS_JAVASCRIPT_READY_SESSIONS", "0");
        return ServiceProcess.start(temp.resolve("data-" + index), env, temp.resolve("instance-" + index + ".log"),
                network.node("instance-" + index));
    }

    @Test
    @Order(1)
    void sigtermLetsTheRunningExecutionFinishWhereItRunsAndNowhereElse() throws Exception {
        String id = post(instances[0], List.of(event("drain-1", "import time\\ntime.sleep(6)\\nprint('drained')",
                "normal", null))).get(0);
        int runs = runningOn(id);
        ServiceProcess stopping = instances[runs];
        ServiceProcess other = instances[1 - runs];
        long signalled = System.nanoTime();
        stopping.terminate();

        awaitStatus(stopping, "/q/health/ready", 503);
        HttpResponse<String> refused = stopping.post("/events?code=" + KEY, "application/cloudevents+json",
                event("drain-refused", "1", "normal", null));
        assertEquals(503, refused.statusCode(), refused.body());
        assertTrue(refused.headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json"),
                refused.headers().map().toString());
        assertTrue(refused.headers().firstValue("Retry-After").isPresent(), "a client is told when to retry");
        String metrics = stopping.get("/q/metrics").body();
        assertEquals(1, gauge(metrics, "sandstream_drain_active"), 0.01);
        assertEquals(1, gauge(metrics, "sandstream_drain_in_flight"), 0.01, "the execution is still running");

        assertTrue(stopping.awaitExit(Duration.ofSeconds(120)), "the drain ends well within its timeout");
        System.out.printf("DrainIT: SIGTERM to exit %d ms with a 6 s execution running%n",
                Duration.ofNanos(System.nanoTime() - signalled).toMillis());
        JsonNode result = awaitResult(other, id);
        assertEquals("Succeeded", result.get("status").asText(), result.toString());
        assertEquals("drained\n", result.get("stdout").asText(), result.toString());
        assertEquals(1, result.get("attempt").asInt(), "ran once, where it started: " + result);
        assertTrue(stopping.output().contains("drained: every execution started here has its result stored"),
                stopping.output());
        assertEquals(0, executions(other), 0.1, "the other instance never ran it");
        assertEquals(1, records(PREFIX + "results").stream().filter(r -> id.equals(r.key())).count(),
                "one result record");
        instances[runs] = instance();
    }

    @Test
    @Order(2)
    void sigkillMovesTheRunningExecutionOnWithItsStartCounted() throws Exception {
        String id = post(instances[0], List.of(event("drain-2", "import time\\ntime.sleep(3)\\nprint('moved')",
                "normal", null))).get(0);
        int runs = runningOn(id);
        // A start is counted once committed (within a poll of it): a kill sooner may go uncounted.
        awaitStartCommitted(id, 1);
        instances[runs].kill();
        JsonNode result = awaitResult(instances[1 - runs], id);
        assertEquals("Succeeded", result.get("status").asText(), result.toString());
        assertEquals("moved\n", result.get("stdout").asText(), result.toString());
        assertEquals(2, result.get("attempt").asInt(), "the start on the killed instance counts: " + result);
        instances[runs] = null; // the poison test goes on with the survivor alone
    }

    @Test
    @Order(3)
    void anExecutionThatTakesEveryInstanceDownIsGivenUpAndDeadLettered() throws Exception {
        ServiceProcess survivor = instances[0] != null ? instances[0] : instances[1];
        String id = post(survivor, List.of(event("drain-poison", "import time\\ntime.sleep(600)", "normal", null))).get(0);
        for (int start = 1; start <= MAX_ATTEMPTS; start++) {
            int runs = runningOn(id);
            // A start is counted once committed (within a poll of it): a crash sooner may go uncounted.
            awaitStartCommitted(id, start);
            instances[runs].kill(); // what a poison event does to the instance that runs it
            instances[runs] = start < MAX_ATTEMPTS ? instance() : null; // the next one takes it over
        }
        ServiceProcess last = instance(); // both are gone: a new one takes it, and gives it up
        instances[instances[0] == null ? 0 : 1] = last;
        JsonNode result = awaitResult(last, id);
        assertEquals("Failed", result.get("status").asText(), result.toString());
        assertEquals("ExecutionAbandoned", result.at("/error/type").asText(), result.toString());
        assertEquals(MAX_ATTEMPTS, result.get("attempt").asInt(), "the starts it had: " + result);
        assertEquals(0, executions(last), 0.1, "not run a third time");

        List<ConsumerRecord<String, byte[]>> dead = records(PREFIX + "dead-letter");
        assertEquals(1, dead.size(), "one dead letter");
        ConsumerRecord<String, byte[]> letter = dead.get(0);
        assertEquals(id, header(letter, "sandstream-execution-id"));
        assertEquals(Integer.toString(MAX_ATTEMPTS), header(letter, "sandstream-attempt"));
        assertTrue(header(letter, "sandstream-dead-letter-reason").contains("interrupted"), header(letter,
                "sandstream-dead-letter-reason"));
        assertTrue(new String(letter.value(), StandardCharsets.UTF_8).contains("time.sleep(600)"), "the event as received");
    }

    /** The SQLite journal drains too: a single instance finishes its work rather than leave it for its next start. */
    @Test
    @Order(4)
    void aSqliteInstanceFinishesItsRunningExecutionBeforeItExits() throws Exception {
        int index = started++;
        String id;
        try (ServiceProcess single = start(index, Map.of())) {
            // A pool API call waits for its answer: it finishes too, and a new one is refused meanwhile.
            CompletableFuture<HttpResponse<String>> poolCall = poolExecute(single, "drain-pool-1",
                    "import time\\ntime.sleep(4)\\nprint('pool finished')");
            id = post(single, List.of(event("drain-sqlite", "import time\\ntime.sleep(4)\\nprint('finished')", "normal",
                    null))).get(0);
            awaitRunning(single);
            awaitBusySessions(single, 2);
            single.terminate();
            awaitStatus(single, "/q/health/ready", 503);
            HttpResponse<String> refused = poolExecute(single, "drain-pool-2", "1").get(60, TimeUnit.SECONDS);
            assertEquals(503, refused.statusCode(), refused.body());
            assertEquals("ServiceUnavailable", refused.headers().firstValue("x-ms-error-code").orElse(null),
                    refused.headers().map().toString());
            assertTrue(refused.headers().firstValue("Retry-After").isPresent(), "a client is told when to retry");
            HttpResponse<String> answered = poolCall.get(120, TimeUnit.SECONDS);
            assertEquals(200, answered.statusCode(), answered.body());
            assertEquals("pool finished\n", JSON.readTree(answered.body()).at("/properties/stdout").asText(), answered.body());
            assertTrue(single.awaitExit(Duration.ofSeconds(120)), "the drain ends");
            assertTrue(single.output().contains("drained: every execution started here has its result stored"),
                    single.output());
        }
        try (ServiceProcess restarted = start(index, Map.of())) {
            JsonNode result = awaitResult(restarted, id);
            assertEquals("Succeeded", result.get("status").asText(), result.toString());
            assertEquals("finished\n", result.get("stdout").asText(), result.toString());
            assertEquals(1, result.get("attempt").asInt(), result.toString());
            Thread.sleep(1000); // time to start it again, if it wrongly were still journalled
            assertEquals(0, executions(restarted), 0.1, "not run again after the restart");
        }
    }

    /** Waits until the lane group's committed offsets say {@code id} was started {@code starts} times. */
    private static void awaitStartCommitted(String id, int starts) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
            while (admin.listConsumerGroupOffsets(PREFIX + "group").partitionsToOffsetAndMetadata().get().values().stream()
                    .noneMatch(offset -> offset != null && offset.metadata() != null
                            && List.of(offset.metadata().split(",")).contains(id + ":" + starts))) {
                assertTrue(System.nanoTime() < deadline, "start " + starts + " of " + id + " was never committed");
                Thread.sleep(50);
            }
        }
    }

    /** Which of the two instances runs the execution: the one with work running ({@code sandstream_results_unpersisted}). */
    private static int runningOn(String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < instances.length; i++) {
                if (instances[i] != null && instances[i].alive()
                        && gauge(instances[i].get("/q/metrics").body(), "sandstream_results_unpersisted") > 0) {
                    return i;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError(id + " did not start on any instance");
    }

    /** A legacy pool API execution in session {@code identifier}, answered when it has run. */
    private static CompletableFuture<HttpResponse<String>> poolExecute(ServiceProcess service, String identifier, String code) {
        String body = "{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"synchronous\",\"code\":\""
                + code + "\"}}";
        return ServiceProcess.HTTP.sendAsync(HttpRequest.newBuilder(service.uri("/pools/python/code/execute?api-version="
                + "2024-02-02-preview&identifier=" + identifier)).header("Authorization", ScaleOutIT.READER)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void awaitBusySessions(ServiceProcess service, int busy) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (PrometheusText.of(service.get("/q/metrics").body()).value("sandstream_pool_sessions",
                Map.of("state", "busy")) < busy) {
            assertTrue(System.nanoTime() < deadline, "fewer than " + busy + " sessions ran");
            Thread.sleep(100);
        }
    }

    private static void awaitRunning(ServiceProcess service) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (gauge(service.get("/q/metrics").body(), "sandstream_results_unpersisted") == 0) {
            assertTrue(System.nanoTime() < deadline, "the execution did not start");
            Thread.sleep(100);
        }
    }

    private static void awaitStatus(ServiceProcess service, String path, int status) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        int last;
        while ((last = service.get(path).statusCode()) != status) {
            assertTrue(System.nanoTime() < deadline, path + " answered " + last + ", not " + status);
            Thread.sleep(50);
        }
    }

    /** The result document once it is stored (read on {@code service}, which may not know the execution yet). */
    static JsonNode awaitResult(ServiceProcess service, String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (true) {
            HttpResponse<String> response = ServiceProcess.HTTP.send(HttpRequest.newBuilder(service.uri("/executions/" + id))
                    .header("Authorization", ScaleOutIT.READER).build(), HttpResponse.BodyHandlers.ofString());
            JsonNode doc = response.statusCode() == 200 ? JSON.readTree(response.body()) : null;
            if (doc != null && doc.has("attempt") && !doc.path("status").asText().matches("Queued|Running")) {
                return doc;
            }
            assertTrue(System.nanoTime() < deadline, "no result for " + id + ": " + response.body());
            Thread.sleep(200);
        }
    }

    /** A gauge or counter summed over its tags; 0 when absent. */
    private static double gauge(String metrics, String name) {
        return PrometheusText.of(metrics).value(name, Map.of());
    }

    private static String header(ConsumerRecord<String, byte[]> record, String name) {
        Header header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    /** Every record of a one-partition topic, read by a plain consumer. */
    private static List<ConsumerRecord<String, byte[]>> records(String topic) {
        List<ConsumerRecord<String, byte[]>> records = broker.records(topic);
        assertFalse(records.isEmpty() && topic.endsWith("results"), "the results topic has records");
        return records;
    }
}
