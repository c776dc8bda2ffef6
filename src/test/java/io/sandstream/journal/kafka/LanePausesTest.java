package io.sandstream.journal.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import io.sandstream.model.Priority;

/** Which lanes the Kafka journal's consumer fetches from, decided without a broker. */
class LanePausesTest {

    private static final Duration AGING = Duration.ofSeconds(1);
    private static final Instant T0 = Instant.parse("2026-12-05T12:00:00Z");
    private static final TopicPartition HIGH = new TopicPartition("high", 0);
    private static final TopicPartition NORMAL = new TopicPartition("normal", 0);
    private static final TopicPartition LOW = new TopicPartition("low", 0);

    private final OffsetLedger ledger = new OffsetLedger();
    private final LanePauses pauses = new LanePauses(AGING, 2, ledger,
            Map.of("high", Priority.HIGH, "normal", Priority.NORMAL, "low", Priority.LOW));

    @Test
    void aLaneYieldsToHigherBacklogForAtMostAgingAtATime() {
        assertTrue(pauses.paused(Priority.LOW, false, true, T0));
        assertTrue(pauses.yielding(Priority.LOW));
        assertTrue(pauses.paused(Priority.LOW, false, true, T0.plusMillis(999)));
        assertFalse(pauses.paused(Priority.LOW, false, true, T0.plus(AGING)), "aged: one fetch goes through");
        assertTrue(pauses.paused(Priority.LOW, false, true, T0.plus(AGING).plusMillis(1)), "then it yields again");
        assertFalse(pauses.paused(Priority.LOW, false, true, T0.plus(AGING).plusMillis(1).plus(AGING)));
    }

    @Test
    void withoutHigherBacklogALaneRunsAndItsAgingClockStartsOver() {
        assertTrue(pauses.paused(Priority.LOW, false, true, T0));
        assertFalse(pauses.paused(Priority.LOW, false, false, T0.plusMillis(500)));
        assertFalse(pauses.yielding(Priority.LOW));
        assertTrue(pauses.paused(Priority.LOW, false, true, T0.plusMillis(1200)), "not aged: the clock started over");
    }

    @Test
    void aFullLaneWaitsForRoomWhateverTheBacklogAndAge() {
        assertTrue(pauses.paused(Priority.NORMAL, true, false, T0));
        assertTrue(pauses.paused(Priority.NORMAL, true, true, T0));
        assertTrue(pauses.paused(Priority.NORMAL, true, true, T0.plus(AGING).plus(AGING)));
    }

    @Test
    void theConsumerFetchesOnlyTheLanesWithoutHigherBacklog() {
        MockConsumer<String, byte[]> consumer = new MockConsumer<>("earliest");
        consumer.assign(List.of(HIGH, NORMAL, LOW));
        consumer.updateBeginningOffsets(Map.of(HIGH, 0L, NORMAL, 0L, LOW, 0L));
        consumer.updateEndOffsets(Map.of(HIGH, 0L, NORMAL, 0L, LOW, 0L));

        assertFalse(pauses.apply(consumer));
        assertEquals(Set.of(), consumer.paused(), "no backlog anywhere: every lane fetches");

        ledger.take(NORMAL, 0, Priority.NORMAL, LaneEntries.entry("n1"));
        pauses.apply(consumer);
        assertEquals(Set.of(LOW), consumer.paused(), "normal work waits here: low yields, high does not");

        ledger.take(NORMAL, 1, Priority.NORMAL, LaneEntries.entry("n2"));
        ledger.claim("n1", started -> { });
        ledger.claim("n2", started -> { });
        assertTrue(pauses.apply(consumer), "a full lane: the consumer polls briefly, to see room soon");
        assertEquals(Set.of(NORMAL), consumer.paused(), "normal holds max-in-flight and nothing waits: low fetches");

        ledger.finish("n1");
        ledger.finish("n2");
        consumer.updateEndOffsets(Map.of(HIGH, 3L));
        assertFalse(pauses.apply(consumer), "room again; paused only to yield");
        assertEquals(Set.of(NORMAL, LOW), consumer.paused(), "high has lag in Kafka: the lower lanes yield");

        consumer.updateEndOffsets(Map.of(HIGH, 0L));
        pauses.awaitCatchUp(List.of(HIGH));
        pauses.apply(consumer);
        assertEquals(Set.of(HIGH), consumer.paused(), "a partition waits for the results copy to catch up");
        pauses.caughtUp(List.of(HIGH));
        pauses.apply(consumer);
        assertEquals(Set.of(), consumer.paused());
    }

    @Test
    void aPartitionWithItsShareWaitingIsPausedWhileTheLanesOtherPartitionsFetch() {
        TopicPartition normal1 = new TopicPartition("normal", 1);
        MockConsumer<String, byte[]> consumer = new MockConsumer<>("earliest");
        consumer.assign(List.of(NORMAL, normal1));
        consumer.updateBeginningOffsets(Map.of(NORMAL, 0L, normal1, 0L));
        consumer.updateEndOffsets(Map.of(NORMAL, 5L, normal1, 0L));
        assertEquals(1, pauses.share(2), "max-in-flight 2 over two partitions");

        ledger.take(NORMAL, 0, Priority.NORMAL, LaneEntries.entry("s1")); // a session's next event, parked behind its running one
        assertTrue(pauses.apply(consumer), "a partition holds its share: the consumer polls briefly, to see room soon");
        assertEquals(Set.of(NORMAL), consumer.paused(), "the lane's other partition still fetches");

        ledger.claim("s1", started -> { });
        assertFalse(pauses.apply(consumer));
        assertEquals(Set.of(), consumer.paused(), "started: the partition fetches again");
    }

}
