package io.sandstream.journal.kafka;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;

import io.sandstream.model.Priority;

/**
 * Which lane partitions the consumer fetches from. Priority is decided here, before the records
 * are fetched: a lane is paused while a higher lane has work waiting here or lag in Kafka, but
 * never longer than {@code aging} at once (then one fetch goes through, and the scheduler's aging
 * promotes what came); a lane holding {@code max-in-flight} records is paused until some finish,
 * and so is a partition with its share of them waiting to start ({@link #share});
 * new partitions stay paused until the results copy caught up, so work another instance finished
 * is recognised and not run again.
 *
 * <p>Used by the consumer thread, apart from the gauge and the catch-up set.
 */
final class LanePauses {

    private final Duration aging;
    private final int maxInFlight;
    private final OffsetLedger ledger;
    private final Map<String, Priority> lanesByTopic;
    private final Map<Priority, Instant> pausedSince = new EnumMap<>(Priority.class);
    /** Partitions assigned and waiting for the results copy to catch up. */
    private final Set<TopicPartition> awaitingCatchUp = ConcurrentHashMap.newKeySet();

    LanePauses(Duration aging, int maxInFlight, OffsetLedger ledger, Map<String, Priority> lanesByTopic) {
        this.aging = aging;
        this.maxInFlight = maxInFlight;
        this.ledger = ledger;
        this.lanesByTopic = lanesByTopic;
    }

    void awaitCatchUp(Collection<TopicPartition> partitions) {
        awaitingCatchUp.addAll(partitions);
    }

    void caughtUp(Collection<TopicPartition> partitions) {
        awaitingCatchUp.removeAll(partitions);
    }

    /** True while the lane's aging clock runs, having yielded to a higher lane (the paused gauge). */
    boolean yielding(Priority lane) {
        return pausedSince.containsKey(lane);
    }

    /**
     * Pauses and resumes the consumer's partitions for the next poll.
     *
     * @return whether a lane or a partition is paused for holding its most records: it resumes as
     *         soon as one of them starts or finishes, which the next poll only sees once it returns
     */
    boolean apply(Consumer<String, byte[]> consumer) {
        Set<TopicPartition> assigned = consumer.assignment();
        if (assigned.isEmpty()) {
            return false;
        }
        boolean waitingForRoom = false;
        Instant now = Instant.now();
        List<TopicPartition> pause = new ArrayList<>();
        List<TopicPartition> resume = new ArrayList<>();
        boolean higherBacklog = false;
        for (Priority lane : Priority.values()) {
            List<TopicPartition> partitions = assigned.stream().filter(p -> lanesByTopic.get(p.topic()) == lane).toList();
            OffsetLedger.LaneCount count = ledger.count(lane);
            boolean laneFull = count.held() >= maxInFlight && !partitions.isEmpty();
            boolean paused = paused(lane, laneFull, higherBacklog, now);
            waitingForRoom |= laneFull;
            int share = share(partitions.size());
            for (TopicPartition p : partitions) {
                boolean shareFull = !paused && ledger.queued(p) >= share;
                waitingForRoom |= shareFull;
                (paused || shareFull || awaitingCatchUp.contains(p) ? pause : resume).add(p);
            }
            higherBacklog = higherBacklog || count.queued() > 0 || partitions.stream().anyMatch(p -> hasLag(consumer, p));
        }
        if (!pause.isEmpty()) {
            consumer.pause(pause);
        }
        if (!resume.isEmpty()) {
            consumer.resume(resume);
        }
        return waitingForRoom;
    }

    /**
     * Most records one partition of a lane may have waiting to start here: its share of
     * {@code max-in-flight}. A partition holds the events of the sessions keyed to it, which run one
     * after another; without a share, one session's backlog filled the lane's {@code max-in-flight}
     * and the lane's other sessions (and work without one) waited behind it, with the pool idle.
     */
    int share(int partitions) {
        return Math.max(1, (maxInFlight + partitions - 1) / Math.max(1, partitions));
    }

    /**
     * Whether {@code lane} waits this round; keeps the time since it first yielded to a higher
     * lane, so it waits no longer than {@code aging} at once.
     *
     * @param full the lane holds {@code max-in-flight} unfinished records
     * @param higherBacklog a higher lane has work waiting here or lag in Kafka
     */
    boolean paused(Priority lane, boolean full, boolean higherBacklog, Instant now) {
        boolean yield = higherBacklog && !full;
        if (yield) {
            Instant since = pausedSince.putIfAbsent(lane, now);
            if (since != null && Duration.between(since, now).compareTo(aging) >= 0) {
                yield = false; // aged: let one fetch through
                pausedSince.remove(lane);
            }
        } else if (!full) {
            pausedSince.remove(lane);
        }
        return full || yield;
    }

    private static boolean hasLag(Consumer<String, byte[]> consumer, TopicPartition partition) {
        OptionalLong lag = consumer.currentLag(partition);
        return lag.isPresent() && lag.getAsLong() > 0;
    }
}
