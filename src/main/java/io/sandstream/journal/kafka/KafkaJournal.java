package io.sandstream.journal.kafka;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jboss.logging.Logger;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalFullException;
import io.sandstream.journal.JournalRecord;
import io.sandstream.kafka.AcceptedIndex;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.LaneRecords;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;
import io.sandstream.tenancy.TenantQuotas;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.smallrye.mutiny.subscription.MultiEmitter;

/**
 * The journal shared by several instances: accepted events are records of the lane topics
 * ({@code high}, {@code normal}, {@code low}), acknowledged by every in-sync replica before the
 * 202. Every instance consumes the lanes in one consumer group, so each partition is worked by one
 * instance at a time.
 *
 * <p>One thread owns the consumer. It hands records to the dispatcher (which schedules them as in
 * the single-instance case), holds at most {@code max-in-flight} unfinished records per lane, pauses
 * a lane's partitions while a higher lane has backlog (here or in Kafka) — for at most {@code aging}
 * at a time, so low work still moves — and commits a partition's offset only up to the first
 * record whose result is not stored yet. When partitions move away, queued work from them is
 * withdrawn ({@link #claim} answers false) and running work is waited for, so an execution never
 * runs on two instances at once; newly assigned partitions wait until this instance's copy of the
 * results topic has caught up, so work another instance finished is recognised and not run again.
 */
public final class KafkaJournal implements Journal, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(KafkaJournal.class);
    private static final Duration COMMIT_INTERVAL = Duration.ofMillis(100);
    private static final Duration BACKLOG_INTERVAL = Duration.ofSeconds(1);
    private static final Duration SEND_FAILURE_MEMORY = Duration.ofSeconds(10);

    /** One record this instance took from a lane and has not committed yet. */
    private static final class Held {
        final JournalRecord record;
        final Priority lane;
        final TopicPartition partition;
        State state = State.QUEUED;

        Held(JournalRecord record, Priority lane, TopicPartition partition) {
            this.record = record;
            this.lane = lane;
            this.partition = partition;
        }
    }

    private enum State {
        QUEUED, RUNNING, DONE, WITHDRAWN
    }

    private final KafkaClients clients;
    private final TenantQuotas quotas;
    private final SandstreamConfig.Journal journalConfig;
    private final Duration aging;
    private final Supplier<CompletableFuture<Void>> resultsCaughtUp;
    private final KafkaProducer<String, byte[]> producer;
    private final Map<Priority, String> topics = new EnumMap<>(Priority.class);
    private final Map<String, Priority> lanesByTopic = new HashMap<>();

    /** Guards everything below; taken briefly by the consumer thread and by callers. */
    private final Object lock = new Object();
    private final Map<String, Held> byExecution = new HashMap<>();
    /** Per partition, by offset; a redelivered copy of an execution in flight points at the same Held. */
    private final Map<TopicPartition, TreeMap<Long, Held>> byPartition = new HashMap<>();
    private final int[] heldByLane = new int[Priority.values().length];
    private final int[] queuedByLane = new int[Priority.values().length];
    private boolean finishedSinceCommit;

    /** Entries appended here recently: redeliveries to this instance are answered duplicate. */
    private final Cache<String, JournalEntry> appended = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfterWrite(Duration.ofMinutes(10)).build();
    /**
     * Executions finished here recently. The dispatcher forgets an execution a moment after
     * {@link #finish}; a second copy taken in that moment (the same event accepted twice) must not
     * reach it then, or it would be dropped unfinished and hold its partition's offset for good.
     */
    private final Cache<String, Boolean> finished = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfterWrite(Duration.ofMinutes(10)).build();
    /** Partitions assigned and waiting for the results copy to catch up. */
    private final Set<TopicPartition> awaitingCatchUp = ConcurrentHashMap.newKeySet();
    private final Map<Priority, Instant> pausedSince = new EnumMap<>(Priority.class);
    private final AtomicLong backlog = new AtomicLong();
    /** Every partition of the lanes, read once (backlog reader thread only). */
    private final Map<TopicPartition, OffsetSpec> lanePartitions = new HashMap<>();
    private final Counter skipped;

    private volatile MultiEmitter<? super JournalRecord> emitter;
    private volatile boolean running;
    /** When the last append failed (0: the last one succeeded); readiness is down for a while after. */
    private volatile long lastSendFailedAt;
    private volatile boolean consumerFailed;
    private Thread consumerThread;
    private KafkaConsumer<String, byte[]> consumer;
    private Admin admin;
    private java.util.concurrent.ScheduledExecutorService backlogReader;

    public KafkaJournal(KafkaClients clients, SandstreamConfig config, MeterRegistry registry,
            Supplier<CompletableFuture<Void>> resultsCaughtUp, TenantQuotas quotas) {
        this.clients = clients;
        this.quotas = quotas;
        this.journalConfig = config.journal();
        this.aging = config.routing().aging();
        this.resultsCaughtUp = resultsCaughtUp;
        for (Priority lane : Priority.values()) {
            topics.put(lane, clients.laneTopic(lane));
            lanesByTopic.put(clients.laneTopic(lane), lane);
        }
        this.producer = clients.producer("journal");
        Gauge.builder("sandstream.journal.pending", backlog, AtomicLong::get)
                .description("Accepted executions not finished yet (Kafka: the group's lag on the lane topics)")
                .register(registry);
        Gauge.builder("sandstream.journal.pending.limit", journalConfig, SandstreamConfig.Journal::maxPending)
                .description("Most pending executions before ingress answers 429").register(registry);
        for (Priority lane : Priority.values()) {
            Gauge.builder("sandstream.kafka.held", this, j -> j.held(lane)).tag("lane", lane.wireName())
                    .description("Lane records this instance took and has not finished").register(registry);
            Gauge.builder("sandstream.kafka.held.limit", clients.config(), SandstreamConfig.Kafka::maxInFlight)
                    .tag("lane", lane.wireName())
                    .description("Most lane records one instance holds unfinished").register(registry);
            Gauge.builder("sandstream.kafka.lane.paused", this, j -> j.pausedSince.containsKey(lane) ? 1 : 0)
                    .tag("lane", lane.wireName())
                    .description("1 while the lane's partitions wait for higher lanes or for room").register(registry);
        }
        this.skipped = Counter.builder("sandstream.kafka.skipped").description("Lane records that were not sandstream events")
                .register(registry);
    }

    public void start() {
        // Topic metadata now, not on the first request: a send without it blocks its caller (the event loop).
        topics.values().forEach(producer::partitionsFor);
        producer.partitionsFor(clients.resultsTopic());
        admin = clients.admin();
        consumer = clients.laneConsumer(Math.min(500, clients.config().maxInFlight()));
        running = true;
        consumerThread = new Thread(this::consumeLoop, "kafka-lanes");
        consumerThread.start();
        backlogReader = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "kafka-backlog"));
        backlogReader.scheduleWithFixedDelay(this::readBacklog, 0, BACKLOG_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        LOG.infof("Kafka journal: lanes %s, group %s, instance %s", topics.values(), clients.config().groupId(),
                clients.instanceId());
    }

    @Override
    public void close() {
        running = false;
        if (consumer != null) {
            consumer.wakeup();
        }
        if (consumerThread != null) {
            try {
                consumerThread.join(TimeUnit.SECONDS.toMillis(15));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (backlogReader != null) {
            backlogReader.shutdownNow();
        }
        producer.close(Duration.ofSeconds(5));
        if (admin != null) {
            admin.close(Duration.ofSeconds(2));
        }
    }

    // ---- appends ------------------------------------------------------------------------------------

    /**
     * Sends every new entry and completes once the brokers acknowledged all of them ({@code acks=all}).
     * A redelivery this instance accepted recently is answered duplicate without a send; one it
     * cannot know (accepted elsewhere) is sent again and recognised before it runs.
     */
    @Override
    public Uni<List<Boolean>> append(List<JournalEntry> entries) {
        return Uni.createFrom().deferred(() -> {
            List<Boolean> duplicates = new ArrayList<>(entries.size());
            List<JournalEntry> fresh = new ArrayList<>();
            Set<String> inRequest = new HashSet<>();
            for (JournalEntry entry : entries) {
                boolean duplicate = appended.getIfPresent(entry.executionId()) != null || !inRequest.add(entry.executionId());
                duplicates.add(duplicate);
                if (!duplicate) {
                    fresh.add(entry);
                }
            }
            List<JournalEntry> queued = fresh.stream().filter(e -> e.state() == JournalEntry.State.QUEUED).toList();
            if (!queued.isEmpty() && backlog.get() + queued.size() > journalConfig.maxPending()) {
                return Uni.createFrom().failure(new JournalFullException(journalConfig.maxPending()));
            }
            Map<Tenant, Long> byTenant = queued.stream().filter(e -> !e.tenant().shared())
                    .collect(Collectors.groupingBy(JournalEntry::tenant, Collectors.counting()));
            for (Map.Entry<Tenant, Long> tenant : byTenant.entrySet()) {
                long limit = quotas.of(tenant.getKey()).maxQueued();
                if (clients.accepted().pending(tenant.getKey()) + tenant.getValue() > limit) {
                    quotas.refused("queued");
                    return Uni.createFrom().failure(new JournalFullException(tenant.getKey(), limit));
                }
            }
            List<CompletableFuture<Void>> acks = new ArrayList<>(fresh.size() + 1);
            for (JournalEntry entry : fresh) {
                acks.add(send(LaneRecords.record(topics.get(laneOf(entry)), entry)));
            }
            if (!queued.isEmpty()) {
                acks.add(send(acceptedMarker(queued)));
            }
            return Uni.createFrom().completionStage(CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)))
                    .ifNoItem().after(clients.config().sendTimeout()).fail()
                    .onItemOrFailure().invoke((ignored, failure) -> lastSendFailedAt = failure == null ? 0 : System.nanoTime())
                    .invoke(() -> {
                        for (JournalEntry entry : fresh) {
                            appended.put(entry.executionId(), withoutEvent(entry));
                        }
                        backlog.addAndGet(queued.size());
                    })
                    .emitOn(Infrastructure.getDefaultExecutor())
                    .replaceWith(duplicates);
        });
    }

    private CompletableFuture<Void> send(ProducerRecord<String, byte[]> record) {
        CompletableFuture<Void> ack = new CompletableFuture<>();
        producer.send(record, (metadata, failure) -> {
            if (failure != null) {
                ack.completeExceptionally(failure);
            } else {
                ack.complete(null);
            }
        });
        return ack;
    }

    /** One record on the results topic telling every instance what this request queued (see {@link AcceptedIndex}). */
    private ProducerRecord<String, byte[]> acceptedMarker(List<JournalEntry> entries) {
        try {
            ProducerRecord<String, byte[]> record = new ProducerRecord<>(clients.resultsTopic(), 0, null,
                    AcceptedIndex.marker(entries));
            record.headers().add(AcceptedIndex.KIND, LaneRecords.bytes(AcceptedIndex.ACCEPTED));
            return record;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Priority laneOf(JournalEntry entry) {
        return java.util.Objects.requireNonNullElse(entry.priority(), Priority.NORMAL);
    }

    private static JournalEntry withoutEvent(JournalEntry e) {
        return new JournalEntry(e.executionId(), e.eventId(), e.source(), e.type(), e.subject(), e.sessionId(),
                e.priority(), e.state(), e.acceptedAt(), new byte[0], null, e.tenant());
    }

    // ---- the dispatcher's side ----------------------------------------------------------------------

    /** Records as this instance takes them; a new subscriber first gets every queued record again. */
    @Override
    public Multi<JournalRecord> pending() {
        return Multi.createFrom().emitter(e -> {
            List<JournalRecord> queued = new ArrayList<>();
            synchronized (lock) {
                emitter = e;
                byExecution.values().stream().filter(h -> h.state == State.QUEUED).map(h -> h.record).forEach(queued::add);
            }
            queued.forEach(e::emit);
            e.onTermination(() -> emitter = null);
        });
    }

    @Override
    public boolean redelivers() {
        return true;
    }

    /** False when the record's partition has moved to another instance: it must not run here. */
    @Override
    public boolean claim(String executionId) {
        synchronized (lock) {
            Held held = byExecution.get(executionId);
            if (held == null || held.state == State.WITHDRAWN) {
                return false;
            }
            if (held.state == State.QUEUED) {
                held.state = State.RUNNING;
                queuedByLane[held.lane.ordinal()]--;
            }
            return true;
        }
    }

    @Override
    public Uni<Void> markRunning(String executionId) {
        claim(executionId);
        return Uni.createFrom().voidItem();
    }

    /** The result is stored: every record of this execution may be committed. */
    @Override
    public Uni<Void> finish(String executionId) {
        synchronized (lock) {
            Held held = byExecution.remove(executionId);
            finished.put(executionId, Boolean.TRUE);
            if (held != null) {
                if (held.state == State.QUEUED) {
                    queuedByLane[held.lane.ordinal()]--;
                }
                held.state = State.DONE;
                heldByLane[held.lane.ordinal()]--;
                finishedSinceCommit = true;
                lock.notifyAll();
            }
        }
        return Uni.createFrom().voidItem();
    }

    @Override
    public Uni<Optional<JournalRecord>> load(String executionId) {
        synchronized (lock) {
            Held held = byExecution.get(executionId);
            if (held != null) {
                JournalEntry e = held.record.entry();
                JournalEntry.State state = held.state == State.RUNNING ? JournalEntry.State.RUNNING : e.state();
                return Uni.createFrom().item(Optional.of(new JournalRecord(held.record.seq(), new JournalEntry(
                        e.executionId(), e.eventId(), e.source(), e.type(), e.subject(), e.sessionId(), e.priority(),
                        state, e.acceptedAt(), e.event(), e.rejection(), e.tenant()), held.record.attempt())));
            }
        }
        // Accepted here (and not taken yet), or accepted by another instance.
        Optional<JournalEntry> known = Optional.ofNullable(appended.getIfPresent(executionId))
                .or(() -> clients.accepted().find(executionId));
        return Uni.createFrom().item(known.map(e -> new JournalRecord(0, e, 0)));
    }

    @Override
    public long pendingCount() {
        return backlog.get();
    }

    @Override
    public boolean healthy() {
        // A failed send counts for a while only: a pod taken out of rotation gets no request that
        // could succeed and bring it back.
        long failedAt = lastSendFailedAt;
        boolean sendsFailing = failedAt != 0 && System.nanoTime() - failedAt < SEND_FAILURE_MEMORY.toNanos();
        return running && consumerThread.isAlive() && !consumerFailed && !sendsFailing;
    }

    int held(Priority lane) {
        synchronized (lock) {
            return heldByLane[lane.ordinal()];
        }
    }

    // ---- the consumer thread ------------------------------------------------------------------------

    private void consumeLoop() {
        Instant lastCommit = Instant.now();
        try {
            consumer.subscribe(topics.values(), new Rebalance());
            while (running) {
                applyPauses();
                for (ConsumerRecord<String, byte[]> record : consumer.poll(KafkaClients.pollTimeout())) {
                    take(record);
                }
                if (Duration.between(lastCommit, Instant.now()).compareTo(COMMIT_INTERVAL) >= 0) {
                    commit(consumer.assignment(), false);
                    lastCommit = Instant.now();
                }
                consumerFailed = false;
            }
        } catch (WakeupException stopping) {
            // close() woke us up
        } catch (RuntimeException e) {
            consumerFailed = true;
            LOG.error("the Kafka lane consumer failed; unfinished work stays in Kafka for the other instances", e);
        } finally {
            try {
                commit(consumer.assignment(), true);
            } catch (RuntimeException e) {
                LOG.debugf("final commit failed: %s", e.getMessage());
            }
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void take(ConsumerRecord<String, byte[]> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        Optional<JournalEntry> entry = LaneRecords.entry(record);
        Priority lane = lanesByTopic.get(record.topic());
        JournalRecord taken = null;
        synchronized (lock) {
            TreeMap<Long, Held> positions = byPartition.computeIfAbsent(partition, p -> new TreeMap<>());
            if (entry.isEmpty() || finished.getIfPresent(entry.get().executionId()) != null) {
                // Not ours, or a copy of work whose result is stored: nothing to do but commit past it.
                Held done = new Held(null, lane, partition);
                done.state = State.DONE;
                positions.put(record.offset(), done);
                finishedSinceCommit = true;
                if (entry.isEmpty()) {
                    skipped.increment();
                }
                return;
            }
            Held first = byExecution.get(entry.get().executionId());
            if (first != null) {
                positions.put(record.offset(), first); // a second copy: done when the first is
                return;
            }
            Held held = new Held(new JournalRecord(record.offset(), entry.get(), 0), lane, partition);
            byExecution.put(entry.get().executionId(), held);
            positions.put(record.offset(), held);
            heldByLane[lane.ordinal()]++;
            queuedByLane[lane.ordinal()]++;
            taken = held.record;
        }
        MultiEmitter<? super JournalRecord> e = emitter;
        if (e != null) {
            e.emit(taken);
        }
    }

    /**
     * Lanes take turns by priority: a lane is paused while a higher lane has work waiting here or
     * lag in Kafka, but never longer than {@code aging} at once (then one fetch goes through, and
     * the scheduler's aging promotes what came); a lane holding {@code max-in-flight} records is
     * paused until some finish; new partitions stay paused until the results copy caught up.
     */
    private void applyPauses() {
        Set<TopicPartition> assigned = consumer.assignment();
        if (assigned.isEmpty()) {
            return;
        }
        Instant now = Instant.now();
        List<TopicPartition> pause = new ArrayList<>();
        List<TopicPartition> resume = new ArrayList<>();
        boolean higherBacklog = false;
        for (Priority lane : Priority.values()) {
            List<TopicPartition> partitions = assigned.stream().filter(p -> lanesByTopic.get(p.topic()) == lane).toList();
            boolean full;
            boolean waiting;
            synchronized (lock) {
                full = heldByLane[lane.ordinal()] >= clients.config().maxInFlight();
                waiting = queuedByLane[lane.ordinal()] > 0;
            }
            boolean yield = higherBacklog && !full;
            if (yield) {
                Instant since = pausedSince.putIfAbsent(lane, now);
                if (since != null && Duration.between(since, now).compareTo(aging) >= 0) {
                    yield = false; // aged: let one fetch through
                    pausedSince.remove(lane);
                }
            } else if (!full) {
                pausedSince.remove(lane);
            }
            boolean paused = full || yield;
            for (TopicPartition p : partitions) {
                (paused || awaitingCatchUp.contains(p) ? pause : resume).add(p);
            }
            higherBacklog = higherBacklog || waiting || partitions.stream().anyMatch(this::hasLag);
        }
        if (!pause.isEmpty()) {
            consumer.pause(pause);
        }
        if (!resume.isEmpty()) {
            consumer.resume(resume);
        }
    }

    private boolean hasLag(TopicPartition partition) {
        OptionalLong lag = consumer.currentLag(partition);
        return lag.isPresent() && lag.getAsLong() > 0;
    }

    /** Commits each partition up to its first record not finished (all of them when {@code sync}: at a handover). */
    private void commit(Collection<TopicPartition> partitions, boolean sync) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        synchronized (lock) {
            if (!finishedSinceCommit && !sync) {
                return;
            }
            finishedSinceCommit = false;
            for (TopicPartition partition : partitions) {
                TreeMap<Long, Held> positions = byPartition.get(partition);
                if (positions == null) {
                    continue;
                }
                long next = -1;
                for (Iterator<Map.Entry<Long, Held>> it = positions.entrySet().iterator(); it.hasNext();) {
                    Map.Entry<Long, Held> position = it.next();
                    if (position.getValue().state != State.DONE) {
                        break;
                    }
                    next = position.getKey() + 1;
                    it.remove();
                }
                if (next >= 0) {
                    offsets.put(partition, new OffsetAndMetadata(next));
                }
            }
        }
        if (offsets.isEmpty()) {
            return;
        }
        if (sync) {
            consumer.commitSync(offsets, Duration.ofSeconds(10));
        } else {
            consumer.commitAsync(offsets, (committed, failure) -> {
                if (failure != null) {
                    LOG.debugf("offset commit failed (the next one covers it): %s", failure.getMessage());
                }
            });
        }
    }

    /** On the consumer thread, inside {@code poll}. */
    private final class Rebalance implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            int withdrawn = withdraw(partitions);
            long deadline = System.nanoTime() + clients.config().revokeWait().toNanos();
            synchronized (lock) {
                // At shutdown the dispatcher has stopped: nothing running will finish, so do not wait.
                while (running && running(partitions) > 0 && System.nanoTime() < deadline) {
                    try {
                        lock.wait(100);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
                int left = running(partitions);
                if (left > 0 && running) {
                    LOG.warnf("%d executions still running after %s; their partitions move anyway and may run them again",
                            left, clients.config().revokeWait());
                }
            }
            try {
                commit(partitions, true);
            } catch (RuntimeException e) {
                LOG.warnf("committing before a rebalance failed (the next owner re-reads, and skips stored work): %s",
                        e.getMessage());
            }
            forget(partitions);
            LOG.infof("gave up %d partitions (%d queued executions withdrawn)", partitions.size(), withdrawn);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            withdraw(partitions);
            forget(partitions);
            LOG.warnf("lost %d partitions (this instance was too slow to answer the group)", partitions.size());
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            awaitingCatchUp.addAll(partitions);
            consumer.pause(partitions);
            resultsCaughtUp.get().whenComplete((ignored, failure) -> {
                if (failure != null) {
                    LOG.warnf("the results copy did not catch up (%s); taking the partitions anyway", failure.getMessage());
                }
                awaitingCatchUp.removeAll(partitions);
            });
            LOG.infof("took %d partitions", partitions.size());
        }
    }

    private int withdraw(Collection<TopicPartition> partitions) {
        int withdrawn = 0;
        synchronized (lock) {
            for (TopicPartition partition : partitions) {
                TreeMap<Long, Held> positions = byPartition.get(partition);
                if (positions == null) {
                    continue;
                }
                for (Held held : positions.values()) {
                    if (held.state == State.QUEUED) {
                        held.state = State.WITHDRAWN;
                        queuedByLane[held.lane.ordinal()]--;
                        heldByLane[held.lane.ordinal()]--;
                        byExecution.remove(held.record.entry().executionId(), held);
                        withdrawn++;
                    }
                }
            }
        }
        return withdrawn;
    }

    /** Caller holds the lock. */
    private int running(Collection<TopicPartition> partitions) {
        int count = 0;
        for (TopicPartition partition : partitions) {
            TreeMap<Long, Held> positions = byPartition.get(partition);
            if (positions != null) {
                count += (int) positions.values().stream().distinct().filter(h -> h.state == State.RUNNING).count();
            }
        }
        return count;
    }

    private void forget(Collection<TopicPartition> partitions) {
        synchronized (lock) {
            for (TopicPartition partition : partitions) {
                TreeMap<Long, Held> positions = byPartition.remove(partition);
                if (positions == null) {
                    continue;
                }
                for (Held held : new HashSet<>(positions.values())) {
                    if (held.state == State.RUNNING) { // ran past revoke-wait: its finish finds nothing to commit
                        byExecution.remove(held.record.entry().executionId(), held);
                        heldByLane[held.lane.ordinal()]--;
                        held.state = State.WITHDRAWN;
                    }
                }
            }
            awaitingCatchUp.removeAll(partitions);
        }
    }

    // ---- the group's backlog ------------------------------------------------------------------------

    /**
     * The whole group's lag on the lanes (end offsets minus committed offsets): the accepted work
     * not finished by any instance. It bounds ingress ({@code max-pending}) and is the
     * {@code sandstream.journal.pending} gauge; read once a second.
     */
    private void readBacklog() {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(clients.config().groupId())
                    .partitionsToOffsetAndMetadata().get(5, TimeUnit.SECONDS);
            if (lanePartitions.isEmpty()) {
                admin.describeTopics(topics.values()).allTopicNames().get(5, TimeUnit.SECONDS).forEach((topic, description) ->
                        description.partitions().forEach(p -> lanePartitions.put(new TopicPartition(topic, p.partition()),
                                OffsetSpec.latest())));
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(lanePartitions).all()
                    .get(5, TimeUnit.SECONDS);
            long lag = 0;
            for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end : ends.entrySet()) {
                OffsetAndMetadata at = committed.get(end.getKey());
                lag += Math.max(0, end.getValue().offset() - (at == null ? 0 : at.offset()));
            }
            backlog.set(lag);
        } catch (Exception e) {
            LOG.debugf("reading the group's lag failed: %s", e.getMessage());
        }
    }
}
