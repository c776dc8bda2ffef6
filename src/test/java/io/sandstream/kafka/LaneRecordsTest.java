package io.sandstream.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import io.sandstream.journal.JournalEntry;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;

/** The journal's priority on the Kafka wire: its name in a lane record's header and in an accepted marker. */
class LaneRecordsTest {

    private static JournalEntry entry(Priority priority, JournalEntry.State state) {
        return new JournalEntry("exec-" + state, "1", "/tests", "io.sandstream.code.execute", "s", null, priority, state,
                Instant.ofEpochMilli(1000), "{}".getBytes(StandardCharsets.UTF_8), null, Tenant.SHARED);
    }

    private static JournalEntry roundTrip(JournalEntry entry) {
        ProducerRecord<String, byte[]> sent = LaneRecords.record("sandstream-low", entry);
        ConsumerRecord<String, byte[]> received = new ConsumerRecord<>(sent.topic(), 0, 0L, 0L, TimestampType.CREATE_TIME,
                0, 0, sent.key(), sent.value(), sent.headers(), Optional.empty());
        return LaneRecords.entry(received).orElseThrow();
    }

    @Test
    void thePriorityTravelsAsItsWireNameInAHeader() {
        JournalEntry high = entry(Priority.HIGH, JournalEntry.State.QUEUED);
        assertEquals("high", LaneRecords.get(LaneRecords.record("sandstream-high", high).headers(), "priority"));
        assertEquals(Priority.HIGH, roundTrip(high).priority());

        JournalEntry rejected = entry(null, JournalEntry.State.REJECTED);
        assertNull(LaneRecords.get(LaneRecords.record("sandstream-normal", rejected).headers(), "priority"));
        assertNull(roundTrip(rejected).priority());
    }

    @Test
    void theAcceptedMarkerCarriesTheWireName() throws Exception {
        byte[] marker = AcceptedIndex.marker(List.of(entry(Priority.LOW, JournalEntry.State.QUEUED)));
        assertEquals(true, new String(marker, StandardCharsets.UTF_8).contains("\"priority\":\"low\""));
        AcceptedIndex index = new AcceptedIndex();
        index.read(marker);
        assertEquals(Priority.LOW, index.find("exec-QUEUED").orElseThrow().priority());
    }

    /** Pool API calls go where the session's events run: the producer's partition of the same key. */
    @Test
    void aSessionsOwnerPartitionIsTheOneItsEventsAreProducedTo() {
        KafkaClients clients = new KafkaClients(io.sandstream.config.TestConfigs.sandstream(java.util.Map.of(
                "sandstream.journal.kind", "kafka", "sandstream.kafka.bootstrap-servers", "localhost:1",
                "sandstream.kafka.lane-partitions", "6")).kafka());
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int i = 0; i < 50; i++) {
            Tenant tenant = i % 2 == 0 ? Tenant.SHARED : Tenant.of("team-" + i);
            JournalEntry entry = new JournalEntry("exec-" + i, "1", "/tests", "io.sandstream.code.execute", "s", "session-" + i,
                    Priority.NORMAL, JournalEntry.State.QUEUED, Instant.ofEpochMilli(1000), "{}".getBytes(StandardCharsets.UTF_8),
                    null, tenant);
            byte[] key = new org.apache.kafka.common.serialization.StringSerializer().serialize("t",
                    LaneRecords.record("sandstream-normal", entry).key());
            int produced = org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey(key, 6);
            assertEquals(produced, clients.owners().partition("session-" + i, tenant));
            seen.add(produced);
        }
        assertEquals(6, seen.size(), "sessions spread over the partitions");
    }

    /** Alone only while holding every partition of every lane: before the first assignment and after a revocation, not. */
    @Test
    void anInstanceIsAloneOnlyWhileItHoldsEveryLanePartition() {
        KafkaClients clients = new KafkaClients(io.sandstream.config.TestConfigs.sandstream(java.util.Map.of(
                "sandstream.journal.kind", "kafka", "sandstream.kafka.bootstrap-servers", "localhost:1",
                "sandstream.kafka.lane-partitions", "2")).kafka());
        SessionOwners owners = clients.owners();
        assertFalse(owners.alone(), "before the first assignment");
        List<TopicPartition> all = new ArrayList<>();
        for (Priority lane : Priority.values()) {
            for (int p = 0; p < 2; p++) {
                all.add(new TopicPartition(clients.laneTopic(lane), p));
            }
        }
        // Every partition number of the high lane only, as with a second instance holding the rest: not alone.
        owners.assigned(all.stream().filter(p -> p.topic().equals(clients.laneTopic(Priority.HIGH))).toList());
        assertFalse(owners.alone(), "the other lanes' partitions are held elsewhere");
        owners.assigned(all);
        assertTrue(owners.alone());
        owners.revoked(all.subList(0, 1));
        assertFalse(owners.alone(), "a rebalance began");
    }
}
