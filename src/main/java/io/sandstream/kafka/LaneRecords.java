package io.sandstream.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

import io.sandstream.journal.JournalEntry;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;

/**
 * A journal entry as a lane record: the value is the event as received (CloudEvents structured
 * JSON, the Kafka protocol binding's structured mode, or a rejected event's raw bytes); the
 * journal's columns travel as headers, so no consumer has to parse the event to schedule it.
 */
public final class LaneRecords {

    public static final String CONTENT_TYPE = "content-type";
    private static final String PREFIX = "sandstream-";

    private LaneRecords() {
    }

    /**
     * Keyed by session when there is one, so a session's events land in one partition and reach
     * one instance; else by executionId, so a redelivered event lands beside its first copy.
     */
    public static String key(JournalEntry entry) {
        return entry.sessionId() != null ? sessionKey(entry.sessionId(), entry.tenant()) : entry.executionId();
    }

    /** The key of a session's records; {@link SessionOwners} finds a session's instance from it. */
    public static String sessionKey(String sessionId, Tenant tenant) {
        return "session:" + sessionId + "@" + tenant.id();
    }

    public static ProducerRecord<String, byte[]> record(String topic, JournalEntry entry) {
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, key(entry), entry.event());
        Headers h = record.headers();
        h.add(CONTENT_TYPE, bytes(entry.state() == JournalEntry.State.REJECTED ? "application/octet-stream"
                : "application/cloudevents+json"));
        put(h, "execution-id", entry.executionId());
        put(h, "event-id", entry.eventId());
        put(h, "source", entry.source());
        put(h, "type", entry.type());
        put(h, "subject", entry.subject());
        put(h, "session-id", entry.sessionId());
        put(h, "priority", entry.priorityName());
        put(h, "state", entry.state().name());
        put(h, "accepted-at", Long.toString(entry.acceptedAt().toEpochMilli()));
        put(h, "rejection", entry.rejection());
        put(h, "tenant", entry.tenant().id());
        return record;
    }

    /** The entry a record carries; empty when it is not one of ours (it is then skipped). */
    public static Optional<JournalEntry> entry(ConsumerRecord<String, byte[]> record) {
        Headers h = record.headers();
        String executionId = get(h, "execution-id");
        String state = get(h, "state");
        String acceptedAt = get(h, "accepted-at");
        if (executionId == null || state == null || acceptedAt == null || record.value() == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new JournalEntry(executionId, get(h, "event-id"), get(h, "source"), get(h, "type"),
                    get(h, "subject"), get(h, "session-id"), Priority.ofWireName(get(h, "priority")), JournalEntry.State.valueOf(state),
                    Instant.ofEpochMilli(Long.parseLong(acceptedAt)), record.value(), get(h, "rejection"),
                    Tenant.of(get(h, "tenant"))));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static void put(Headers headers, String name, String value) {
        if (value != null) {
            headers.add(PREFIX + name, bytes(value));
        }
    }

    public static String get(Headers headers, String name) {
        return header(headers, PREFIX + name);
    }

    public static String header(Headers headers, String fullName) {
        Header header = headers.lastHeader(fullName);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    public static byte[] bytes(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
    }
}
