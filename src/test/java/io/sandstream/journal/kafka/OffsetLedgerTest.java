package io.sandstream.journal.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.Priority;

/** Which offsets the Kafka journal may commit while results arrive out of order, without a broker. */
class OffsetLedgerTest {

    private static final TopicPartition P0 = new TopicPartition("normal", 0);
    private static final TopicPartition P1 = new TopicPartition("normal", 1);

    private final OffsetLedger ledger = new OffsetLedger();


    private Optional<JournalRecord> take(TopicPartition partition, long offset, String executionId) {
        return ledger.take(partition, offset, Priority.NORMAL, LaneEntries.entry(executionId));
    }

    private Map<TopicPartition, Long> commit(List<TopicPartition> partitions, boolean handover) {
        Map<TopicPartition, Long> next = new HashMap<>();
        ledger.committable(partitions, handover).forEach((p, o) -> next.put(p, o.offset()));
        return next;
    }

    @Test
    void anOffsetMovesOnlyUpToTheFirstRecordWhoseResultIsNotStored() {
        take(P0, 0, "a");
        take(P0, 1, "b");
        take(P0, 2, "c");

        ledger.finish("c");
        assertEquals(Map.of(), commit(List.of(P0), false), "a and b are unfinished: offset 0 stays");
        ledger.finish("a");
        assertEquals(Map.of(P0, 1L), commit(List.of(P0), false), "past a only: b still runs");
        ledger.finish("b");
        assertEquals(Map.of(P0, 3L), commit(List.of(P0), false), "b done: past c, finished earlier, too");
        assertEquals(0, ledger.count(Priority.NORMAL).held());
    }

    @Test
    void aRedeliveredCopyIsHandedOverOnceAndCommittedWithItsFirst() {
        assertTrue(take(P0, 0, "a").isPresent());
        assertTrue(take(P0, 1, "a").isEmpty(), "the copy is not handed over again");
        take(P0, 2, "b");
        assertEquals(new OffsetLedger.LaneCount(2, 2), ledger.count(Priority.NORMAL), "the copy is not held twice");

        ledger.finish("a");
        assertEquals(Map.of(P0, 2L), commit(List.of(P0), false));
    }

    @Test
    void recordsWithNothingToRunAreCommittedPastAtOnce() {
        assertTrue(ledger.take(P0, 0, Priority.NORMAL, Optional.empty()).isEmpty(), "not a sandstream event");
        take(P0, 1, "a");
        ledger.finish("a");
        assertTrue(take(P0, 2, "a").isEmpty(), "a copy of finished work is not handed over");
        assertEquals(Map.of(P0, 3L), commit(List.of(P0), false));
        assertEquals(new OffsetLedger.LaneCount(0, 0), ledger.count(Priority.NORMAL));
    }

    @Test
    void aHandoverCommitsEvenWhenNothingFinishedSinceTheLastCommit() {
        take(P0, 0, "a");
        take(P1, 0, "b");
        ledger.finish("a");
        ledger.finish("b");
        assertEquals(Map.of(P0, 1L), commit(List.of(P0), false));
        assertEquals(Map.of(), commit(List.of(P1), false), "a periodic commit waits for news");
        assertEquals(Map.of(P1, 1L), commit(List.of(P1), true));
    }

    @Test
    void queuedWorkOfPartitionsThatMoveCannotStartHere() {
        take(P0, 0, "a");
        take(P1, 0, "b");
        take(P0, 1, "c");
        assertTrue(ledger.claim("c", started -> { }));

        assertEquals(1, ledger.withdraw(List.of(P0)), "a is withdrawn; c already runs");
        assertFalse(ledger.claim("a", started -> { }));
        assertTrue(ledger.claim("b", started -> { }));
        assertTrue(ledger.claim("c", started -> { }), "running work stays claimed");
        assertEquals(List.of(), ledger.queued(() -> { }));
        assertEquals(new OffsetLedger.LaneCount(2, 0), ledger.count(Priority.NORMAL));
    }

    /**
     * Starts travel with the committed offset: an instance that dies while running an execution
     * leaves its start in the commit's metadata, and the next owner counts it when it takes the
     * record again, through any number of owners.
     */
    @Test
    void startsAreCommittedWithTheOffsetAndCountedByTheNextOwner() {
        take(P0, 0, "done");
        take(P0, 1, "crashes");
        take(P0, 2, "queued");
        ledger.finish("done");
        List<JournalRecord> started = new java.util.ArrayList<>();
        assertTrue(ledger.claim("crashes", started::add));
        assertTrue(ledger.claim("crashes", started::add), "claimed again while it runs");
        assertEquals(1, started.size(), "one start: " + started);
        OffsetAndMetadata committed = ledger.committable(List.of(P0), false).get(P0);
        assertEquals(1, committed.offset(), "past the finished record only");
        assertEquals("crashes:1", committed.metadata());
        assertEquals(Map.of(), commit(List.of(P0), false), "nothing new since");

        // The instance dies; the next owner reads the commit, then the partition from offset 1.
        OffsetLedger next = new OffsetLedger();
        next.carry(committed.metadata());
        assertEquals(1, next.take(P0, 1, Priority.NORMAL, LaneEntries.entry("crashes")).orElseThrow().attempt());
        assertEquals(0, next.take(P0, 2, Priority.NORMAL, LaneEntries.entry("queued")).orElseThrow().attempt());
        assertTrue(next.claim("crashes", r -> { }));
        OffsetAndMetadata again = next.committable(List.of(P0), false).get(P0);
        assertEquals(1, again.offset(), "the offset stays; the start is news");
        assertEquals("crashes:2", again.metadata());

        OffsetLedger third = new OffsetLedger();
        third.carry(again.metadata());
        third.carry("not:ours:metadata,x");
        assertEquals(2, third.take(P0, 1, Priority.NORMAL, LaneEntries.entry("crashes")).orElseThrow().attempt());
    }

    @Test
    void aRevokeWaitsForRunningWorkUntilItFinishes() throws Exception {
        take(P0, 0, "a");
        ledger.claim("a", started -> { });
        assertEquals(1, ledger.awaitRunning(List.of(P0), System.nanoTime(), () -> true), "the deadline passed");

        CompletableFuture<Void> finisher = CompletableFuture.runAsync(() -> {
            sleep(200);
            ledger.finish("a");
        });
        long start = System.nanoTime();
        assertEquals(0, ledger.awaitRunning(List.of(P0), start + TimeUnit.SECONDS.toNanos(30), () -> true));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "woken by the finish, not the deadline");
        finisher.get(5, TimeUnit.SECONDS);
        assertEquals(Map.of(P0, 1L), commit(List.of(P0), true));
    }

    @Test
    void workStillRunningWhenItsPartitionIsForgottenCommitsNothingWhenItFinishes() {
        take(P0, 0, "a");
        assertTrue(ledger.claim("a", started -> { }));
        ledger.forget(List.of(P0));
        assertEquals(0, ledger.count(Priority.NORMAL).held());
        assertFalse(ledger.claim("a", started -> { }));

        ledger.finish("a");
        assertEquals(0, ledger.count(Priority.NORMAL).held(), "not counted down twice");
        assertEquals(Map.<TopicPartition, OffsetAndMetadata>of(), ledger.committable(List.of(P0), true));
    }

    @Test
    void aLoadShowsClaimedWorkAsRunning() {
        take(P0, 0, "a");
        assertEquals(JournalEntry.State.QUEUED, ledger.load("a").orElseThrow().entry().state());
        ledger.claim("a", started -> { });
        JournalRecord loaded = ledger.load("a").orElseThrow();
        assertEquals(JournalEntry.State.RUNNING, loaded.entry().state());
        assertEquals(0, loaded.seq());
        ledger.finish("a");
        assertTrue(ledger.load("a").isEmpty());
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
