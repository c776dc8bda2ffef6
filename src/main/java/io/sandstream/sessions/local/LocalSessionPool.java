package io.sandstream.sessions.local;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.ExecuteRequest.InputFile;
import io.sandstream.model.Language;
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
import io.sandstream.tenancy.QuotaExceededException;
import io.sandstream.tenancy.TenantQuotas;
import io.sandstream.validation.ExecuteRequestValidator;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.MultiEmitter;

/**
 * A local pool of bubblewrap sandboxes with Azure dynamic sessions' semantics: sessions keyed by
 * identifier, a new identifier takes a warm sandbox, every use restarts the cooldown, at most
 * {@code maxSessions} allocated at once, {@code readySessions} kept started in the background.
 * Sessions belong to tenants ({@link SessionKey}); each tenant holds at most its quota of them. When
 * the pool is full and a new session is needed, the least recently used idle session is evicted.
 * Sandboxes are started on the pool's worker threads; nothing here blocks the caller.
 */
public final class LocalSessionPool implements SessionPool {

    private static final Logger LOG = Logger.getLogger(LocalSessionPool.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long REFILL_DELAY_MS = 250;
    /** How far past its own deadline an operation must run before the session counts as wedged. */
    private static final Duration WEDGED_MARGIN = Duration.ofSeconds(5);

    private final String name;
    private final Instant createdAt = Instant.now();
    private final Language language;
    private final Runner runner;
    private final SandstreamConfig.Pool config;
    private final SandboxLauncher launcher;
    private final Duration interruptGrace;
    private final ExecutorService workers;
    private final ScheduledExecutorService timers;
    private final ConcurrentLinkedDeque<Sandbox> warm = new ConcurrentLinkedDeque<>();
    private final AtomicBoolean maintenanceStarted = new AtomicBoolean();
    private final Map<SessionKey, Session> sessions = new ConcurrentHashMap<>();
    private final AtomicInteger ephemeral = new AtomicInteger();
    /** Sessions with an operation running now, stateful and fresh ones alike. */
    private final java.util.Set<Session> active = ConcurrentHashMap.newKeySet();
    private final AtomicInteger starting = new AtomicInteger();
    private volatile boolean closed;
    /** Why the last sandbox start failed, null once one starts again; for readiness. */
    private volatile String startFailure;
    private final MeterRegistry registry;
    private final Timer warmAllocation;
    private final Timer coldAllocation;
    private final TenantQuotas quotas;
    private final Counter evictions;
    private final Counter lifetimeEnded;
    private final Counter outputRead;

    private Timer allocationTimer(String kind) {
        return Timer.builder("sandstream.pool.allocation").tag("pool", name).tag("kind", kind)
                .description("Time for a new session to get its sandbox").publishPercentileHistogram()
                .publishPercentiles(0.5, 0.99).register(registry);
    }

    /** An allocated session: its sandbox, and a queue so executions and file operations run one at a time. */
    private static final class Session {
        /** Null for a fresh session, discarded after its one execution. */
        final SessionKey key;
        final Instant createdAt = Instant.now();
        volatile Sandbox sandbox;
        /** How the sandbox of the operation running now was found: warm, cold or session (see ExecutionUpdate.Allocated). */
        volatile String allocation;
        volatile Instant lastUsedAt = Instant.now();
        volatile int users;
        /** Past its lifetime and out of the pool: destroyed once its running work is done. */
        volatile boolean retired;
        /** When the operation running now must have ended (its limits enforced); null while none runs. */
        volatile Instant mustEndBy;
        CompletableFuture<?> tail = CompletableFuture.completedFuture(null);

        Session(SessionKey key) {
            this.key = key;
        }
    }

    public LocalSessionPool(String name, SandstreamConfig.Pool config, SandboxLauncher launcher, Duration interruptGrace,
            ExecutorService workers, ScheduledExecutorService timers, MeterRegistry registry, TenantQuotas quotas) {
        this.quotas = quotas;
        this.name = name;
        this.language = config.language();
        this.runner = Runner.of(name, language);
        this.config = config;
        this.launcher = launcher;
        this.interruptGrace = interruptGrace;
        this.workers = workers;
        this.timers = timers;
        this.registry = registry;
        this.warmAllocation = allocationTimer("warm");
        this.evictions = registry.counter("sandstream.pool.evictions", "pool", name);
        this.coldAllocation = allocationTimer("cold");
        this.lifetimeEnded = io.micrometer.core.instrument.Counter.builder("sandstream.pool.lifetime.ended").tag("pool", name)
                .description("Sessions ended because they reached the pool's max-lifetime").register(registry);
        this.outputRead = io.micrometer.core.instrument.Counter.builder("sandstream.pool.output.read").tag("pool", name)
                .baseUnit("bytes").description("Bytes read from sandboxes' stdout and stderr (only while work runs)")
                .register(registry);
    }

    /**
     * Starts the background work: the warm sandboxes (refilled as they are taken), the cooldown
     * and lifetime ends. Until then a new session starts its sandbox cold; the service calls this
     * after its first readiness check or a moment after it listens ({@link LocalPools}), so that
     * warm-up does not compete with its own start for the cores.
     */
    public void startMaintenance() {
        if (maintenanceStarted.compareAndSet(false, true)) {
            timers.scheduleWithFixedDelay(this::maintain, 0, 1, TimeUnit.SECONDS);
        }
    }

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
    public String backend() {
        return "local";
    }

    // ---- allocation ----------------------------------------------------------------------------------

    private synchronized Session allocate(Optional<SessionKey> key) {
        if (closed) {
            throw new PoolFullException(name, 0);
        }
        if (key.isPresent() && !ExecuteRequestValidator.SESSION_ID.matcher(key.get().identifier()).matches()) {
            throw new IllegalArgumentException("invalid session identifier");
        }
        if (key.isPresent()) {
            Session existing = sessions.get(key.get());
            if (existing != null) {
                existing.users++;
                existing.lastUsedAt = Instant.now();
                return existing;
            }
            long held = sessions.keySet().stream().filter(k -> k.tenant().equals(key.get().tenant())).count();
            quotas.requireSessionRoom(key.get().tenant(), held, name);
        }
        if (sessions.size() + ephemeral.get() >= config.maxSessions() && !evictIdle()) {
            throw new PoolFullException(name, config.maxSessions());
        }
        Session session = new Session(key.orElse(null));
        session.users++;
        if (key.isPresent()) {
            sessions.put(key.get(), session);
        } else {
            ephemeral.incrementAndGet();
        }
        return session;
    }

    /**
     * Makes room in a full pool by ending the least recently used idle session (never one with
     * work running or queued), as its cooldown would later. False when every session is busy.
     */
    private boolean evictIdle() {
        Session oldest = null;
        for (Session s : sessions.values()) {
            if (s.users == 0 && (oldest == null || s.lastUsedAt.isBefore(oldest.lastUsedAt))) {
                oldest = s;
            }
        }
        if (oldest == null) {
            return false;
        }
        sessions.remove(oldest.key, oldest);
        destroy(oldest);
        evictions.increment();
        LOG.debugf("pool %s: evicted idle session %s to make room", name, oldest.key.identifier());
        return true;
    }

    /**
     * Runs {@code work} on the session's sandbox after everything queued before it; {@code budget}
     * is how long the work may take with every limit enforced (for readiness: see {@link #wedged()}).
     */
    private <T> CompletableFuture<T> onSession(Session session, Duration budget,
            java.util.function.Function<Sandbox, CompletableFuture<T>> work) {
        CompletableFuture<T> result;
        synchronized (session) {
            // Taking the sandbox (which may start one) and the work's first step (writing its request,
            // which a runner that stops reading its stdin can block) both run on the worker. Chained
            // after the hop instead, the work ran on the caller's thread (the dispatcher's) whenever the
            // worker had taken the sandbox before the caller chained on it.
            result = session.tail.handle((ignored, failure) -> null)
                    .thenComposeAsync(ignored -> sandboxOf(session).thenCompose(sandbox -> {
                        session.mustEndBy = Instant.now().plus(budget).plus(WEDGED_MARGIN);
                        active.add(session);
                        return work.apply(sandbox);
                    }), workers);
            session.tail = result;
        }
        return result.whenComplete((value, failure) -> {
            session.mustEndBy = null;
            active.remove(session);
            release(session);
        });
    }

    /**
     * Sessions whose operation runs past its deadline: every limit should have ended it by then,
     * so its sandbox could not be stopped. Readiness reports a pool whose sessions all are.
     */
    public int wedged() {
        Instant now = Instant.now();
        return (int) active.stream().filter(s -> {
            Instant by = s.mustEndBy;
            return by != null && by.isBefore(now);
        }).count();
    }

    private CompletableFuture<Sandbox> sandboxOf(Session session) {
        Sandbox sandbox = session.sandbox;
        if (sandbox != null && sandbox.alive()) {
            session.allocation = "session";
            return CompletableFuture.completedFuture(sandbox);
        }
        try {
            session.sandbox = takeReady(session);
            return CompletableFuture.completedFuture(session.sandbox);
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** A warm sandbox when there is one, else one started now (a cold start). */
    private Sandbox takeReady(Session session) throws java.io.IOException {
        long start = System.nanoTime();
        Sandbox sandbox;
        while ((sandbox = warm.pollFirst()) != null) {
            if (sandbox.alive()) {
                warmAllocation.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                session.allocation = "warm";
                // Refill a moment later: a sandbox start is CPU-heavy and would slow the execution
                // this allocation is for.
                timers.schedule(this::refill, REFILL_DELAY_MS, TimeUnit.MILLISECONDS);
                return sandbox;
            }
        }
        refill();
        sandbox = started(startSandbox());
        coldAllocation.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        session.allocation = "cold";
        return sandbox;
    }

    private Sandbox startSandbox() throws java.io.IOException {
        return Sandbox.start(launcher, runner, config.limits(), interruptGrace, timers, outputRead);
    }

    private Sandbox started(Sandbox sandbox) {
        startFailure = null;
        return sandbox;
    }

    /** Why sandboxes of this pool fail to start, while they do (the last start failed). */
    public Optional<String> startFailure() {
        return Optional.ofNullable(startFailure);
    }

    private synchronized void release(Session session) {
        session.users--;
        session.lastUsedAt = Instant.now();
        if (session.key == null) {
            ephemeral.decrementAndGet();
            destroy(session);
        } else if (session.retired && session.users == 0) {
            destroy(session);
        } else if (session.sandbox != null && !session.sandbox.alive() && session.users == 0) {
            sessions.remove(session.key, session); // its state is gone; a new call starts afresh
        }
    }

    private void destroy(Session session) {
        Sandbox sandbox = session.sandbox;
        if (sandbox != null) {
            sandbox.kill(null);
        }
    }

    // ---- background: warm pool and cooldown ---------------------------------------------------------

    private void refill() {
        if (closed) {
            return;
        }
        int missing = config.readySessions() - warm.size() - starting.get();
        for (int i = 0; i < missing; i++) {
            starting.incrementAndGet();
            workers.execute(() -> {
                try {
                    if (!closed) {
                        warm.addLast(started(startSandbox()));
                    }
                } catch (Exception e) {
                    startFailure = e.getClass().getSimpleName();
                    LOG.warnf("pool %s: starting a sandbox failed: %s", name, e.getMessage());
                } finally {
                    starting.decrementAndGet();
                }
                if (closed) {
                    shutdown();
                }
            });
        }
    }

    private void maintain() {
        try {
            warm.removeIf(s -> !s.alive());
            refill();
            Instant now = Instant.now();
            List<Session> expired = new ArrayList<>();
            synchronized (this) {
                sessions.values().removeIf(s -> {
                    boolean idle = s.users == 0 && s.lastUsedAt.plus(config.cooldown()).isBefore(now);
                    if (idle) {
                        expired.add(s);
                    }
                    return idle;
                });
                // However busy a session is kept, it ends at its lifetime: a new call gets a fresh one,
                // and work running now finishes first (release destroys it then).
                sessions.values().removeIf(s -> {
                    boolean old = s.createdAt.plus(config.maxLifetime()).isBefore(now);
                    if (old) {
                        s.retired = true;
                        lifetimeEnded.increment();
                        if (s.users == 0) {
                            expired.add(s);
                        }
                    }
                    return old;
                });
            }
            expired.forEach(this::destroy);
        } catch (RuntimeException e) {
            LOG.warn("pool maintenance failed", e);
        }
    }

    /** Destroys every sandbox of the pool. */
    public void shutdown() {
        closed = true;
        Sandbox sandbox;
        while ((sandbox = warm.pollFirst()) != null) {
            sandbox.kill(null);
        }
        sessions.values().forEach(this::destroy);
        sessions.clear();
    }

    // ---- API -----------------------------------------------------------------------------------------

    @Override
    public Multi<ExecutionUpdate> execute(Optional<SessionKey> key, ExecutionSpec spec) {
        return Multi.createFrom().emitter(emitter -> {
            Session session;
            try {
                session = allocate(key);
            } catch (RuntimeException e) {
                emitter.fail(e);
                return;
            }
            Duration budget = Duration.ofSeconds(spec.timeoutSeconds()).plus(interruptGrace)
                    .plus(config.files().timeout().multipliedBy(2L * spec.files().size()));
            onSession(session, budget, sandbox -> {
                emitter.emit(new ExecutionUpdate.Allocated(session.allocation));
                return upload(session, sandbox, spec.files()).handle((ignored, failure) -> failure)
                        .thenCompose(failure -> failure == null
                                ? sandbox.execute(spec.code(), spec.timeoutSeconds(), emitter::emit)
                                : CompletableFuture.completedFuture(inputRefused(sandbox, failure)));
            })
                    .whenComplete((result, failure) -> {
                        if (result != null) {
                            count(result);
                        }
                        complete(emitter, result, failure);
                    });
        });
    }

    private void count(ExecutionResult result) {
        registry.counter("sandstream.pool.executions", "pool", name, "language", language.wireName(),
                "status", result.status().name(), "limit", result.limitHit() == null ? "none" : result.limitHit().name())
                .increment();
        Timer.builder("sandstream.execution.duration").tag("pool", name).tag("language", language.wireName())
                .tag("status", result.status().name()).description("Time the code ran, as the result reports it")
                .publishPercentileHistogram().register(registry)
                .record(result.executionMs(), TimeUnit.MILLISECONDS);
    }

    private static void complete(MultiEmitter<? super ExecutionUpdate> emitter, ExecutionResult result, Throwable failure) {
        if (failure != null) {
            emitter.fail(unwrap(failure));
        } else {
            emitter.emit(new ExecutionUpdate.Completed(result));
            emitter.complete();
        }
    }

    private CompletableFuture<Void> upload(Session session, Sandbox sandbox, List<InputFile> files) {
        CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
        for (InputFile file : files) {
            chain = chain.thenCompose(ignored -> put(session, sandbox, file.name(), file.content()).handle((stored, failure) -> {
                if (failure != null && unwrap(failure) instanceof SessionFileException refused) {
                    throw new SessionFileException(refused.reason(), "'" + file.name() + "': " + refused.getMessage());
                }
                if (failure != null) {
                    throw new java.util.concurrent.CompletionException(unwrap(failure));
                }
                return null;
            }));
        }
        return chain;
    }

    /**
     * An input file the session would not take (its name is a directory or a FIFO there, the disk
     * is full, the operation timed out): the execution's result, never a failure to retry. Other
     * failures (a tenant's quota) stay failures.
     */
    private static ExecutionResult inputRefused(Sandbox sandbox, Throwable failure) {
        Throwable cause = unwrap(failure);
        if (!(cause instanceof SessionFileException refused)) {
            throw failure instanceof java.util.concurrent.CompletionException c ? c
                    : new java.util.concurrent.CompletionException(cause);
        }
        Instant now = Instant.now();
        return new ExecutionResult(ExecutionResult.Status.Failed, "", "", null, "InputFileRefused",
                "an input file could not be written to /mnt/data: " + refused.getMessage(), false, null,
                !sandbox.alive(), now, now, 0);
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
    }

    private CompletableFuture<SessionFile> put(Session session, Sandbox sandbox, String fileName, byte[] content) {
        check(fileName);
        if (content.length > config.limits().transferBytes()) {
            throw new SessionFileException(SessionFileException.Reason.TOO_LARGE,
                    "files may be at most " + config.limits().transferBytes() + " bytes");
        }
        ObjectNode message = JSON.createObjectNode().put("op", "put").put("name", fileName)
                .put("content", Base64.getEncoder().encodeToString(content));
        return withinQuota(session, sandbox, fileName, content.length)
                .thenCompose(ignored -> fileOperation(sandbox, message))
                .thenApply(answer -> toFile(answer.path("file")));
    }

    /**
     * Completes when {@code size} more bytes under {@code fileName} (replacing a file of that name)
     * keep the session within its tenant's quota; the files are listed only when a quota applies.
     */
    private CompletableFuture<Void> withinQuota(Session session, Sandbox sandbox, String fileName, long size) {
        long allowed = session.key == null ? Long.MAX_VALUE : quotas.of(session.key.tenant()).maxSessionBytes();
        if (allowed == Long.MAX_VALUE) {
            return CompletableFuture.completedFuture(null);
        }
        return fileOperation(sandbox, JSON.createObjectNode().put("op", "usage").put("except", fileName)).thenApply(answer -> {
            long held = answer.path("bytes").asLong();
            if (held + size > allowed) {
                quotas.refused("session-bytes");
                throw new QuotaExceededException(session.key.tenant(), "SessionStorageQuotaExceeded",
                        "the session holds " + held + " bytes; " + size + " more would pass its limit of " + allowed,
                        quotas.retryAfterSeconds());
            }
            return null;
        });
    }

    private static void check(String fileName) {
        if (ExecuteRequestValidator.fileNameProblem(fileName) != null) {
            throw new SessionFileException(SessionFileException.Reason.INVALID, "invalid file name");
        }
    }

    /**
     * A file operation under the pool's deadline; the runner's answer when it is a success, else a
     * {@link SessionFileException}: a refusal, a timeout (the sandbox was destroyed), or a sandbox
     * that ended meanwhile (user code killed it) — each the user's, never a service failure.
     */
    private CompletableFuture<JsonNode> fileOperation(Sandbox sandbox, ObjectNode message) {
        return sandbox.fileOperation(message, config.files().timeout()).handle((answer, failure) -> {
            if (failure == null) {
                return answered(answer);
            }
            Throwable cause = unwrap(failure);
            if (cause instanceof Sandbox.FileOperationTimeout timeout) {
                throw new SessionFileException(SessionFileException.Reason.TIMED_OUT, timeout.getMessage());
            }
            throw new SessionFileException(SessionFileException.Reason.FAILED,
                    "the session's sandbox ended during the file operation");
        });
    }

    private static JsonNode answered(JsonNode answer) {
        if (answer.path("ok").asBoolean(false)) {
            return answer;
        }
        String error = answer.path("error").asText("");
        if (error.equals("NotRegular")) {
            throw new SessionFileException(SessionFileException.Reason.FAILED, "not a regular file (a directory, FIFO, …)");
        }
        SessionFileException.Reason reason = switch (error) {
            case "NotFound" -> SessionFileException.Reason.NOT_FOUND;
            case "Invalid" -> SessionFileException.Reason.INVALID;
            default -> SessionFileException.Reason.FAILED;
        };
        throw new SessionFileException(reason, answer.path("message").asText(error));
    }

    private static SessionFile toFile(JsonNode file) {
        return new SessionFile(file.path("name").asText(), file.path("size").asLong(),
                Instant.ofEpochMilli((long) (file.path("mtime").asDouble() * 1000)));
    }

    private <T> Uni<T> withSession(SessionKey key, java.util.function.Function<Sandbox, CompletableFuture<T>> work) {
        return withSession(key, (session, sandbox) -> work.apply(sandbox));
    }

    private <T> Uni<T> withSession(SessionKey key,
            java.util.function.BiFunction<Session, Sandbox, CompletableFuture<T>> work) {
        return Uni.createFrom().deferred(() -> {
            Session session = allocate(Optional.of(key));
            Duration budget = config.files().timeout().multipliedBy(2); // an upload checks the quota first
            return Uni.createFrom().completionStage(onSession(session, budget, sandbox -> work.apply(session, sandbox)))
                    .onFailure(java.util.concurrent.CompletionException.class).transform(Throwable::getCause);
        });
    }

    @Override
    public Uni<SessionFile> uploadFile(SessionKey key, String fileName, byte[] content) {
        return withSession(key, (session, sandbox) -> put(session, sandbox, fileName, content));
    }

    @Override
    public Uni<byte[]> downloadFile(SessionKey key, String fileName) {
        return withSession(key, sandbox -> {
            check(fileName);
            ObjectNode message = JSON.createObjectNode().put("op", "get").put("name", fileName)
                    .put("maxBytes", config.limits().transferBytes());
            return fileOperation(sandbox, message)
                    .thenApply(answer -> Base64.getDecoder().decode(answer.path("content").asText()));
        });
    }

    @Override
    public Uni<SessionFiles> listFiles(SessionKey key) {
        ObjectNode message = JSON.createObjectNode().put("op", "list").put("maxEntries", config.files().listMaxEntries())
                .put("maxBytes", config.files().listMaxBytes());
        return withSession(key, sandbox -> fileOperation(sandbox, message).thenApply(answer -> {
            List<SessionFile> files = new ArrayList<>();
            answer.path("files").forEach(f -> files.add(toFile(f)));
            return new SessionFiles(files, answer.path("truncated").asBoolean(false));
        }));
    }

    @Override
    public Uni<Void> deleteFile(SessionKey key, String fileName) {
        return withSession(key, sandbox -> {
            check(fileName);
            return fileOperation(sandbox, JSON.createObjectNode().put("op", "delete").put("name", fileName))
                    .thenApply(answer -> null);
        });
    }

    @Override
    public Uni<Boolean> deleteSession(SessionKey key) {
        return Uni.createFrom().item(() -> {
            Session session;
            synchronized (this) {
                session = sessions.remove(key);
            }
            if (session == null) {
                return false;
            }
            destroy(session);
            return true;
        });
    }

    @Override
    public boolean holds(SessionKey session) {
        return sessions.containsKey(session);
    }

    @Override
    public List<SessionInfo> sessions() {
        return sessions.values().stream().map(s -> new SessionInfo(s.key, s.createdAt, s.lastUsedAt,
                expiresAt(s), s.users > 0)).toList();
    }

    /** The end of its cooldown or of its lifetime, whichever comes first. */
    private Instant expiresAt(Session s) {
        Instant idleEnd = s.lastUsedAt.plus(config.cooldown());
        Instant lifeEnd = s.createdAt.plus(config.maxLifetime());
        return idleEnd.isBefore(lifeEnd) ? idleEnd : lifeEnd;
    }

    /** Most sessions (stateful and ephemeral) allocated at once. */
    @Override
    public int maxSessions() {
        return config.maxSessions();
    }

    @Override
    public PoolStats stats() {
        int busy = (int) sessions.values().stream().filter(s -> s.users > 0).count() + ephemeral.get();
        return new PoolStats(warm.size(), busy, sessions.size() + ephemeral.get() - busy, config.maxSessions());
    }
}
