package io.sandstream.results;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;

import org.sqlite.SQLiteDataSource;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.smallrye.mutiny.Uni;

/**
 * The embedded result store: an SQLite file (WAL) beside the journal, one row per execution with
 * its document, indexed by executionId; the row number orders the results stream. Writes are
 * serialized on one thread; reads use their own connection.
 */
@Startup
@ApplicationScoped
public class SqliteResultStore implements ResultStore {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final DataDirectory dataDirectory;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(r -> new Thread(r, "results-writer"));
    private final ExecutorService reader = Executors.newSingleThreadExecutor(r -> new Thread(r, "results-reader"));
    private Connection writeConnection;
    private Connection readConnection;

    public SqliteResultStore(DataDirectory dataDirectory) {
        this.dataDirectory = dataDirectory;
    }

    @PostConstruct
    void open() {
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
            readConnection = dataSource.getConnection();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open the result store", e);
        }
    }

    @PreDestroy
    void close() {
        writer.shutdown();
        reader.shutdown();
        try {
            writeConnection.close();
            readConnection.close();
        } catch (SQLException e) {
            // closing anyway
        }
    }

    @Override
    public Uni<StoredResult> put(ResultDocument document) {
        return call(() -> {
            try (PreparedStatement insert = writeConnection.prepareStatement("""
                    INSERT INTO results(execution_id, subject, status, completed_at, document) VALUES (?,?,?,?,?)
                    ON CONFLICT(execution_id) DO NOTHING""")) {
                insert.setString(1, document.executionId());
                insert.setString(2, document.subject());
                insert.setString(3, document.status());
                insert.setString(4, document.timings() == null ? null : document.timings().completedAt());
                insert.setString(5, JSON.writeValueAsString(document));
                insert.executeUpdate();
            }
            return find(writeConnection, document.executionId()).orElseThrow();
        }).runSubscriptionOn(writer);
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
