package io.sandstream.results.sqlite;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.sandstream.sqlite.GroupCommitWriter;
import io.smallrye.mutiny.Uni;

/**
 * The embedded result store: a table in an SQLite file (WAL), one row per execution with its
 * document, indexed by executionId; the row number orders the results stream. Writes go through a
 * {@link GroupCommitWriter} (its rules apply); reads use their own connection. Not a bean of its
 * own: the wiring's {@code ResultStoreProducer} opens it, as the store or as the blob store's local
 * index.
 *
 * <p>Two layouts. On its own ({@link #SqliteResultStore(DataDirectory)}: the blob store's index, the
 * Kafka results topic's copy) it is {@code results.db} with a writer of its own. Beside the SQLite
 * journal ({@link #shared}) it is a table of the journal's file, written by the journal's writer,
 * and each put also finishes the execution's journal entry in the same transaction: one commit
 * (one fsync, shared with every other request of the group) where there were two. A
 * {@code results.db} left by the older layout is copied into the shared file when it opens.
 */
public class SqliteResultStore implements ResultStore, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SqliteResultStore.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Most puts folded into one transaction. */
    private static final int MAX_BATCH = 512;
    private static final String INSERT = """
            INSERT INTO results(execution_id, subject, status, completed_at, document) VALUES (?,?,?,?,?)
            ON CONFLICT(execution_id) DO NOTHING""";
    private static final String INSERT_AT = """
            INSERT INTO results(execution_id, subject, status, completed_at, document, seq) VALUES (?,?,?,?,?,?)
            ON CONFLICT DO NOTHING""";

    private static final String CREATE = """
            CREATE TABLE IF NOT EXISTS results (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              execution_id TEXT NOT NULL UNIQUE,
              subject TEXT, status TEXT NOT NULL, completed_at TEXT,
              document TEXT NOT NULL)""";
    /** The file of the layout with a results file of its own. */
    private static final String OWN_FILE = "results.db";

    /** Writes more, in the same transaction, once a result is stored: the journal's finish. */
    @FunctionalInterface
    public interface AfterPut {
        void write(GroupCommitWriter.Transaction transaction, String executionId) throws SQLException;
    }

    private final Path file;
    /** The writer of a shared file; null when this store has its own. */
    private final GroupCommitWriter sharedWriter;
    private final AfterPut afterPut;
    private final ExecutorService reader = Executors.newSingleThreadExecutor(r -> new Thread(r, "results-reader"));
    private GroupCommitWriter writer;
    private Connection readConnection;
    /** {@link #storedNow}'s own connection, opened by its first call; guarded by {@code this}. */
    private Connection checkConnection;
    /** {@link #storedNow}'s query, prepared once on that connection; guarded by {@code this}. */
    private PreparedStatement check;
    /**
     * Set for a copy of results stored elsewhere (see {@link #copyOf}), whose commits need not wait
     * for the disk: its SQLite settings, the journal's page cache and WAL size. Null otherwise.
     */
    private final SandstreamConfig.Journal tuning;

    /** The store in {@code results.db} of the data directory, with a writer of its own. */
    public SqliteResultStore(DataDirectory dataDirectory) {
        this(dataDirectory.root().resolve(OWN_FILE), null, null, null);
    }

    private SqliteResultStore(Path file, GroupCommitWriter sharedWriter, AfterPut afterPut, SandstreamConfig.Journal tuning) {
        this.file = file;
        this.sharedWriter = sharedWriter;
        this.afterPut = afterPut;
        this.tuning = tuning;
    }

    /**
     * The store as a table of another database's {@code file}, written by that database's
     * {@code writer}; {@code afterPut} runs in each put's transaction once the result is stored.
     */
    public static SqliteResultStore shared(Path file, GroupCommitWriter writer, AfterPut afterPut) {
        return new SqliteResultStore(file, writer, afterPut, null);
    }

    /**
     * A local copy of results stored elsewhere (the Kafka results topic), which its owner fills
     * with {@link #putAt} and reads again from the source after its {@link #lastSequence}: its
     * commits skip the fsync ({@code synchronous=NORMAL} under WAL: only a checkpoint syncs, every
     * {@code checkpoint-mib} of WAL), and it gets the journal's page cache. A killed process loses nothing
     * (the operating system has the writes); a lost machine may lose the last commits, which the
     * copy then reads from the source again, and the file stays consistent either way.
     */
    public static SqliteResultStore copyOf(DataDirectory dataDirectory, SandstreamConfig.Journal tuning) {
        GroupCommitWriter.checkTuning(tuning.cacheMib(), tuning.checkpointMib());
        return new SqliteResultStore(dataDirectory.root().resolve(OWN_FILE), null, null, tuning);
    }

    public void open() {
        try {
            Connection writeConnection = GroupCommitWriter.openForWriting(file);
            try (Statement s = writeConnection.createStatement()) {
                s.execute(CREATE);
                if (sharedWriter != null) {
                    migrate(s);
                }
                if (tuning != null) { // a copy
                    s.execute("PRAGMA synchronous=NORMAL");
                    GroupCommitWriter.tune(s, tuning.cacheMib(), tuning.checkpointMib());
                }
            } catch (SQLException e) {
                writeConnection.close();
                throw e;
            }
            readConnection = GroupCommitWriter.open(file);
            if (sharedWriter != null) {
                writeConnection.close(); // set-up only: the shared writer writes from now on
                writer = sharedWriter;
            } else {
                writer = GroupCommitWriter.start("results", writeConnection, MAX_BATCH,
                        GroupCommitWriter.Meters.NONE, GroupCommitWriter.Batches.NONE);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open the result store", e);
        }
    }

    /**
     * Copies the results of the older layout's own file into the shared one, sequence numbers kept
     * (a results stream resumes at the same {@code Last-Event-ID}), then deletes that file. Runs
     * before the service takes work. Idempotent: after a crash between the copy's commit and the
     * deletion, the next start copies nothing twice.
     */
    private void migrate(Statement s) throws SQLException {
        Path old = file.resolveSibling(OWN_FILE);
        if (!Files.exists(old)) {
            return;
        }
        s.execute("ATTACH DATABASE '" + old.toString().replace("'", "''") + "' AS old");
        try {
            int copied = s.executeUpdate("""
                    INSERT INTO main.results(seq, execution_id, subject, status, completed_at, document)
                    SELECT seq, execution_id, subject, status, completed_at, document FROM old.results WHERE true
                    ON CONFLICT DO NOTHING""");
            LOG.infof("result store: %d results of %s copied into %s", copied, old, file);
        } finally {
            s.execute("DETACH DATABASE old");
        }
        try {
            for (String suffix : new String[] {"-wal", "-shm", ""}) {
                Files.deleteIfExists(old.resolveSibling(OWN_FILE + suffix));
            }
        } catch (IOException e) {
            LOG.warnf("%s could not be deleted (its results are copied; the next start copies nothing twice): %s", old, e);
        }
    }

    @Override
    public void close() {
        if (sharedWriter == null) {
            writer.close(); // commits what is queued first
        }
        reader.shutdown();
        try {
            readConnection.close();
            synchronized (this) {
                if (check != null) {
                    check.close();
                }
                if (checkConnection != null) {
                    checkConnection.close();
                }
            }
        } catch (SQLException e) {
            // closing anyway
        }
    }

    @Override
    public Uni<StoredResult> put(ResultDocument document) {
        // Deferred: a caller that retries (the dispatcher does, forever) resubscribes, and each
        // subscription must queue a new write rather than replay the first one's failure.
        // Completes on the writer thread: the caller moves off it (the dispatcher to its own thread;
        // a hop to a worker pool first was one more thread woken per execution).
        return Uni.createFrom().deferred(() -> Uni.createFrom().completionStage(putAt(0, document)));
    }

    /**
     * Stores a result under a sequence given by the caller (a copy of a store kept elsewhere: the
     * Kafka results topic numbers it); 0 numbers it here. Completes with the stored row, which is
     * an earlier one when the execution was stored before, or null when {@code sequence} is taken
     * by another execution. Completes on the writer thread.
     */
    public CompletableFuture<StoredResult> putAt(long sequence, ResultDocument document) {
        return writer.submit(transaction -> {
            PreparedStatement statement = transaction.statement(sequence > 0 ? INSERT_AT : INSERT);
            statement.setString(1, document.executionId());
            statement.setString(2, document.subject());
            statement.setString(3, document.status().name());
            statement.setString(4, document.timings() == null ? null : document.timings().completedAt());
            statement.setString(5, JSON.writeValueAsString(document));
            long stored = 0;
            if (sequence > 0) {
                statement.setLong(6, sequence);
                stored = statement.executeUpdate() == 1 ? sequence : 0;
            } else if (statement.executeUpdate() == 1) {
                try (ResultSet key = statement.getGeneratedKeys()) {
                    key.next();
                    stored = key.getLong(1);
                }
            }
            // A new row is this document; an existing one (a replay) is read back: the first result wins.
            StoredResult result = stored > 0 ? new StoredResult(stored, document)
                    : find(transaction.connection(), document.executionId()).orElse(null);
            if (afterPut != null) {
                afterPut.write(transaction, document.executionId());
            }
            return result;
        });
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
        Exception failure = writer.lastFailure();
        return Uni.createFrom().item(failure == null ? new Health(true, java.util.Map.of())
                : new Health(false, java.util.Map.of("lastFailure", String.valueOf(failure.getMessage()))));
    }

    @Override
    public Uni<Optional<StoredResult>> get(String executionId) {
        return call(() -> find(readConnection, executionId)).runSubscriptionOn(reader);
    }

    /** What a test reads this store's writer settings through. */
    GroupCommitWriter writer() {
        return writer;
    }

    /** An indexed read of the execution id on the caller's thread, through a connection of its own. */
    @Override
    public synchronized boolean storedNow(String executionId) {
        try {
            if (check == null) {
                if (checkConnection == null) {
                    checkConnection = GroupCommitWriter.open(file);
                }
                if (tuning != null) { // a copy: one read of the id index per record taken, with the writer's page cache
                    try (Statement s = checkConnection.createStatement()) {
                        s.execute(GroupCommitWriter.cacheSize(tuning.cacheMib()));
                    }
                }
                check = checkConnection.prepareStatement("SELECT 1 FROM results WHERE execution_id = ?");
            }
            check.setString(1, executionId);
            try (ResultSet rs = check.executeQuery()) {
                return rs.next();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the result store", e);
        }
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
