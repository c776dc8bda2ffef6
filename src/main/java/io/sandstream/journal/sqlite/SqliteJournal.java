package io.sandstream.journal.sqlite;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;


import org.jboss.logging.Logger;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Tenant;
import io.sandstream.tenancy.TenantQuotas;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

import org.sqlite.SQLiteDataSource;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalFullException;
import io.sandstream.journal.JournalRecord;

/**
 * The embedded journal: one SQLite file in WAL mode with {@code synchronous=FULL}, so a commit is
 * on disk when it returns. A single writer thread owns the write connection and folds every
 * operation waiting in its queue into one transaction (group commit): concurrent requests share
 * one fsync instead of paying one each. Opened by the wiring's {@code JournalProducer}.
 */
public class SqliteJournal implements Journal {

    private static final Logger LOG = Logger.getLogger(SqliteJournal.class);
    private static final int FETCH_SIZE = 256;
    private static final String COLUMNS = "seq, execution_id, event_id, source, type, subject, session_id, priority, "
            + "state, accepted_at, event, rejection, attempt, tenant";

    private final SandstreamConfig.Journal config;
    private final DataDirectory dataDirectory;
    private final MeterRegistry registry;
    private final TenantQuotas quotas;
    /** Pending entries per tenant (the shared tenant is not counted: no quota applies to it); writer thread only. */
    private final Map<Tenant, Long> pendingByTenant = new HashMap<>();
    private final LinkedBlockingQueue<Op> queue = new LinkedBlockingQueue<>();
    private final AtomicLong pending = new AtomicLong();
    private final ExecutorService reader = Executors.newSingleThreadExecutor(r -> new Thread(r, "journal-reader"));

    private Connection writeConnection;
    /** The writer's statements, prepared once: the writer runs a handful of distinct ones thousands of times a second. */
    private final Map<String, PreparedStatement> writeStatements = new HashMap<>();
    /** Pending entries added by the transaction being built, in all and per tenant; writer thread only. */
    private long addedInGroup;
    private final Map<Tenant, Long> addedInGroupByTenant = new HashMap<>();
    private Connection readConnection;
    private Thread writer;
    private volatile boolean running;
    private volatile boolean lastCommitFailed;
    /** The last entry a previous run left: any of them may have run and stored its result. */
    private volatile long leftByPreviousRun;
    /** Completed by the next commit that appends, with its entries; see {@link #pending()}. */
    private volatile CompletableFuture<Committed> committed = new CompletableFuture<>();
    private Timer commitTimer;
    private DistributionSummary commitOps;

    public SqliteJournal(SandstreamConfig config, DataDirectory dataDirectory, MeterRegistry registry, TenantQuotas quotas) {
        this.config = config.journal();
        this.quotas = quotas;
        this.dataDirectory = dataDirectory;
        this.registry = registry;
    }

    public void open() {
        String url = "jdbc:sqlite:" + dataDirectory.root().resolve("journal.db");
        SQLiteDataSource dataSource = new SQLiteDataSource();
        dataSource.setUrl(url);
        try {
            writeConnection = dataSource.getConnection();
            try (Statement s = writeConnection.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=FULL");
                s.execute("PRAGMA busy_timeout=5000");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS journal (
                          seq INTEGER PRIMARY KEY AUTOINCREMENT,
                          execution_id TEXT NOT NULL UNIQUE,
                          event_id TEXT, source TEXT, type TEXT, subject TEXT, session_id TEXT, priority TEXT,
                          state TEXT NOT NULL,
                          attempt INTEGER NOT NULL DEFAULT 0,
                          accepted_at INTEGER NOT NULL,
                          event BLOB,
                          rejection TEXT)""");
                s.execute("CREATE INDEX IF NOT EXISTS journal_state_seq ON journal(state, seq)");
                addTenantColumn(s);
                // Work that was running when the previous process stopped is queued again.
                int requeued = s.executeUpdate("UPDATE journal SET state='QUEUED' WHERE state='RUNNING'");
                try (ResultSet rs = s.executeQuery("SELECT COALESCE(MAX(seq), 0) FROM journal")) {
                    leftByPreviousRun = rs.getLong(1);
                }
                try (ResultSet rs = s.executeQuery("SELECT tenant, COUNT(*) FROM journal WHERE state='QUEUED' GROUP BY tenant")) {
                    while (rs.next()) {
                        pending.addAndGet(rs.getLong(2));
                        Tenant tenant = Tenant.of(rs.getString(1));
                        if (!tenant.shared()) {
                            pendingByTenant.put(tenant, rs.getLong(2));
                        }
                    }
                }
                LOG.infof("journal %s: %d pending (%d interrupted executions queued again)", url, pending.get(), requeued);
            }
            writeConnection.setAutoCommit(false);
            readConnection = dataSource.getConnection();
            try (Statement s = readConnection.createStatement()) {
                s.execute("PRAGMA busy_timeout=5000");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open the journal at " + url, e);
        }
        commitTimer = Timer.builder("sandstream.journal.commit").description("Journal group-commit latency (write + fsync)")
                .publishPercentileHistogram().register(registry);
        commitOps = DistributionSummary.builder("sandstream.journal.commit.operations")
                .description("Operations folded into one journal commit").register(registry);
        Gauge.builder("sandstream.journal.pending", pending, AtomicLong::get)
                .description("Accepted executions not finished yet").register(registry);
        Gauge.builder("sandstream.journal.pending.limit", config, SandstreamConfig.Journal::maxPending)
                .description("Most pending executions before ingress answers 429").register(registry);
        running = true;
        writer = new Thread(this::writeLoop, "journal-writer");
        writer.start();
    }

    /** Journals written before tenants existed get the column; their entries belong to the shared tenant. */
    private static void addTenantColumn(Statement s) throws SQLException {
        try (ResultSet columns = s.executeQuery("SELECT 1 FROM pragma_table_info('journal') WHERE name='tenant'")) {
            if (columns.next()) {
                return;
            }
        }
        s.execute("ALTER TABLE journal ADD COLUMN tenant TEXT NOT NULL DEFAULT ''");
    }

    public void close() {
        running = false;
        try {
            writer.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        committed.completeExceptionally(new IllegalStateException("journal closed"));
        reader.shutdownNow();
        try {
            for (PreparedStatement statement : writeStatements.values()) {
                statement.close();
            }
            writeConnection.close();
            readConnection.close();
        } catch (SQLException e) {
            LOG.warn("closing the journal failed", e);
        }
    }

    // ---- writes: all through the group committer --------------------------------------------------

    @Override
    public Uni<List<Boolean>> append(List<JournalEntry> entries) {
        Append op = new Append(List.copyOf(entries));
        return submit(op).map(ignored -> {
            if (op.overQuota != null) {
                quotas.refused("queued");
                throw new JournalFullException(op.overQuota, quotas.of(op.overQuota).maxQueued());
            }
            if (op.full) {
                throw new JournalFullException(config.maxPending());
            }
            return op.duplicates;
        });
    }

    @Override
    public Uni<Void> markRunning(String executionId) {
        return submit(new Transition(executionId, "state='QUEUED'", "RUNNING", true, pendingByTenant)).replaceWithVoid();
    }

    /** Always owned here: the state change is written in the background with the next commit. */
    @Override
    public boolean claim(String executionId) {
        markRunning(executionId).subscribe().with(ignored -> { },
                failure -> LOG.warnf("marking %s running failed: %s", executionId, failure.getMessage()));
        return true;
    }

    /**
     * A start is marked in the background ({@link #claim}), so an entry a crash interrupted may be
     * QUEUED with attempt 0 and its result stored: every entry left by a previous run is checked.
     */
    @Override
    public boolean mayHaveResult(JournalRecord record) {
        return record.seq() <= leftByPreviousRun || record.attempt() > 0;
    }

    @Override
    public Uni<Void> finish(String executionId) {
        return submit(new Transition(executionId, "state IN ('QUEUED','RUNNING')", "FINISHED", false, pendingByTenant))
                .flatMap(op -> ((Transition) op).changed != null ? Uni.createFrom().voidItem()
                        // A rejected event is finished once its Rejected result is stored; it never counted as pending.
                        : submit(new Transition(executionId, "state='REJECTED'", "REJECTED_DONE", false, pendingByTenant))
                                .replaceWithVoid());
    }

    @Override
    public Uni<java.util.Optional<JournalRecord>> load(String executionId) {
        return Uni.createFrom().item(() -> {
            try (PreparedStatement query = readConnection.prepareStatement(
                    "SELECT " + COLUMNS + " FROM journal WHERE execution_id = ?")) {
                query.setString(1, executionId);
                try (ResultSet rs = query.executeQuery()) {
                    return rs.next() ? java.util.Optional.of(record(rs)) : java.util.Optional.<JournalRecord>empty();
                }
            } catch (SQLException e) {
                throw new IllegalStateException("reading the journal failed", e);
            }
        }).runSubscriptionOn(reader);
    }

    private Uni<Op> submit(Op op) {
        if (!running) {
            return Uni.createFrom().failure(new IllegalStateException("journal closed"));
        }
        queue.add(op);
        // Continue callers on the shared worker pool, never on the writer: its next commit must not
        // wait for whatever each caller does with the answer.
        return Uni.createFrom().completionStage(op.done).replaceWith(op)
                .emitOn(Infrastructure.getDefaultExecutor())
                .ifNoItem().after(config.commitTimeout()).fail();
    }

    private void writeLoop() {
        List<Op> group = new ArrayList<>();
        while (running || !queue.isEmpty()) {
            try {
                Op first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                group.clear();
                group.add(first);
                queue.drainTo(group, config.maxGroupCommit() - 1);
                commitGroup(group);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.error("journal writer failed", e);
                group.forEach(op -> op.done.completeExceptionally(e));
            }
        }
    }

    private void commitGroup(List<Op> group) {
        long start = System.nanoTime();
        addedInGroup = 0;
        addedInGroupByTenant.clear();
        try {
            for (Op op : group) {
                op.apply(this::writeStatement);
            }
            writeConnection.commit();
        } catch (SQLException e) {
            rollback();
            addedInGroup = 0;
            addedInGroupByTenant.clear();
            if (group.size() > 1) {
                // One bad operation must not fail the others: retry each alone.
                group.forEach(op -> commitGroup(List.of(op)));
            } else {
                lastCommitFailed = true;
                LOG.error("journal commit failed", e);
                group.get(0).done.completeExceptionally(e);
            }
            return;
        }
        lastCommitFailed = false;
        pending.addAndGet(addedInGroup);
        addedInGroupByTenant.forEach((tenant, count) -> pendingByTenant.merge(tenant, count, Long::sum));
        commitTimer.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        commitOps.record(group.size());
        for (Op op : group) {
            op.committed(pending);
            op.done.complete(null);
        }
        // Only appends add to the pending stream; the hand-off carries them to its followers.
        List<JournalRecord> appended = new ArrayList<>();
        for (Op op : group) {
            if (op instanceof Append append && !append.full) {
                appended.addAll(append.inserted);
            }
        }
        if (!appended.isEmpty()) {
            CompletableFuture<Committed> handOff = committed;
            committed = new CompletableFuture<>();
            handOff.complete(new Committed(appended, committed));
        }
    }

    /** A prepared statement of the write connection, kept open for the journal's lifetime; writer thread only. */
    private PreparedStatement writeStatement(String sql) throws SQLException {
        PreparedStatement statement = writeStatements.get(sql);
        if (statement == null) {
            statement = writeConnection.prepareStatement(sql);
            writeStatements.put(sql, statement);
        }
        return statement;
    }

    /** How an operation gets its statements. */
    @FunctionalInterface
    private interface Statements {
        PreparedStatement get(String sql) throws SQLException;
    }

    private void rollback() {
        try {
            writeConnection.rollback();
        } catch (SQLException e) {
            LOG.warn("journal rollback failed", e);
        }
    }

    private abstract static class Op {
        final CompletableFuture<Void> done = new CompletableFuture<>();

        abstract void apply(Statements statements) throws SQLException;

        /** Runs after the commit: adjusts the pending count. */
        abstract void committed(AtomicLong pending);
    }

    /**
     * Inserts a request's entries, or none of them when the new queued ones would take the journal
     * past its limit. The check runs here, in the writer, against the count of this very
     * transaction, so it is exact and a redelivery of something already journalled always passes.
     */
    private final class Append extends Op {
        final List<JournalEntry> entries;
        final List<Boolean> duplicates = new ArrayList<>();
        /** The rows this append inserted, as the pending stream hands them over. */
        final List<JournalRecord> inserted = new ArrayList<>();
        boolean full;
        /** The tenant whose quota the append would pass, when that refused it; else null. */
        Tenant overQuota;
        /** Pending entries this append adds per tenant (quota'd tenants only). */
        final Map<Tenant, Long> addedByTenant = new HashMap<>();

        Append(List<JournalEntry> entries) {
            this.entries = entries;
        }

        @Override
        void apply(Statements statements) throws SQLException {
            duplicates.clear();
            inserted.clear();
            addedByTenant.clear();
            full = false;
            overQuota = null;
            int added = 0;
            PreparedStatement insert = statements.get("""
                    INSERT INTO journal(execution_id, event_id, source, type, subject, session_id, priority, state,
                                        accepted_at, event, rejection, tenant)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(execution_id) DO NOTHING""");
            statements.get("SAVEPOINT append").execute();
            for (JournalEntry e : entries) {
                insert.setString(1, e.executionId());
                insert.setString(2, e.eventId());
                insert.setString(3, e.source());
                insert.setString(4, e.type());
                insert.setString(5, e.subject());
                insert.setString(6, e.sessionId());
                insert.setString(7, e.priorityName());
                insert.setString(8, e.state().name());
                insert.setLong(9, e.acceptedAt().toEpochMilli());
                insert.setBytes(10, e.event());
                insert.setString(11, e.rejection());
                insert.setString(12, e.tenant().id());
                boolean duplicate = insert.executeUpdate() == 0;
                duplicates.add(duplicate);
                if (!duplicate) {
                    try (ResultSet key = insert.getGeneratedKeys()) {
                        key.next();
                        inserted.add(new JournalRecord(key.getLong(1), e, 0));
                    }
                }
                if (!duplicate && e.state().pending()) {
                    added++;
                    if (!e.tenant().shared()) {
                        addedByTenant.merge(e.tenant(), 1L, Long::sum);
                    }
                }
            }
            for (Map.Entry<Tenant, Long> tenant : addedByTenant.entrySet()) {
                if (pendingByTenant.getOrDefault(tenant.getKey(), 0L)
                        + addedInGroupByTenant.getOrDefault(tenant.getKey(), 0L) + tenant.getValue()
                        > quotas.of(tenant.getKey()).maxQueued()) {
                    overQuota = tenant.getKey();
                }
            }
            if (overQuota != null || (added > 0 && pending.get() + addedInGroup + added > config.maxPending())) {
                statements.get("ROLLBACK TO append").execute();
                full = true;
                inserted.clear();
                addedByTenant.clear();
            } else {
                addedInGroup += added;
                addedByTenant.forEach((tenant, count) -> addedInGroupByTenant.merge(tenant, count, Long::sum));
            }
            statements.get("RELEASE append").execute();
        }

        @Override
        void committed(AtomicLong pending) {
            // counted in addedInGroup
        }
    }

    private static final class Transition extends Op {
        final String executionId;
        final String fromCondition;
        final String to;
        final boolean countAttempt;
        final Map<Tenant, Long> pendingByTenant;
        /** The tenant of the entry it changed; null when no entry was in the {@code from} state. */
        String changed;

        Transition(String executionId, String fromCondition, String to, boolean countAttempt,
                Map<Tenant, Long> pendingByTenant) {
            this.executionId = executionId;
            this.fromCondition = fromCondition;
            this.to = to;
            this.countAttempt = countAttempt;
            this.pendingByTenant = pendingByTenant;
        }

        @Override
        void apply(Statements statements) throws SQLException {
            PreparedStatement update = statements.get("UPDATE journal SET state=?" + (countAttempt ? ", attempt=attempt+1" : "")
                    + " WHERE execution_id=? AND " + fromCondition + " RETURNING tenant");
            update.setString(1, to);
            update.setString(2, executionId);
            try (ResultSet row = update.executeQuery()) {
                changed = row.next() ? row.getString(1) : null;
            }
        }

        @Override
        void committed(AtomicLong pending) {
            if (changed != null && to.equals("FINISHED")) {
                pending.decrementAndGet();
                Tenant tenant = Tenant.of(changed);
                if (!tenant.shared()) {
                    pendingByTenant.computeIfPresent(tenant, (t, count) -> count > 1 ? count - 1 : null);
                }
            }
        }
    }

    // ---- pending stream -----------------------------------------------------------------------------

    /**
     * The stream of queued work: first what the journal holds (read page by page), then each commit's
     * new entries handed over by the writer itself, with no query. The writer's hand-offs form a
     * chain ({@link Committed#next}), so a follower never misses a commit between two waits; the
     * chain is taken before the first query, and entries seen by both are dropped by sequence
     * (one writer: a later commit always has higher sequence numbers).
     */
    @Override
    public Multi<JournalRecord> pending() {
        return Multi.createFrom().deferred(() -> {
            AtomicReference<CompletableFuture<Committed>> next = new AtomicReference<>(committed);
            AtomicLong page = new AtomicLong();
            Multi<List<JournalRecord>> backlog = Multi.createBy().repeating()
                    .uni(() -> Uni.createFrom().item(() -> fetchAfter(page.get())).runSubscriptionOn(reader)
                            .invoke(batch -> batch.stream().mapToLong(JournalRecord::seq).max().ifPresent(page::set)))
                    .whilst(batch -> batch.size() == FETCH_SIZE);
            Multi<List<JournalRecord>> live = Multi.createBy().repeating()
                    // A copy per wait: a cancelled follower must not cancel the hand-off every other one waits on.
                    .uni(() -> Uni.createFrom().completionStage(next.get().thenApply(c -> c)).map(c -> {
                        next.set(c.next());
                        return c.records();
                    }))
                    .indefinitely();
            AtomicLong seen = new AtomicLong();
            return Multi.createBy().concatenating().streams(backlog, live)
                    .onItem().transformToIterable(batch -> batch)
                    .select().where(record -> {
                        if (record.seq() <= seen.get()) {
                            return false;
                        }
                        seen.set(record.seq());
                        return true;
                    });
        });
    }

    /** What one commit appended, and the hand-off of the commit after it. */
    private record Committed(List<JournalRecord> records, CompletableFuture<Committed> next) {
    }

    private List<JournalRecord> fetchAfter(long seq) {
        List<JournalRecord> records = new ArrayList<>();
        try (PreparedStatement query = readConnection.prepareStatement(
                "SELECT " + COLUMNS + " FROM journal WHERE state IN ('QUEUED','REJECTED') AND seq > ? ORDER BY seq LIMIT ?")) {
            query.setLong(1, seq);
            query.setInt(2, FETCH_SIZE);
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    records.add(record(rs));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("reading the journal failed", e);
        }
        return records;
    }

    private static JournalRecord record(ResultSet rs) throws SQLException {
        String state = rs.getString(9);
        return new JournalRecord(rs.getLong(1), new JournalEntry(rs.getString(2), rs.getString(3),
                rs.getString(4), rs.getString(5), rs.getString(6), rs.getString(7), io.sandstream.model.Priority.ofWireName(rs.getString(8)),
                state.equals("REJECTED_DONE") ? JournalEntry.State.REJECTED : JournalEntry.State.valueOf(state),
                Instant.ofEpochMilli(rs.getLong(10)), rs.getBytes(11), rs.getString(12), Tenant.of(rs.getString(14))),
                rs.getInt(13));
    }

    // ---- capacity -----------------------------------------------------------------------------------

    @Override
    public long pendingCount() {
        return pending.get();
    }

    @Override
    public boolean healthy() {
        return running && writer.isAlive() && !lastCommitFailed;
    }
}
