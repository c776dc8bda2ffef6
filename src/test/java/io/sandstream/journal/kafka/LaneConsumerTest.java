package io.sandstream.journal.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import io.sandstream.kafka.KafkaClients;
import io.sandstream.model.Priority;

/** How long the lane consumer's poll waits while a lane or partition waits for room, without a broker. */
class LaneConsumerTest {

    private static final TopicPartition P0 = new TopicPartition("normal", 0);

    private final OffsetLedger ledger = new OffsetLedger();
    private final LaneConsumer consumer = new LaneConsumer(null, Map.of("normal", Priority.NORMAL), ledger, null, null,
            id -> false, r -> {
            }, null);

    private void take(long offset, String executionId) {
        ledger.take(P0, offset, Priority.NORMAL, LaneEntries.entry(executionId));
    }

    private List<Long> waits(int polls) {
        return Stream.generate(() -> consumer.pollTimeout(true).toMillis()).limit(polls).toList();
    }

    @Test
    void whileNothingStartsOrFinishesTheWaitForRoomGrowsAndAStartOrFinishShortensItAgain() {
        take(0, "long");
        take(1, "next");
        ledger.claim("long", r -> {
        });

        assertEquals(List.of(2L, 4L, 8L, 16L, 32L, 50L, 50L), waits(7),
                "a share queued behind one long execution: polls thin out to one every 50 ms");
        ledger.claim("next", r -> {
        });
        assertEquals(List.of(2L, 4L), waits(2), "a start may have made room: looked at again within 2 ms");
        ledger.finish("long");
        assertEquals(List.of(2L), waits(1), "so may a finish");
        assertEquals(KafkaClients.pollTimeout(), consumer.pollTimeout(false), "room: the usual poll");
        assertEquals(Duration.ofMillis(2), consumer.pollTimeout(true), "full again: starts from 2 ms");
    }
}
