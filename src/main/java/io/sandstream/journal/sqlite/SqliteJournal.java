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
import io.sandstream.sqlite.GroupCommitWriter;
import io.sandstream.tenancy.TenantQuotas;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalFullException;
import io.sandstream.journal.JournalRecord;

/**
 * The embedded journal: one SQLite file in WAL mode with {@code synchronous=FULL}, so a commit is
 * on disk when it returns. Every write goes through a {@link GroupCommitWriter}, which folds the
 * operations waiting for it into one transaction (group commit): concurrent requests share one
 * fsync instead of paying one each, and none is answered before its commit returned. An operation
 * that fails alone fails alone (its savepoint is rolled back); a failed commit fails its whole
 * batch. Opened by the wiring's {@code JournalProducer}.
 */
public class SqliteJournal implements Journal {

    private static final Logger LOG = Logger.getLogger(SqliteJournal.class);
    private static final int FETCH_SIZE = 256;
    private static final String FROM_QUEUED = "state='QUEUED'";
    private static final String FROM_RUNNABLE = "state IN ('QUEUED','RUNNING')";
    /** A rejected event is finished once its Rejected result is stored; it never counted as pending. */
    private static final String FROM_REJECTED = "state='REJECTED'";
    private static final String COLUMNS = "seq, execution_id, event_id, source, type, subject, session_id, priority, "
            + "state, accepted_at, event, rejection, attempt, tenant";

    private final SandstreamConfig.Journal config;
    private final DataDirectory dataDirectory;
    private final MeterRegistry registry;
    private final TenantQuotas quotas;
    /** Pending entries per tenant (the shared tenant is not counted: no quota applies to it); writer thread only. */
    private final Map<Tenant, Long> pendingByTenant = new HashMap<>();
    private final AtomicLong pending = new AtomicLong();
    private final ExecutorService reader = Executors.newSingleThreadExecutor(r -> new Thread(r, "journal-reader"));

    /**
     * What the transaction being built changes in the pending counts and stream; writer thread
     * only. An operation adds to it as its last step, so one that failed (and was rolled back to
     * its savepoint) added nothing; the writer's hooks drop it when a transaction begins and apply
     * it when one commits.
     */
    private long addedInGroup;
    private final Map<Tenant, Long> addedInGroupByTenant = new HashMap<>();
    private final List<JournalRecord> appendedInGroup = new ArrayList<>();
    private final List<Tenant> finishedInGroup = new ArrayList<>();
    private Connection readConnection;
    private GroupCommitWriter writer;
    /** The last entry a previous run left: any of them may have run and stored its result. */
    private volatile long leftByPreviousRun;
    /** Completed by the next commit that appends, with its entries; see {@link #pending()}. */
    private volatile CompletableFuture<Committed> committed = new CompletableFuture<>();
    /** Set once a result store shares this file and finishes entries as it stores their results. */
    private volatile boolean finishedByResults;
    private java.nio.file.Path file;

    public SqliteJournal(SandstreamConfig config, DataDirectory dataDirectory, MeterRegistry registry, TenantQuotas quotas) {
        this.config = config.journal();
        this.quotas = quotas;
        this.dataDirectory = dataDirectory;
        this.registry = registry;
    }

    public void open() {
        file = dataDirectory.root().resolve("journal.db");
        GroupCommitWriter.checkTuning(config.cacheMib(), config.checkpointMib());
        Connection writeConnection = null;
        try {
            writeConnection = GroupCommitWriter.openForWriting(file);
            try (Statement s = writeConnection.createStatement()) {
                GroupCommitWriter.tune(s, config.cacheMib(), config.checkpointMib());
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
                LOG.infof("journal %s: %d pending (%d interrupted executions queued again)", file, pending.get(), requeued);
            }
            readConnection = GroupCommitWriter.open(file);
        } catch (SQLException e) {
            closeQuietly(writeConnection);
            throw new IllegalStateException("cannot open the journal at " + file, e);
        }
        Timer commitTimer = Timer.builder("sandstream.journal.commit").description("Journal group-commit latency (write + fsync)")
                .publishPercentileHistogram().register(registry);
        DistributionSummary commitOps = DistributionSummary.builder("sandstream.journal.commit.operations")
                .description("Operations folded into one journal commit").register(registry);
        Gauge.builder("sandstream.journal.pending", pending, AtomicLong::get)
                .description("Accepted executions not finished yet").register(registry);
        Gauge.builder("sandstream.journal.pending.limit", config, SandstreamConfig.Journal::maxPending)
                .description("Most pending executions before ingress answers 429").register(registry);
        Gauge.builder("sandstream.journal.cache.limit", config, c -> c.cacheMib() * 1024.0 * 1024)
                .description("Page cache of the journal's writer connection").baseUnit("bytes").register(registry);
        Gauge.builder("sandstream.journal.checkpoint.limit", config, c -> c.checkpointMib() * 1024.0 * 1024)
                .description("WAL size past which a journal commit checkpoints").baseUnit("bytes").register(registry);
        writer = GroupCommitWriter.start("journal", writeConnection, config.maxGroupCommit(),
                new GroupCommitWriter.Meters(commitTimer, commitOps), new Group());
    }

    private static void closeQuietly(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException e) {
                LOG.debug("closing a half-opened journal", e);
            }
        }
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
        writer.close(); // commits what is queued first
        committed.completeExceptionally(new IllegalStateException("journal closed"));
        reader.shutdownNow();
        try {
            readConnection.close();
        } catch (SQLException e) {
            LOG.warn("closing the journal failed", e);
        }
    }

    /** The journal's file, which the SQLite result store shares when both are embedded. */
    public java.nio.file.Path file() {
        return file;
    }

    /** The one writer of {@link #file()}: whatever shares the file writes through it (one commit, one fsync). */
    public GroupCommitWriter writer() {
        return writer;
    }

    /**
     * From now on a result store in this file finishes each entry in the transaction that stores its
     * result ({@link #finishIn}), so the dispatcher does not finish it again.
     */
    public void finishWithResults() {
        finishedByResults = true;
    }

    @Override
    public boolean finishedByResultStore() {
        return finishedByResults;
    }

    /**
     * {@link #finish} as part of another request's transaction on {@link #writer()}: the result
     * store's, so the result and the finish are one commit. Counted when that transaction commits.
     */
    public void finishIn(GroupCommitWriter.Transaction transaction, String executionId) throws SQLException {
        if (new Transition(executionId, FROM_RUNNABLE, "FINISHED", false).write(transaction).changed == null) {
            new Transition(executionId, FROM_REJECTED, "REJECTED_DONE", false).write(transaction);
        }
    }

    // ---- writes: all through the group committer --------------------------------------------------

    @Override
    public Uni<List<Boolean>> append(List<JournalEntry> entries) {
        return submit(new Append(List.copyOf(entries))).map(op -> {
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
        return submit(new Transition(executionId, FROM_QUEUED, "RUNNING", true)).replaceWithVoid();
    }

    /** Always owned here: the state change is written in the background with the next commit. */
    @Override
    public boolean claim(String executionId) {
        // Straight to the writer, no Uni: nobody waits for it, and per execution the Uni's hop to the
        // worker pool and its commit timeout showed in the profile for nothing but this log line.
        writer.submit(new Transition(executionId, FROM_QUEUED, "RUNNING", true)).whenComplete((op, failure) -> {
            if (failure != null) {
                LOG.warnf("marking %s running failed: %s", executionId, failure.getMessage());
            }
        });
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
        return submit(transaction -> {
            finishIn(transaction, executionId);
            return null;
        }).replaceWithVoid();
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

    /** Queues an operation now; the answer comes once its commit returned, or fails. */
    private <T> Uni<T> submit(GroupCommitWriter.Work<T> op) {
        CompletableFuture<T> done = writer.submit(op);
        // Continue callers on the shared worker pool, never on the writer: its next commit must not
        // wait for whatever each caller does with the answer.
        return Uni.createFrom().completionStage(done)
                .emitOn(Infrastructure.getDefaultExecutor())
                .ifNoItem().after(config.commitTimeout()).fail();
    }

    /** The writer's hooks around each transaction: the group's counts and records, applied only when it commits. */
    private final class Group implements GroupCommitWriter.Batches {
        @Override
        public void begin() {
            addedInGroup = 0;
            addedInGroupByTenant.clear();
            appendedInGroup.clear();
            finishedInGroup.clear();
        }

        @Override
        public void committed() {
            pending.addAndGet(addedInGroup - finishedInGroup.size());
            addedInGroupByTenant.forEach((tenant, count) -> pendingByTenant.merge(tenant, count, Long::sum));
            for (Tenant tenant : finishedInGroup) {
                if (!tenant.shared()) {
                    pendingByTenant.computeIfPresent(tenant, (t, count) -> count > 1 ? count - 1 : null);
                }
            }
            // Only appends add to the pending stream; the hand-off carries them to its followers.
            if (!appendedInGroup.isEmpty()) {
                CompletableFuture<Committed> handOff = committed;
                committed = new CompletableFuture<>();
                handOff.complete(new Committed(List.copyOf(appendedInGroup), committed));
            }
        }
    }

    /**
     * Inserts a request's entries, or none of them when the new queued ones would take the journal
     * past its limit. The check runs here, in the writer, against the count of this very
     * transaction, so it is exact and a redelivery of something already journalled always passes.
     * It answers with itself, its outcome filled in.
     */
    private final class Append implements GroupCommitWriter.Work<Append> {
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
        public Append write(GroupCommitWriter.Transaction statements) throws SQLException {
            int added = 0;
            PreparedStatement insert = statements.statement("""
                    INSERT INTO journal(execution_id, event_id, source, type, subject, session_id, priority, state,
                                        accepted_at, event, rejection, tenant)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(execution_id) DO NOTHING""");
            statements.statement("SAVEPOINT append").execute();
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
            boolean refused = overQuota != null || (added > 0 && pending.get() + addedInGroup + added > config.maxPending());
            if (refused) {
                statements.statement("ROLLBACK TO append").execute();
            }
            statements.statement("RELEASE append").execute();
            if (refused) {
                full = true;
                inserted.clear();
                addedByTenant.clear();
            } else {
                // Last, once nothing can fail: the group counts only what its commit will hold.
                addedInGroup += added;
                addedByTenant.forEach((tenant, count) -> addedInGroupByTenant.merge(tenant, count, Long::sum));
                appendedInGroup.addAll(inserted);
            }
            return this;
        }
    }

    private final class Transition implements GroupCommitWriter.Work<Transition> {
        final String executionId;
        final String fromCondition;
        final String to;
        final boolean countAttempt;
        /** The tenant of the entry it changed; null when no entry was in the {@code from} state. */
        String changed;

        Transition(String executionId, String fromCondition, String to, boolean countAttempt) {
            this.executionId = executionId;
            this.fromCondition = fromCondition;
            this.to = to;
            this.countAttempt = countAttempt;
        }

        @Override
        public Transition write(GroupCommitWriter.Transaction statements) throws SQLException {
            PreparedStatement update = statements.statement("UPDATE journal SET state=?" + (countAttempt ? ", attempt=attempt+1" : "")
                    + " WHERE execution_id=? AND " + fromCondition + " RETURNING tenant");
            update.setString(1, to);
            update.setString(2, executionId);
            try (ResultSet row = update.executeQuery()) {
                changed = row.next() ? row.getString(1) : null;
            }
            if (changed != null && to.equals("FINISHED")) {
                finishedInGroup.add(Tenant.of(changed));
            }
            return this;
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
        return writer.running() && writer.lastFailure() == null;
    }
}
