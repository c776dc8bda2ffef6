package io.sandstream.sqlite;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;
import org.sqlite.SQLiteDataSource;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;

/**
 * The one writer of an SQLite file (WAL, {@code synchronous=FULL}): a thread of its own owns the
 * write connection and folds the requests waiting for it into one transaction, so concurrent
 * requests share one fsync (group commit). The journal and the result store each run one.
 *
 * <p>The rules:
 * <ul>
 * <li><b>Batching.</b> The writer takes the first waiting request and, with it, whatever else is
 * queued at that moment, up to {@code maxBatch} requests; it never waits for more. They run in
 * order in one transaction, and the batch commits when the last has run.</li>
 * <li><b>A request's own failure.</b> Each request runs under a savepoint. When its work throws,
 * the writer rolls back to that savepoint, so none of its writes stay, and fails only that
 * request; the rest of the batch commits. (When SQLite has already rolled back the whole
 * transaction, as it does on a full disk or an I/O error, the savepoint is gone and this is a
 * failed commit instead.)</li>
 * <li><b>A failed commit.</b> When BEGIN, a savepoint, COMMIT or anything outside one request's
 * work fails, the transaction is rolled back and every request of the batch fails; none is told
 * its writes are durable, and no request is tried again. The writer goes on with the next batch.</li>
 * <li><b>Durable before told.</b> A request completes only after its batch's COMMIT returned; the
 * {@link Batches#committed()} hook runs first, on the writer thread, then the futures complete,
 * still on the writer thread (callers move their continuations elsewhere).</li>
 * <li><b>Health.</b> {@link #lastFailure()} is the last batch's failure, a request's or the
 * commit's, until a batch commits with every request succeeding.</li>
 * <li><b>Shutdown.</b> {@link #close()} refuses new requests at once (their futures fail), lets the
 * writer commit what is queued, waits up to ten seconds for it, and fails whatever is still queued
 * then; the writer closes its connection when it stops. No caller is left waiting.</li>
 * <li><b>Metrics.</b> The owner names them ({@link Meters}): the latency of each committed batch
 * (from its first request to the end of COMMIT) and the requests in it.</li>
 * </ul>
 */
public final class GroupCommitWriter implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(GroupCommitWriter.class);
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

    /** One request's writes; it returns what its caller is completed with. */
    @FunctionalInterface
    public interface Work<T> {
        T write(Transaction transaction) throws Exception;
    }

    /**
     * The open transaction a request writes in. Work must not commit, roll back or change the
     * connection's transaction mode: the writer does.
     */
    public interface Transaction {
        Connection connection();

        /** A statement of the write connection, prepared once and kept until the writer stops or a request fails. */
        PreparedStatement statement(String sql) throws SQLException;
    }

    /** State the owner keeps for the transaction being built; both hooks run on the writer thread. */
    public interface Batches {
        Batches NONE = new Batches() {
        };

        /** A transaction begins: what the previous one gathered is dropped (committed or not). */
        default void begin() {
        }

        /** The transaction committed; runs before any of its callers is completed. */
        default void committed() {
        }
    }

    /** Recorded for every committed batch; either may be null. */
    public record Meters(Timer commits, DistributionSummary requests) {
        public static final Meters NONE = new Meters(null, null);
    }

    private final String name;
    private final Connection connection;
    private final int maxBatch;
    private final Meters meters;
    private final Batches batches;
    private final LinkedBlockingQueue<Request<?>> queue = new LinkedBlockingQueue<>();
    /** Writer thread only. */
    private final Map<String, PreparedStatement> statements = new HashMap<>();
    private final Transaction transaction = new Transaction() {
        @Override
        public Connection connection() {
            return connection;
        }

        @Override
        public PreparedStatement statement(String sql) throws SQLException {
            PreparedStatement statement = statements.get(sql);
            if (statement == null) {
                statement = connection.prepareStatement(sql);
                statements.put(sql, statement);
            }
            return statement;
        }
    };
    private final Thread thread;
    private volatile boolean closed;
    private volatile Exception lastFailure;

    private GroupCommitWriter(String name, Connection connection, int maxBatch, Meters meters, Batches batches) {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("maxBatch must be at least 1: " + maxBatch);
        }
        this.name = name;
        this.connection = connection;
        this.maxBatch = maxBatch;
        this.meters = meters;
        this.batches = batches;
        this.thread = new Thread(this::run, name + "-writer");
    }

    /**
     * Opens {@code file} for writing: WAL, {@code synchronous=FULL} (a commit is on disk when it
     * returns), a 5 s busy timeout. The caller sets up its schema, then hands the connection to
     * {@link #start}.
     *
     * <p>{@code temp_store=MEMORY} keeps the per-request savepoints' statement journal in memory.
     * Left on SQLite's default, that journal spills to a temporary file once a transaction's holds
     * more than 64 KiB, and every page a request changes is then written there first: under a
     * sustained load that was four of every five writes the writer made (docs/benchmarks.md).
     * It holds only the pages one transaction changes, and nothing in it needs to survive a crash:
     * the WAL is what makes a commit durable.
     */
    public static Connection openForWriting(Path file) throws SQLException {
        Connection connection = open(file);
        try (Statement s = connection.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA synchronous=FULL");
            s.execute("PRAGMA temp_store=MEMORY");
        }
        return connection;
    }

    /**
     * A writer's page cache and WAL size ({@code sandstream.journal.cache-mib} and
     * {@code checkpoint-mib}, see there): the SQLite journal's writer and the Kafka results copy's.
     */
    public static void tune(Statement s, int cacheMib, int checkpointMib) throws SQLException {
        s.execute(cacheSize(cacheMib));
        try (ResultSet rs = s.executeQuery("PRAGMA page_size")) {
            s.execute("PRAGMA wal_autocheckpoint=" + checkpointMib * 1024L * 1024 / rs.getLong(1));
        }
    }

    /** Refuses settings {@link #tune} cannot use, before anything is opened. */
    public static void checkTuning(int cacheMib, int checkpointMib) {
        if (cacheMib < 1 || checkpointMib < 1) {
            throw new IllegalStateException("sandstream.journal.cache-mib and checkpoint-mib must be at least 1: "
                    + cacheMib + ", " + checkpointMib);
        }
    }

    /** SQLite's {@code cache_size} of {@code mib} MiB (negative: KiB, not pages). */
    public static String cacheSize(int mib) {
        return "PRAGMA cache_size=" + -1024L * mib;
    }

    /** A connection to {@code file} for reading beside the writer (WAL lets it), with a 5 s busy timeout. */
    public static Connection open(Path file) throws SQLException {
        SQLiteDataSource dataSource = new SQLiteDataSource();
        dataSource.setUrl("jdbc:sqlite:" + file);
        Connection connection = dataSource.getConnection();
        try (Statement s = connection.createStatement()) {
            s.execute("PRAGMA busy_timeout=5000");
        } catch (SQLException e) {
            connection.close();
            throw e;
        }
        return connection;
    }

    /**
     * Starts the writer on {@code connection}, which it owns from now on (in auto-commit mode: the
     * writer begins and ends transactions itself) and closes when it stops. {@code name} names
     * the thread ({@code name-writer}) and the failure of requests made after {@link #close()}.
     */
    public static GroupCommitWriter start(String name, Connection connection, int maxBatch, Meters meters, Batches batches) {
        GroupCommitWriter writer = new GroupCommitWriter(name, connection, maxBatch, meters, batches);
        writer.thread.start();
        return writer;
    }

    /** Queues {@code work}; the future completes once its batch has committed, or fails. */
    public <T> CompletableFuture<T> submit(Work<T> work) {
        Request<T> request = new Request<>(work);
        if (closed) {
            request.future.completeExceptionally(closedFailure());
            return request.future;
        }
        queue.add(request);
        // Closed meanwhile: unless the writer or close() took it already, it is this caller's to fail.
        if (closed && queue.remove(request)) {
            request.future.completeExceptionally(closedFailure());
        }
        return request.future;
    }

    /** The last batch's failure, null once a batch commits cleanly (see the class rules). */
    public Exception lastFailure() {
        return lastFailure;
    }

    /** Taking requests and the thread alive. */
    public boolean running() {
        return !closed && thread.isAlive();
    }

    @Override
    public void close() {
        close(CLOSE_WAIT);
    }

    void close(Duration wait) {
        closed = true;
        try {
            thread.join(wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Request<?>> left = new ArrayList<>();
        queue.drainTo(left);
        if (!left.isEmpty()) {
            LOG.warnf("%s writer: %d requests not written by close", name, left.size());
        }
        left.forEach(request -> request.future.completeExceptionally(closedFailure()));
    }

    private IllegalStateException closedFailure() {
        return new IllegalStateException(name + " closed");
    }

    private void run() {
        List<Request<?>> batch = new ArrayList<>(maxBatch);
        try {
            while (!closed || !queue.isEmpty()) {
                Request<?> first;
                try {
                    first = queue.poll(100, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    // Only close() may end the writer: queued callers would wait for nothing.
                    LOG.warnf("%s writer interrupted; it goes on until closed", name);
                    continue;
                }
                if (first == null) {
                    continue;
                }
                batch.clear();
                batch.add(first);
                queue.drainTo(batch, maxBatch - 1);
                write(batch);
            }
        } finally {
            closeConnection();
        }
    }

    private void write(List<Request<?>> batch) {
        long start = System.nanoTime();
        Exception requestFailure = null;
        try {
            execute("BEGIN");
            batches.begin();
            for (Request<?> request : batch) {
                execute("SAVEPOINT request");
                if (!request.write(transaction)) {
                    if (requestFailure == null) {
                        requestFailure = request.failure;
                    }
                    LOG.warnf(request.failure, "%s writer: a request failed alone, its batch goes on", name);
                    forgetStatements();
                    execute("ROLLBACK TO request");
                }
                execute("RELEASE request");
            }
            execute("COMMIT");
        } catch (Throwable e) {
            LOG.errorf(e, "%s commit failed: all %d requests of the batch fail", name, batch.size());
            forgetStatements();
            rollback();
            if (requestFailure != null && requestFailure != e) {
                e.addSuppressed(requestFailure); // a request's failure may have cost the transaction
            }
            lastFailure = e instanceof Exception exception ? exception : new IllegalStateException(e);
            for (Request<?> request : batch) {
                request.future.completeExceptionally(request.failure != null ? request.failure : e);
            }
            return;
        }
        lastFailure = requestFailure;
        if (meters.commits() != null) {
            meters.commits().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        }
        if (meters.requests() != null) {
            meters.requests().record(batch.size());
        }
        try {
            batches.committed();
        } catch (RuntimeException e) {
            LOG.errorf(e, "%s writer: after-commit hook failed (the batch is committed)", name);
        }
        batch.forEach(Request::complete);
    }

    private void execute(String sql) throws SQLException {
        transaction.statement(sql).execute();
    }

    /** After a failure SQLite may have rolled back already; then there is nothing to roll back. */
    private void rollback() {
        try (Statement s = connection.createStatement()) {
            s.execute("ROLLBACK");
        } catch (SQLException e) {
            LOG.debugf("%s rollback: %s", name, e.getMessage());
        }
    }

    /**
     * Closes the cached statements after a failure: sqlite-jdbc finalizes a statement that fails
     * with most error codes, and a cached one would then fail every later request.
     */
    private void forgetStatements() {
        for (PreparedStatement statement : statements.values()) {
            try {
                statement.close();
            } catch (SQLException e) {
                LOG.debugf("%s: closing a statement: %s", name, e.getMessage());
            }
        }
        statements.clear();
    }

    private void closeConnection() {
        forgetStatements();
        try {
            connection.close();
        } catch (SQLException e) {
            LOG.warnf(e, "closing the %s write connection failed", name);
        }
    }

    private static final class Request<T> {
        final Work<T> work;
        final CompletableFuture<T> future = new CompletableFuture<>();
        T result;
        Exception failure;

        Request(Work<T> work) {
            this.work = work;
        }

        /** Runs the work; false when it threw (its failure kept). */
        boolean write(Transaction transaction) {
            try {
                result = work.write(transaction);
                return true;
            } catch (Exception e) {
                failure = e;
                return false;
            }
        }

        void complete() {
            if (failure != null) {
                future.completeExceptionally(failure);
            } else {
                future.complete(result);
            }
        }
    }
}
