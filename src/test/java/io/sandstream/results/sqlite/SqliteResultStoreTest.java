package io.sandstream.results.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.sqlite.SqliteJournal;
import io.sandstream.model.ExecutionIds;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.model.Tenant;
import io.sandstream.results.StoredResult;
import io.sandstream.sqlite.Pragmas;
import io.sandstream.tenancy.TenantQuotas;

/**
 * The result store as a table of the journal's file (the default): a put stores the result and
 * finishes the journal entry in one commit, and a {@code results.db} of the older layout is taken
 * over with its sequence numbers.
 */
class SqliteResultStoreTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private SimpleMeterRegistry registry;
    private SqliteJournal journal;
    private SqliteResultStore store;

    private void open() {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.data-dir", dir.toString()));
        registry = new SimpleMeterRegistry();
        journal = new SqliteJournal(config, new DataDirectory(config), registry, new TenantQuotas(config, registry));
        journal.open();
        store = SqliteResultStore.shared(journal.file(), journal.writer(), journal::finishIn);
        store.open();
        journal.finishWithResults();
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
            journal.close();
        }
    }

    private long commits() {
        return registry.get("sandstream.journal.commit").timer().count();
    }

    @Test
    void aPutStoresTheResultAndFinishesItsEntryInOneCommit() {
        open();
        JournalEntry queued = entry("a", JournalEntry.State.QUEUED);
        JournalEntry rejected = entry("bad", JournalEntry.State.REJECTED);
        journal.append(List.of(queued, rejected)).await().atMost(WAIT);
        assertEquals(1, journal.pendingCount());
        assertTrue(journal.finishedByResultStore());

        long before = commits();
        StoredResult stored = store.put(result(queued.executionId())).await().atMost(WAIT);
        assertEquals(before + 1, commits(), "one commit for the result and the finish");
        assertEquals(0, journal.pendingCount(), "the entry is finished, counted when its commit returned");
        assertEquals(JournalEntry.State.FINISHED, journal.load(queued.executionId()).await().atMost(WAIT).orElseThrow().entry().state());
        assertEquals(stored.sequence(), store.get(queued.executionId()).await().atMost(WAIT).orElseThrow().sequence());

        // A rejected event is done once its Rejected result is stored: the pending stream no longer hands it over.
        // The put completes on the writer thread, with no pool thread woken in between: its caller moves on itself.
        String completedOn = store.put(result(rejected.executionId())).map(ignored -> Thread.currentThread().getName())
                .await().atMost(WAIT);
        // Or on this thread, when the commit beat the subscription to its future: no hop either way.
        assertTrue(completedOn.endsWith("-writer") || completedOn.equals(Thread.currentThread().getName()), completedOn);
        assertEquals(0, journal.pendingCount());
        store.close();
        journal.close();
        open();
        assertEquals(0, journal.pendingCount());
        assertTrue(journal.pending().collect().asList().ifNoItem().after(Duration.ofMillis(500)).recoverWithItem(List.of())
                .await().atMost(WAIT).isEmpty(), "nothing left to run after a restart");
    }

    @Test
    void theOlderLayoutsResultsFileIsCopiedWithItsSequencesThenRemoved() {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.data-dir", dir.toString()));
        SqliteResultStore own = new SqliteResultStore(new DataDirectory(config));
        own.open();
        StoredResult first = own.put(result(ExecutionIds.of("/src", "old-1"))).await().atMost(WAIT);
        StoredResult second = own.put(result(ExecutionIds.of("/src", "old-2"))).await().atMost(WAIT);
        own.close();
        assertTrue(Files.exists(dir.resolve("results.db")));

        open();
        assertFalse(Files.exists(dir.resolve("results.db")), "the old file is removed once copied");
        List<StoredResult> copied = store.after(0, 10).await().atMost(WAIT);
        assertEquals(List.of(first.sequence(), second.sequence()), copied.stream().map(StoredResult::sequence).toList(),
                "same sequences");
        assertEquals(List.of(first.document().executionId(), second.document().executionId()),
                copied.stream().map(r -> r.document().executionId()).toList());
        assertEquals(second.sequence(), store.latest().await().atMost(WAIT));
        StoredResult next = store.put(result(ExecutionIds.of("/src", "new-1"))).await().atMost(WAIT);
        assertTrue(next.sequence() > second.sequence(), "new results are numbered after the copied ones");
        // Reopening copies nothing twice.
        store.close();
        journal.close();
        open();
        assertEquals(3, store.after(0, 10).await().atMost(WAIT).size());
    }

    /** A copy of the Kafka results topic writes with the journal's page cache and WAL size, and refuses what the journal refuses. */
    @Test
    void aCopyTakesTheJournalsPageCacheAndCheckpointSize() throws Exception {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.data-dir", dir.toString(),
                "sandstream.journal.cache-mib", "48", "sandstream.journal.checkpoint-mib", "8"));
        SqliteResultStore copy = SqliteResultStore.copyOf(new DataDirectory(config), config.journal());
        copy.open();
        try {
            assertEquals(-48 * 1024, pragma(copy, "cache_size"), "negative: KiB");
            assertEquals(8 * 1024 * 1024 / pragma(copy, "page_size"), pragma(copy, "wal_autocheckpoint"), "pages");
            assertEquals(1, pragma(copy, "synchronous"), "NORMAL: only a checkpoint syncs");
            // The check's query is prepared once: each call still sees what was written since the last.
            assertFalse(copy.storedNow("copied-1"));
            copy.putAt(7, result("copied-1")).get();
            assertTrue(copy.storedNow("copied-1"));
            assertFalse(copy.storedNow("copied-2"));
            copy.putAt(8, result("copied-2")).get();
            assertTrue(copy.storedNow("copied-2"));
        } finally {
            copy.close();
        }
        SandstreamConfig refused = TestConfigs.sandstream(Map.of("sandstream.data-dir", dir.toString(),
                "sandstream.journal.checkpoint-mib", "0"));
        IllegalStateException failure = assertThrows(IllegalStateException.class,
                () -> SqliteResultStore.copyOf(new DataDirectory(refused), refused.journal()));
        assertTrue(failure.getMessage().contains("checkpoint-mib"), failure.getMessage());
    }

    private static long pragma(SqliteResultStore store, String pragma) throws Exception {
        return Pragmas.of(store.writer(), pragma);
    }

    private static JournalEntry entry(String eventId, JournalEntry.State state) {
        return new JournalEntry(ExecutionIds.of("/src", eventId), eventId, "/src", "t", null, null, Priority.NORMAL, state,
                Instant.now(), new byte[] {1}, state == JournalEntry.State.REJECTED ? "{\"status\":400}" : null, Tenant.SHARED);
    }

    private static ResultDocument result(String executionId) {
        Instant now = Instant.now();
        return ResultDocument.builder().executionId(executionId).event("e", "/src", null, "t")
                .language(Language.PYTHON).priority(Priority.NORMAL).backend("local").status(ExecutionStatus.Succeeded)
                .output("2\n", "").timings(ResultDocument.Timings.ran(now, now, now, 1)).attempt(1).build();
    }
}
