package io.sandstream.journal.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.journal.kafka.HeldRecord.State;
import io.sandstream.model.Priority;

/**
 * The lane records this instance took and has not committed, with the state of each. Results are
 * stored out of order, but a partition's committed offset must never pass a record whose result is
 * not stored, or a crash would lose that work; so each partition's records are kept by offset and
 * the commit stops at the first unfinished one. The same state tells whether queued work still
 * belongs here once its partition moved, and how much each lane holds.
 *
 * <p>Called by the consumer thread and by the dispatcher's threads, under one lock held briefly.
 */
final class OffsetLedger {

    /** How many records a lane holds unfinished, and how many of them have not started. */
    record LaneCount(int held, int queued) {
    }

    /** Longest commit metadata written (brokers keep 4096 bytes by default). */
    private static final int MAX_METADATA = 3000;

    private final Object lock = new Object();
    private final Map<String, HeldRecord> byExecution = new HashMap<>();
    /** Per partition, by offset; a redelivered copy in flight shares its first copy's HeldRecord. */
    private final Map<TopicPartition, TreeMap<Long, HeldRecord>> byPartition = new HashMap<>();
    private final int[] heldByLane = new int[Priority.values().length];
    private final int[] queuedByLane = new int[Priority.values().length];
    private final Map<TopicPartition, Integer> queuedByPartition = new HashMap<>();
    /** A record finished or started since the last commit: the next commit has news. */
    private boolean changedSinceCommit;
    /** How many records started or finished so far: each may make room in a full lane or partition. */
    private long moves;
    /**
     * Starts of executions other instances began and did not finish, read from the committed
     * offsets' metadata of partitions this instance took (see {@link #committable}).
     */
    private final Cache<String, Integer> carried = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfterWrite(Duration.ofDays(1)).executor(Runnable::run).build();
    /**
     * Executions finished here recently. The dispatcher forgets an execution a moment after
     * {@link #finish}; a second copy taken in that moment (the same event accepted twice) must not
     * reach it then, or it would be dropped unfinished and hold its partition's offset for good.
     */
    private final Cache<String, Boolean> finished = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfterWrite(Duration.ofMinutes(10)).executor(Runnable::run).build();

    /**
     * Records the lane record at {@code offset} ({@code entry} empty: not a sandstream event).
     *
     * @return the record to hand to the dispatcher; empty when there is nothing to run here (not
     *         ours, a copy of work in flight, or a copy of work already finished)
     */
    Optional<JournalRecord> take(TopicPartition partition, long offset, Priority lane, Optional<JournalEntry> entry) {
        synchronized (lock) {
            TreeMap<Long, HeldRecord> positions = byPartition.computeIfAbsent(partition, p -> new TreeMap<>());
            if (entry.isEmpty() || finished.getIfPresent(entry.get().executionId()) != null) {
                // Not ours, or a copy of work whose result is stored: nothing to do but commit past it.
                HeldRecord done = new HeldRecord(null, lane, partition);
                done.state = State.DONE;
                positions.put(offset, done);
                changedSinceCommit = true;
                return Optional.empty();
            }
            HeldRecord first = byExecution.get(entry.get().executionId());
            if (first != null) {
                positions.put(offset, first); // a second copy: done when the first is
                return Optional.empty();
            }
            Integer before = carried.getIfPresent(entry.get().executionId());
            HeldRecord held = new HeldRecord(new JournalRecord(offset, entry.get(), before == null ? 0 : before), lane, partition);
            byExecution.put(entry.get().executionId(), held);
            positions.put(offset, held);
            heldByLane[lane.ordinal()]++;
            queuedByLane[lane.ordinal()]++;
            queuedByPartition.merge(partition, 1, Integer::sum);
            return Optional.of(held.record);
        }
    }

    /**
     * Every record waiting to start. {@code alongside} runs under the same lock, so a subscriber it
     * installs misses no record taken meanwhile.
     */
    List<JournalRecord> queued(Runnable alongside) {
        List<JournalRecord> queued = new ArrayList<>();
        synchronized (lock) {
            alongside.run();
            byExecution.values().stream().filter(h -> h.state == State.QUEUED).map(h -> h.record).forEach(queued::add);
        }
        return queued;
    }

    /**
     * False when the record's partition has moved to another instance: it must not run here.
     * {@code onStart} gets the record when this call starts it (not when it runs already).
     */
    boolean claim(String executionId, Consumer<JournalRecord> onStart) {
        JournalRecord started = null;
        synchronized (lock) {
            HeldRecord held = byExecution.get(executionId);
            if (held == null || held.state == State.WITHDRAWN) {
                return false;
            }
            if (held.state == State.QUEUED) {
                unqueue(held);
                held.state = State.RUNNING;
                started = held.record;
                changedSinceCommit = true;
                moves++;
            }
        }
        if (started != null) {
            onStart.accept(started);
        }
        return true;
    }

    /** The result is stored: every record of this execution may be committed. */
    void finish(String executionId) {
        synchronized (lock) {
            HeldRecord held = byExecution.remove(executionId);
            finished.put(executionId, Boolean.TRUE);
            carried.invalidate(executionId);
            if (held != null) {
                if (held.state == State.QUEUED) {
                    unqueue(held);
                }
                held.state = State.DONE;
                heldByLane[held.lane.ordinal()]--;
                changedSinceCommit = true;
                moves++;
                lock.notifyAll();
            }
        }
    }

    /** The held record of an execution, marked running once it started; empty when none is held. */
    Optional<JournalRecord> load(String executionId) {
        synchronized (lock) {
            HeldRecord held = byExecution.get(executionId);
            if (held == null) {
                return Optional.empty();
            }
            JournalEntry e = held.record.entry();
            JournalEntry.State state = held.state == State.RUNNING ? JournalEntry.State.RUNNING : e.state();
            return Optional.of(new JournalRecord(held.record.seq(), e.withState(state), held.record.attempt()));
        }
    }

    LaneCount count(Priority lane) {
        synchronized (lock) {
            return new LaneCount(heldByLane[lane.ordinal()], queuedByLane[lane.ordinal()]);
        }
    }

    /** How many records started or finished so far; a change means a full lane or partition may have room. */
    long moves() {
        synchronized (lock) {
            return moves;
        }
    }

    /** How many records taken from the partition have not started (queued here, or parked behind their session). */
    int queued(TopicPartition partition) {
        synchronized (lock) {
            return queuedByPartition.getOrDefault(partition, 0);
        }
    }

    /** Caller holds the lock; {@code held} is queued. */
    private void unqueue(HeldRecord held) {
        queuedByLane[held.lane.ordinal()]--;
        queuedByPartition.computeIfPresent(held.partition, (p, n) -> n > 1 ? n - 1 : null);
    }

    /**
     * Each partition's offset up to its first record not finished, with the starts of the records
     * from there on as the commit's metadata ({@link #starts}). Empty when nothing finished or
     * started since the last call, unless {@code handover}: then every partition is answered,
     * because the partitions are about to move or the consumer to close.
     *
     * <p>The metadata is how starts are counted across instances: an instance that dies while it
     * runs an execution leaves its start in the group's committed offsets, and the next owner of
     * the partition reads it ({@link #carry}) before it takes the record again.
     */
    Map<TopicPartition, OffsetAndMetadata> committable(Collection<TopicPartition> partitions, boolean handover) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        synchronized (lock) {
            if (!changedSinceCommit && !handover) {
                return offsets;
            }
            changedSinceCommit = false;
            for (TopicPartition partition : partitions) {
                TreeMap<Long, HeldRecord> positions = byPartition.get(partition);
                if (positions == null) {
                    continue;
                }
                long next = -1;
                for (Iterator<Map.Entry<Long, HeldRecord>> it = positions.entrySet().iterator(); it.hasNext();) {
                    Map.Entry<Long, HeldRecord> position = it.next();
                    if (position.getValue().state != State.DONE) {
                        break;
                    }
                    next = position.getKey() + 1;
                    it.remove();
                }
                String starts = starts(positions.values());
                if (next < 0 && !positions.isEmpty() && !starts.isEmpty()) {
                    next = positions.firstKey(); // the offset stays; the starts are news
                }
                if (next >= 0) {
                    offsets.put(partition, new OffsetAndMetadata(next, starts));
                }
            }
        }
        return offsets;
    }

    /**
     * {@code executionId:starts,...} of the records not finished that were started (running here
     * counts one more start than the record had): most starts first, within what a broker keeps
     * of a commit's metadata ({@code offset.metadata.max.bytes}, 4096 by default).
     */
    private static String starts(Collection<HeldRecord> held) {
        Map<String, Integer> starts = new HashMap<>();
        for (HeldRecord h : held) {
            if (h.record != null && h.state != State.DONE) {
                int count = h.record.attempt() + (h.state == State.RUNNING ? 1 : 0);
                if (count > 0) {
                    starts.put(h.record.entry().executionId(), count);
                }
            }
        }
        StringBuilder metadata = new StringBuilder();
        starts.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).forEach(e -> {
            String item = e.getKey() + ":" + e.getValue();
            if (metadata.length() + item.length() + 1 <= MAX_METADATA) {
                metadata.append(metadata.isEmpty() ? "" : ",").append(item);
            }
        });
        return metadata.toString();
    }

    /** The starts a partition's previous owners committed ({@link #committable}); counted when its records are taken. */
    void carry(String metadata) {
        if (metadata == null || metadata.isEmpty()) {
            return;
        }
        for (String item : metadata.split(",")) {
            int colon = item.lastIndexOf(':');
            try {
                carried.asMap().merge(item.substring(0, colon), Integer.parseInt(item.substring(colon + 1)), Math::max);
            } catch (RuntimeException e) {
                // not ours (another consumer's metadata): nothing to count
            }
        }
    }

    /** Queued work of partitions that move away: {@link #claim} answers false for it from now on. */
    int withdraw(Collection<TopicPartition> partitions) {
        int withdrawn = 0;
        synchronized (lock) {
            for (TopicPartition partition : partitions) {
                TreeMap<Long, HeldRecord> positions = byPartition.get(partition);
                if (positions == null) {
                    continue;
                }
                for (HeldRecord held : positions.values()) {
                    if (held.state == State.QUEUED) {
                        unqueue(held);
                        held.state = State.WITHDRAWN;
                        heldByLane[held.lane.ordinal()]--;
                        byExecution.remove(held.record.entry().executionId(), held);
                        withdrawn++;
                    }
                }
            }
        }
        return withdrawn;
    }

    /**
     * Waits until none of the partitions' work runs, the deadline passes or {@code keepWaiting}
     * fails; answers how many still run.
     */
    int awaitRunning(Collection<TopicPartition> partitions, long deadlineNanos, BooleanSupplier keepWaiting) {
        synchronized (lock) {
            while (keepWaiting.getAsBoolean() && running(partitions) > 0 && System.nanoTime() < deadlineNanos) {
                try {
                    lock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            return running(partitions);
        }
    }

    /** Caller holds the lock. */
    private int running(Collection<TopicPartition> partitions) {
        int count = 0;
        for (TopicPartition partition : partitions) {
            TreeMap<Long, HeldRecord> positions = byPartition.get(partition);
            if (positions != null) {
                count += (int) positions.values().stream().distinct().filter(h -> h.state == State.RUNNING).count();
            }
        }
        return count;
    }

    /** Drops the partitions' records; work still running there is let go, its finish commits nothing. */
    void forget(Collection<TopicPartition> partitions) {
        synchronized (lock) {
            for (TopicPartition partition : partitions) {
                TreeMap<Long, HeldRecord> positions = byPartition.remove(partition);
                if (positions == null) {
                    continue;
                }
                for (HeldRecord held : new HashSet<>(positions.values())) {
                    if (held.state == State.RUNNING) { // ran past revoke-wait: its finish finds nothing to commit
                        byExecution.remove(held.record.entry().executionId(), held);
                        heldByLane[held.lane.ordinal()]--;
                        held.state = State.WITHDRAWN;
                    }
                }
            }
        }
    }
}
