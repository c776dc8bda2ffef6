package io.sandstream.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.telemetry.PrometheusText;

/**
 * Pool API sessions across two packaged instances on one real broker, each on a host (network
 * namespace) of its own: whichever instance a call reaches, it is served by the session's owner
 * (relayed inside the service over the network), so state and files set through one are there
 * through the other, by both pool contracts and by {@code /executions} with a {@code sessionId};
 * {@code listSessions} lists both instances' sessions on either; the relay mark cannot be forged;
 * and once the owner's whole host is lost while work runs, the session is reported lost, not
 * silently restarted, and every acknowledged event still has exactly one result, readable on the
 * survivor.
 */
@Tag("packaged")
class SessionForwardingIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String AUTH = "Bearer fwd-key";
    private static final String LEGACY = "api-version=2024-02-02-preview";
    private static final String RESOURCE = "api-version=2025-02-02-preview";

    /** Kept when a test fails: the instances' logs are in it. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path temp;

    private ServiceProcess instance(BrokerProcess broker, NetworkNamespaces.Node node, int index) throws Exception {
        Map<String, String> env = ServiceProcess.clusterEnv(broker.bootstrapServers(), "fwd-", index, 760_000);
        env.put("SANDSTREAM_INGRESS_KEYS", ScaleOutIT.KEY);
        env.put("SANDSTREAM_API_KEYS", "fwd-key@*,it-reader@*"); // it-reader: ScaleOutIT's and DrainIT's helpers
        env.put("SANDSTREAM_POOLS_PYTHON_MAX_SESSIONS", "4"); // s-state, s-files, an event's session, and work
        env.put("SANDSTREAM_POOLS_PYTHON_READY_SESSIONS", "1");
        return ServiceProcess.start(temp.resolve("data-" + index), env, temp.resolve("instance-" + index + ".log"), node);
    }

    @Test
    void aSessionIsOneSessionWhicheverInstanceIsCalledAndIsLostWithItsOwner() throws Exception {
        try (NetworkNamespaces network = NetworkNamespaces.create();
                BrokerProcess broker = BrokerProcess.start(network.node("broker"), temp.resolve("broker.log"));
                ServiceProcess a = instance(broker, network.node("a"), 0);
                ServiceProcess b = instance(broker, network.node("b"), 1)) {
            // State: set through A by the legacy contract, read through B by both contracts and /executions.
            assertEquals("", stdout(legacy(a, "s-state", "x = 41")));
            assertEquals("42\n", stdout(legacy(b, "s-state", "print(x + 1)")));
            assertEquals("41\n", stdout(resource(b, "s-state", "print(x)")));
            assertEquals("41\n", stdout(resource(a, "s-state", "print(x)")));
            // Semantic Kernel .NET's python/execute names the session in the body only, through either instance.
            for (ServiceProcess to : List.of(a, b)) {
                HttpResponse<String> sk = send(to, HttpRequest.newBuilder(to.uri("/pools/python/python/execute?" + LEGACY))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(
                                Map.of("properties", Map.of("identifier", "s-state", "codeInputType", "inline",
                                        "executionType", "synchronous", "pythonCode", "print(x + 2)"))))));
                assertEquals(200, sk.statusCode(), sk.body());
                assertEquals("43\n", stdout(JSON.readTree(sk.body())), sk.body());
                HttpResponse<String> none = send(to, HttpRequest.newBuilder(to.uri("/pools/python/python/execute?" + LEGACY))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"properties\":{\"pythonCode\":\"1\"}}")));
                assertEquals(400, none.statusCode(), none.body());
                assertEquals("InvalidIdentifier", none.headers().firstValue("x-ms-error-code").orElse(""), none.body());
            }
            JsonNode submitted = execution(b, "s-state", "print(x * 2)");
            assertEquals("82\n", submitted.get("stdout").asText(), submitted.toString());
            // A session opened by an execution, not by the pool API, on the same partition as s-state.
            String opened = sameOwnerAs("s-state");
            assertEquals("Succeeded", execution(a, opened, "y = 5").get("status").asText());
            assertEquals("5\n", execution(b, opened, "print(y)").get("stdout").asText());
            double relayed = forwarded(a, "relayed") + forwarded(b, "relayed");
            assertTrue(relayed >= 2, "one of the two instances relayed its calls: " + relayed);

            // Files: a large upload through one instance, listed and downloaded whole through the other.
            byte[] content = new byte[6 * 1024 * 1024]; // under quarkus.http.limits.max-body-size (8M)
            new Random(7).nextBytes(content);
            HttpResponse<String> uploaded = upload(a, "s-files", "big.bin", content);
            assertEquals(200, uploaded.statusCode(), uploaded.body());
            HttpResponse<String> listed = send(b, HttpRequest.newBuilder(b.uri("/pools/python/files?" + LEGACY
                    + "&identifier=s-files")).GET());
            assertEquals(200, listed.statusCode(), listed.body());
            assertEquals(content.length, JSON.readTree(listed.body()).get("value").get(0).get("properties").get("size").asLong(),
                    listed.body());
            HttpResponse<byte[]> downloaded = ServiceProcess.HTTP.send(HttpRequest.newBuilder(b.uri(
                    "/pools/python/files/big.bin/content?" + RESOURCE + "&identifier=s-files")).header("Authorization", AUTH)
                    .timeout(Duration.ofSeconds(60)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, downloaded.statusCode());
            assertArrayEquals(content, downloaded.body());

            // One listing of the pool's sessions, whichever instance is asked and wherever the sessions live.
            for (ServiceProcess to : List.of(a, b)) {
                HttpResponse<String> list = send(to, HttpRequest.newBuilder(to.uri("/pools/python/listSessions?" + RESOURCE)).GET());
                assertEquals(200, list.statusCode(), list.body());
                List<String> identifiers = new ArrayList<>();
                JSON.readTree(list.body()).get("sessions").forEach(session -> identifiers.add(session.get("identifier").asText()));
                assertEquals(List.of("s-state", opened, "s-files"), identifiers, list.body());
            }

            // The relay mark: anybody else's is refused, with a valid key or without one.
            for (ServiceProcess to : List.of(a, b)) {
                HttpResponse<String> listing = send(to, HttpRequest.newBuilder(to.uri("/pools/python/listSessions?" + RESOURCE))
                        .header("X-Sandstream-Hop", (System.currentTimeMillis() / 1000 + 30) + ".AAAA").GET());
                assertEquals(403, listing.statusCode(), listing.body());
                HttpResponse<String> forged = send(to, HttpRequest.newBuilder(to.uri("/pools/python/code/execute?" + LEGACY
                        + "&identifier=s-state")).header("X-Sandstream-Hop", (System.currentTimeMillis() / 1000 + 30) + ".AAAA")
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(code("print(x)"))));
                assertEquals(403, forged.statusCode(), forged.body());
                assertEquals("ForwardRefused", forged.headers().firstValue("x-ms-error-code").orElse(""));
            }

            // Node loss while events run on both: the owner's host vanishes from the network (no
            // connection is closed) and everything on it dies. The session is lost, and said so, until
            // a new one starts with the identifier; no acknowledged event is lost or run twice.
            boolean aOwns = forwarded(b, "relayed") > 0;
            ServiceProcess owner = aOwns ? a : b;
            ServiceProcess survivor = aOwns ? b : a;
            List<String> events = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                events.add(ScaleOutIT.event("loss-" + i, "import time\\ntime.sleep(1.5)\\nprint('loss-" + i + "')",
                        "normal", null));
            }
            List<String> ids = ScaleOutIT.post(survivor, events);
            long started = System.nanoTime();
            while (PrometheusText.of(owner.get("/q/metrics").body()).value("sandstream_results_unpersisted", Map.of()) == 0) {
                assertTrue(System.nanoTime() - started < Duration.ofSeconds(60).toNanos(), "the owner ran none of it");
                Thread.sleep(50); // until it runs some: work in flight on the owner when it goes
            }
            network.lose(owner.node());
            long done = broker.records("fwd-results").stream().filter(r -> ids.contains(r.key())).count();
            System.out.printf("SessionForwardingIT: node loss with %d of %d events done%n", done, ids.size());
            assertTrue(done < ids.size(), "lost mid-load: " + done + " of " + ids.size() + " done");
            HttpResponse<String> next = legacyCall(survivor, "s-state", "print(x)");
            assertNotEquals(200, next.statusCode(), "no silent fresh session: " + next.body());
            String code = next.headers().firstValue("x-ms-error-code").orElse("");
            assertTrue(code.equals("SessionOwnerUnavailable") || code.equals("SessionLost"), next.body());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!code.equals("SessionLost") && System.nanoTime() < deadline) {
                Thread.sleep(500);
                next = legacyCall(survivor, "s-state", "print(x)");
                code = next.headers().firstValue("x-ms-error-code").orElse("");
                assertNotEquals(200, next.statusCode(), "no silent fresh session: " + next.body());
            }
            assertEquals(410, next.statusCode(), next.body());
            assertEquals("SessionLost", code, next.body());
            // The survivor's sessions may all be running the lost host's events now: pool full is retried.
            HttpResponse<String> fresh = legacyCall(survivor, "s-state", "print('x' in globals())");
            while (fresh.statusCode() == 429 && System.nanoTime() < deadline + Duration.ofSeconds(60).toNanos()) {
                Thread.sleep(500);
                fresh = legacyCall(survivor, "s-state", "print('x' in globals())");
            }
            assertEquals(200, fresh.statusCode(), fresh.body());
            assertEquals("False\n", stdout(JSON.readTree(fresh.body())), "after the error, the identifier starts a new session");
            // The session an execution opened is lost with it too, said once in the next execution's result.
            JsonNode lost = execution(survivor, opened, "print(y)");
            assertEquals("Failed", lost.get("status").asText(), lost.toString());
            assertEquals("SessionLost", lost.path("error").path("type").asText(), lost.toString());
            assertTrue(lost.path("stdout").asText().isEmpty(), "the code did not run: " + lost);
            JsonNode restarted = execution(survivor, opened, "print('y' in globals())");
            assertEquals("False\n", restarted.get("stdout").asText(), "then a new session: " + restarted);

            for (int i = 0; i < ids.size(); i++) {
                JsonNode result = DrainIT.awaitResult(survivor, ids.get(i));
                assertEquals("Succeeded", result.get("status").asText(), result.toString());
                assertEquals("loss-" + i + "\n", result.get("stdout").asText(), "one run's output: " + result);
            }
            Map<String, Long> records = broker.records("fwd-results").stream().filter(r -> r.key() != null) // markers
                    .collect(Collectors.groupingBy(ConsumerRecord::key, Collectors.counting()));
            for (String id : ids) {
                assertEquals(1, records.getOrDefault(id, 0L), "exactly one result record for " + id);
            }
        }
    }

    /** {@code POST /executions?wait} in a session: the journal takes it to the session's owner. */
    private static JsonNode execution(ServiceProcess to, String sessionId, String code) throws Exception {
        HttpResponse<String> response = send(to, HttpRequest.newBuilder(to.uri("/executions?wait=60"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(Map.of("code", code, "sessionId", sessionId)))));
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    /**
     * An identifier whose session lives on the same lane partition as {@code identifier}'s, hence
     * on the same instance: Kafka's default partitioner over the session key (the operator's key
     * acts as the shared tenant, whose id is empty) and the 6 lane partitions of
     * {@link ServiceProcess#clusterEnv}.
     */
    private static String sameOwnerAs(String identifier) {
        int partition = partition(identifier);
        for (int i = 0;; i++) {
            if (partition(identifier + "-ev" + i) == partition) {
                return identifier + "-ev" + i;
            }
        }
    }

    private static int partition(String identifier) {
        byte[] key = ("session:" + identifier + "@").getBytes(StandardCharsets.UTF_8);
        return Utils.toPositive(Utils.murmur2(key)) % 6;
    }

    private static String code(String code) throws Exception {
        return JSON.writeValueAsString(Map.of("properties", Map.of("codeInputType", "inline", "executionType", "synchronous",
                "code", code)));
    }

    private static HttpResponse<String> legacyCall(ServiceProcess to, String identifier, String code) throws Exception {
        return send(to, HttpRequest.newBuilder(to.uri("/pools/python/code/execute?" + LEGACY + "&identifier=" + identifier))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(code(code))));
    }

    private static JsonNode legacy(ServiceProcess to, String identifier, String code) throws Exception {
        HttpResponse<String> response = legacyCall(to, identifier, code);
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    private static JsonNode resource(ServiceProcess to, String identifier, String code) throws Exception {
        HttpResponse<String> response = send(to, HttpRequest.newBuilder(to.uri("/pools/python/executions?" + RESOURCE
                + "&identifier=" + identifier)).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers
                        .ofString(JSON.writeValueAsString(Map.of("code", code, "codeInputType", "Inline",
                                "executionType", "Synchronous")))));
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    private static String stdout(JsonNode answer) {
        JsonNode stdout = answer.findValue("stdout");
        return stdout == null ? answer.toString() : stdout.asText();
    }

    /** A multipart upload (legacy contract) whose body is sent as a stream. */
    private static HttpResponse<String> upload(ServiceProcess to, String identifier, String name, byte[] content)
            throws Exception {
        String boundary = "fwd-boundary-7d1";
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8);
        byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8);
        return send(to, HttpRequest.newBuilder(to.uri("/pools/python/files/upload?" + LEGACY + "&identifier=" + identifier))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArrays(List.of(head, content, tail))));
    }

    private static HttpResponse<String> send(ServiceProcess to, HttpRequest.Builder request) throws Exception {
        return ServiceProcess.HTTP.send(request.header("Authorization", AUTH).timeout(Duration.ofSeconds(90)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** {@code sandstream_cluster_forwarded_total} of one outcome on one instance. */
    private static double forwarded(ServiceProcess on, String outcome) throws Exception {
        double total = 0;
        for (String line : on.get("/q/metrics").body().split("\n")) {
            if (line.startsWith("sandstream_cluster_forwarded_total{") && line.contains("outcome=\"" + outcome + "\"")) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return total;
    }
}
