package io.sandstream.journal.kafka;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.kafka.AcceptedIndex;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.model.Priority;
import io.sandstream.tenancy.TenantQuotas;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.MultiEmitter;

/**
 * The journal shared by several instances: accepted events are records of the lane topics
 * ({@code high}, {@code normal}, {@code low}), acknowledged by every in-sync replica before the
 * 202. Every instance consumes the lanes in one consumer group, so each partition is worked by one
 * instance at a time.
 *
 * <p>One thread owns the consumer ({@link LaneConsumer}). It hands records to the dispatcher (which
 * schedules them as in the single-instance case), holds at most {@code max-in-flight} unfinished
 * records per lane, pauses a lane's partitions while a higher lane has backlog, for at most
 * {@code aging} at a time ({@link LanePauses}), and commits a partition's offset only up to the
 * first record whose result is not stored yet ({@link OffsetLedger}). When partitions move away,
 * queued work from them is withdrawn ({@link #claim} answers false) and running work is waited for,
 * so an execution never runs on two instances at once ({@link LaneRebalance}). Appends go through
 * {@link LaneAppender}; the pending limit counts the whole group's lag ({@link GroupBacklog}).
 */
public final class KafkaJournal implements Journal, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(KafkaJournal.class);

    private final KafkaClients clients;
    /** The lane topics in priority order, highest first. */
    private final Map<String, Priority> lanesByTopic = new LinkedHashMap<>();
    private final OffsetLedger ledger = new OffsetLedger();
    private final LanePauses pauses;
    private final GroupBacklog backlog;
    private final LaneAppender appender;
    private final LaneConsumer lanes;

    private volatile MultiEmitter<? super JournalRecord> emitter;

    /**
     * @param resultsCaughtUp completes once this instance's results copy holds every result stored before the call
     * @param stored whether an execution's result is stored, answered on the caller's thread
     */
    public KafkaJournal(KafkaClients clients, SandstreamConfig config, MeterRegistry registry,
            Supplier<CompletableFuture<Void>> resultsCaughtUp, Predicate<String> stored, TenantQuotas quotas) {
        this.clients = clients;
        for (Priority lane : Priority.values()) {
            lanesByTopic.put(clients.laneTopic(lane), lane);
        }
        this.pauses = new LanePauses(config.routing().aging(), clients.config().maxInFlight(), ledger, lanesByTopic);
        this.backlog = new GroupBacklog(clients, lanesByTopic.keySet());
        this.appender = new LaneAppender(clients, config.journal(), quotas, backlog);
        Counter skipped = Counter.builder("sandstream.kafka.skipped").description("Lane records that were not sandstream events")
                .register(registry);
        this.lanes = new LaneConsumer(clients, lanesByTopic, ledger, pauses, resultsCaughtUp, stored, this::handOver,
                skipped);
        Gauge.builder("sandstream.journal.pending", backlog, GroupBacklog::get)
                .description("Accepted executions not finished yet (Kafka: the group's lag on the lane topics)")
                .register(registry);
        Gauge.builder("sandstream.journal.pending.limit", config.journal(), SandstreamConfig.Journal::maxPending)
                .description("Most pending executions before ingress answers 429").register(registry);
        Gauge.builder("sandstream.kafka.accepted", clients.accepted(), AcceptedIndex::size)
                .description("Unfinished executions of any instance this instance knows of (the accepted index)").register(registry);
        Gauge.builder("sandstream.kafka.accepted.limit", clients.accepted(), AcceptedIndex::limit)
                .description("Most executions the accepted index keeps: twice max-pending, at least 200,000").register(registry);
        Gauge.builder("sandstream.kafka.sends.in.flight.limit", clients.config(), SandstreamConfig.Kafka::sendsInFlight)
                .description("Requests the acknowledged producer keeps in flight to a broker").register(registry);
        Gauge.builder("sandstream.kafka.fetch.wait.limit", clients.config(), c -> c.fetchWait().toMillis())
                .baseUnit("milliseconds").description("Longest a lane fetch waits at the broker for records").register(registry);
        for (Priority lane : Priority.values()) {
            Gauge.builder("sandstream.kafka.held", ledger, l -> l.count(lane).held()).tag("lane", lane.wireName())
                    .description("Lane records this instance took and has not finished").register(registry);
            Gauge.builder("sandstream.kafka.held.limit", clients.config(), SandstreamConfig.Kafka::maxInFlight)
                    .tag("lane", lane.wireName())
                    .description("Most lane records one instance holds unfinished").register(registry);
            Gauge.builder("sandstream.kafka.lane.paused", pauses, p -> p.yielding(lane) ? 1 : 0)
                    .tag("lane", lane.wireName())
                    .description("1 while the lane's partitions wait for higher lanes or for room").register(registry);
        }
    }

    public void start() {
        appender.start();
        lanes.start();
        backlog.start();
        LOG.infof("Kafka journal: lanes %s, group %s, instance %s", lanesByTopic.keySet(), clients.config().groupId(),
                clients.instanceId());
    }

    @Override
    public void close() {
        lanes.close();
        backlog.close();
        appender.close();
    }

    @Override
    public Uni<List<Boolean>> append(List<JournalEntry> entries) {
        return appender.append(entries);
    }

    /** Records as this instance takes them; a new subscriber first gets every queued record again. */
    @Override
    public Multi<JournalRecord> pending() {
        return Multi.createFrom().emitter(e -> {
            List<JournalRecord> queued = ledger.queued(() -> emitter = e);
            queued.forEach(e::emit);
            e.onTermination(() -> emitter = null);
        });
    }

    private void handOver(JournalRecord taken) {
        MultiEmitter<? super JournalRecord> e = emitter;
        if (e != null) {
            e.emit(taken);
        }
    }

    /**
     * Never by the time the dispatcher gets a record, although a partition's records may come back
     * after another instance ran them: the lane consumer checked each as it took it.
     */
    @Override
    public boolean mayHaveResult(JournalRecord record) {
        return false;
    }

    /**
     * False when the record's partition has moved to another instance: it must not run here. A
     * start is committed with the partition's offset at once (in the background, like the SQLite
     * journal's mark), so the starts are counted across instances.
     */
    @Override
    public boolean claim(String executionId) {
        return ledger.claim(executionId, started -> lanes.commitSoon());
    }

    @Override
    public void stopTaking() {
        lanes.stopTaking();
    }

    /** The event goes to the dead-letter topic (see {@link LaneAppender#deadLetter}). */
    @Override
    public Uni<Void> deadLetter(JournalRecord record, String reason) {
        return appender.deadLetter(record, reason);
    }

    @Override
    public Uni<Void> markRunning(String executionId) {
        claim(executionId);
        return Uni.createFrom().voidItem();
    }

    /** The result is stored: every record of this execution may be committed. */
    @Override
    public Uni<Void> finish(String executionId) {
        ledger.finish(executionId);
        return Uni.createFrom().voidItem();
    }

    @Override
    public Uni<Optional<JournalRecord>> load(String executionId) {
        Optional<JournalRecord> held = ledger.load(executionId);
        if (held.isPresent()) {
            return Uni.createFrom().item(held);
        }
        // Accepted here (and not taken yet), or accepted by another instance; running on another one perhaps.
        Optional<JournalEntry> known = appender.recent(executionId).or(() -> clients.accepted().find(executionId))
                .map(e -> clients.accepted().running(executionId) ? e.withState(JournalEntry.State.RUNNING) : e);
        return Uni.createFrom().item(known.map(e -> new JournalRecord(0, e, 0)));
    }

    @Override
    public long pendingCount() {
        return backlog.get();
    }

    @Override
    public boolean healthy() {
        return lanes.healthy() && !appender.sendsFailing();
    }

    int held(Priority lane) {
        return ledger.count(lane).held();
    }
}
