package io.sandstream.journal;

import java.time.Instant;

import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;

/**
 * One received event as the journal records it.
 *
 * @param event the event as received, CloudEvents structured JSON (for a rejected event: its raw bytes)
 * @param priority the lane the work runs in; null for {@link State#REJECTED}
 * @param rejection for {@link State#REJECTED}: the problem JSON naming what was wrong; else null
 * @param tenant who the work belongs to, decided at ingress by the key that delivered it (API.md §3)
 */
public record JournalEntry(String executionId, String eventId, String source, String type, String subject,
        String sessionId, Priority priority, State state, Instant acceptedAt, byte[] event, String rejection,
        Tenant tenant) {

    private static final byte[] NO_EVENT = new byte[0];

    /**
     * An entry known only by what a status read uses (its scope, lane, state, time and tenant): no
     * event, envelope or session. What the Kafka journal keeps of work not taken here yet.
     */
    public static JournalEntry forStatus(String executionId, String subject, Priority priority, State state,
            Instant acceptedAt, Tenant tenant) {
        return new JournalEntry(executionId, null, null, null, subject, null, priority, state, acceptedAt, NO_EVENT, null, tenant);
    }

    /** The same entry in another state. */
    public JournalEntry withState(State newState) {
        return new JournalEntry(executionId, eventId, source, type, subject, sessionId, priority, newState, acceptedAt, event,
                rejection, tenant);
    }

    /** The priority's wire name, as the journal stores and sends it; null for a rejected event. */
    public String priorityName() {
        return priority == null ? null : priority.wireName();
    }

    /**
     * Lifecycle of a journalled event: {@code QUEUED → RUNNING → FINISHED} (a crash sends RUNNING
     * back to QUEUED). A REJECTED event is done once its Rejected result is stored.
     */
    public enum State {
        QUEUED, RUNNING, FINISHED, REJECTED;

        public boolean pending() {
            return this == QUEUED || this == RUNNING;
        }

        /** The status of work that has no result yet: {@code Running} once started, else {@code Queued}. */
        public ExecutionStatus pendingStatus() {
            return this == RUNNING ? ExecutionStatus.Running : ExecutionStatus.Queued;
        }
    }
}
