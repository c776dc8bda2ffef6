package io.sandstream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.telemetry.PrometheusText;

/**
 * Two packaged services (separate JVMs, separate data directories, separate sandbox uid ranges)
 * sharing one real KRaft broker with {@code sandstream.journal.kind=kafka}, each instance and the
 * broker on a host (network namespace) of its own: work spreads over both, either one streams
 * every result, a crash loses nothing and runs nothing twice, and priority holds.
 */
@Tag("packaged")
class ScaleOutIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "it-key";
    static final String READER = "Bearer it-reader";
    private static NetworkNamespaces network;
    private static BrokerProcess broker;

    /** Kept when a test fails: the instances' and the broker's logs are in it. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path temp;

    @BeforeAll
    static void startBroker() throws Exception {
        network = NetworkNamespaces.create();
        broker = BrokerProcess.start(network.node("broker"), temp.resolve("broker.log"));
    }

    @AfterAll
    static void stopBroker() throws Exception {
        try (NetworkNamespaces closing = network) {
            if (broker != null) {
                broker.close();
            }
        }
    }

    /** One instance of a cluster whose topics start with {@code prefix}; {@code index} picks its uid range. */
    private ServiceProcess instance(String prefix, int index, Map<String, String> extra) throws Exception {
        Map<String, String> env = ServiceProcess.clusterEnv(broker.bootstrapServers(), prefix, index, 700_000);
        env.put("SANDSTREAM_INGRESS_KEYS", KEY);
        env.put("SANDSTREAM_API_KEYS", "it-reader@*");
        env.put("SANDSTREAM_POOLS_PYTHON_MAX_SESSIONS", "3");
        env.put("SANDSTREAM_POOLS_PYTHON_READY_SESSIONS", "2");
        env.putAll(extra);
        return ServiceProcess.start(temp.resolve("data-" + index), env, temp.resolve("instance-" + index + ".log"),
                network.node("instance-" + index));
    }

    static String event(String id, String code, String priority, String sessionId) {
        return """
                {"specversion":"1.0","id":"%s","source":"/it/scale","type":"io.sandstream.code.execute","subject":"scale/%s",
                 "priority":"%s","data":{"code":"%s"%s}}""".formatted(id, id, priority, code,
                sessionId == null ? "" : ",\"sessionId\":\"" + sessionId + "\"");
    }

    /** Posts a batch and answers the executionIds it acknowledged. */
    static List<String> post(ServiceProcess to, List<String> events) throws Exception {
        HttpResponse<String> response = to.post("/events?code=" + KEY, "application/cloudevents-batch+json",
                "[" + String.join(",", events) + "]");
        assertEquals(202, response.statusCode(), response.body());
        List<String> ids = new ArrayList<>();
        JSON.readTree(response.body()).get("accepted").forEach(a -> ids.add(a.get("executionId").asText()));
        assertEquals(events.size(), ids.size(), response.body());
        return ids;
    }

    @Test
    void workSpreadsAndEitherInstanceStreamsEveryResultWithTheSameIds() throws Exception {
        try (ServiceProcess a = instance("spread-", 0, Map.of()); ServiceProcess b = instance("spread-", 1, Map.of());
                ResultStream fromA = ResultStream.open(a, null)) {
            List<String> ids = new ArrayList<>();
            for (int round = 0; round < 4; round++) {
                ServiceProcess to = round % 2 == 0 ? a : b;
                List<String> events = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    String id = "spread-" + round + "-" + i;
                    events.add(event(id, "import time\\ntime.sleep(0.05)\\nprint('" + id + "')", "normal", null));
                }
                ids.addAll(post(to, events));
            }
            Map<String, JsonNode> seen = fromA.await(ids.size(), Duration.ofSeconds(120));
            assertEquals(new HashSet<>(ids), seen.keySet(), "A streams the result of every event, wherever it ran");
            double ranOnA = executions(a);
            double ranOnB = executions(b);
            assertEquals(ids.size(), ranOnA + ranOnB, 0.1, "each event ran once, on one of the two");
            assertTrue(ranOnA > 0 && ranOnB > 0, "work spread over both instances: A " + ranOnA + ", B " + ranOnB);

            // The stream's ids are the results topic's order: B answers A's Last-Event-ID with what follows it on A.
            List<String> orderOnA = fromA.ids();
            String tenth = orderOnA.get(9);
            try (ResultStream fromB = ResultStream.open(b, tenth)) {
                Map<String, JsonNode> replayed = fromB.await(ids.size() - 10, Duration.ofSeconds(30));
                assertEquals(ids.size() - 10, replayed.size());
                assertEquals(orderOnA.subList(10, orderOnA.size()), fromB.ids(), "same ids, same order on both");
            }
            for (String id : ids.subList(0, 5)) {
                JsonNode onB = get(b, id);
                assertEquals("Succeeded", onB.get("status").asText(), onB.toString());
            }
        }
    }

    @Test
    void killingAnInstanceMidLoadLosesNoAcknowledgedEventAndRunsNoneTwice() throws Exception {
        List<String> ids = new ArrayList<>();
        Map<String, String> expected = new HashMap<>();
        Map<String, String> roomForSessions = Map.of("SANDSTREAM_POOLS_PYTHON_MAX_SESSIONS", "4");
        try (ServiceProcess a = instance("crash-", 2, roomForSessions); ResultStream fromA = ResultStream.open(a, null)) {
            ServiceProcess b = instance("crash-", 3, roomForSessions);
            try {
                for (int round = 0; round < 6; round++) {
                    List<String> events = new ArrayList<>();
                    for (int i = 0; i < 40; i++) {
                        String id = "crash-" + round + "-" + i;
                        // Some of it in two sessions, which move whole to the survivor (each holds one of
                        // the pool's sessions until its cooldown, hence max-sessions 4).
                        events.add(event(id, "import time\\ntime.sleep(0.05)\\nprint('" + id + "')", "normal",
                                i % 8 == 0 ? "session-" + round % 2 : null));
                    }
                    List<String> acked = post(round % 2 == 0 ? a : b, events);
                    for (int i = 0; i < acked.size(); i++) {
                        expected.put(acked.get(i), "crash-" + round + "-" + i + "\n");
                    }
                    ids.addAll(acked);
                }
                fromA.await(40, Duration.ofSeconds(120)); // mid-load: some done, most queued or running
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (executions(b) == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertTrue(executions(b) > 0, "B took part before the crash");
                assertTrue(fromA.size() < ids.size() / 2, "killed mid-load: " + fromA.size() + " of " + ids.size() + " done");
            } finally {
                b.kill();
            }
            Map<String, JsonNode> results = fromA.await(ids.size(), Duration.ofSeconds(180));
            assertEquals(new HashSet<>(ids), results.keySet(), "every acknowledged event has a result after the crash");
            Map<String, Integer> lostSessions = new HashMap<>();
            for (String id : ids) {
                JsonNode result = results.get(id);
                String session = result.path("sessionId").asText("");
                if (!session.isEmpty() && result.path("error").path("type").asText().equals("SessionLost")) {
                    // A session B held died with it: the next of its events says so instead of running.
                    assertTrue(result.path("stdout").asText().isEmpty(), "a lost session's event does not run: " + result);
                    lostSessions.merge(session, 1, Integer::sum);
                    continue;
                }
                assertEquals("Succeeded", result.get("status").asText(), result.toString());
                assertEquals(expected.get(id), result.get("stdout").asText(), "one run's output: " + result);
            }
            // Once per move of its partition: the kill, and maybe B's late join before it (SessionForwardingIT checks it).
            System.out.println("ScaleOutIT: sessions reported lost after the kill: " + lostSessions);
            Map<String, Integer> records = new HashMap<>();
            for (String key : resultKeys("crash-results")) {
                records.merge(key, 1, Integer::sum);
            }
            for (String id : ids) {
                assertEquals(1, records.getOrDefault(id, 0), "exactly one result record for " + id);
            }
        }
    }

    @Test
    void higherLanesGoFirstOnEveryInstance() throws Exception {
        try (ServiceProcess a = instance("prio-", 4, Map.of()); ServiceProcess b = instance("prio-", 5, Map.of());
                ResultStream fromA = ResultStream.open(a, null)) {
            List<String> low = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                List<String> events = new ArrayList<>();
                for (int i = 0; i < 60; i++) {
                    events.add(event("low-" + round + "-" + i, "import time\\ntime.sleep(0.2)", "low", null));
                }
                low.addAll(post(round == 0 ? a : b, events));
            }
            fromA.await(6, Duration.ofSeconds(60)); // the flood is running on both
            List<String> high = new ArrayList<>();
            for (ServiceProcess to : List.of(a, b)) {
                List<String> events = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    events.add(event("high-" + UUID.randomUUID(), "1 + 1", "high", null));
                }
                high.addAll(post(to, events));
            }
            Map<String, JsonNode> results = fromA.await(low.size() + high.size(), Duration.ofSeconds(180));
            Instant lastHighStart = high.stream().map(id -> started(results.get(id))).max(Instant::compareTo).orElseThrow();
            long lowsAfter = low.stream().filter(id -> started(results.get(id)).isAfter(lastHighStart)).count();
            // With 2 × 3 sessions, 120 lows of 0.2 s take about 4 s; the highs must not wait behind them.
            assertTrue(lowsAfter >= low.size() / 2, "every high started before most of the queued lows: only "
                    + lowsAfter + " of " + low.size() + " lows started after the last high");
        }
    }

    /**
     * A client of {@code GET /executions/{id}/events} cannot tell which instance runs the execution:
     * the one that does not run it shows {@code Running}, the stdout chunks in order while the code
     * runs, then the result with the same id as on the other instance (where the results stream
     * resumes from it).
     */
    @Test
    void everyInstanceStreamsRunningAndTheLiveOutputOfAnExecution() throws Exception {
        try (ServiceProcess a = instance("live-", 6, Map.of()); ServiceProcess b = instance("live-", 7, Map.of())) {
            // An instance alone in the group shares nothing live: wait until the group is the two of them.
            awaitShares(a, b);
            String code = "import time\\ntime.sleep(1)\\nfor i in range(6):\\n    print('tick', i, flush=True)\\n    time.sleep(0.5)";
            String id = post(a, List.of(event("live-1", code, "normal", null))).get(0);
            CompletableFuture<List<SseEvent>> onA = executionEvents(a, id);
            CompletableFuture<List<SseEvent>> onB = executionEvents(b, id);
            List<SseEvent> eventsA = onA.get(60, java.util.concurrent.TimeUnit.SECONDS);
            List<SseEvent> eventsB = onB.get(60, java.util.concurrent.TimeUnit.SECONDS);
            boolean ranOnA = executions(a) == 1;
            assertEquals(1, executions(a) + executions(b), 0.1, "it ran once");
            ServiceProcess elsewhere = ranOnA ? b : a;
            List<SseEvent> remote = ranOnA ? eventsB : eventsA;
            List<SseEvent> local = ranOnA ? eventsA : eventsB;

            String all = "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\ntick 5\n";
            for (List<SseEvent> events : List.of(remote, local)) {
                String described = (events == remote ? "not running it: " : "running it: ") + events;
                assertTrue(events.stream().anyMatch(e -> e.name().equals("status") && e.data().contains("Running")),
                        "Running: " + described);
                List<String> chunks = events.stream().filter(e -> e.name().equals("stdout"))
                        .map(e -> parse(e.data()).get("text").asText()).toList();
                // A stream gets what is printed after it subscribed (on a loaded host that may be after the first tick).
                assertTrue(chunks.size() >= 2, "live chunks, not one block at the end: " + described);
                assertTrue(all.endsWith(String.join("", chunks)), "the chunks, in order: " + described);
                SseEvent last = events.get(events.size() - 1);
                assertEquals("result", last.name(), described);
                assertEquals(all, parse(last.data()).get("stdout").asText());
                assertEquals(1, events.stream().filter(e -> e.name().equals("result")).count(), described);
            }
            String resultId = remote.get(remote.size() - 1).id();
            assertEquals(local.get(local.size() - 1).id(), resultId, "the same result id on both instances");
            // The id resumes the results stream on the instance that did not run it.
            try (ResultStream resumed = ResultStream.open(elsewhere, Long.toString(Long.parseLong(resultId) - 1))) {
                assertTrue(resumed.await(1, Duration.ofSeconds(30)).containsKey(id));
                assertEquals(List.of(resultId), resumed.ids().subList(0, 1));
            }
            assertTrue(metric(elsewhere, "sandstream_live_records_total", "outcome=\"received\"") >= 3,
                    "Running and the chunks came over the live topic");
        }
    }

    /** Until every instance's last word on the group is that it took a share of the partitions (none holds them all). */
    private static void awaitShares(ServiceProcess... instances) throws Exception {
        java.util.regex.Pattern word = java.util.regex.Pattern.compile("took (\\d+) partitions|gave up|lost \\d+ partitions");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (ServiceProcess instance : instances) {
            while (true) {
                java.util.regex.Matcher m = word.matcher(instance.output());
                String last = null;
                while (m.find()) {
                    last = m.group(1);
                }
                // Three lanes of six partitions each (ServiceProcess.clusterEnv): a share is fewer than 18.
                if (last != null && Integer.parseInt(last) > 0 && Integer.parseInt(last) < 3 * 6) {
                    break;
                }
                assertTrue(System.nanoTime() < deadline, "the group did not settle with both instances: " + instance.output());
                Thread.sleep(100);
            }
        }
    }

    private static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new AssertionError(json, e);
        }
    }

    /** One server-sent event, and when it arrived (for failure messages). */
    record SseEvent(String name, String id, String data, Instant at) {
    }

    /** {@code GET /executions/{id}/events} read to its end in the background. */
    private static CompletableFuture<List<SseEvent>> executionEvents(ServiceProcess service, String executionId) {
        HttpRequest request = HttpRequest.newBuilder(service.uri("/executions/" + executionId + "/events"))
                .header("Authorization", READER).header("Accept", "text/event-stream").build();
        return ServiceProcess.HTTP.sendAsync(request, HttpResponse.BodyHandlers.ofLines()).thenApply(response -> {
            assertEquals(200, response.statusCode());
            List<SseEvent> events = new ArrayList<>();
            String[] event = {null, null, null};
            response.body().forEach(line -> {
                if (line.isEmpty()) {
                    if (event[2] != null) {
                        events.add(new SseEvent(event[0] == null ? "message" : event[0], event[1], event[2], Instant.now()));
                    }
                    event[0] = event[1] = event[2] = null;
                } else if (line.startsWith("event:")) {
                    event[0] = line.substring(6).trim();
                } else if (line.startsWith("id:")) {
                    event[1] = line.substring(3).trim();
                } else if (line.startsWith("data:")) {
                    event[2] = line.substring(5).trim();
                }
            });
            return events;
        });
    }

    private static double metric(ServiceProcess service, String name, String label) throws Exception {
        return service.get("/q/metrics").body().lines().filter(l -> l.startsWith(name + "{") && l.contains(label))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    private static Instant started(JsonNode result) {
        return Instant.parse(result.at("/timings/startedAt").asText());
    }

    private static JsonNode get(ServiceProcess service, String id) throws Exception {
        HttpResponse<String> response = ServiceProcess.HTTP.send(HttpRequest.newBuilder(service.uri("/executions/" + id))
                .header("Authorization", READER).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    /** Executions the instance's pools ran ({@code sandstream_pool_executions_total}, every pool and status). */
    static double executions(ServiceProcess service) throws Exception {
        return PrometheusText.of(service.get("/q/metrics").body()).value("sandstream_pool_executions_total", Map.of());
    }

    /** The key (executionId) of every record of the results topic. */
    private static List<String> resultKeys(String topic) {
        return broker.records(topic).stream().map(ConsumerRecord::key).toList();
    }

    /** {@code GET /executions/stream} of one instance, read in the background. */
    static final class ResultStream implements AutoCloseable {
        private final Map<String, JsonNode> results = new ConcurrentHashMap<>();
        private final List<String> ids = new CopyOnWriteArrayList<>();
        private final List<String> order = new CopyOnWriteArrayList<>();
        private final CompletableFuture<HttpResponse<Stream<String>>> response;

        private ResultStream(ServiceProcess service, String lastEventId) {
            HttpRequest.Builder request = HttpRequest.newBuilder(service.uri("/executions/stream"))
                    .header("Authorization", READER).header("Accept", "text/event-stream");
            if (lastEventId != null) {
                request.header("Last-Event-ID", lastEventId);
            }
            response = ServiceProcess.HTTP.sendAsync(request.build(), HttpResponse.BodyHandlers.ofLines());
            response.thenAccept(r -> {
                String[] id = {null};
                r.body().forEach(line -> {
                    if (line.startsWith("id:")) {
                        id[0] = line.substring(3).trim();
                    } else if (line.startsWith("data:")) {
                        try {
                            JsonNode doc = JSON.readTree(line.substring(5).trim());
                            String executionId = doc.get("executionId").asText();
                            if (results.putIfAbsent(executionId, doc) == null) {
                                ids.add(id[0]);
                                order.add(executionId);
                            }
                        } catch (Exception e) {
                            // not a result line
                        }
                    }
                });
            });
        }

        static ResultStream open(ServiceProcess service, String lastEventId) throws InterruptedException {
            ResultStream stream = new ResultStream(service, lastEventId);
            Thread.sleep(300); // subscribed before the test sends anything
            return stream;
        }

        int size() {
            return results.size();
        }

        /** Waits until at least {@code count} results arrived; answers them all. */
        Map<String, JsonNode> await(int count, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (results.size() < count && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(results.size() >= count, "only " + results.size() + " of " + count + " results streamed");
            return new HashMap<>(results);
        }

        /** The SSE ids, in the order received. */
        List<String> ids() {
            return new ArrayList<>(ids);
        }

        @Override
        public void close() {
            response.cancel(true);
            response.thenAccept(r -> r.body().close());
        }
    }
}
