package io.sandstream.results.sqlite;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.sqlite.SQLiteDataSource;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.config.DataDirectory;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * The embedded result store: an SQLite file (WAL) beside the journal, one row per execution with
 * its document, indexed by executionId; the row number orders the results stream. Writes are
 * group-committed on one thread; reads use their own connection. Not a bean of its own:
 * the wiring's {@code ResultStoreProducer} opens it, as the store or as the blob store's local index.
 */
public class SqliteResultStore implements ResultStore, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final DataDirectory dataDirectory;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(r -> new Thread(r, "results-writer"));
    private final ExecutorService reader = Executors.newSingleThreadExecutor(r -> new Thread(r, "results-reader"));
    private final java.util.concurrent.ConcurrentLinkedQueue<PendingPut> puts = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private Connection writeConnection;
    /** The writer's statements, prepared once: a new row numbered here, or at a given sequence. */
    private PreparedStatement insert;
    private PreparedStatement insertAt;
    private Connection readConnection;
    /** The last commit's failure, null after a good one; for readiness. */
    private volatile Exception lastFailure;

    public SqliteResultStore(DataDirectory dataDirectory) {
        this.dataDirectory = dataDirectory;
    }

    public void open() {
        SQLiteDataSource dataSource = new SQLiteDataSource();
        dataSource.setUrl("jdbc:sqlite:" + dataDirectory.root().resolve("results.db"));
        try {
            writeConnection = dataSource.getConnection();
            try (Statement s = writeConnection.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=FULL");
                s.execute("PRAGMA busy_timeout=5000");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS results (
                          seq INTEGER PRIMARY KEY AUTOINCREMENT,
                          execution_id TEXT NOT NULL UNIQUE,
                          subject TEXT, status TEXT NOT NULL, completed_at TEXT,
                          document TEXT NOT NULL)""");
            }
            writeConnection.setAutoCommit(false);
            insert = writeConnection.prepareStatement("""
                    INSERT INTO results(execution_id, subject, status, completed_at, document) VALUES (?,?,?,?,?)
                    ON CONFLICT(execution_id) DO NOTHING""");
            insertAt = writeConnection.prepareStatement("""
                    INSERT INTO results(execution_id, subject, status, completed_at, document, seq) VALUES (?,?,?,?,?,?)
                    ON CONFLICT DO NOTHING""");
            readConnection = dataSource.getConnection();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open the result store", e);
        }
    }

    @Override
    public void close() {
        writer.shutdown();
        reader.shutdown();
        try {
            writer.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS); // the commit under way finishes first
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            insert.close();
            insertAt.close();
            writeConnection.close();
            readConnection.close();
        } catch (SQLException e) {
            // closing anyway
        }
    }

    @Override
    public Uni<StoredResult> put(ResultDocument document) {
        // Deferred: a caller that retries (the dispatcher does, forever) resubscribes, and each
        // subscription must queue a new write rather than replay the first one's failure.
        return Uni.createFrom().deferred(() -> Uni.createFrom().completionStage(putAt(0, document)))
                .emitOn(Infrastructure.getDefaultExecutor());
    }

    /**
     * Stores a result under a sequence given by the caller (a copy of a store kept elsewhere: the
     * Kafka results topic numbers it); 0 numbers it here. Completes with the stored row, which is
     * an earlier one when the execution was stored before, or null when {@code sequence} is taken
     * by another execution. Completes on the writer thread.
     */
    public CompletableFuture<StoredResult> putAt(long sequence, ResultDocument document) {
        PendingPut put = new PendingPut(document, new CompletableFuture<>(), sequence);
        puts.add(put);
        writer.execute(this::commitPending);
        return put.stored();
    }

    @Override
    public Uni<Long> latest() {
        return call(this::lastSequence).runSubscriptionOn(reader);
    }

    /** The highest sequence stored, 0 when empty; on the caller's thread (before any reader runs). */
    public long lastSequence() {
        try (Statement query = readConnection.createStatement();
                ResultSet rs = query.executeQuery("SELECT COALESCE(MAX(seq), 0) FROM results")) {
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException("reading the result store failed", e);
        }
    }

    @Override
    public Uni<Health> health() {
        Exception failure = lastFailure;
        return Uni.createFrom().item(failure == null ? new Health(true, java.util.Map.of())
                : new Health(false, java.util.Map.of("lastFailure", String.valueOf(failure.getMessage()))));
    }

    private record PendingPut(ResultDocument document, CompletableFuture<StoredResult> stored, long sequence) {
    }

    /**
     * Group commit, as in the journal: whatever puts are waiting when the writer gets to them share
     * one transaction and one fsync.
     */
    private void commitPending() {
        List<PendingPut> group = new ArrayList<>();
        PendingPut next;
        while (group.size() < 512 && (next = puts.poll()) != null) {
            group.add(next);
        }
        if (group.isEmpty()) {
            return;
        }
        try {
            long[] sequences = new long[group.size()];
            for (int i = 0; i < group.size(); i++) {
                PendingPut put = group.get(i);
                ResultDocument document = put.document();
                PreparedStatement statement = put.sequence() > 0 ? insertAt : insert;
                statement.setString(1, document.executionId());
                statement.setString(2, document.subject());
                statement.setString(3, document.status().name());
                statement.setString(4, document.timings() == null ? null : document.timings().completedAt());
                statement.setString(5, JSON.writeValueAsString(document));
                if (put.sequence() > 0) {
                    insertAt.setLong(6, put.sequence());
                    sequences[i] = insertAt.executeUpdate() == 1 ? put.sequence() : 0;
                } else if (insert.executeUpdate() == 1) {
                    try (ResultSet key = insert.getGeneratedKeys()) {
                        key.next();
                        sequences[i] = key.getLong(1);
                    }
                }
            }
            writeConnection.commit();
            lastFailure = null;
            for (int i = 0; i < group.size(); i++) {
                PendingPut put = group.get(i);
                // A new row is this document; an existing one (a replay) is read back: the first result wins.
                put.stored().complete(sequences[i] > 0 ? new StoredResult(sequences[i], put.document())
                        : find(writeConnection, put.document().executionId()).orElse(null));
            }
        } catch (SQLException | IOException | RuntimeException e) {
            try {
                writeConnection.rollback();
            } catch (SQLException ignored) {
                // the failure below is what matters
            }
            lastFailure = e;
            group.forEach(put -> put.stored().completeExceptionally(e));
        }
    }

    @Override
    public Uni<Optional<StoredResult>> get(String executionId) {
        return call(() -> find(readConnection, executionId)).runSubscriptionOn(reader);
    }

    @Override
    public Uni<List<StoredResult>> after(long sequence, int limit) {
        return call(() -> {
            List<StoredResult> results = new ArrayList<>();
            try (PreparedStatement query = readConnection.prepareStatement(
                    "SELECT seq, document FROM results WHERE seq > ? ORDER BY seq LIMIT ?")) {
                query.setLong(1, sequence);
                query.setInt(2, limit);
                try (ResultSet rs = query.executeQuery()) {
                    while (rs.next()) {
                        results.add(new StoredResult(rs.getLong(1), parse(rs.getString(2))));
                    }
                }
            }
            return results;
        }).runSubscriptionOn(reader);
    }

    /** Runs blocking JDBC work; the caller picks the thread with {@code runSubscriptionOn}. */
    private static <T> Uni<T> call(java.util.concurrent.Callable<T> work) {
        return Uni.createFrom().emitter(emitter -> {
            try {
                emitter.complete(work.call());
            } catch (Exception e) {
                emitter.fail(e);
            }
        });
    }

    private static Optional<StoredResult> find(Connection connection, String executionId) throws SQLException, IOException {
        try (PreparedStatement query = connection.prepareStatement("SELECT seq, document FROM results WHERE execution_id = ?")) {
            query.setString(1, executionId);
            try (ResultSet rs = query.executeQuery()) {
                return rs.next() ? Optional.of(new StoredResult(rs.getLong(1), parse(rs.getString(2)))) : Optional.empty();
            }
        }
    }

    private static ResultDocument parse(String json) throws IOException {
        return JSON.readValue(json, ResultDocument.class);
    }
}
