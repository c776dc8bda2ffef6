package io.sandstream.journal.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalFullException;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.ExecutionIds;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;
import io.sandstream.sqlite.Pragmas;
import io.sandstream.tenancy.TenantQuotas;
import io.smallrye.mutiny.helpers.test.AssertSubscriber;

/** The embedded journal on a real SQLite file, including closing and reopening it like a restart. */
class SqliteJournalTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private final List<SqliteJournal> opened = new ArrayList<>();
    private SimpleMeterRegistry registry;

    private SqliteJournal open(long maxPending) {
        return open(Map.of("sandstream.journal.max-pending", Long.toString(maxPending)));
    }

    private SqliteJournal open(Map<String, String> settings) {
        Map<String, String> all = new java.util.HashMap<>(settings);
        all.put("sandstream.data-dir", dir.toString());
        SandstreamConfig config = TestConfigs.sandstream(all);
        registry = new SimpleMeterRegistry();
        SqliteJournal journal = new SqliteJournal(config, new DataDirectory(config), registry, new TenantQuotas(config, registry));
        journal.open();
        opened.add(journal);
        return journal;
    }

    private void restart(SqliteJournal journal) {
        journal.close();
        opened.remove(journal);
    }

    @AfterEach
    void closeAll() {
        opened.forEach(SqliteJournal::close);
    }

    static JournalEntry queued(String id) {
        return new JournalEntry(ExecutionIds.of("/src", id), id, "/src", "t", "s", null, Priority.NORMAL,
                JournalEntry.State.QUEUED, Instant.now(), ("{\"id\":\"" + id + "\"}").getBytes(StandardCharsets.UTF_8), null, Tenant.SHARED);
    }

    static JournalEntry rejected(String id) {
        return new JournalEntry(ExecutionIds.of("/src", id), id, "/src", "t", "s", null, null,
                JournalEntry.State.REJECTED, Instant.now(), new byte[] {1}, "{\"status\":400}", Tenant.SHARED);
    }

    private static List<String> drain(Journal journal, int count) {
        AssertSubscriber<JournalRecord> subscriber = journal.pending().subscribe().withSubscriber(AssertSubscriber.create(count));
        subscriber.awaitItems(count, WAIT);
        subscriber.cancel();
        return subscriber.getItems().stream().map(r -> r.entry().eventId()).toList();
    }

    @Test
    void acceptedEntriesSurviveARestartAndAreQueuedAgainInOrder() {
        SqliteJournal journal = open(100);
        List<Boolean> duplicates = journal.append(List.of(queued("a"), rejected("bad"), queued("b"))).await().atMost(WAIT);
        assertEquals(List.of(false, false, false), duplicates);
        assertEquals(2, journal.pendingCount());
        restart(journal);

        SqliteJournal again = open(100);
        assertEquals(2, again.pendingCount());
        // The rejected event comes too: its Rejected result is still to be stored.
        assertEquals(List.of("a", "bad", "b"), drain(again, 3));
        again.finish(ExecutionIds.of("/src", "bad")).await().atMost(WAIT);
        assertEquals(2, again.pendingCount(), "a rejected event never counted as pending");
        assertEquals(List.of("a", "b"), drain(again, 2));
        // Redeliveries after the restart are recognised.
        assertEquals(List.of(true, false), again.append(List.of(queued("a"), queued("c"))).await().atMost(WAIT));
        assertEquals(3, again.pendingCount());
    }

    @Test
    void thePriorityIsStoredAsItsWireNameAndReadBackTyped() throws Exception {
        SqliteJournal journal = open(100);
        JournalEntry high = queued("h");
        high = new JournalEntry(high.executionId(), high.eventId(), high.source(), high.type(), high.subject(),
                high.sessionId(), Priority.HIGH, high.state(), high.acceptedAt(), high.event(), null, high.tenant());
        journal.append(List.of(high, rejected("r"))).await().atMost(WAIT);
        try (var db = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("journal.db"));
                var rows = db.createStatement().executeQuery("SELECT event_id, priority FROM journal ORDER BY seq")) {
            List<String> stored = new ArrayList<>();
            while (rows.next()) {
                stored.add(rows.getString(1) + "=" + rows.getString(2));
            }
            assertEquals(List.of("h=high", "r=null"), stored);
        }
        restart(journal);
        SqliteJournal again = open(100);
        assertEquals(Priority.HIGH, again.load(high.executionId()).await().atMost(WAIT).orElseThrow().entry().priority());
        assertEquals(null, again.load(ExecutionIds.of("/src", "r")).await().atMost(WAIT).orElseThrow().entry().priority(),
                "a rejected event has no priority");
    }

    @Test
    void interruptedExecutionsComeBackWithTheirAttemptCount() {
        SqliteJournal journal = open(100);
        journal.append(List.of(queued("x"), queued("y"))).await().atMost(WAIT);
        journal.markRunning(ExecutionIds.of("/src", "x")).await().atMost(WAIT);
        journal.finish(ExecutionIds.of("/src", "y")).await().atMost(WAIT);
        assertEquals(1, journal.pendingCount());
        restart(journal);

        SqliteJournal again = open(100);
        AssertSubscriber<JournalRecord> subscriber = again.pending().subscribe().withSubscriber(AssertSubscriber.create(5));
        subscriber.awaitItems(1, WAIT);
        assertEquals("x", subscriber.getItems().get(0).entry().eventId());
        assertEquals(1, subscriber.getItems().get(0).attempt());
        assertEquals(JournalEntry.State.QUEUED, subscriber.getItems().get(0).entry().state());
        subscriber.cancel();
        assertEquals(1, again.pendingCount());
    }

    @Test
    void thePendingStreamFollowsNewCommitsOnDemand() {
        SqliteJournal journal = open(100);
        AssertSubscriber<JournalRecord> subscriber = journal.pending().subscribe().withSubscriber(AssertSubscriber.create(1));
        journal.append(List.of(queued("first"), queued("second"))).await().atMost(WAIT);
        subscriber.awaitItems(1, WAIT);
        assertEquals(1, subscriber.getItems().size(), "nothing beyond what was requested");
        subscriber.request(1);
        subscriber.awaitItems(2, WAIT);
        journal.append(List.of(queued("third"))).await().atMost(WAIT);
        subscriber.request(1);
        subscriber.awaitItems(3, WAIT);
        assertEquals(List.of("first", "second", "third"),
                subscriber.getItems().stream().map(r -> r.entry().eventId()).toList());
        subscriber.cancel();
    }

    @Test
    void aCancelledSubscriberDoesNotStopTheOthers() {
        SqliteJournal journal = open(100);
        AssertSubscriber<JournalRecord> staying = journal.pending().subscribe().withSubscriber(AssertSubscriber.create(10));
        AssertSubscriber<JournalRecord> leaving = journal.pending().subscribe().withSubscriber(AssertSubscriber.create(10));
        leaving.cancel(); // while both wait for the next commit
        journal.append(List.of(queued("after-cancel"))).await().atMost(WAIT);
        staying.awaitItems(1, WAIT);
        assertEquals("after-cancel", staying.getItems().get(0).entry().eventId());
        staying.cancel();
    }

    @Test
    void theLimitIsExactAndAllOrNothing() {
        SqliteJournal journal = open(2);
        journal.append(List.of(queued("1"))).await().atMost(WAIT);
        assertThrows(JournalFullException.class,
                () -> journal.append(List.of(queued("2"), queued("3"))).await().atMost(WAIT));
        assertEquals(1, journal.pendingCount());
        // Rejections and redeliveries take no room.
        assertEquals(List.of(true, false), journal.append(List.of(queued("1"), rejected("r"))).await().atMost(WAIT));
        journal.append(List.of(queued("2"))).await().atMost(WAIT);
        assertThrows(JournalFullException.class, () -> journal.append(List.of(queued("3"))).await().atMost(WAIT));
        journal.finish(ExecutionIds.of("/src", "1")).await().atMost(WAIT);
        journal.append(List.of(queued("3"))).await().atMost(WAIT);
        assertEquals(2, journal.pendingCount());
        assertEquals(List.of("r", "2", "3"), drain(journal, 3));
        assertEquals("3", journal.load(ExecutionIds.of("/src", "3")).await().atMost(WAIT).orElseThrow().entry().eventId());
    }

    @Test
    void concurrentAppendsShareCommits() {
        SqliteJournal journal = open(100_000);
        List<CompletableFuture<List<Boolean>>> futures = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            futures.add(journal.append(List.of(queued("c" + i))).subscribeAsCompletionStage());
        }
        futures.forEach(f -> assertFalse(f.join().get(0)));
        assertEquals(400, journal.pendingCount());
        double commits = registry.get("sandstream.journal.commit").timer().count();
        double largestGroup = registry.get("sandstream.journal.commit.operations").summary().max();
        assertTrue(largestGroup > 1, "at least one commit folded several appends");
        assertTrue(commits < 400, "fewer commits than appends: " + commits);
        assertTrue(journal.healthy());
    }

    @Test
    void theWriterKeepsTheConfiguredPageCacheAndCheckpointSize() throws Exception {
        SqliteJournal journal = open(Map.of("sandstream.journal.cache-mib", "48", "sandstream.journal.checkpoint-mib", "8"));
        assertEquals(-48 * 1024, writerPragma(journal, "cache_size"), "negative: KiB");
        assertEquals(8 * 1024 * 1024 / writerPragma(journal, "page_size"), writerPragma(journal, "wal_autocheckpoint"), "pages");
        assertEquals(48.0 * 1024 * 1024, registry.get("sandstream.journal.cache.limit").gauge().value());
        assertEquals(8.0 * 1024 * 1024, registry.get("sandstream.journal.checkpoint.limit").gauge().value());
        restart(journal);
        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> open(Map.of("sandstream.journal.cache-mib", "0")));
        assertTrue(refused.getMessage().contains("cache-mib"), refused.getMessage());
    }

    private static long writerPragma(SqliteJournal journal, String pragma) throws Exception {
        return Pragmas.of(journal.writer(), pragma);
    }
}
