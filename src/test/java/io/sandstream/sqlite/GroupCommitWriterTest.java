package io.sandstream.sqlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/**
 * The group-commit writer on a real SQLite file: what shares a transaction, what fails with what,
 * and that closing answers everyone. Batches are made deterministic by holding the writer inside
 * a first request while the next ones queue behind it.
 */
class GroupCommitWriterTest {

    @TempDir
    Path dir;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final AtomicInteger begun = new AtomicInteger();
    private final AtomicInteger committed = new AtomicInteger();
    private GroupCommitWriter writer;
    private Connection reader;
    private Timer commits;
    private DistributionSummary requests;

    @BeforeEach
    void open() throws SQLException {
        Path file = dir.resolve("test.db");
        Connection connection = GroupCommitWriter.openForWriting(file);
        try (Statement s = connection.createStatement()) {
            s.execute("PRAGMA foreign_keys=ON");
            s.execute("CREATE TABLE rows (id TEXT PRIMARY KEY)");
            s.execute("CREATE TABLE parent (id TEXT PRIMARY KEY)");
            // Checked at COMMIT: a request can write a row that only the commit refuses.
            s.execute("CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)");
            s.execute("CREATE TABLE doomed (id TEXT)");
            s.execute("CREATE TRIGGER doom BEFORE INSERT ON doomed BEGIN SELECT RAISE(ROLLBACK, 'doomed'); END");
        }
        commits = Timer.builder("test.commit").register(registry);
        requests = DistributionSummary.builder("test.commit.requests").register(registry);
        writer = GroupCommitWriter.start("test", connection, 8, new GroupCommitWriter.Meters(commits, requests),
                new GroupCommitWriter.Batches() {
                    @Override
                    public void begin() {
                        begun.incrementAndGet();
                    }

                    @Override
                    public void committed() {
                        committed.incrementAndGet();
                    }
                });
        reader = GroupCommitWriter.open(file);
    }

    @AfterEach
    void close() throws SQLException {
        writer.close();
        reader.close();
    }

    private static GroupCommitWriter.Work<String> insert(String id) {
        return transaction -> {
            PreparedStatement insert = transaction.statement("INSERT INTO rows(id) VALUES (?)");
            insert.setString(1, id);
            insert.executeUpdate();
            return id;
        };
    }

    private static GroupCommitWriter.Work<String> orphan(String id) {
        return transaction -> {
            PreparedStatement insert = transaction.statement("INSERT INTO child(id, parent) VALUES (?, 'missing')");
            insert.setString(1, id);
            insert.executeUpdate(); // passes: the foreign key is only checked by COMMIT
            return id;
        };
    }

    /** Holds the writer inside a batch of its own until the returned latch is counted down. */
    private CountDownLatch holdWriter() throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        writer.submit(transaction -> {
            started.countDown();
            release.await(10, TimeUnit.SECONDS);
            return null;
        });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        return release;
    }

    /** Submits {@code works} so that they form one batch: the writer is held while they queue. */
    private List<CompletableFuture<?>> oneBatch(GroupCommitWriter.Work<?>... works) throws InterruptedException {
        CountDownLatch release = holdWriter();
        List<CompletableFuture<?>> futures = new ArrayList<>();
        for (GroupCommitWriter.Work<?> work : works) {
            futures.add(writer.submit(work));
        }
        release.countDown();
        return futures;
    }

    private List<String> stored(String table) throws SQLException {
        List<String> ids = new ArrayList<>();
        try (Statement s = reader.createStatement(); ResultSet rs = s.executeQuery("SELECT id FROM " + table + " ORDER BY id")) {
            while (rs.next()) {
                ids.add(rs.getString(1));
            }
        }
        return ids;
    }

    private static <T> T get(CompletableFuture<T> future) throws Exception {
        return future.get(10, TimeUnit.SECONDS);
    }

    private static Throwable failure(CompletableFuture<?> future) {
        ExecutionException failed = assertThrows(ExecutionException.class, () -> future.get(10, TimeUnit.SECONDS));
        return failed.getCause();
    }

    @Test
    void requestsWaitingTogetherShareOneTransaction() throws Exception {
        CountDownLatch release = holdWriter();
        List<CompletableFuture<String>> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            batch.add(writer.submit(insert("r" + i)));
        }
        // Not yet written: nothing is reported before its commit.
        assertFalse(batch.get(0).isDone());
        release.countDown();
        for (int i = 0; i < 5; i++) {
            assertEquals("r" + i, get(batch.get(i)));
        }
        assertEquals(List.of("r0", "r1", "r2", "r3", "r4"), stored("rows"));
        assertEquals(2, commits.count(), "the holding request's commit and one for the five");
        assertEquals(5, requests.max());
        assertEquals(2, committed.get());
        assertNull(writer.lastFailure());
    }

    @Test
    void aBatchHoldsAtMostMaxBatchRequests() throws Exception {
        CountDownLatch release = holdWriter();
        List<CompletableFuture<String>> all = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            all.add(writer.submit(insert(String.format("m%02d", i))));
        }
        release.countDown();
        for (CompletableFuture<String> future : all) {
            get(future);
        }
        assertEquals(20, stored("rows").size());
        assertEquals(8, requests.max());
        assertEquals(1 + 3, commits.count(), "8 + 8 + 4 after the holding request");
    }

    @Test
    void aFailedCommitFailsEveryCallerOfItsBatchAndNotTheNextBatch() throws Exception {
        // The orphan's own statement passes; the commit refuses it, and so the whole batch.
        for (CompletableFuture<?> future : oneBatch(insert("before"), orphan("orphan"), insert("after"))) {
            Throwable cause = failure(future);
            assertInstanceOf(SQLException.class, cause);
            assertTrue(cause.getMessage().contains("FOREIGN KEY"), cause.getMessage());
        }
        assertEquals(List.of(), stored("rows"), "rolled back: none of the batch is stored");
        assertEquals(List.of(), stored("child"));
        assertNotNull(writer.lastFailure());
        assertEquals(1, committed.get(), "the hook runs for the holding request's commit only");
        assertEquals(2, begun.get(), "the failed transaction began too");

        // The next batch is a new transaction and commits.
        assertEquals("next", get(writer.submit(insert("next"))));
        assertEquals(List.of("next"), stored("rows"));
        assertNull(writer.lastFailure(), "a clean commit clears the failure");
        assertTrue(writer.running());
    }

    @Test
    void aFailingStatementFailsOnlyItsRequestAndLeavesNothingOfIt() throws Exception {
        List<CompletableFuture<?>> batch = oneBatch(insert("a"), transaction -> {
            // Writes a row, then fails: the row it wrote must not be committed with the others.
            insert("half").write(transaction);
            insert("a").write(transaction); // primary key taken in this very transaction
            return "never";
        }, insert("c"));

        assertEquals("a", get(batch.get(0)));
        assertEquals("c", get(batch.get(2)));
        Throwable cause = failure(batch.get(1));
        assertInstanceOf(SQLException.class, cause);
        assertTrue(cause.getMessage().contains("UNIQUE"), cause.getMessage());
        assertEquals(List.of("a", "c"), stored("rows"));
        assertEquals(2, commits.count(), "the others committed in the same transaction");
        assertSame(cause, writer.lastFailure(), "a batch with a failed request is not clean");

        assertEquals("d", get(writer.submit(insert("d"))));
        assertNull(writer.lastFailure());
    }

    @Test
    void aRequestThatCostsTheWholeTransactionFailsItsWholeBatch() throws Exception {
        // SQLite itself rolls the whole transaction back (as on a full disk): "before" is gone too.
        List<CompletableFuture<?>> batch = oneBatch(insert("before"), transaction -> {
            transaction.statement("INSERT INTO doomed(id) VALUES ('x')").executeUpdate();
            return null;
        }, insert("after"));

        assertTrue(failure(batch.get(1)).getMessage().contains("doomed"));
        assertInstanceOf(SQLException.class, failure(batch.get(0)), "not told durable: its write was rolled back");
        assertInstanceOf(SQLException.class, failure(batch.get(2)));
        assertEquals(List.of(), stored("rows"));
        assertEquals("next", get(writer.submit(insert("next"))));
        assertEquals(List.of("next"), stored("rows"));
    }

    @Test
    void aRuntimeFailureOfTheWorkIsTheRequestsOwn() throws Exception {
        List<CompletableFuture<?>> batch = oneBatch(insert("good"), transaction -> {
            insert("partial").write(transaction);
            throw new IllegalArgumentException("bad input");
        });
        assertEquals("good", get(batch.get(0)));
        assertEquals("bad input", failure(batch.get(1)).getMessage());
        assertEquals(List.of("good"), stored("rows"));
    }

    @Test
    void anErrorInAWorkFailsItsWholeBatchAndTheWriterGoesOn() throws Exception {
        List<CompletableFuture<?>> batch = oneBatch(insert("lost"), transaction -> {
            throw new AssertionError("not an exception");
        });
        assertInstanceOf(AssertionError.class, failure(batch.get(0)));
        assertInstanceOf(AssertionError.class, failure(batch.get(1)));
        assertEquals(List.of(), stored("rows"));

        assertEquals("later", get(writer.submit(insert("later"))));
        assertEquals(List.of("later"), stored("rows"));
    }

    @Test
    void workMayNotEndTheTransactionItself() throws Exception {
        CompletableFuture<Object> bad = writer.submit(transaction -> {
            transaction.connection().createStatement().execute("COMMIT");
            return null;
        });
        assertNotNull(failure(bad));
        assertEquals("fine", get(writer.submit(insert("fine"))));
        assertEquals(List.of("fine"), stored("rows"));
    }

    @Test
    void closeCommitsWhatIsQueuedAndRefusesWhatComesAfter() throws Exception {
        CountDownLatch release = holdWriter();
        List<CompletableFuture<String>> queued = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            queued.add(writer.submit(insert("q" + i)));
        }
        CompletableFuture<Void> closing = CompletableFuture.runAsync(writer::close);
        while (writer.running()) {
            Thread.sleep(5);
        }
        CompletableFuture<String> late = writer.submit(insert("late"));
        assertInstanceOf(IllegalStateException.class, failure(late), "refused at once, not queued");
        release.countDown();
        closing.get(10, TimeUnit.SECONDS);

        for (CompletableFuture<String> future : queued) {
            assertTrue(future.isDone(), "every queued caller is answered when close returns");
            get(future);
        }
        assertEquals(12, stored("rows").size());
        assertFalse(stored("rows").contains("late"));
    }

    @Test
    void closeFailsWhatTheWriterCouldNotReachInTime() throws Exception {
        CountDownLatch release = holdWriter();
        List<CompletableFuture<String>> queued = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            queued.add(writer.submit(insert("s" + i)));
        }
        writer.close(Duration.ofMillis(200)); // the writer is still held
        for (CompletableFuture<String> future : queued) {
            assertTrue(future.isDone());
            assertInstanceOf(IllegalStateException.class, failure(future));
        }
        release.countDown();
        assertEquals(List.of(), stored("rows"));
    }

    /**
     * The savepoints' statement journal stays in memory: on SQLite's default it spills to a
     * temporary file once a transaction changed more than 64 KiB, and every page a request then
     * changes is written there first (half the writer's writes under load).
     */
    @Test
    void theStatementJournalStaysInMemory() throws Exception {
        int tempStore = writer.submit(transaction -> {
            try (Statement s = transaction.connection().createStatement(); var rs = s.executeQuery("PRAGMA temp_store")) {
                return rs.getInt(1);
            }
        }).get(10, TimeUnit.SECONDS);
        assertEquals(2, tempStore, "temp_store=MEMORY");
    }
}
