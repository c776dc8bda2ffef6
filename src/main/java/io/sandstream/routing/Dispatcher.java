package io.sandstream.routing;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicIntegerArray;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.util.TypeLiteral;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.Startup;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.ExecuteRequest;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultBus;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.sessions.PoolFullException;
import io.sandstream.sessions.SessionKey;
import io.sandstream.sessions.SessionPool;
import io.sandstream.sessions.SessionPools;
import io.sandstream.telemetry.ExecutionTracing;
import io.sandstream.tenancy.QuotaExceededException;
import io.sandstream.tenancy.Tenants;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;

/**
 * Moves journalled work into the session pools and results into the store. Reads the journal's
 * pending stream, schedules with {@link LaneScheduler} (a session's later events park behind its
 * running one), starts work only where a pool has room and not too many results wait to be
 * stored, and finishes a journal entry only after its result is stored. All scheduling state is
 * confined to one thread.
 */
@Startup
@ApplicationScoped
public class Dispatcher {

    private static final Logger LOG = Logger.getLogger(Dispatcher.class);
    /** Retries of a backend failure (a sandbox that fails to start, an unreachable pool) before giving up. */
    private static final int MAX_RETRIES = 20;
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
    /** Longest pause between two looks at a pool with no room: a busy pool only means wait. */
    private static final Duration MAX_WAIT_FOR_ROOM = Duration.ofSeconds(2);
    /** Queued events up to this size are kept in memory (see {@link #keep}). */
    private static final int KEEP_EVENT_BYTES = 4 * 1024;

    /** What the scheduler holds per queued execution. */
    record Job(String executionId, String pool, String sessionKey, Priority priority, Instant acceptedAt, int attempt,
            Prepared prepared) {
    }

    /** A journalled event made ready to run. */
    record Prepared(JournalRecord record, ExecuteRequest request) {
    }

    private final Journal journal;
    private final SessionPools pools;
    private final ResultStore store;
    private final ResultBus bus;
    private final ExecutionLoader loader;
    private final RoutingRules rules;
    private final SandstreamConfig.Routing config;
    private final MeterRegistry registry;
    private final ExecutionTracing tracing;
    private final LostSessions lostSessions;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> new Thread(r, "dispatcher"));
    private final LaneScheduler<Job> scheduler;
    private final TypedGuard<Uni<ResultDocument>> backendRetry;
    private final Map<String, Integer> inFlight = new HashMap<>();
    /**
     * A session's later work, parked behind the one ticket of that session that is in the scheduler
     * or running. A session runs its events one at a time in arrival order, and the scheduler never
     * has to look past work that could not start anyway.
     */
    private final Map<String, ArrayDeque<LaneScheduler.Ticket<Job>>> parked = new HashMap<>();
    /** Executions run whose result is not stored yet (see {@code maxUnpersisted}). */
    private volatile int unpersisted;
    private final AtomicIntegerArray parkedByLane = new AtomicIntegerArray(Priority.values().length);
    /** Executions taken from the journal and not finished yet (queued, parked or running). */
    private final Set<String> started = new HashSet<>();
    private final Map<Priority, Timer> queueWait = new EnumMap<>(Priority.class);
    private Cancellable subscription;
    private volatile boolean stopping;
    private final Drain drain;
    private final SandstreamConfig.Shutdown shutdown;

    public Dispatcher(Journal journal, SessionPools pools, ResultStore store, ResultBus bus, ExecutionLoader loader,
            RoutingRules rules, SandstreamConfig config, MeterRegistry registry, ExecutionTracing tracing, Drain drain,
            LostSessions lostSessions) {
        this.rules = rules;
        this.lostSessions = lostSessions;
        this.drain = drain;
        this.shutdown = config.shutdown();
        this.tracing = tracing;
        this.journal = journal;
        this.pools = pools;
        this.store = store;
        this.bus = bus;
        this.loader = loader;
        this.config = config.routing();
        this.registry = registry;
        this.scheduler = new LaneScheduler<>(config.routing().aging());
        Duration backoff = config.routing().retryBackoff();
        this.backendRetry = TypedGuard.create(new TypeLiteral<Uni<ResultDocument>>() { })
                .withRetry().maxRetries(MAX_RETRIES).whenException(this::backendFailed)
                .delay(backoff.toMillis(), ChronoUnit.MILLIS).jitter(backoff.toMillis() / 4, ChronoUnit.MILLIS)
                .maxDuration(MAX_RETRIES * MAX_BACKOFF.toMillis(), ChronoUnit.MILLIS)
                .withExponentialBackoff().factor(2).maxDelay(MAX_BACKOFF.toMillis(), ChronoUnit.MILLIS).done()
                .done().build();
    }

    @PostConstruct
    void start() {
        for (Priority p : Priority.values()) {
            queueWait.put(p, Timer.builder("sandstream.queue.wait").tag("lane", p.wireName())
                    .description("Time from acceptance to start").publishPercentiles(0.5, 0.99).register(registry));
            Gauge.builder("sandstream.queue.depth", scheduler, s -> s.size(p) + parkedByLane.get(p.ordinal()))
                    .tag("lane", p.wireName())
                    .description("Executions waiting in a lane").register(registry);
        }
        Gauge.builder("sandstream.results.unpersisted", this, d -> d.unpersisted)
                .description("Executions run whose result is not stored yet").register(registry);
        follow();
    }

    /** Follows the journal; should the stream ever fail, it is followed again from the start (entries are idempotent). */
    private void follow() {
        subscription = journal.pending().onItem().transformToUniAndConcatenate(this::unlessStored).emitOn(thread)
                .subscribe().with(this::accept, failure -> {
                    if (!stopping) {
                        LOG.error("the journal stream failed; following it again in a second", failure);
                        Uni.createFrom().voidItem().onItem().delayIt().by(Duration.ofSeconds(1)).emitOn(thread)
                                .subscribe().with(ignored -> refollow());
                    }
                });
    }

    /** Forgets what was queued (not what runs) and reads the journal again; running work is skipped by {@code started}. */
    private void refollow() {
        if (stopping) {
            return;
        }
        parked.values().forEach(queue -> {
            queue.forEach(ticket -> started.remove(ticket.work().executionId()));
            queue.clear();
        });
        for (LaneScheduler.Ticket<Job> ticket : scheduler.drain()) {
            started.remove(ticket.work().executionId());
            if (ticket.work().sessionKey() != null) {
                parked.remove(ticket.work().sessionKey()); // held by this queued ticket only; a running session stays held
            }
        }
        for (int i = 0; i < parkedByLane.length(); i++) {
            parkedByLane.set(i, 0);
        }
        follow();
    }

    /**
     * Drains in Quarkus' pre-shutdown phase ({@code quarkus.shutdown.delay-enabled}): the HTTP
     * server still answers then, so a client gets a clear {@code 503} and a probe sees the
     * instance not ready. The Vert.x event loops are closing by the time {@link ShutdownEvent}
     * observers run.
     */
    void onShutdownDelay(@Observes ShutdownDelayInitiatedEvent event) {
        drain();
    }

    /**
     * Stops before any bean is destroyed: the container's destruction order is not defined, and a
     * journal closed under a running dispatcher sent it round its "follow again" loop at shutdown.
     * Drains first should no pre-shutdown phase have run (observed first, priority 1).
     */
    void onShutdown(@Observes @jakarta.annotation.Priority(1) ShutdownEvent event) {
        drain();
        stop();
    }

    /**
     * Lets the executions running here finish and their results be stored, for at most
     * {@code sandstream.shutdown.drain-timeout}: readiness goes down and ingress refuses new work
     * first ({@link Drain}), the journal hands over nothing more, and nothing queued starts. Queued
     * work stays in the journal (Kafka: for the instance that takes the partitions when this one
     * leaves; SQLite: for the next start), and so does what is still running at the timeout.
     */
    void drain() {
        if (!drain.begin()) {
            return; // drained already
        }
        journal.stopTaking();
        Instant deadline = Instant.now().plus(shutdown.drainTimeout());
        int running = running();
        if (running > 0) {
            LOG.infof("draining: %d executions still running here; waiting up to %s for them", running,
                    shutdown.drainTimeout());
        }
        while ((running = running()) > 0 && Instant.now().isBefore(deadline)) {
            drain.inFlight(running);
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        drain.inFlight(running);
        if (running > 0) {
            drain.unfinished(running);
            LOG.warnf("drain timeout: %d executions still running are interrupted; they stay journalled and run again",
                    running);
        } else {
            LOG.info("drained: every execution started here has its result stored");
        }
    }

    /**
     * What a drain waits for: executions started here and not yet stored, and the pools' busy
     * sessions, which also count what the pool API runs directly (its caller waits for the answer).
     */
    private int running() {
        int busy = pools.all().values().stream().mapToInt(pool -> pool.stats().busy()).sum();
        return Math.max(unpersisted, busy);
    }

    @PreDestroy
    void stop() {
        stopping = true;
        if (subscription != null) {
            subscription.cancel();
        }
        thread.shutdownNow();
    }

    // ---- on the dispatcher thread -------------------------------------------------------------------

    private void accept(JournalRecord record) {
        JournalEntry entry = record.entry();
        if (!started.add(entry.executionId())) {
            return; // already running or being stored (a re-read after the stream was followed again)
        }
        if (entry.state() == JournalEntry.State.REJECTED) {
            tracing.begin(record);
            persist(loader.rejected(record), entry.executionId());
            return;
        }
        admit(record);
    }

    /**
     * The record, or null (dropped) when its result is stored already: interrupted by a crash or
     * stop between storing and finishing, or redelivered after another instance finished it. Such
     * work must not run again, so re-running is limited to work that was truly in flight. In
     * journal order: a session's events still arrive in the order they were accepted.
     */
    private Uni<JournalRecord> unlessStored(JournalRecord record) {
        if (!journal.mayHaveResult(record)) {
            return Uni.createFrom().item(record);
        }
        String executionId = record.entry().executionId();
        return store.get(executionId)
                .onFailure().recoverWithItem(Optional.empty()) // cannot tell: run it rather than lose it
                .flatMap(found -> found.isEmpty() ? Uni.createFrom().item(record)
                        : journal.finish(executionId).onFailure().recoverWithNull().replaceWith((JournalRecord) null));
    }

    /** Queues a journalled execution, or ends it at once when it can never run. */
    private void admit(JournalRecord record) {
        JournalEntry entry = record.entry();
        tracing.begin(record);
        Optional<ExecutionLoader.Loaded> loaded = loader.load(record);
        if (loaded.isEmpty()) {
            persist(loader.gaveUp(record, null, null, record.attempt(), "the journalled event can no longer be read"),
                    entry.executionId());
            return;
        }
        ExecuteRequest request = loaded.get().request();
        if (record.attempt() >= config.maxAttempts()) {
            abandon(record, request);
            return;
        }
        Optional<SessionPool> pool = poolFor(entry, request);
        if (pool.isEmpty()) {
            persist(loader.gaveUp(record, request, null, record.attempt(), "no pool runs " + request.language().wireName()),
                    entry.executionId());
            return;
        }
        // A session is its pool's, its tenant's and its identifier's (never shown; newlines occur in none).
        String sessionKey = request.sessionId().map(id -> pool.get().name() + "\n" + entry.tenant().id() + "\n" + id)
                .orElse(null);
        Priority priority = Objects.requireNonNullElse(entry.priority(), Priority.NORMAL);
        LaneScheduler.Ticket<Job> ticket = new LaneScheduler.Ticket<>(priority, tenantOf(entry), entry.acceptedAt(),
                new Job(entry.executionId(), pool.get().name(), sessionKey, priority, entry.acceptedAt(),
                        record.attempt() + 1, keep(record, request)));
        tracing.queued(entry.executionId(), pool.get().name(), priority.wireName());
        if (sessionKey != null && parked.containsKey(sessionKey)) {
            parked.get(sessionKey).addLast(ticket);
            parkedByLane.incrementAndGet(priority.ordinal());
            return;
        }
        if (sessionKey != null) {
            parked.put(sessionKey, new ArrayDeque<>()); // the session is held until its queue is empty
        }
        scheduler.offer(ticket);
        pump();
    }

    /**
     * Started {@code max-attempts} times and never finished: each start ended with its instance
     * (a crash, a kill, a drain timeout), so it may be what brings instances down. It is not run
     * again: the event goes to the journal's dead letters, then its {@code ExecutionAbandoned}
     * result is stored. Should the dead letter not be written, the result is stored anyway; the
     * event is then in the journal only (logged).
     */
    private void abandon(JournalRecord record, ExecuteRequest request) {
        String why = "interrupted " + record.attempt() + " times (crash or restart); not run again";
        String executionId = record.entry().executionId();
        LOG.warnf("execution %s was started %d times and never finished; giving it up", executionId, record.attempt());
        journal.deadLetter(record, why)
                .onFailure().retry().withBackOff(Duration.ofMillis(200), Duration.ofSeconds(5)).atMost(5)
                .onFailure().recoverWithItem(failure -> {
                    LOG.errorf(failure, "the dead letter of %s could not be written", executionId);
                    return null;
                })
                .emitOn(thread)
                .subscribe().with(ignored -> persist(loader.gaveUp(record, request, null, record.attempt(), why), executionId));
    }

    /**
     * Small events stay in memory while queued, so starting them costs no journal read; large ones
     * are read again when they start, so a deep queue of large events does not fill the heap.
     */
    private static Prepared keep(JournalRecord record, ExecuteRequest request) {
        return record.entry().event().length <= KEEP_EVENT_BYTES ? new Prepared(record, request) : null;
    }

    private String tenantOf(JournalEntry entry) {
        return Tenants.of(config.tenant(), entry.source(), entry.subject());
    }

    /** The pool a rule names (when it runs the request's language), else the language's default pool. */
    private Optional<SessionPool> poolFor(JournalEntry entry, ExecuteRequest request) {
        return rules.poolFor(entry.type(), entry.subject(), request.language(), pools);
    }

    /** Starts what may start; nothing while draining. */
    private void pump() {
        Optional<LaneScheduler.Ticket<Job>> next;
        while (!drain.active() && scheduler.size() > 0 && (next = scheduler.poll(Instant.now(), this::canStart)).isPresent()) {
            Job job = next.get().work();
            if (journal.claim(job.executionId())) {
                run(job);
            } else {
                withdrawn(job);
            }
        }
    }

    /** Work the journal gave to another instance before it started here: forgotten, never run. */
    private void withdrawn(Job job) {
        started.remove(job.executionId());
        tracing.finished(job.executionId(), new IllegalStateException("moved to another instance before it started"));
        releaseSession(job);
    }

    /** Only pool room matters: a session's next ticket enters the scheduler when its previous one is done. */
    private boolean canStart(Job job) {
        return unpersisted < config.maxUnpersisted()
                && inFlight.getOrDefault(job.pool(), 0) < pools.all().get(job.pool()).maxSessions();
    }

    private void run(Job job) {
        inFlight.merge(job.pool(), 1, Integer::sum);
        unpersisted++;
        queueWait.get(job.priority()).record(Duration.between(job.acceptedAt(), Instant.now()));
        tracing.started(job.executionId());
        attempt(job).subscribe().with(document -> {
            // Storing starts from the thread that completed the execution: one hop less before readers see it.
            storeAndFinish(document).subscribe().with(stored -> persisted(job), failure -> {
                LOG.errorf(failure, "storing the result of %s failed; it stays journalled", job.executionId());
                persisted(job);
            });
            onDispatcher(() -> executed(job));
        }, failure -> {
            LOG.errorf(failure, "execution %s could not be completed; it stays journalled", job.executionId());
            tracing.finished(job.executionId(), failure);
            onDispatcher(() -> {
                executed(job);
                persisted(job);
            });
        });
    }

    private void onDispatcher(Runnable step) {
        try {
            thread.execute(step);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // stopping: the journal keeps what was not finished
        }
    }

    /**
     * The code has run: its session and pool slot are free for the next work while the result is
     * stored. A crash before it is stored re-runs it on restart, like any interrupted execution.
     */
    private void executed(Job job) {
        inFlight.merge(job.pool(), -1, Integer::sum);
        releaseSession(job);
        pump();
    }

    /** The session's next parked event, if any, enters the scheduler. */
    private void releaseSession(Job job) {
        if (job.sessionKey() != null) {
            ArrayDeque<LaneScheduler.Ticket<Job>> queue = parked.get(job.sessionKey());
            LaneScheduler.Ticket<Job> next = queue == null ? null : queue.pollFirst();
            if (next == null) {
                parked.remove(job.sessionKey());
            } else {
                parkedByLane.decrementAndGet(next.priority().ordinal());
                scheduler.offer(next);
            }
        }
    }

    private void persisted(Job job) {
        started.remove(job.executionId());
        unpersisted--;
        pump();
    }

    // ---- off the dispatcher thread ------------------------------------------------------------------

    /**
     * Runs the code. A pool with no room (full of busy sessions, or the tenant's quota reached)
     * means wait: it is asked again, with backoff, for as long as it takes, and never counts
     * towards giving up. Backend failures (a sandbox that fails to start) are retried with
     * exponential backoff, and when the backend keeps failing the execution ends Failed rather
     * than staying queued forever. User-code failures are results, never retried.
     */
    private Uni<ResultDocument> attempt(Job job) {
        if (stopping) {
            return Uni.createFrom().failure(new IllegalStateException("stopping"));
        }
        // The first try runs bare: the retry machinery (the fault-tolerance guard's layers, the
        // back-off's retry stream) was a fifth of the dispatching threads' CPU samples, paid by
        // every execution, and almost every first try succeeds.
        return runOnce(job).onFailure(failure -> noRoom(failure) || backendFailed(failure))
                .recoverWithUni(failure -> Uni.createFrom().voidItem().onItem().delayIt().by(config.retryBackoff())
                        .flatMap(ignored -> retried(job)));
    }

    /** {@link #attempt} after its first try failed for want of room or by the backend. */
    private Uni<ResultDocument> retried(Job job) {
        return Uni.createFrom().deferred(() -> stopping ? Uni.createFrom().failure(new IllegalStateException("stopping"))
                        : backendRetry.get(() -> runOnce(job)))
                .onFailure(Dispatcher::noRoom).retry()
                .withBackOff(config.retryBackoff(), MAX_WAIT_FOR_ROOM).withJitter(0.25).indefinitely()
                .onFailure(this::backendFailed).recoverWithUni(failure -> prepared(job).map(p -> loader.gaveUp(p.record(),
                        p.request(), pools.all().get(job.pool()).backend(), job.attempt(),
                        "the session backend kept failing: " + failure.getMessage())));
    }

    private Uni<ResultDocument> runOnce(Job job) {
        SessionPool pool = pools.all().get(job.pool());
        return prepared(job).flatMap(prepared -> {
            Optional<SessionKey> session = prepared.request().sessionId()
                    .map(id -> new SessionKey(prepared.record().entry().tenant(), id));
            if (session.isPresent() && lostSessions.mayBeLost(pool, session.get())) {
                return lostSessions.lost(pool, session.get()).flatMap(lost -> lost
                        ? Uni.createFrom().item(loader.sessionLost(prepared.record(), prepared.request(), pool.backend(),
                                job.attempt()))
                        : execute(job, pool, prepared, session));
            }
            return execute(job, pool, prepared, session);
        });
    }

    private Uni<ResultDocument> execute(Job job, SessionPool pool, Prepared prepared, Optional<SessionKey> session) {
        ExecuteRequest request = prepared.request();
        Instant startedAt = Instant.now();
        bus.status(job.executionId(), ExecutionStatus.Running);
        tracing.allocating(job.executionId());
        return pool.execute(session, new ExecutionSpec(request.code(), request.timeoutSeconds(), request.files()))
                .onItem().invoke(update -> {
                    if (update instanceof ExecutionUpdate.Output output) {
                        bus.output(job.executionId(), output);
                    } else if (update instanceof ExecutionUpdate.Allocated allocated) {
                        tracing.allocated(job.executionId(), allocated.kind());
                    } else if (update instanceof ExecutionUpdate.Completed completed) {
                        tracing.executed(job.executionId(), completed.result());
                    }
                })
                .onFailure().invoke(failure -> tracing.failed(job.executionId(), failure))
                .select().where(update -> update instanceof ExecutionUpdate.Completed)
                .toUni()
                .map(update -> loader.completed(prepared.record(), request, pool.backend(),
                        ((ExecutionUpdate.Completed) update).result(), startedAt, job.attempt()));
    }

    /** The journalled event and its request: kept from when it was queued, or read again when it was large. */
    private Uni<Prepared> prepared(Job job) {
        if (job.prepared() != null) {
            return Uni.createFrom().item(job.prepared());
        }
        return journal.load(job.executionId()).map(record -> {
            JournalRecord r = record.orElseThrow();
            return new Prepared(r, loader.load(r).orElseThrow().request());
        });
    }

    /** The pool could run it, only not now. */
    private static boolean noRoom(Throwable failure) {
        return failure instanceof PoolFullException || failure instanceof QuotaExceededException;
    }

    private boolean backendFailed(Throwable failure) {
        return failure instanceof java.io.IOException || failure.getCause() instanceof java.io.IOException;
    }

    private void persist(ResultDocument document, String executionId) {
        storeAndFinish(document).subscribe().with(ignored -> started.remove(executionId), failure -> {
            LOG.errorf(failure, "storing the result of %s failed; it stays journalled", executionId);
            started.remove(executionId);
        });
    }

    /**
     * Stores (retrying while the store is down), publishes, then finishes the journal entry. Readers
     * get the result as soon as it is stored; should the service stop before the finish, the
     * restart finds the stored result and does not run the execution again (see {@link #accept}).
     * Completes on the dispatcher thread, which also publishes: the store completes a put on its
     * own thread (SQLite's writer, Kafka's producer network thread), and publishing only hands the
     * result on (waiters, streams and sinks queue it), so it takes no pool thread of its own.
     */
    private Uni<StoredResult> storeAndFinish(ResultDocument document) {
        tracing.persisting(document);
        // Retried only once a put failed: a back-off retry is a stream of its own per execution.
        return store.put(document)
                .onFailure().recoverWithUni(failure -> store.put(document)
                        .onFailure().retry().withBackOff(Duration.ofMillis(100), Duration.ofSeconds(10)).indefinitely())
                .emitOn(thread)
                .invoke(stored -> tracing.publishing(document.executionId(), () -> bus.published(stored)))
                // One commit with the result when they share a database; else the finish is a commit of its own.
                .call(stored -> journal.finishedByResultStore() ? Uni.createFrom().voidItem()
                        : journal.finish(document.executionId()).emitOn(thread))
                .onItemOrFailure().invoke((stored, failure) -> tracing.finished(document.executionId(), failure));
    }

}
