package io.sandstream.routing;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.Startup;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.results.ResultDocument;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.sessions.PoolFullException;
import io.sandstream.sessions.local.LocalPools;
import io.sandstream.sessions.local.LocalSessionPool;
import io.sandstream.streaming.ResultBus;
import io.sandstream.validation.ExecuteRequest;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;

/**
 * Moves journalled work into the session pools and results into the store. Reads the journal's
 * pending stream (light tickets only; each event is loaded again when it starts), schedules with
 * {@link LaneScheduler}, starts work only where a pool has room and the session is free, and
 * finishes a journal entry only after its result is stored. All scheduling state is confined to
 * one thread.
 */
@Startup
@ApplicationScoped
public class Dispatcher {

    private static final Logger LOG = Logger.getLogger(Dispatcher.class);
    /** Retries of a transient backend failure (pool full, sandbox failed to start) before giving up. */
    private static final int MAX_RETRIES = 20;
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

    /** What the scheduler holds per queued execution. */
    record Job(String executionId, String pool, String sessionKey, Priority priority, Instant acceptedAt) {
    }

    private final Journal journal;
    private final LocalPools pools;
    private final ResultStore store;
    private final ResultBus bus;
    private final ExecutionLoader loader;
    private final RoutingRules rules;
    private final SandstreamConfig.Routing config;
    private final MeterRegistry registry;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> new Thread(r, "dispatcher"));
    private final LaneScheduler<Job> scheduler;
    private final Map<String, Integer> inFlight = new HashMap<>();
    private final Set<String> busySessions = new HashSet<>();
    /** Executions taken from the journal and not finished yet. */
    private final Set<String> started = new HashSet<>();
    private final Map<Priority, Timer> queueWait = new EnumMap<>(Priority.class);
    private Cancellable subscription;
    private volatile boolean stopping;

    public Dispatcher(Journal journal, LocalPools pools, ResultStore store, ResultBus bus, ExecutionLoader loader,
            RoutingRules rules, SandstreamConfig config, MeterRegistry registry) {
        this.rules = rules;
        this.journal = journal;
        this.pools = pools;
        this.store = store;
        this.bus = bus;
        this.loader = loader;
        this.config = config.routing();
        this.registry = registry;
        this.scheduler = new LaneScheduler<>(config.routing().aging());
    }

    @PostConstruct
    void start() {
        for (Priority p : Priority.values()) {
            queueWait.put(p, Timer.builder("sandstream.queue.wait").tag("lane", p.wireName())
                    .description("Time from acceptance to start").publishPercentiles(0.5, 0.99).register(registry));
            Gauge.builder("sandstream.queue.depth", scheduler, s -> s.size(p)).tag("lane", p.wireName())
                    .description("Executions waiting in a lane").register(registry);
        }
        follow();
    }

    /** Follows the journal; should the stream ever fail, it is followed again from the start (entries are idempotent). */
    private void follow() {
        subscription = journal.pending().emitOn(thread)
                .subscribe().with(this::accept, failure -> {
                    if (!stopping) {
                        LOG.error("the journal stream failed; following it again", failure);
                        thread.execute(() -> {
                            scheduler.clear();
                            follow();
                        });
                    }
                });
    }

    /**
     * Stops before any bean is destroyed: the container's destruction order is not defined, and a
     * journal closed under a running dispatcher sent it round its "follow again" loop at shutdown.
     */
    void onShutdown(@Observes ShutdownEvent event) {
        stop();
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
            persist(loader.rejected(record), entry.executionId());
            return;
        }
        if (record.attempt() >= config.maxAttempts()) {
            persist(loader.gaveUp(record, "interrupted " + record.attempt() + " times (crash or restart); not run again"),
                    entry.executionId());
            return;
        }
        Optional<ExecutionLoader.Loaded> loaded = loader.load(record);
        if (loaded.isEmpty()) {
            persist(loader.gaveUp(record, "the journalled event can no longer be read"), entry.executionId());
            return;
        }
        ExecuteRequest request = loaded.get().request();
        Optional<LocalSessionPool> pool = poolFor(entry, request);
        if (pool.isEmpty()) {
            persist(loader.gaveUp(record, "no pool runs " + request.language().wireName()), entry.executionId());
            return;
        }
        String sessionKey = request.sessionId().map(id -> pool.get().name() + "/" + id).orElse(null);
        Priority priority = Priority.parse(entry.priority()).orElse(Priority.NORMAL);
        scheduler.offer(new LaneScheduler.Ticket<>(priority, tenantOf(entry), entry.acceptedAt(),
                new Job(entry.executionId(), pool.get().name(), sessionKey, priority, entry.acceptedAt())));
        pump();
    }

    private String tenantOf(JournalEntry entry) {
        if (config.tenant().equals("subject") && entry.subject() != null) {
            int slash = entry.subject().indexOf('/');
            return slash < 0 ? entry.subject() : entry.subject().substring(0, slash);
        }
        return entry.source() == null ? "" : entry.source();
    }

    /** The pool a rule names (when it runs the request's language), else the first pool of that language. */
    private Optional<LocalSessionPool> poolFor(JournalEntry entry, ExecuteRequest request) {
        return rules.pool(entry.type(), entry.subject()).map(name -> pools.all().get(name))
                .filter(p -> p.language() == request.language())
                .or(() -> pools.all().values().stream().filter(p -> p.language() == request.language()).findFirst());
    }

    private void pump() {
        Optional<LaneScheduler.Ticket<Job>> next;
        while ((next = scheduler.poll(Instant.now(), this::canStart)).isPresent()) {
            run(next.get().work());
        }
    }

    private boolean canStart(Job job) {
        return inFlight.getOrDefault(job.pool(), 0) < pools.all().get(job.pool()).stats().maxSessions()
                && (job.sessionKey() == null || !busySessions.contains(job.sessionKey()));
    }

    private void run(Job job) {
        inFlight.merge(job.pool(), 1, Integer::sum);
        if (job.sessionKey() != null) {
            busySessions.add(job.sessionKey());
        }
        queueWait.get(job.priority()).record(Duration.between(job.acceptedAt(), Instant.now()));
        execute(job).emitOn(thread).subscribe().with(ignored -> done(job), failure -> {
            LOG.errorf(failure, "execution %s could not be completed; it stays journalled", job.executionId());
            done(job);
        });
    }

    private void done(Job job) {
        started.remove(job.executionId());
        inFlight.merge(job.pool(), -1, Integer::sum);
        if (job.sessionKey() != null) {
            busySessions.remove(job.sessionKey());
        }
        pump();
    }

    // ---- off the dispatcher thread ------------------------------------------------------------------

    /**
     * Runs one execution and stores its result. The RUNNING mark (which counts the attempt for
     * crash recovery) is not waited for: it is committed ahead of the finish in the journal's queue,
     * and the execution need not pay an fsync before it starts.
     */
    private Uni<StoredResult> execute(Job job) {
        journal.markRunning(job.executionId()).subscribe().with(ignored -> { },
                failure -> LOG.warnf("marking %s running failed: %s", job.executionId(), failure.getMessage()));
        return attempt(job, 0).flatMap(this::storeAndFinish);
    }

    /** One try at running the code; transient backend failures are retried with backoff. */
    private Uni<ResultDocument> attempt(Job job, int retries) {
        LocalSessionPool pool = pools.all().get(job.pool());
        return journal.load(job.executionId())
                .flatMap(record -> {
                    JournalRecord r = record.orElseThrow();
                    ExecuteRequest request = loader.load(r).orElseThrow().request();
                    Instant startedAt = Instant.now();
                    bus.status(job.executionId(), "Running");
                    return pool.execute(request.sessionId(), new ExecutionSpec(request.code(), request.timeoutSeconds(),
                            request.files()))
                            .onItem().invoke(update -> {
                                if (update instanceof ExecutionUpdate.Output output) {
                                    bus.output(job.executionId(), output);
                                }
                            })
                            .select().where(update -> update instanceof ExecutionUpdate.Completed)
                            .toUni()
                            .map(update -> loader.completed(r, request, pool.name(),
                                    ((ExecutionUpdate.Completed) update).result(), startedAt));
                })
                .onFailure(this::isTransient).recoverWithUni(failure -> {
                    if (retries >= MAX_RETRIES) {
                        return journal.load(job.executionId()).map(r -> loader.gaveUp(r.orElseThrow(),
                                "the session backend kept failing: " + failure.getMessage()));
                    }
                    Duration pause = config.retryBackoff().multipliedBy(1L << Math.min(retries, 6));
                    Duration capped = pause.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : pause;
                    return Uni.createFrom().voidItem().onItem().delayIt().by(capped)
                            .flatMap(waited -> attempt(job, retries + 1));
                });
    }

    private boolean isTransient(Throwable failure) {
        return failure instanceof PoolFullException || failure instanceof java.io.IOException
                || failure.getCause() instanceof java.io.IOException;
    }

    private void persist(ResultDocument document, String executionId) {
        storeAndFinish(document).emitOn(thread).subscribe().with(ignored -> started.remove(executionId), failure -> {
            LOG.errorf(failure, "storing the result of %s failed; it stays journalled", executionId);
            started.remove(executionId);
        });
    }

    /** Stores (retrying while the store is down), then finishes the journal entry, then publishes. */
    private Uni<StoredResult> storeAndFinish(ResultDocument document) {
        return store.put(document)
                .onFailure().retry().withBackOff(Duration.ofMillis(100), Duration.ofSeconds(10)).indefinitely()
                .call(stored -> journal.finish(document.executionId()))
                .invoke(bus::published);
    }

    /** For the execution status of work that has no result yet. */
    public static String statusOf(JournalEntry.State state) {
        return state == JournalEntry.State.RUNNING ? "Running" : "Queued";
    }
}
