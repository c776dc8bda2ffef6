package io.sandstream.journal.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sandstream.config.TestConfigs;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.kafka.KafkaBroker;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.LaneRecords;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;
import io.sandstream.tenancy.TenantQuotas;
import io.smallrye.mutiny.subscription.Cancellable;

/**
 * The Kafka journal on its own against a real broker, playing the dispatcher by hand: what it hands
 * over, what it withdraws when partitions move, and what it commits.
 */
@Tag("kafka")
class KafkaJournalTest {

    private static KafkaBroker broker;

    @BeforeAll
    static void start() {
        broker = KafkaBroker.start();
    }

    @AfterAll
    static void stop() {
        broker.close();
    }

    /** One journal (instance) of a group whose topics start with {@code prefix}, with no result stored. */
    private static KafkaJournal journal(String prefix, String instance) {
        return journal(prefix, instance, Set.of());
    }

    /** One journal whose result store holds the results of {@code stored}. */
    private static KafkaJournal journal(String prefix, String instance, Set<String> stored) {
        return journal(prefix, instance, stored, Map.of());
    }

    /** One journal with more settings ({@code sandstream.kafka.*}). */
    private static KafkaJournal journal(String prefix, String instance, Set<String> stored, Map<String, String> settings) {
        KafkaClients clients = clients(prefix, instance, settings);
        var config = TestConfigs.sandstream(Map.of());
        KafkaJournal journal = new KafkaJournal(clients, config, new SimpleMeterRegistry(),
                () -> CompletableFuture.completedFuture(null), stored::contains, new TenantQuotas(config, new SimpleMeterRegistry()));
        journal.start();
        return journal;
    }

    /** The Kafka clients of one instance, on topics it has created. */
    private static KafkaClients clients(String prefix, String instance, Map<String, String> settings) {
        Map<String, String> all = new HashMap<>(Map.of("sandstream.journal.kind", "kafka",
                "sandstream.kafka.bootstrap-servers", broker.bootstrapServers(),
                "sandstream.kafka.topic-prefix", prefix, "sandstream.kafka.group-id", prefix + "group",
                "sandstream.kafka.instance-id", instance, "sandstream.kafka.lane-partitions", "4",
                "sandstream.kafka.session-timeout", "6s"));
        all.putAll(settings);
        KafkaClients clients = new KafkaClients(TestConfigs.sandstream(all).kafka());
        clients.ensureTopics();
        return clients;
    }

    private static JournalEntry entry(String executionId) {
        return new JournalEntry(executionId, UUID.randomUUID().toString(), "/tests/kafka-journal", "io.sandstream.code.execute",
                null, null, Priority.NORMAL, JournalEntry.State.QUEUED, Instant.now(),
                "{\"specversion\":\"1.0\"}".getBytes(StandardCharsets.UTF_8), null, Tenant.SHARED);
    }

    private static JournalEntry inSession(String executionId, String sessionId) {
        return new JournalEntry(executionId, UUID.randomUUID().toString(), "/tests/kafka-journal", "io.sandstream.code.execute",
                null, sessionId, Priority.NORMAL, JournalEntry.State.QUEUED, Instant.now(),
                "{\"specversion\":\"1.0\"}".getBytes(StandardCharsets.UTF_8), null, Tenant.SHARED);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.sleep(50);
        }
    }

    /**
     * Until an instance takes it, an event appended here reads by its scope and state only, as the
     * accepted index answers it on the other instances: the appender keeps no more of it (under
     * load its cache is full). The same event appended again is a duplicate.
     */
    @Test
    void anAppendNotTakenYetReadsByItsScopeAndStateAndARepeatIsADuplicate() throws Exception {
        KafkaClients clients = clients("recent-", "a", Map.of());
        var config = TestConfigs.sandstream(Map.of());
        try (LaneAppender appender = new LaneAppender(clients, config.journal(), new TenantQuotas(config, new SimpleMeterRegistry()),
                new GroupBacklog(clients, List.of(clients.laneTopic(Priority.NORMAL))))) {
            appender.start();
            String id = UUID.randomUUID().toString();
            JournalEntry sent = new JournalEntry(id, "event-1", "/tests/kafka-journal", "io.sandstream.code.execute", "team-a/job-1",
                    "session-1", Priority.HIGH, JournalEntry.State.QUEUED, Instant.now(),
                    "{\"specversion\":\"1.0\"}".getBytes(StandardCharsets.UTF_8), null, Tenant.of("team-a"));
            assertEquals(List.of(false), appender.append(List.of(sent)).await().atMost(Duration.ofSeconds(30)));
            JournalEntry read = appender.recent(id).orElseThrow();
            assertEquals(List.of(id, "team-a/job-1", JournalEntry.State.QUEUED, Priority.HIGH, sent.acceptedAt(), Tenant.of("team-a")),
                    List.of(read.executionId(), read.subject(), read.state(), read.priority(), read.acceptedAt(), read.tenant()));
            assertEquals(Arrays.asList(null, null, null, null, 0), Arrays.asList(read.eventId(), read.source(), read.type(),
                    read.sessionId(), read.event().length), "nothing of the event is kept");
            assertEquals(List.of(true), appender.append(List.of(sent)).await().atMost(Duration.ofSeconds(30)));
        }
    }

    @Test
    void aRecordWhoseResultIsStoredIsCommittedWithoutBeingHandedOver() throws Exception {
        // Another instance ran it and stored its result before the partition moved here.
        String done = UUID.randomUUID().toString();
        String fresh = UUID.randomUUID().toString();
        try (KafkaJournal journal = journal("stored-", "a", Set.of(done))) {
            List<JournalRecord> handed = new CopyOnWriteArrayList<>();
            Cancellable dispatcher = journal.pending().subscribe().with(handed::add);
            journal.append(List.of(entry(done), entry(fresh))).await().atMost(Duration.ofSeconds(30));
            await(() -> handed.size() == 1 && journal.held(Priority.NORMAL) == 1, "the records are taken");
            assertEquals(fresh, handed.get(0).entry().executionId(), "only the record without a result is handed over");
            assertFalse(journal.mayHaveResult(handed.get(0)), "checked already: the dispatcher need not look");
            assertTrue(journal.claim(fresh));
            journal.finish(fresh).await().indefinitely();
            await(() -> journal.pendingCount() == 0 && journal.held(Priority.NORMAL) == 0, "both are committed");
            dispatcher.cancel();
        }
    }

    @Test
    void aCopyTakenAfterTheFirstFinishedIsCommittedWithoutBeingHandedOver() throws Exception {
        try (KafkaJournal journal = journal("late-", "a")) {
            List<JournalRecord> handed = new CopyOnWriteArrayList<>();
            Cancellable dispatcher = journal.pending().subscribe().with(handed::add);
            String id = UUID.randomUUID().toString();
            journal.append(List.of(entry(id))).await().atMost(Duration.ofSeconds(30));
            await(() -> handed.size() == 1, "the event is handed over");
            assertTrue(journal.claim(id));
            journal.finish(id).await().indefinitely();

            // Another instance accepted the same event (it could not know): a second record of it.
            KafkaClients clients = new KafkaClients(TestConfigs.sandstream(Map.of("sandstream.journal.kind", "kafka",
                    "sandstream.kafka.bootstrap-servers", broker.bootstrapServers())).kafka());
            try (KafkaProducer<String, byte[]> other = clients.producer("other")) {
                other.send(LaneRecords.record("late-normal", entry(id))).get();
            }
            // Its result is stored: the copy is not work; the group's lag still drains to zero.
            await(() -> journal.pendingCount() == 0 && journal.held(Priority.NORMAL) == 0, "the copy is committed");
            Thread.sleep(500);
            assertEquals(1, handed.size(), "the copy was not handed over again");
            dispatcher.cancel();
        }
    }

    /**
     * A session's events are keyed to one partition and run one after another. Its backlog must not
     * take the whole lane's max-in-flight: the lane's other partitions (other sessions, work without
     * one) are still fetched while the session's queued records wait.
     */
    @Test
    void oneSessionsBacklogDoesNotHoldBackTheRestOfItsLane() throws Exception {
        try (KafkaJournal journal = journal("share-", "a", Set.of(), Map.of("sandstream.kafka.max-in-flight", "8"))) {
            List<JournalRecord> handed = new CopyOnWriteArrayList<>();
            Cancellable dispatcher = journal.pending().subscribe().with(handed::add);
            KafkaClients clients = new KafkaClients(TestConfigs.sandstream(Map.of("sandstream.journal.kind", "kafka",
                    "sandstream.kafka.bootstrap-servers", broker.bootstrapServers())).kafka());
            try (KafkaProducer<String, byte[]> producer = clients.producer("test")) {
                for (int i = 0; i < 40; i++) { // partition 0: one busy session's backlog, none of it started
                    var hot = LaneRecords.record("share-normal", inSession(UUID.randomUUID().toString(), "hot"));
                    producer.send(new ProducerRecord<>(hot.topic(), 0, hot.key(), hot.value(),
                            hot.headers())).get();
                }
                await(() -> journal.held(Priority.NORMAL) >= 2, "the session's first records are taken");
                String cold = UUID.randomUUID().toString();
                var other = LaneRecords.record("share-normal", inSession(cold, "cold"));
                producer.send(new ProducerRecord<>(other.topic(), 1, other.key(), other.value(),
                        other.headers())).get();
                await(() -> handed.stream().anyMatch(r -> r.entry().executionId().equals(cold)),
                        "the other session's event is taken while the busy session's backlog waits");
                assertTrue(journal.held(Priority.NORMAL) < 8, "the busy session holds its partition's share, not the lane");
            }
            dispatcher.cancel();
        }
    }

    @Test
    void partitionsThatMoveTakeTheirQueuedWorkAlongAndNothingRunsTwice() throws Exception {
        KafkaJournal first = journal("move-", "a");
        List<JournalRecord> atFirst = new CopyOnWriteArrayList<>();
        first.pending().subscribe().with(atFirst::add);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            ids.add(UUID.randomUUID().toString());
        }
        first.append(ids.stream().map(KafkaJournalTest::entry).toList()).await().atMost(Duration.ofSeconds(30));
        await(() -> atFirst.size() == ids.size(), "the first instance took everything");
        // It runs a few; the rest waits in its scheduler when a second instance joins.
        Set<String> ranOnFirst = new HashSet<>();
        for (String id : ids.subList(0, 5)) {
            assertTrue(first.claim(id));
            first.finish(id).await().indefinitely();
            ranOnFirst.add(id);
        }
        try (KafkaJournal second = journal("move-", "b")) {
            List<JournalRecord> atSecond = new CopyOnWriteArrayList<>();
            second.pending().subscribe().with(atSecond::add);
            // After the rebalance each waiting execution is handed over again: to the second instance
            // when its partition moved, to the first again when it stayed.
            List<String> waiting = ids.stream().filter(id -> !ranOnFirst.contains(id)).toList();
            await(() -> waiting.stream().allMatch(id -> atSecond.stream().anyMatch(r -> r.entry().executionId().equals(id))
                    || atFirst.stream().filter(r -> r.entry().executionId().equals(id)).count() > 1),
                    "every waiting execution is handed over after the rebalance");
            // What moved can no longer start on the first; everything else still can.
            Set<String> moved = new HashSet<>();
            atSecond.forEach(r -> moved.add(r.entry().executionId()));
            Set<String> ranOnSecond = new HashSet<>();
            for (String id : ids) {
                if (ranOnFirst.contains(id)) {
                    assertFalse(moved.contains(id), "finished work is not handed over again: " + id);
                    continue;
                }
                if (moved.contains(id)) {
                    assertFalse(first.claim(id), "moved work must not start on the first instance: " + id);
                    assertTrue(second.claim(id));
                    second.finish(id).await().indefinitely();
                    ranOnSecond.add(id);
                } else {
                    assertTrue(first.claim(id), "work kept by the first instance can start there: " + id);
                    first.finish(id).await().indefinitely();
                    ranOnFirst.add(id);
                }
            }
            assertFalse(ranOnSecond.isEmpty(), "some work moved");
            assertEquals(ids.size(), ranOnFirst.size() + ranOnSecond.size(), "each ran once, on one instance");
            await(() -> first.pendingCount() == 0, "every offset is committed");
        } finally {
            first.close();
        }
    }
}
