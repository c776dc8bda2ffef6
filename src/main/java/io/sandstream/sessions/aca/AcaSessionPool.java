package io.sandstream.sessions.aca;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import jakarta.enterprise.util.TypeLiteral;
import jakarta.ws.rs.ProcessingException;
import jakarta.ws.rs.core.Response;

import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.client.api.ClientMultipartForm;

import com.fasterxml.jackson.databind.JsonNode;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.rest.client.reactive.QuarkusRestClientBuilder;
import io.sandstream.config.SandstreamConfig.AcaContract;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.ExecuteRequest.InputFile;
import io.sandstream.model.Language;
import io.sandstream.sessions.BackendUnavailableException;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.sessions.PoolFullException;
import io.sandstream.sessions.PoolStats;
import io.sandstream.sessions.SessionFile;
import io.sandstream.sessions.SessionFileException;
import io.sandstream.sessions.SessionFiles;
import io.sandstream.sessions.SessionInfo;
import io.sandstream.sessions.SessionKey;
import io.sandstream.sessions.SessionPool;
import io.sandstream.tenancy.TenantQuotas;
import io.sandstream.validation.ExecuteRequestValidator;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;

/**
 * A session pool run by Azure Container Apps dynamic sessions: every operation is a call to the
 * pool's data plane, in the configured contract, with {@code identifier} on every call and a
 * bearer token from {@link AccessTokens}. Calls answered 429 (or a 404 that says the pool is full),
 * 5xx or not at all are retried with exponential backoff behind a circuit breaker (SmallRye Fault
 * Tolerance); what still fails is a {@link PoolFullException} or a
 * {@link BackendUnavailableException}, both of which the dispatcher retries later. Code that
 * raises is a {@code Failed} result, as locally.
 *
 * <p>ACA streams no output: an execution emits its stdout and its stderr as one chunk each, then
 * its result. An execution without identifier runs in a session of its own, deleted afterwards
 * ({@code DELETE session}; the legacy contract has no such call, and such sessions end with the
 * pool's cooldown). ACA keeps the sessions; this pool only remembers which ones it used, for
 * listings and stats.
 */
public final class AcaSessionPool implements SessionPool {

    private static final Logger LOG = Logger.getLogger(AcaSessionPool.class);
    static final Set<String> LEGACY_VERSIONS = Set.of("2024-02-02-preview", "2024-08-02-preview");
    /** What Azure's code interpreter sessions run: PythonLTS and NodeLTS pools. */
    static final Set<Language> LANGUAGES = Set.of(Language.PYTHON, Language.JAVASCRIPT);

    /** A session this pool has used: ACA has the session, this is for listings and stats. */
    private record Known(SessionKey key, Instant createdAt, Instant lastUsedAt, int users) {
    }

    /** A 5xx answer: retried, and counted by the circuit breaker. */
    private static final class ServerError extends RuntimeException {
        ServerError(int status) {
            super("HTTP " + status, null, false, false);
        }
    }

    private final String name;
    private final Instant createdAt = Instant.now();
    private final Language language;
    private final SandstreamConfig.AcaPool config;
    private final AcaContract contract;
    private final DynamicSessionsClient client;
    private final AccessTokens tokens;
    private final MeterRegistry registry;
    private final TypedGuard<Uni<Response>> guard;
    /** By the session's identifier in Azure. */
    private final Map<String, Known> known = new ConcurrentHashMap<>();
    private final AcaIdentifiers identifiers;
    private final TenantQuotas quotas;
    private final AtomicInteger ephemeral = new AtomicInteger();
    private volatile CircuitBreakerState breaker = CircuitBreakerState.CLOSED;
    private volatile long lastPrune;

    public AcaSessionPool(String name, SandstreamConfig.AcaPool config, DynamicSessionsClient client, AccessTokens tokens,
            MeterRegistry registry, TenantQuotas quotas, String identifierKey) {
        this.name = name;
        this.quotas = quotas;
        this.identifiers = new AcaIdentifiers(identifierKey);
        this.language = config.language();
        if (!LANGUAGES.contains(language)) {
            throw new IllegalArgumentException("sandstream.aca-pools." + name + ".language: '" + language
                    + "' is not a language of Azure's code interpreter sessions; ACA pools run python or javascript");
        }
        this.config = config;
        this.contract = contractOf(config);
        this.client = client;
        this.tokens = tokens;
        this.registry = registry;
        this.guard = guard();
    }

    /** The configured contract, else the one the {@code api-version} belongs to. */
    static AcaContract contractOf(SandstreamConfig.AcaPool config) {
        return config.contract().orElse(LEGACY_VERSIONS.contains(config.apiVersion()) ? AcaContract.LEGACY : AcaContract.RESOURCE);
    }

    /** The REST client for a pool's endpoint: no redirects, bounded waits, statuses left to the caller. */
    public static DynamicSessionsClient client(SandstreamConfig.AcaPool config) {
        String endpoint = config.endpoint().endsWith("/") ? config.endpoint() : config.endpoint() + "/";
        return QuarkusRestClientBuilder.newBuilder().baseUri(URI.create(endpoint))
                .connectTimeout(config.connectTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .readTimeout(config.timeout().toMillis(), TimeUnit.MILLISECONDS)
                .followRedirects(false)
                .disableDefaultMapper(true)
                .build(DynamicSessionsClient.class);
    }

    private TypedGuard<Uni<Response>> guard() {
        long initial = config.backoffInitial().toMillis();
        long max = Math.max(initial, config.backoffMax().toMillis());
        // A bound the retries never reach by themselves: maxRetries decides, not the clock.
        long maxDuration = 2L * (config.maxRetries() + 1) * (config.timeout().toMillis() + max + initial);
        return TypedGuard.create(new TypeLiteral<Uni<Response>>() {
        })
                .withDescription("ACA pool " + name)
                .withRetry()
                    .maxRetries(config.maxRetries())
                    .delay(initial, ChronoUnit.MILLIS)
                    .jitter(initial / 4, ChronoUnit.MILLIS)
                    .maxDuration(maxDuration, ChronoUnit.MILLIS)
                    .whenException(AcaSessionPool::worthRetrying)
                    .beforeRetry(failure -> registry.counter("sandstream.aca.retries", "pool", name).increment())
                    .withExponentialBackoff().factor(2).maxDelay(max, ChronoUnit.MILLIS).done()
                    .done()
                .withCircuitBreaker()
                    .when(AcaSessionPool::outage)
                    .requestVolumeThreshold(config.breakerRequests())
                    .failureRatio(config.breakerFailureRatio())
                    .delay(config.breakerDelay().toMillis(), ChronoUnit.MILLIS)
                    .onStateChange(state -> breaker = state)
                    .onPrevented(() -> outcome("any", "circuit_open"))
                    .done()
                .build();
    }

    /** A full pool frees up, a 5xx or a lost connection may pass; a timeout would only wait as long again. */
    private static boolean worthRetrying(Throwable failure) {
        return failure instanceof PoolFullException || failure instanceof ServerError
                || (transport(failure) && !timedOut(failure));
    }

    /** What the circuit breaker counts: the endpoint failing, not a full pool or a refused request. */
    private static boolean outage(Throwable failure) {
        return failure instanceof ServerError || transport(failure);
    }

    private static boolean transport(Throwable failure) {
        return failure instanceof ProcessingException || failure instanceof IOException
                || failure instanceof io.vertx.core.VertxException;
    }

    private static boolean timedOut(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getClass().getSimpleName().contains("Timeout")) {
                return true;
            }
        }
        return false;
    }

    // ---- one call --------------------------------------------------------------------------------

    /**
     * One data-plane call with a current token, its status classified: 2xx and ordinary 4xx are
     * answered to the caller; 429 and "pool full" become {@link PoolFullException}; 401/403 and,
     * after the retries, 5xx, lost connections and an open breaker become
     * {@link BackendUnavailableException}.
     */
    private Uni<Response> call(String operation, Function<String, Uni<Response>> request) {
        return guard.get(() -> {
            long start = System.nanoTime();
            return tokens.token().flatMap(token -> request.apply("Bearer " + token))
                    .map(this::classified)
                    .onItemOrFailure().invoke((response, failure) -> measured(operation, start, response, failure));
        }).onFailure(failure -> failure instanceof ServerError || failure instanceof CircuitBreakerOpenException
                || transport(failure))
                .transform(failure -> new BackendUnavailableException("ACA pool " + name + " is unavailable: "
                        + (failure instanceof CircuitBreakerOpenException ? "circuit breaker open after repeated failures"
                                : failure.getMessage()), failure));
    }

    private Response classified(Response response) {
        int status = response.getStatus();
        if (status == 429 || (status == 404 && AcaWire.poolFull(errorOf(response)))) {
            throw new PoolFullException(name, config.maxSessions());
        }
        if (status == 401 || status == 403) {
            tokens.invalidate();
            throw new BackendUnavailableException("ACA pool " + name + " refused the credentials: HTTP " + status);
        }
        if (status >= 500) {
            throw new ServerError(status);
        }
        return response;
    }

    private void measured(String operation, long start, Response response, Throwable failure) {
        String outcome;
        if (failure == null) {
            outcome = response.getStatus() < 400 ? "success" : "client_error";
        } else if (failure instanceof PoolFullException) {
            outcome = "pool_full";
        } else if (failure instanceof ServerError) {
            outcome = "server_error";
        } else if (failure instanceof BackendUnavailableException) {
            outcome = "unavailable";
        } else {
            outcome = "transport_error";
        }
        outcome(operation, outcome);
        Timer.builder("sandstream.aca.latency").tag("pool", name).tag("operation", operation)
                .description("One call to an ACA pool's data plane, answered or not").publishPercentiles(0.5, 0.99)
                .register(registry).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }

    private void outcome(String operation, String outcome) {
        registry.counter("sandstream.aca.requests", "pool", name, "operation", operation, "outcome", outcome).increment();
    }

    private static boolean ok(Response response) {
        return response.getStatus() / 100 == 2;
    }

    private static byte[] body(Response response) {
        if (!response.hasEntity()) {
            return new byte[0];
        }
        byte[] bytes = response.readEntity(byte[].class);
        return bytes == null ? new byte[0] : bytes;
    }

    private static AcaWire.AzureError errorOf(Response response) {
        response.bufferEntity();
        return AcaWire.error(body(response), response.getHeaderString("x-ms-error-code"));
    }

    /** Percent-encoded for the query or a path segment: identifiers may hold {@code % { } # &}, names anything. */
    private static String encoded(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    // ---- sessions this pool uses -------------------------------------------------------------------

    private static void checkIdentifier(String identifier) {
        if (!ExecuteRequestValidator.SESSION_ID.matcher(identifier).matches()) {
            throw new IllegalArgumentException("invalid session identifier");
        }
    }

    /** Counts a use of the session ({@code key} null: a single-use session). */
    private void begin(String identifier, SessionKey key) {
        if (key == null) {
            ephemeral.incrementAndGet();
            return;
        }
        Instant now = Instant.now();
        if (!known.containsKey(identifier)) {
            long held = known.values().stream().filter(k -> k.key().tenant().equals(key.tenant())).count();
            quotas.requireSessionRoom(key.tenant(), held, name);
        }
        known.compute(identifier, (id, k) -> k == null ? new Known(key, now, now, 1)
                : new Known(key, k.createdAt(), now, k.users() + 1));
        prune();
    }

    private Uni<Void> end(String identifier, boolean isEphemeral) {
        if (!isEphemeral) {
            Instant now = Instant.now();
            known.computeIfPresent(identifier, (id, k) -> new Known(k.key(), k.createdAt(), now, k.users() - 1));
            return Uni.createFrom().voidItem();
        }
        ephemeral.decrementAndGet();
        if (contract == AcaContract.LEGACY) {
            return Uni.createFrom().voidItem(); // no DELETE session in this contract: the cooldown ends it
        }
        return deleteRemote(identifier).replaceWithVoid().onFailure().recoverWithUni(failure -> {
            LOG.warnf("ACA pool %s: deleting a single-use session failed (%s); the pool's cooldown will end it",
                    name, failure.getMessage());
            return Uni.createFrom().voidItem();
        });
    }

    /**
     * Runs {@code work} with the session's identifier in Azure as a use of the session: counted
     * busy meanwhile, its cooldown restarted.
     */
    private <T> Uni<T> inSession(SessionKey key, Function<String, Uni<T>> work) {
        return Uni.createFrom().deferred(() -> {
            checkIdentifier(key.identifier());
            String identifier = identifiers.remote(key);
            begin(identifier, key);
            return work.apply(identifier).eventually(() -> end(identifier, false));
        });
    }

    /** Forgets sessions idle past the pool's cooldown (ACA has ended them); at most once a second. */
    private void prune() {
        long now = System.currentTimeMillis();
        if (now - lastPrune < 1000) {
            return;
        }
        lastPrune = now;
        Instant expired = Instant.now().minus(config.cooldown());
        known.keySet().forEach(id -> known.computeIfPresent(id,
                (key, k) -> k.users() == 0 && k.lastUsedAt().isBefore(expired) ? null : k));
    }

    // ---- SessionPool ------------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    @Override
    public Instant createdAt() {
        return createdAt;
    }

    @Override
    public Language language() {
        return language;
    }

    @Override
    public int maxSessions() {
        return config.maxSessions();
    }

    @Override
    public String backend() {
        return "aca";
    }

    public AcaContract contract() {
        return contract;
    }

    /** The circuit breaker's state: open while the endpoint keeps failing. */
    public CircuitBreakerState breaker() {
        return breaker;
    }

    @Override
    public Multi<ExecutionUpdate> execute(Optional<SessionKey> session, ExecutionSpec spec) {
        return Uni.createFrom().deferred(() -> {
            session.ifPresent(key -> checkIdentifier(key.identifier()));
            boolean isEphemeral = session.isEmpty();
            String id = session.map(identifiers::remote).orElseGet(() -> "sandstream-" + UUID.randomUUID());
            begin(id, session.orElse(null));
            return uploadAll(id, spec.files()).flatMap(ignored -> run(id, spec))
                    .eventually(() -> end(id, isEphemeral));
        }).invoke(this::count).onItem().transformToMulti(result -> Multi.createFrom().iterable(updates(result)));
    }

    private Uni<Void> uploadAll(String identifier, List<InputFile> files) {
        Uni<Void> chain = Uni.createFrom().voidItem();
        for (InputFile file : files) {
            chain = chain.flatMap(ignored -> upload(identifier, file.name(), file.content()).replaceWithVoid());
        }
        return chain;
    }

    private Uni<ExecutionResult> run(String identifier, ExecutionSpec spec) {
        JsonNode request = AcaWire.executeBody(contract, spec.code(), spec.timeoutSeconds());
        Instant startedAt = Instant.now();
        return call("execute", auth -> contract == AcaContract.LEGACY
                ? client.executeLegacy(config.apiVersion(), encoded(identifier), auth, request)
                : client.execute(config.apiVersion(), encoded(identifier), auth, request))
                .map(response -> {
                    Instant completedAt = Instant.now();
                    if (ok(response)) {
                        return AcaWire.execution(contract, AcaWire.json(body(response)), startedAt, completedAt);
                    }
                    AcaWire.AzureError error = errorOf(response);
                    if (response.getStatus() == 404) {
                        // Not our request's fault: a wrong endpoint or a deleted pool.
                        throw new BackendUnavailableException("ACA pool " + name + " answered 404"
                                + (error == null ? "" : " " + error.code()));
                    }
                    return AcaWire.refused(error != null ? error
                            : new AcaWire.AzureError("HTTP" + response.getStatus(), "the pool refused the execution"),
                            startedAt, completedAt);
                });
    }

    /** ACA has no live output: stdout and stderr arrive whole, one chunk each, then the result. */
    private static List<ExecutionUpdate> updates(ExecutionResult result) {
        List<ExecutionUpdate> updates = new ArrayList<>(3);
        if (!result.stdout().isEmpty()) {
            updates.add(new ExecutionUpdate.Output(ExecutionUpdate.Stream.STDOUT, result.stdout().getBytes(StandardCharsets.UTF_8)));
        }
        if (!result.stderr().isEmpty()) {
            updates.add(new ExecutionUpdate.Output(ExecutionUpdate.Stream.STDERR, result.stderr().getBytes(StandardCharsets.UTF_8)));
        }
        updates.add(new ExecutionUpdate.Completed(result));
        return updates;
    }

    private void count(ExecutionResult result) {
        registry.counter("sandstream.pool.executions", "pool", name, "language", language.wireName(),
                "status", result.status().name(), "limit", "none").increment();
    }

    @Override
    public Uni<SessionFile> uploadFile(SessionKey session, String fileName, byte[] content) {
        return inSession(session, identifier -> upload(identifier, fileName, content));
    }

    private Uni<SessionFile> upload(String identifier, String fileName, byte[] content) {
        checkName(fileName);
        if (content.length > config.transferBytes()) {
            return Uni.createFrom().failure(new SessionFileException(SessionFileException.Reason.TOO_LARGE,
                    "files may be at most " + config.transferBytes() + " bytes"));
        }
        return call("upload", auth -> {
            ClientMultipartForm form = ClientMultipartForm.create()
                    .binaryFileUpload("file", fileName, Buffer.buffer(content), "application/octet-stream");
            return contract == AcaContract.LEGACY
                    ? client.uploadLegacy(config.apiVersion(), encoded(identifier), auth, form)
                    : client.upload(config.apiVersion(), encoded(identifier), auth, form);
        }).map(response -> AcaWire.uploaded(contract, AcaWire.json(fileAnswer(response))));
    }

    @Override
    public Uni<byte[]> downloadFile(SessionKey session, String fileName) {
        return inSession(session, identifier -> {
            checkName(fileName);
            return call("download", auth -> contract == AcaContract.LEGACY
                    ? client.downloadLegacy(encoded(fileName), config.apiVersion(), encoded(identifier), auth)
                    : client.download(encoded(fileName), config.apiVersion(), encoded(identifier), auth))
                    .map(AcaSessionPool::fileAnswer);
        });
    }

    @Override
    public Uni<SessionFiles> listFiles(SessionKey session) {
        return inSession(session, identifier -> call("list", auth -> client.listFiles(config.apiVersion(), encoded(identifier), auth))
                .map(response -> new SessionFiles(AcaWire.files(contract, AcaWire.json(fileAnswer(response))), false)));
    }

    @Override
    public Uni<Void> deleteFile(SessionKey session, String fileName) {
        return inSession(session, identifier -> {
            checkName(fileName);
            requireResourceContract("deleting a file");
            return call("delete-file", auth -> client.deleteFile(encoded(fileName), config.apiVersion(), encoded(identifier), auth))
                    .map(AcaSessionPool::fileAnswer).replaceWithVoid();
        });
    }

    @Override
    public Uni<Boolean> deleteSession(SessionKey session) {
        return Uni.createFrom().deferred(() -> {
            checkIdentifier(session.identifier());
            requireResourceContract("deleting a session");
            String identifier = identifiers.remote(session);
            known.remove(identifier);
            return deleteRemote(identifier);
        });
    }

    private Uni<Boolean> deleteRemote(String identifier) {
        return call("delete-session", auth -> client.deleteSession(config.apiVersion(), encoded(identifier), auth))
                .map(response -> {
                    if (ok(response)) {
                        return true;
                    }
                    if (response.getStatus() == 404) {
                        return false;
                    }
                    AcaWire.AzureError error = errorOf(response);
                    throw new IllegalStateException("deleting the session failed: HTTP " + response.getStatus()
                            + (error == null ? "" : " " + error.code()));
                });
    }

    private void requireResourceContract(String what) {
        if (contract == AcaContract.LEGACY) {
            throw new UnsupportedOperationException(what + " needs the resource contract (api-version 2025-02-02-preview"
                    + " or later); pool " + name + " uses " + config.apiVersion());
        }
    }

    private static void checkName(String fileName) {
        if (ExecuteRequestValidator.fileNameProblem(fileName) != null) {
            throw new SessionFileException(SessionFileException.Reason.INVALID, "invalid file name");
        }
    }

    /** A file call's body, or the {@link SessionFileException} its 4xx means. */
    private static byte[] fileAnswer(Response response) {
        if (ok(response)) {
            return body(response);
        }
        AcaWire.AzureError error = errorOf(response);
        String message = error == null || error.message().isBlank() ? "HTTP " + response.getStatus() : error.message();
        SessionFileException.Reason reason = switch (response.getStatus()) {
            case 404 -> SessionFileException.Reason.NOT_FOUND;
            case 400 -> SessionFileException.Reason.INVALID;
            case 413 -> SessionFileException.Reason.TOO_LARGE;
            default -> SessionFileException.Reason.FAILED;
        };
        throw new SessionFileException(reason, message);
    }

    @Override
    public List<SessionInfo> sessions() {
        prune();
        return known.values().stream().map(k -> new SessionInfo(k.key(), k.createdAt(),
                k.lastUsedAt(), k.lastUsedAt().plus(config.cooldown()), k.users() > 0))
                .toList();
    }

    /** Nothing is kept ready here (ACA keeps its own ready sessions); busy counts sessions with a call in flight. */
    @Override
    public PoolStats stats() {
        prune();
        int total = known.size();
        int busy = (int) known.values().stream().filter(k -> k.users() > 0).count();
        return new PoolStats(0, busy + ephemeral.get(), total - busy, config.maxSessions());
    }

    /** Closes the HTTP client's connections. */
    public void close() {
        if (client instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                LOG.debugf("closing the client of ACA pool %s: %s", name, e.getMessage());
            }
        }
    }
}
