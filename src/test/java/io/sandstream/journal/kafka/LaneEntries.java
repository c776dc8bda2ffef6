package io.sandstream.journal.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;

import io.sandstream.journal.JournalEntry;
import io.sandstream.model.Tenant;

/** Entries as the lane consumer reads them, for the ledger and pause tests that need no broker. */
final class LaneEntries {

    private LaneEntries() {
    }

    /** A queued entry of the shared tenant. The lane comes from the topic, not from the entry, so it carries no priority. */
    static Optional<JournalEntry> entry(String executionId) {
        return Optional.of(new JournalEntry(executionId, executionId, "/tests/kafka-lanes", "io.sandstream.code.execute",
                null, null, null, JournalEntry.State.QUEUED, Instant.now(), "{}".getBytes(StandardCharsets.UTF_8), null,
                Tenant.SHARED));
    }
}
