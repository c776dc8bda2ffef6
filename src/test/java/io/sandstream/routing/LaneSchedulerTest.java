package io.sandstream.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.sandstream.model.Priority;
import io.sandstream.routing.LaneScheduler.Ticket;

class LaneSchedulerTest {

    private final Instant t0 = Instant.parse("2026-01-01T00:00:00Z");

    private static List<String> drain(LaneScheduler<String> scheduler, Instant now, int n) {
        List<String> taken = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            scheduler.poll(now, w -> true).ifPresent(t -> taken.add(t.work()));
        }
        return taken;
    }

    @Test
    void higherLanesGoFirst() {
        LaneScheduler<String> s = new LaneScheduler<>(Duration.ofSeconds(5));
        s.offer(new Ticket<>(Priority.LOW, "a", t0, "low"));
        s.offer(new Ticket<>(Priority.NORMAL, "a", t0, "normal"));
        s.offer(new Ticket<>(Priority.HIGH, "a", t0.plusMillis(1), "high"));
        assertEquals(List.of("high", "normal", "low"), drain(s, t0.plusMillis(2), 3));
    }

    @Test
    void aFloodOfLowWorkStillLetsHighRunNext() {
        LaneScheduler<String> s = new LaneScheduler<>(Duration.ofSeconds(5));
        for (int i = 0; i < 1000; i++) {
            s.offer(new Ticket<>(Priority.LOW, "flood", t0, "low" + i));
        }
        drain(s, t0.plusMillis(100), 10);
        s.offer(new Ticket<>(Priority.HIGH, "x", t0.plusMillis(200), "urgent"));
        assertEquals(List.of("urgent"), drain(s, t0.plusMillis(300), 1));
    }

    @Test
    void waitingWorkAgesIntoHigherLanesSoLowIsNeverStarved() {
        LaneScheduler<String> s = new LaneScheduler<>(Duration.ofSeconds(5));
        s.offer(new Ticket<>(Priority.LOW, "a", t0, "old-low"));
        Instant later = t0.plusSeconds(11); // two agings: low now ranks with high
        for (int i = 0; i < 5; i++) {
            s.offer(new Ticket<>(Priority.HIGH, "b", later, "high" + i));
        }
        assertEquals("old-low", drain(s, later, 1).get(0));
        s.offer(new Ticket<>(Priority.LOW, "a", later, "fresh-low"));
        assertEquals(List.of("high0", "high1"), drain(s, later, 2), "fresh low work waits behind high");
    }

    @Test
    void tenantsTakeTurnsInsideALane() {
        LaneScheduler<String> s = new LaneScheduler<>(Duration.ofSeconds(5));
        for (int i = 0; i < 100; i++) {
            s.offer(new Ticket<>(Priority.NORMAL, "flooder", t0, "f" + i));
        }
        s.offer(new Ticket<>(Priority.NORMAL, "quiet", t0.plusMillis(5), "q0"));
        s.offer(new Ticket<>(Priority.NORMAL, "quiet", t0.plusMillis(6), "q1"));
        assertEquals(List.of("f0", "q0", "f1", "q1", "f2"), drain(s, t0.plusMillis(10), 5));
    }

    @Test
    void workThatCannotRunYetIsSkippedNotLost() {
        LaneScheduler<String> s = new LaneScheduler<>(Duration.ofSeconds(5));
        s.offer(new Ticket<>(Priority.HIGH, "a", t0, "busy-session"));
        s.offer(new Ticket<>(Priority.NORMAL, "a", t0, "free"));
        assertEquals("free", s.poll(t0, w -> !w.equals("busy-session")).orElseThrow().work());
        assertTrue(s.poll(t0, w -> !w.equals("busy-session")).isEmpty());
        assertEquals(1, s.size());
        assertEquals("busy-session", s.poll(t0, w -> true).orElseThrow().work());
        assertEquals(0, s.size());
    }
}
