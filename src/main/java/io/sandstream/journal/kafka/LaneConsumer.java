package io.sandstream.journal.kafka;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Counter;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.LaneRecords;
import io.sandstream.model.Priority;

/**
 * The one thread that owns the lane consumer, because a Kafka consumer may only be used by one
 * thread: it polls the lanes, records what it takes in the ledger before handing it over, applies
 * the lane pauses before each poll, and commits what the ledger allows every 100 ms (a start within
 * 20 ms, see {@link #commitSoon}) and once more when it stops. One commit is in flight at a time:
 * under load the next one covers every start and finish since, instead of one commit per poll.
 */
final class LaneConsumer {

    private static final Logger LOG = Logger.getLogger(LaneConsumer.class);
    private static final Duration COMMIT_INTERVAL = Duration.ofMillis(100);
    /**
     * How long a poll waits while a lane or partition holds all it may, and records start or
     * finish: how soon it sees room again under load.
     */
    private static final Duration FULL_POLL = Duration.ofMillis(2);
    /**
     * The longest such wait, reached by doubling while nothing starts or finishes (a partition's
     * share queued behind one long execution of its session): polling every 2 ms then took the
     * consumer thread's CPU from 1.4 % of a core (idle) to 2 %.
     */
    private static final Duration FULL_POLL_MAX = Duration.ofMillis(50);
    /** Shortest time between two commits for starts: a burst of starts shares one commit. */
    private static final Duration START_COMMIT_INTERVAL = Duration.ofMillis(20);

    private final KafkaClients clients;
    private final Map<String, Priority> lanesByTopic;
    private final OffsetLedger ledger;
    private final LanePauses pauses;
    private final Supplier<CompletableFuture<Void>> resultsCaughtUp;
    private final Predicate<String> stored;
    private final Consumer<JournalRecord> handOver;
    private final Counter skipped;

    private volatile boolean running;
    /** A start to commit: the next loop commits without waiting for the interval. */
    private volatile boolean commitSoon;
    /** False once the instance drains: every partition stays paused, so nothing more is taken. */
    private volatile boolean taking = true;
    private volatile boolean failed;
    /** An asynchronous commit has not answered yet (consumer thread only: its callback runs in poll). */
    private boolean committing;
    private Thread thread;
    private KafkaConsumer<String, byte[]> consumer;
    /** The consumer thread's wait while waiting for room, and the ledger's moves when it was set. */
    private Duration roomWait = FULL_POLL;
    private long movesSeen = -1;

    /**
     * @param stored whether an execution's result is stored already, asked on the consumer thread
     * @param handOver gets each record to run, on the consumer thread
     * @param skipped counts lane records that were not sandstream events
     */
    LaneConsumer(KafkaClients clients, Map<String, Priority> lanesByTopic, OffsetLedger ledger, LanePauses pauses,
            Supplier<CompletableFuture<Void>> resultsCaughtUp, Predicate<String> stored, Consumer<JournalRecord> handOver,
            Counter skipped) {
        this.clients = clients;
        this.lanesByTopic = lanesByTopic;
        this.ledger = ledger;
        this.pauses = pauses;
        this.resultsCaughtUp = resultsCaughtUp;
        this.stored = stored;
        this.handOver = handOver;
        this.skipped = skipped;
    }

    void start() {
        // A poll's records come a partition at a time: at most a partition's share, so that one
        // session's backlog does not fill the lane before the other partitions are seen (LanePauses).
        consumer = clients.laneConsumer(Math.min(500, pauses.share(clients.config().lanePartitions())));
        running = true;
        thread = new Thread(this::consumeLoop, "kafka-lanes");
        thread.start();
    }

    /** Stops the thread, which commits what it can and leaves the group. */
    void close() {
        running = false;
        KafkaClients.stopReader(consumer, thread, Duration.ofSeconds(15));
    }

    /**
     * Commits on the next round (within a poll timeout, and 20 ms after the last commit), so a start
     * is counted even if this instance dies soon.
     */
    void commitSoon() {
        commitSoon = true;
    }

    /** Takes nothing more (draining); polls on, so the group membership and the commits go on. */
    void stopTaking() {
        taking = false;
    }

    boolean running() {
        return running;
    }

    boolean healthy() {
        return running && thread.isAlive() && !failed;
    }

    private void consumeLoop() {
        Instant lastCommit = Instant.now();
        try {
            consumer.subscribe(lanesByTopic.keySet(), new LaneRebalance(this, ledger, pauses, resultsCaughtUp,
                    clients.config().revokeWait(), clients.owners()));
            while (running) {
                boolean waitingForRoom = false;
                if (taking) {
                    waitingForRoom = pauses.apply(consumer);
                } else {
                    consumer.pause(consumer.assignment());
                }
                for (ConsumerRecord<String, byte[]> record : consumer.poll(pollTimeout(waitingForRoom))) {
                    take(record);
                }
                Duration sinceCommit = Duration.between(lastCommit, Instant.now());
                if (!committing && (sinceCommit.compareTo(COMMIT_INTERVAL) >= 0
                        || commitSoon && sinceCommit.compareTo(START_COMMIT_INTERVAL) >= 0)) {
                    commitSoon = false;
                    commit(consumer.assignment(), false);
                    lastCommit = Instant.now();
                }
                failed = false;
            }
        } catch (WakeupException stopping) {
            // close() woke us up
        } catch (RuntimeException e) {
            failed = true;
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

    /**
     * A full lane (or partition) resumes when one of its records starts or finishes, which only the
     * next poll sees: a long poll here left the dispatcher's queue empty for the rest of it. While
     * records start and finish the poll waits {@link #FULL_POLL}; while none does, the wait
     * doubles up to {@link #FULL_POLL_MAX}. Records of the partitions not paused end a poll at
     * once either way.
     */
    Duration pollTimeout(boolean waitingForRoom) {
        if (!waitingForRoom) {
            movesSeen = -1;
            return KafkaClients.pollTimeout();
        }
        long moves = ledger.moves();
        if (moves != movesSeen) {
            movesSeen = moves;
            roomWait = FULL_POLL;
        } else {
            Duration doubled = roomWait.multipliedBy(2);
            roomWait = doubled.compareTo(FULL_POLL_MAX) < 0 ? doubled : FULL_POLL_MAX;
        }
        return roomWait;
    }

    private void take(ConsumerRecord<String, byte[]> record) {
        Optional<JournalEntry> entry = LaneRecords.entry(record);
        if (entry.isEmpty()) {
            skipped.increment();
        }
        ledger.take(new TopicPartition(record.topic(), record.partition()), record.offset(),
                lanesByTopic.get(record.topic()), entry).filter(this::notStoredYet).ifPresent(handOver);
    }

    /**
     * False, and the record finished, when its result is stored already: another instance ran it
     * before the partition moved here, or the same event was accepted twice. Partitions are taken
     * only once the results copy has caught up ({@link LaneRebalance}), so the copy knows. Asked
     * here rather than by the dispatcher: one indexed read on this thread, no hop to a reader.
     */
    private boolean notStoredYet(JournalRecord taken) {
        String executionId = taken.entry().executionId();
        try {
            if (stored.test(executionId)) {
                ledger.finish(executionId);
                return false;
            }
        } catch (RuntimeException e) {
            // Cannot tell: run it rather than lose it (the result store keeps the first result).
            LOG.warnf("could not check whether %s has a result already: %s", executionId, e.getMessage());
        }
        return true;
    }

    /** On the consumer thread (rebalances run inside {@code poll}). */
    void pause(Collection<TopicPartition> partitions) {
        consumer.pause(partitions);
    }

    /** The partitions' committed offsets (null for a partition with none); on the consumer thread. */
    Map<TopicPartition, OffsetAndMetadata> committed(Collection<TopicPartition> partitions) {
        return consumer.committed(new java.util.HashSet<>(partitions), Duration.ofSeconds(10));
    }

    /**
     * Commits what the ledger allows; synchronously at a {@code handover} (partitions moving, or the
     * consumer closing), when the next owner must read from there.
     */
    void commit(Collection<TopicPartition> partitions, boolean handover) {
        Map<TopicPartition, OffsetAndMetadata> offsets = ledger.committable(partitions, handover);
        if (offsets.isEmpty()) {
            return;
        }
        if (handover) {
            consumer.commitSync(offsets, Duration.ofSeconds(10));
        } else {
            committing = true;
            consumer.commitAsync(offsets, (committed, failure) -> {
                committing = false;
                if (failure != null) {
                    LOG.debugf("offset commit failed (the next one covers it): %s", failure.getMessage());
                }
            });
        }
    }
}
