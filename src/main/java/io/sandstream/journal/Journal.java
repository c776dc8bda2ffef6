package io.sandstream.journal;

import java.util.List;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * The durable hand-off between ingress and the pipeline. An entry is acknowledged only once it is
 * on disk; {@code executionId} makes appends idempotent. The embedded implementation is SQLite;
 * a Kafka-backed one can replace it for several instances.
 */
public interface Journal {

    /**
     * Records the entries durably, in one commit shared with concurrent callers. All or none: when
     * the new queued entries do not fit under the pending limit, nothing is recorded and the Uni
     * fails with {@link JournalFullException}.
     *
     * @return for each entry, in order, true when its executionId was already journalled (a redelivery)
     */
    Uni<List<Boolean>> append(List<JournalEntry> entries);

    /**
     * The work to do, oldest first: on subscription every entry not finished (also what a previous
     * run left) — queued executions, and rejected events whose Rejected result is not stored yet —
     * then each new entry as it is committed. Demand-driven: nothing is read ahead of the
     * subscriber's requests.
     */
    Multi<JournalRecord> pending();

    /** One entry by executionId, with its event. */
    Uni<java.util.Optional<JournalRecord>> load(String executionId);

    /** Marks an entry as started (QUEUED → RUNNING), counting the attempt. */
    Uni<Void> markRunning(String executionId);

    /**
     * Called just before queued work starts: marks it running, and answers false when this
     * instance no longer owns it (a shared journal moved it to another instance), in which case it
     * must not run here.
     */
    boolean claim(String executionId);

    /**
     * True when the record's result may be stored already, so the dispatcher must look before it
     * runs it: the result is stored before the entry is finished, and the mark of a start may
     * reach the disk after the result does. Everything a previous run left qualifies.
     */
    default boolean mayHaveResult(JournalRecord record) {
        return record.attempt() > 0;
    }

    /** Marks an entry as done (its result is stored elsewhere): QUEUED/RUNNING → FINISHED, REJECTED → done. */
    Uni<Void> finish(String executionId);

    /**
     * True when storing a result finishes its entry in the same commit (the SQLite journal and
     * result store in one database), so {@link #finish} after a stored result would be a second,
     * useless commit.
     */
    default boolean finishedByResultStore() {
        return false;
    }

    /**
     * The instance is draining: take no more work from a shared journal (what this instance holds
     * and has not started goes to another instance when it leaves). The SQLite journal has nothing
     * to stop: the dispatcher starts nothing more.
     */
    default void stopTaking() {
    }

    /**
     * Keeps a given-up event where an operator can look at it and replay it (Kafka: the dead-letter
     * topic), before its {@code ExecutionAbandoned} result is stored. The SQLite journal keeps every
     * event in its file already, so it has nothing to do.
     *
     * @param reason why it was given up, as in the result's error message
     */
    default Uni<Void> deadLetter(JournalRecord record, String reason) {
        return Uni.createFrom().voidItem();
    }

    /** Accepted-but-unfinished entries right now. */
    long pendingCount();

    /** True while the journal can take appends. */
    boolean healthy();
}
