package io.sandstream.journal.kafka;

import org.apache.kafka.common.TopicPartition;

import io.sandstream.journal.JournalRecord;
import io.sandstream.model.Priority;

/**
 * One execution this instance took from a lane and has not committed. A redelivered copy taken
 * while it is in flight points at the same instance, so both offsets become committable together.
 * Guarded by the {@link OffsetLedger}'s lock.
 */
final class HeldRecord {

    /** {@code WITHDRAWN}: its partition moved away, so it must not start here. */
    enum State {
        QUEUED, RUNNING, DONE, WITHDRAWN
    }

    /** Null for a record with nothing to run (not ours, or a copy of finished work). */
    final JournalRecord record;
    final Priority lane;
    final TopicPartition partition;
    State state = State.QUEUED;

    HeldRecord(JournalRecord record, Priority lane, TopicPartition partition) {
        this.record = record;
        this.lane = lane;
        this.partition = partition;
    }
}
