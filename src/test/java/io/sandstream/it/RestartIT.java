package io.sandstream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static io.sandstream.SandboxProcesses.waitFor;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.streaming.StreamResourceTest;
import io.sandstream.telemetry.PrometheusText;

/**
 * Real restarts of the packaged service on one data directory: what was acknowledged before a
 * crash (SIGKILL) is still queued after it, redeliveries stay duplicates, and the generated
 * ingress key is kept but printed only once.
 */
@Tag("packaged")
class RestartIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The key ends at white space, or at the two characters {@code \n} where the logs are JSON lines. */
    private static final Pattern PRINTED_KEY = Pattern.compile("Ingress key: ([^\\s\\\\]+)");

    @TempDir
    Path temp;

    private static String event(int i) {
        return """
                {"specversion":"1.0","id":"restart-%d","source":"/it/restart","type":"io.sandstream.code.execute",
                 "data":{"code":"import time\\ntime.sleep(0.2)\\nprint(%d)","sessionId":"sess-%d"}}""".formatted(i, i, i % 3);
    }

    @Test
    void acknowledgedEventsSurviveACrashAndTheGeneratedKeyIsPrintedOnce() throws Exception {
        Path data = temp.resolve("data");
        String key;
        List<String> executionIds = new ArrayList<>();
        ServiceProcess first = ServiceProcess.start(data, Map.of(), temp.resolve("first.log"));
        try {
            Matcher printed = PRINTED_KEY.matcher(first.output());
            assertTrue(printed.find(), "the generated key is printed on the first start");
            key = printed.group(1);
            Path keyFile = data.resolve("ingress.key");
            assertEquals(key, Files.readString(keyFile).trim());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile)));

            assertEquals(401, first.post("/events", "application/cloudevents+json", event(0)).statusCode());
            for (int i = 0; i < 5; i++) {
                HttpResponse<String> single = first.post("/events?code=" + key, "application/cloudevents+json", event(i));
                assertEquals(202, single.statusCode(), single.body());
                executionIds.add(JSON.readTree(single.body()).at("/accepted/0/executionId").asText());
            }
            StringBuilder batch = new StringBuilder("[");
            for (int i = 5; i < 20; i++) {
                batch.append(i > 5 ? "," : "").append(event(i));
            }
            HttpResponse<String> batchResponse = first.post("/events?code=" + key, "application/cloudevents-batch+json",
                    batch.append(']').toString());
            assertEquals(202, batchResponse.statusCode(), batchResponse.body());
            JSON.readTree(batchResponse.body()).get("accepted").forEach(a -> executionIds.add(a.get("executionId").asText()));
            assertTrue(waitFor(() -> !first.sandboxes().isEmpty()), "the local pools keep warm sandboxes");
            // Killed right away: some executions are running, most are still queued.
        } finally {
            first.kill();
        }
        assertTrue(waitFor(() -> first.sandboxesLeft().isEmpty()),
                "a crashed service leaves no sandbox behind: " + first.sandboxesLeft());

        try (ServiceProcess second = ServiceProcess.start(data, Map.of(), temp.resolve("second.log"))) {
            assertFalse(PRINTED_KEY.matcher(second.output()).find(), "the key is not printed again");
            String reader = "Bearer " + Files.readString(data.resolve("api.key")).trim();
            // Every acknowledged event ends with exactly one stored result, whatever the crash interrupted.
            for (int i = 0; i < 20; i++) {
                JsonNode result = awaitResult(second, executionIds.get(i), reader);
                assertEquals("Succeeded", result.get("status").asText(), result.toString());
                assertEquals(i + "\n", result.get("stdout").asText(), "one run's output: " + result);
                assertEquals(executionIds.get(i), result.get("executionId").asText());
            }
            for (int i = 0; i < 20; i++) {
                HttpResponse<String> again = second.post("/events?code=" + key, "application/cloudevents+json", event(i));
                assertEquals(202, again.statusCode(), again.body());
                JsonNode accepted = JSON.readTree(again.body()).at("/accepted/0");
                assertTrue(accepted.get("duplicate").asBoolean(), "redelivery " + i + " is a duplicate");
                assertEquals(executionIds.get(i), accepted.get("executionId").asText());
            }
            assertTrue(waitFor(() -> metric(second, "sandstream_journal_pending ").equals("0.0")), "nothing left pending");
        }
    }

    /**
     * A results stream read from id 0 while results are persisted concurrently, the service
     * SIGKILLed mid-work, and the stream resumed with the last id seen: the two connections
     * together hold every stored result once, in sequence order. Executions whose results were
     * streamed before the kill do not run again after it.
     */
    @Test
    void theResultsStreamResumesAcrossACrashWithoutGapsAndStoredResultsAreNotRunAgain() throws Exception {
        Path data = temp.resolve("stream");
        int events = 60;
        List<StreamResourceTest.Event> before = java.util.Collections.synchronizedList(new ArrayList<>());
        try (ServiceProcess first = ServiceProcess.start(data, Map.of(), temp.resolve("stream-first.log"))) {
            String key = Files.readString(data.resolve("ingress.key")).trim();
            String reader = "Bearer " + Files.readString(data.resolve("api.key")).trim();
            java.util.concurrent.CompletableFuture<Void> live = java.util.concurrent.CompletableFuture.runAsync(
                    () -> readStream(first, reader, "0", before, Integer.MAX_VALUE));
            StringBuilder batch = new StringBuilder("[");
            for (int i = 0; i < events; i++) {
                // Several sessions and session-less work at once: results are stored concurrently.
                batch.append(i > 0 ? "," : "").append("""
                        {"specversion":"1.0","id":"stream-%d","source":"/it/stream","type":"io.sandstream.code.execute",
                         "data":{"code":"import time\\ntime.sleep(0.05)\\nprint(%d)"%s}}""".formatted(i, i,
                        i % 2 == 0 ? ",\"sessionId\":\"stream-" + (i % 8) + "\"" : ""));
            }
            HttpResponse<String> accepted = first.post("/events?code=" + key, "application/cloudevents-batch+json",
                    batch.append(']').toString());
            assertEquals(202, accepted.statusCode(), accepted.body());
            assertTrue(waitFor(() -> before.size() >= 10), "some results streamed before the kill");
            first.kill();
            live.get(30, java.util.concurrent.TimeUnit.SECONDS);
        }
        int streamedBeforeKill = before.size();
        assertTrue(streamedBeforeKill < events, "killed mid-work: " + streamedBeforeKill);

        try (ServiceProcess second = ServiceProcess.start(data, Map.of(), temp.resolve("stream-second.log"))) {
            String reader = "Bearer " + Files.readString(data.resolve("api.key")).trim();
            List<StreamResourceTest.Event> after = new ArrayList<>();
            readStream(second, reader, before.get(before.size() - 1).id(), after, events - streamedBeforeKill);
            List<StreamResourceTest.Event> all = new ArrayList<>();
            readStream(second, reader, "0", all, events);

            List<String> resumed = new ArrayList<>();
            before.forEach(e -> resumed.add(e.id()));
            after.forEach(e -> resumed.add(e.id()));
            List<String> stored = all.stream().map(StreamResourceTest.Event::id).toList();
            System.out.printf("restart stream: %d streamed before the SIGKILL, %d after resuming, %d stored%n",
                    before.size(), after.size(), stored.size());
            assertEquals(events, stored.size());
            assertEquals(stored, resumed, "resuming with Last-Event-ID: every result once, in order, no gaps");
            assertTrue(waitFor(() -> metric(second, "sandstream_journal_pending ").equals("0.0")), "nothing left pending");
            double ranAgain = PrometheusText.of(second.get("/q/metrics").body())
                    .value("sandstream_pool_executions_total", Map.of());
            System.out.printf("restart stream: %.0f executions ran after the restart (at most %d were not stored)%n",
                    ranAgain, events - streamedBeforeKill);
            assertTrue(ranAgain <= events - streamedBeforeKill, "a result streamed before the kill was run again: "
                    + ranAgain + " runs after the restart, " + streamedBeforeKill + " of " + events + " were stored");
        }
    }

    /** Reads result events into {@code into} until {@code count} or the connection ends (a SIGKILL). */
    private static void readStream(ServiceProcess service, String reader, String lastEventId,
            List<StreamResourceTest.Event> into, int count) {
        try {
            HttpResponse<java.util.stream.Stream<String>> response = ServiceProcess.HTTP.send(
                    java.net.http.HttpRequest.newBuilder(service.uri("/executions/stream"))
                            .header("Accept", "text/event-stream").header("Authorization", reader)
                            .header("Last-Event-ID", lastEventId).build(),
                    HttpResponse.BodyHandlers.ofLines());
            assertEquals(200, response.statusCode());
            try (java.util.stream.Stream<String> lines = response.body()) {
                StreamResourceTest.readEach(lines, event -> {
                    into.add(event);
                    return into.size() < count;
                });
            }
        } catch (java.io.IOException | java.io.UncheckedIOException killed) {
            // the service died under the connection
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static JsonNode awaitResult(ServiceProcess service, String executionId, String reader) throws Exception {
        for (int attempt = 0; attempt < 600; attempt++) {
            HttpResponse<String> response = ServiceProcess.HTTP.send(java.net.http.HttpRequest.newBuilder(
                    service.uri("/executions/" + executionId)).header("Authorization", reader).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            JsonNode doc = JSON.readTree(response.body());
            String status = doc.get("status").asText();
            if (!status.equals("Queued") && !status.equals("Running")) {
                return doc;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no result for " + executionId);
    }

    private static String metric(ServiceProcess service, String prefix) {
        try {
            return service.get("/q/metrics").body().lines().filter(l -> l.startsWith(prefix))
                    .map(l -> l.substring(prefix.length()).trim()).findFirst().orElse("");
        } catch (Exception e) {
            return "";
        }
    }

    @Test
    void twoInstancesOnOneHostGetTheirOwnUidsAndNeverShareADataDirectory() throws Exception {
        Pattern block = Pattern.compile("sandbox uids (\\d+)-(\\d+) \\(claimed");
        try (ServiceProcess first = ServiceProcess.start(temp.resolve("one"), Map.of(), temp.resolve("one.log"));
                ServiceProcess second = ServiceProcess.start(temp.resolve("two"), Map.of(), temp.resolve("two.log"))) {
            Matcher a = block.matcher(first.output());
            Matcher b = block.matcher(second.output());
            assertTrue(a.find() && b.find(), "each logs its uid block");
            assertTrue(Long.parseLong(a.group(2)) < Long.parseLong(b.group(1)) || Long.parseLong(b.group(2)) < Long.parseLong(a.group(1)),
                    "default settings, disjoint blocks: " + a.group() + " / " + b.group());

            IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> ServiceProcess.start(temp.resolve("one"), Map.of(), temp.resolve("three.log")));
            assertTrue(refused.getMessage().contains("is in use by another sandstream instance"), refused.getMessage());
            assertEquals(200, first.get("/q/health/ready").statusCode(), "the first instance is unharmed");
        }
    }

    @Test
    void configuredKeysReplaceTheGeneratedOneAndRotate() throws Exception {
        Path data = temp.resolve("keys");
        ServiceProcess service = ServiceProcess.start(data, Map.of("SANDSTREAM_INGRESS_KEYS", "old-key,new-key"),
                temp.resolve("keys.log"));
        try (service) {
            assertFalse(PRINTED_KEY.matcher(service.output()).find());
            assertFalse(Files.exists(data.resolve("ingress.key")));
            assertEquals(202, service.post("/events?code=old-key", "application/cloudevents+json", event(100)).statusCode());
            assertEquals(202, service.post("/events?code=new-key", "application/cloudevents+json", event(101)).statusCode());
            assertEquals(401, service.post("/events?code=other", "application/cloudevents+json", event(102)).statusCode());
        }
        assertTrue(waitFor(() -> service.sandboxesLeft().isEmpty()), "a stopped service leaves no sandbox behind: " + service.sandboxesLeft());
    }
}
