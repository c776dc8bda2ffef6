package io.sandstream.kafka;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.sandstream.journal.JournalEntry;
import io.sandstream.tenancy.Tenant;

/**
 * Executions accepted by any instance and not finished yet, as far as this instance knows: each
 * append also puts one small "accepted" record on the results topic, which every instance reads.
 * So {@code GET /executions/{id}} and its event stream answer {@code Queued} on every instance, not
 * only on the one that took the request. Bounded and in memory: after a restart, work accepted
 * before it is known again once its result arrives.
 */
public final class AcceptedIndex {

    static final String KIND = "sandstream-kind";
    static final String ACCEPTED = "accepted";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the marker carries per execution: enough to answer a status read and check its scope. */
    public record Accepted(String executionId, String subject, String priority, long acceptedAt, String tenant) {
    }

    private final Cache<String, Accepted> accepted = Caffeine.newBuilder().maximumSize(200_000)
            .expireAfterWrite(Duration.ofHours(1)).build();

    static byte[] marker(List<JournalEntry> entries) throws IOException {
        return JSON.writeValueAsBytes(entries.stream().map(e -> new Accepted(e.executionId(), e.subject(), e.priority(),
                e.acceptedAt().toEpochMilli(), e.tenant().id())).toList());
    }

    void read(byte[] marker) throws IOException {
        for (Accepted a : JSON.readValue(marker, Accepted[].class)) {
            accepted.put(a.executionId(), a);
        }
    }

    void finished(String executionId) {
        accepted.invalidate(executionId);
    }

    /** A queued entry (without its event) for an execution some instance accepted. */
    Optional<JournalEntry> find(String executionId) {
        Accepted a = accepted.getIfPresent(executionId);
        return a == null ? Optional.empty() : Optional.of(new JournalEntry(a.executionId(), null, null, null, a.subject(),
                null, a.priority(), JournalEntry.State.QUEUED, Instant.ofEpochMilli(a.acceptedAt()), new byte[0], null,
                Tenant.of(a.tenant())));
    }
}
