package io.sandstream.journal;

import java.time.Instant;

/**
 * One received event as the journal records it.
 *
 * @param event the event as received, CloudEvents structured JSON (for a rejected event: its raw bytes)
 * @param rejection for {@link State#REJECTED}: the problem JSON naming what was wrong; else null
 */
public record JournalEntry(String executionId, String eventId, String source, String type, String subject,
        String sessionId, String priority, State state, Instant acceptedAt, byte[] event, String rejection) {

    /**
     * Lifecycle of a journalled event: {@code QUEUED → RUNNING → FINISHED} (a crash sends RUNNING
     * back to QUEUED). A REJECTED event is done once its Rejected result is stored.
     */
    public enum State {
        QUEUED, RUNNING, FINISHED, REJECTED;

        public boolean pending() {
            return this == QUEUED || this == RUNNING;
        }
    }
}
