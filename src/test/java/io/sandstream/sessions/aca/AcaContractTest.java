package io.sandstream.sessions.aca;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import com.azure.core.credential.AccessToken;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.sandstream.SandboxProcesses;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.model.ExecuteRequest.InputFile;
import io.sandstream.model.Tenant;
import io.sandstream.results.PipelineTest;
import io.sandstream.sessions.BackendUnavailableException;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.sessions.PoolFullException;
import io.sandstream.sessions.SessionFile;
import io.sandstream.sessions.SessionFileException;
import io.sandstream.sessions.SessionInfo;
import io.sandstream.sessions.SessionKey;
import io.sandstream.sessions.SessionPool;
import io.sandstream.sessions.SessionPools;
import io.sandstream.tenancy.TenantQuotas;
import io.sandstream.validation.ExecuteRequestValidator;
import reactor.core.publisher.Mono;

/**
 * The ACA backend against a real dynamic-sessions data plane: this service's own, served over HTTP
 * by {@code poolapi} on real sandboxes. Each ACA pool of the profile points at
 * {@code http://localhost:<port>/pools/<local pool>} with a read API key as its bearer token, in
 * the legacy ({@code 2024-02-02-preview}) or the resource ({@code 2025-02-02-preview}) contract.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(AcaContractTest.AcaProfile.class)
public class AcaContractTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    /** Every character an identifier may have that a URL treats specially. */
    private static final String AWKWARD = "{x}%41&#;[]<>|^$()";
    private static final String AWKWARD_FILE = "all bytes %41 #?{}é.bin";
    /** Retries of the {@code aca-tiny} pool, whose one session the tests hold to make it full. */
    private static final int TINY_RETRIES = 4;

    /** One free port, chosen once: the ACA pools' endpoints are this very service. */
    private static final int PORT = freePort();
    /** A port nothing listens on: an endpoint that never answers (connection refused). */
    private static final int DEAD_PORT = freePort();

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static class AcaProfile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> config = new HashMap<>(Map.of(
                    "quarkus.http.test-port", Integer.toString(PORT),
                    "sandstream.data-dir", "target/test-data-aca-" + UUID.randomUUID(),
                    "sandstream.pools.tiny.language", "python",
                    "sandstream.pools.tiny.max-sessions", "1",
                    "sandstream.pools.tiny.ready-sessions", "0",
                    "sandstream.routing.rules[0].subject-prefix", "aca/",
                    "sandstream.routing.rules[0].pool", "aca-resource"));
            acaPool(config, "aca-legacy", "python", "2024-02-02-preview");
            acaPool(config, "aca-resource", "python", "2025-02-02-preview");
            acaPool(config, "aca-tiny", "tiny", "2025-02-02-preview");
            config.put("sandstream.aca-pools.aca-tiny.max-retries", Integer.toString(TINY_RETRIES));
            config.put("sandstream.aca-pools.aca-tiny.backoff-initial", "200ms");
            config.put("sandstream.aca-pools.aca-tiny.backoff-max", "1s");
            // Served as /pools/unreachable: an ACA pool whose endpoint is down, so the served API answers 503.
            config.put("sandstream.aca-pools.unreachable.endpoint", "http://127.0.0.1:" + DEAD_PORT + "/");
            config.put("sandstream.aca-pools.unreachable.language", "python");
            // A key, never DefaultAzureCredential: the tests reach nothing but this machine's loopback.
            config.put("sandstream.aca-pools.unreachable.api-key", "test-reader");
            config.put("sandstream.aca-pools.unreachable.max-retries", "0");
            config.put("sandstream.aca-pools.unreachable.breaker-requests", "1000");
            return config;
        }

        private static void acaPool(Map<String, String> config, String name, String servedPool, String apiVersion) {
            String prefix = "sandstream.aca-pools." + name + ".";
            // The same expression as the server's port, whichever source sets it.
            config.put(prefix + "endpoint", "http://localhost:${quarkus.http.test-port}/pools/" + servedPool);
            config.put(prefix + "language", "python");
            config.put(prefix + "api-version", apiVersion);
            config.put(prefix + "api-key", "test-reader");
        }
    }

    @Inject
    SessionPools pools;

    @Inject
    SandstreamConfig config;

    @Inject
    MeterRegistry registry;

    private SessionPool pool(String name) {
        return pools.pool(name).orElseThrow();
    }

    private static ExecutionSpec spec(String code) {
        return new ExecutionSpec(code, 30, List.of());
    }

    private static ExecutionResult run(SessionPool pool, String identifier, String code) {
        return pool.run(Optional.ofNullable(identifier).map(AcaContractTest::shared), spec(code)).await().atMost(WAIT);
    }

    /** A session of the shared tenant (what the service's operator key acts as). */
    private static SessionKey shared(String identifier) {
        return new SessionKey(Tenant.SHARED, identifier);
    }

    /** The identifier a shared-tenant session has in the ACA pool (here: in the served local pool). */
    private static String remote(String identifier) {
        return new AcaIdentifiers("").remote(shared(identifier));
    }

    /** The served local session behind an ACA pool's session: the ACA pools here call the API as the operator. */
    private static SessionKey served(String identifier) {
        return shared(remote(identifier));
    }

    private static <T> T await(io.smallrye.mutiny.Uni<T> uni) {
        return uni.await().atMost(WAIT);
    }

    private static String newIdentifier() {
        return AWKWARD + UUID.randomUUID().toString().substring(0, 8);
    }

    /** The identifiers the served pool has sessions for: what the ACA backend's calls created there. */
    private List<String> servedSessions(String servedPool) {
        return pool(servedPool).sessions().stream().map(SessionInfo::identifier).toList();
    }

    private double requests(String pool, String operation, String outcome) {
        Counter counter = registry.find("sandstream.aca.requests").tags("pool", pool, "operation", operation, "outcome", outcome)
                .counter();
        return counter == null ? 0 : counter.count();
    }

    private double retries(String pool) {
        Counter counter = registry.find("sandstream.aca.retries").tag("pool", pool).counter();
        return counter == null ? 0 : counter.count();
    }

    private static byte[] everyByte() {
        byte[] bytes = new byte[1024];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) i;
        }
        return bytes;
    }

    // ---- both contracts ---------------------------------------------------------------------------

    @Test
    void legacyContractRoundTrip() {
        roundTrip(pool("aca-legacy"));
    }

    @Test
    void resourceContractRoundTrip() {
        roundTrip(pool("aca-resource"));
    }

    /** Execute, state, a user error, input files, binary files both ways and a listing, through one contract. */
    private void roundTrip(SessionPool aca) {
        assertEquals("aca", aca.backend());
        String id = newIdentifier();
        try {
            List<ExecutionUpdate> updates = aca.execute(Optional.of(shared(id)), spec("print('hello')\n6 * 7"))
                    .collect().asList().await().atMost(WAIT);
            assertEquals(2, updates.size(), updates.toString());
            ExecutionUpdate.Output out = assertInstanceOf(ExecutionUpdate.Output.class, updates.get(0));
            assertEquals(ExecutionUpdate.Stream.STDOUT, out.stream());
            assertEquals("hello\n", new String(out.bytes(), StandardCharsets.UTF_8));
            ExecutionResult hello = assertInstanceOf(ExecutionUpdate.Completed.class, updates.get(1)).result();
            assertEquals(Status.Succeeded, hello.status());
            assertEquals("hello\n", hello.stdout());
            assertEquals(42, hello.result().intValue());
            assertTrue(hello.executionMs() >= 0);
            assertTrue(servedSessions("python").contains(remote(id)), "the identifier reached the pool intact: " + id);

            assertNull(run(aca, id, "x = 41").result());
            assertEquals(42, run(aca, id, "x + 1").result().intValue(), "state kept across calls");

            ExecutionResult failed = run(aca, id, "print('before')\nraise ValueError('boom')");
            assertEquals(Status.Failed, failed.status());
            assertEquals("before\n", failed.stdout());
            assertTrue(failed.stderr().contains("Traceback (most recent call last)"), failed.stderr());
            assertTrue(failed.stderr().contains("ValueError: boom"), failed.stderr());
            assertEquals("ValueError", failed.errorType());
            assertEquals("boom", failed.errorMessage());
            assertEquals(42, run(aca, id, "x + 1").result().intValue(), "a user error does not end the session");

            ExecutionResult withInput = aca.run(Optional.of(shared(id)), new ExecutionSpec("open('/mnt/data/in.txt').read()", 30,
                    List.of(new InputFile("in.txt", "from the request".getBytes(StandardCharsets.UTF_8))))).await().atMost(WAIT);
            assertEquals("from the request", withInput.result().textValue(), withInput.toString());

            byte[] content = everyByte();
            SessionFile uploaded = await(aca.uploadFile(shared(id), AWKWARD_FILE, content));
            assertEquals(AWKWARD_FILE, uploaded.name());
            assertEquals(content.length, uploaded.size());
            assertArrayEquals(content, await(aca.downloadFile(shared(id), AWKWARD_FILE)), "every byte value, byte-exact");
            List<SessionFile> files = await(aca.listFiles(shared(id))).files();
            assertTrue(files.stream().anyMatch(f -> f.name().equals(AWKWARD_FILE) && f.size() == content.length), files.toString());
            assertTrue(files.stream().anyMatch(f -> f.name().equals("in.txt")), files.toString());
            assertEquals(content.length, run(aca, id, "len(open('/mnt/data/" + AWKWARD_FILE + "', 'rb').read())")
                    .result().intValue(), "the session sees the uploaded file");

            SessionFileException missing = assertThrows(SessionFileException.class,
                    () -> await(aca.downloadFile(shared(id), "no-such-file")));
            assertEquals(SessionFileException.Reason.NOT_FOUND, missing.reason());
            assertTrue(aca.sessions().stream().anyMatch(s -> s.identifier().equals(id) && !s.busy()));
        } finally {
            await(pool("python").deleteSession(served(id)));
        }
    }

    // ---- what only the resource contract has ------------------------------------------------------

    /** Tenants stay apart in Azure too: one identifier in two tenants is two ACA sessions. */
    @Test
    void twoTenantsUsingOneIdentifierGetTwoAcaSessions() {
        SessionPool aca = pool("aca-resource");
        String id = newIdentifier();
        SessionKey a = new SessionKey(new Tenant("tenant-a/"), id);
        SessionKey b = new SessionKey(new Tenant("tenant-b/"), id);
        String remoteA = new AcaIdentifiers("").remote(a);
        String remoteB = new AcaIdentifiers("").remote(b);
        try {
            await(aca.uploadFile(a, "mine.txt", "a".getBytes(StandardCharsets.UTF_8)));
            assertEquals(SessionFileException.Reason.NOT_FOUND, assertThrows(SessionFileException.class,
                    () -> await(aca.downloadFile(b, "mine.txt"))).reason());
            assertTrue(remoteA.endsWith("-" + id) && remoteB.endsWith("-" + id) && !remoteA.equals(remoteB),
                    remoteA + " " + remoteB);
            List<String> served = servedSessions("python");
            assertTrue(served.contains(remoteA) && served.contains(remoteB), served.toString());
            assertFalse(served.contains(id), "no tenant's session is named by the bare identifier");
            assertTrue(aca.sessions().stream().map(SessionInfo::key).toList().containsAll(List.of(a, b)));
        } finally {
            await(pool("python").deleteSession(shared(remoteA)));
            await(pool("python").deleteSession(shared(remoteB)));
        }
    }

    @Test
    void acaIdentifiersDependOnTheKeyAndStayWithinAzuresLength() {
        SessionKey session = new SessionKey(new Tenant("tenant-a/"), "s1");
        assertFalse(new AcaIdentifiers("one").remote(session).equals(new AcaIdentifiers("two").remote(session)));
        assertEquals(new AcaIdentifiers("one").remote(session), new AcaIdentifiers("one").remote(session));
        String longest = "x".repeat(128);
        String remote = new AcaIdentifiers("").remote(new SessionKey(new Tenant("tenant-a/"), longest));
        assertTrue(remote.length() <= 128 && ExecuteRequestValidator.SESSION_ID.matcher(remote).matches(), remote);
        assertFalse(remote.equals(new AcaIdentifiers("").remote(new SessionKey(new Tenant("tenant-b/"), longest))));
    }

    @Test
    void resourceContractDeletesFilesAndSessions() {
        SessionPool aca = pool("aca-resource");
        String id = newIdentifier();
        try {
            run(aca, id, "kept = 'yes'");
            await(aca.uploadFile(shared(id), "gone.txt", "x".getBytes(StandardCharsets.UTF_8)));
            await(aca.deleteFile(shared(id), "gone.txt"));
            assertFalse(await(aca.listFiles(shared(id))).files().stream().anyMatch(f -> f.name().equals("gone.txt")));
            assertEquals(SessionFileException.Reason.NOT_FOUND, assertThrows(SessionFileException.class,
                    () -> await(aca.deleteFile(shared(id), "gone.txt"))).reason());

            assertTrue(await(aca.deleteSession(shared(id))));
            assertFalse(servedSessions("python").contains(remote(id)), "the served pool ended the session");
            assertFalse(aca.sessions().stream().anyMatch(s -> s.identifier().equals(id)));
            given().header("Authorization", "Bearer test-reader").queryParam("api-version", "2025-02-02-preview")
                    .queryParam("identifier", remote(id)).get("/pools/python/session").then().statusCode(404);
            assertFalse(await(aca.deleteSession(shared(id))), "deleting it again: there is no such session");

            ExecutionResult fresh = run(aca, id, "kept");
            assertEquals(Status.Failed, fresh.status(), "the state went with the session");
            assertEquals("NameError", fresh.errorType());
        } finally {
            await(pool("python").deleteSession(served(id)));
        }
    }

    @Test
    void anExecutionWithoutIdentifierDeletesItsSession() {
        SessionPool aca = pool("aca-resource");
        double deleted = requests("aca-resource", "delete-session", "success");
        ExecutionResult once = run(aca, null, "import os\nprint('once')\nos.listdir('/mnt/data')");
        assertEquals(Status.Succeeded, once.status());
        assertEquals("once\n", once.stdout());
        assertEquals(deleted + 1, requests("aca-resource", "delete-session", "success"));
        List<String> listed = given().header("Authorization", "Bearer test-reader")
                .queryParam("api-version", "2025-02-02-preview").get("/pools/python/listSessions")
                .then().statusCode(200).extract().jsonPath().getList("sessions.identifier", String.class);
        assertFalse(listed.stream().anyMatch(id -> id.startsWith("sandstream-")), listed.toString());
        assertEquals(0, aca.stats().busy());
    }

    @Test
    void theLegacyContractCannotDeleteSoASingleUseSessionIsLeftToTheCooldown() {
        SessionPool aca = pool("aca-legacy");
        String id = newIdentifier();
        assertInstanceOf(UnsupportedOperationException.class,
                assertThrows(RuntimeException.class, () -> await(aca.deleteSession(shared(id)))));
        assertInstanceOf(UnsupportedOperationException.class,
                assertThrows(RuntimeException.class, () -> await(aca.deleteFile(shared(id), "a.txt"))));

        List<String> before = servedSessions("python");
        assertEquals(Status.Succeeded, run(aca, null, "1").status());
        List<String> left = servedSessions("python").stream().filter(s -> !before.contains(s)).toList();
        assertEquals(1, left.size(), left.toString());
        assertTrue(left.get(0).startsWith("sandstream-"), left.toString());
        await(pool("python").deleteSession(shared(left.get(0))));
    }

    // ---- a full pool --------------------------------------------------------------------------------

    @Test
    void aFullPoolIsRetriedThenSurfacedAndASessionFreedInTimeIsTaken() throws Exception {
        SessionPool tiny = pool("tiny");
        SessionPool aca = pool("aca-tiny");
        String holder = "holder-" + UUID.randomUUID().toString().substring(0, 8);
        // Busy, not idle: an idle session would be evicted to make room.
        CompletableFuture<ExecutionResult> holding = tiny.run(Optional.of(shared(holder)), spec("import time\ntime.sleep(60)"))
                .subscribeAsCompletionStage();
        assertTrue(SandboxProcesses.waitFor(() -> tiny.stats().busy() == 1), tiny.stats().toString());
        try {
            double retriesBefore = retries("aca-tiny");
            double fullBefore = requests("aca-tiny", "execute", "pool_full");
            Throwable full = assertThrows(RuntimeException.class, () -> run(aca, newIdentifier(), "1"));
            assertInstanceOf(PoolFullException.class, full);
            assertEquals(TINY_RETRIES, retries("aca-tiny") - retriesBefore);
            assertEquals(TINY_RETRIES + 1, requests("aca-tiny", "execute", "pool_full") - fullBefore);

            // Served through this service's pool API, the full ACA pool is the Azure 429 again.
            given().header("Authorization", "Bearer test-reader").queryParam("api-version", "2025-02-02-preview")
                    .queryParam("identifier", "proxied-" + UUID.randomUUID()).contentType("application/json")
                    .body("{\"code\":\"1\"}").post("/pools/aca-tiny/executions")
                    .then().statusCode(429).header("x-ms-error-code", "SessionPoolFull");

            String waiting = newIdentifier();
            CompletableFuture<ExecutionResult> later = aca.run(Optional.of(shared(waiting)), spec("'got in'"))
                    .subscribeAsCompletionStage();
            Thread.sleep(300);
            assertFalse(later.isDone(), "still retrying while the pool is full");
            assertTrue(await(tiny.deleteSession(shared(holder))));
            ExecutionResult in = later.get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
            assertEquals("got in", in.result().textValue(), in.toString());
            await(tiny.deleteSession(served(waiting)));
            holding.get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            await(tiny.deleteSession(shared(holder)));
        }
    }

    // ---- an endpoint that fails ---------------------------------------------------------------------

    /** An ACA pool built outside the service's registry, so that its breaker does not touch readiness. */
    private AcaSessionPool standalone(String endpoint, Map<String, String> settings) {
        String name = "standalone-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, String> properties = new HashMap<>(Map.of("sandstream.aca-pools.p.endpoint", endpoint,
                "sandstream.aca-pools.p.language", "python", "sandstream.aca-pools.p.api-key", "test-reader",
                "sandstream.aca-pools.p.max-retries", "2", "sandstream.aca-pools.p.backoff-initial", "20ms",
                "sandstream.aca-pools.p.backoff-max", "50ms"));
        settings.forEach((key, value) -> properties.put("sandstream.aca-pools.p." + key, value));
        SandstreamConfig.AcaPool pool = TestConfigs.sandstream(properties).acaPools().get("p");
        return new AcaSessionPool(name, pool, AcaSessionPool.client(pool), AccessTokens.fixed("test-reader"), registry,
                new TenantQuotas(config, registry), "");
    }

    @Test
    void aLanguageAzuresSessionsDoNotRunStopsTheStart() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> standalone("http://127.0.0.1:" + DEAD_PORT + "/", Map.of("language", "ruby")));
        assertTrue(refused.getMessage().matches("sandstream\\.aca-pools\\.standalone-\\w+\\.language: 'ruby' .*"
                + "ACA pools run python or javascript"), refused.getMessage());
    }

    @Test
    void anUnansweredEndpointIsRetriedThenAnOutageAndOpensTheBreaker() {
        AcaSessionPool dead = standalone("http://127.0.0.1:" + DEAD_PORT + "/pools/python",
                Map.of("breaker-requests", "4", "breaker-failure-ratio", "0.5", "breaker-delay", "60s"));
        try {
            Throwable first = assertThrows(RuntimeException.class, () -> run(dead, newIdentifier(), "1"));
            assertInstanceOf(BackendUnavailableException.class, first);
            assertInstanceOf(IOException.class, first.getCause(), "transient for the dispatcher, like any I/O failure");
            assertEquals(2, retries(dead.name()));
            assertEquals(3, requests(dead.name(), "execute", "transport_error"));

            // The fourth failure in a row opens the breaker: from then on calls fail without a request.
            Throwable second = assertThrows(RuntimeException.class, () -> run(dead, newIdentifier(), "1"));
            assertInstanceOf(BackendUnavailableException.class, second);
            assertEquals(io.smallrye.faulttolerance.api.CircuitBreakerState.OPEN, dead.breaker());
            Throwable third = assertThrows(RuntimeException.class, () -> run(dead, newIdentifier(), "1"));
            assertTrue(third.getMessage().contains("circuit breaker open"), third.getMessage());
            assertEquals(4, requests(dead.name(), "execute", "transport_error"), "no request while open");
        } finally {
            dead.close();
        }
    }

    @Test
    void aServerErrorIsRetriedThenAnOutage() {
        // The served API answers 503 for its own ACA pool whose endpoint is down.
        given().header("Authorization", "Bearer test-reader").queryParam("api-version", "2025-02-02-preview")
                .queryParam("identifier", "direct-503").contentType("application/json").body("{\"code\":\"1\"}")
                .post("/pools/unreachable/executions").then().statusCode(503).header("x-ms-error-code", "ServiceUnavailable");

        AcaSessionPool relay = standalone("http://localhost:" + PORT + "/pools/unreachable", Map.of());
        try {
            Throwable failure = assertThrows(RuntimeException.class, () -> run(relay, newIdentifier(), "1"));
            assertInstanceOf(BackendUnavailableException.class, failure);
            assertTrue(failure.getMessage().contains("HTTP 503"), failure.getMessage());
            assertEquals(3, requests(relay.name(), "execute", "server_error"), "the first try and two retries");
        } finally {
            relay.close();
        }
    }

    // ---- tokens from a credential -------------------------------------------------------------------

    /**
     * The Entra path end to end, with our own azure-identity {@code TokenCredential} handing out the
     * served API's keys as tokens: a refused token (401) is a backend outage and is not used again.
     */
    @Test
    void tokensFromACredentialAndARefusedOneReplaced() {
        List<String> handedOut = new CopyOnWriteArrayList<>();
        List<String> script = new CopyOnWriteArrayList<>(List.of("not-a-key", "tenant-a-key"));
        EntraAccessTokens tokens = new EntraAccessTokens(request -> {
            String token = script.remove(0);
            handedOut.add(token);
            return Mono.just(new AccessToken(token, OffsetDateTime.now(ZoneOffset.UTC).plusHours(1)));
        }, "https://dynamicsessions.io/.default", Duration.ofMinutes(5), java.time.Clock.systemUTC());
        SandstreamConfig.AcaPool resource = config.acaPools().get("aca-resource");
        AcaSessionPool aca = new AcaSessionPool("entra-test", resource, AcaSessionPool.client(resource), tokens, registry,
                new TenantQuotas(config, registry), "");
        String id = newIdentifier();
        try {
            Throwable refused = assertThrows(RuntimeException.class, () -> run(aca, id, "1"));
            assertInstanceOf(BackendUnavailableException.class, refused);
            assertTrue(refused.getMessage().contains("401"), refused.getMessage());
            assertEquals(2, run(aca, id, "1 + 1").result().intValue());
            assertEquals(List.of("not-a-key", "tenant-a-key"), handedOut);
            assertEquals(3, run(aca, id, "1 + 2").result().intValue());
            assertEquals(2, handedOut.size(), "the accepted token is cached");
        } finally {
            await(pool("python").deleteSession(served(id)));
            aca.close();
        }
    }

    // ---- the pipeline ------------------------------------------------------------------------------

    @Test
    void anEventRoutedToTheAcaPoolGetsAnAcaResult() throws Exception {
        JsonPath doc = PipelineTest.awaitResult(PipelineTest.post("{\"code\":\"print('via aca')\\n6 * 7\"}", "aca/e2e"),
                PipelineTest.READER);
        assertEquals("Succeeded", doc.getString("status"), doc.prettify());
        assertEquals("aca", doc.getString("backend"));
        assertEquals("via aca\n", doc.getString("stdout"));
        assertEquals(42, doc.getInt("result"));
        assertEquals("python", doc.getString("language"));

        String session = "e2e-" + UUID.randomUUID().toString().substring(0, 8);
        PipelineTest.awaitResult(PipelineTest.post("{\"code\":\"n = 41\",\"sessionId\":\"" + session + "\"}", "aca/s1"),
                PipelineTest.READER);
        JsonPath failed = PipelineTest.awaitResult(PipelineTest.post(
                "{\"code\":\"print(n + 1)\\nraise KeyError('k')\",\"sessionId\":\"" + session + "\"}", "aca/s2"),
                PipelineTest.READER);
        assertEquals("Failed", failed.getString("status"), failed.prettify());
        assertEquals("aca", failed.getString("backend"));
        assertEquals("42\n", failed.getString("stdout"), "the session's state carried across events");
        assertEquals("KeyError", failed.getString("error.type"));
        assertTrue(failed.getString("stderr").contains("Traceback"), failed.prettify());
        await(pool("python").deleteSession(served(session)));
    }

    /** With an ACA pool for python configured, python goes there by default and javascript stays local. */
    @Test
    void pythonDefaultsToItsAcaPoolWhileJavascriptStaysLocal() throws Exception {
        JsonPath python = PipelineTest.awaitResult(PipelineTest.post("{\"code\":\"1 + 1\"}", "plain/python"),
                PipelineTest.READER);
        assertEquals("aca", python.getString("backend"), python.prettify());
        assertEquals(2, python.getInt("result"));
        JsonPath javascript = PipelineTest.awaitResult(PipelineTest.post(
                "{\"code\":\"1 + 2\",\"language\":\"javascript\"}", "plain/javascript"), PipelineTest.READER);
        assertEquals("local", javascript.getString("backend"), javascript.prettify());
        assertEquals(3, javascript.getInt("result"));
    }

    @Test
    void readinessAndMetricsShowTheAcaPools() {
        run(pool("aca-resource"), null, "1");
        String health = given().get("/q/health/ready").then().statusCode(200).extract().asString();
        assertTrue(health.contains("aca-pools") && health.contains("circuit=closed"), health);
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.contains("sandstream_aca_requests_total{"), metrics);
        assertTrue(metrics.contains("sandstream_aca_latency_seconds"), "latency timer");
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("sandstream_pool_sessions{") && l.contains("pool=\"aca-resource\"")
                && l.contains("state=\"max\"") && l.trim().endsWith(" 20.0")), "max sessions gauge");
    }
}
