package io.sandstream.routing;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import io.sandstream.model.Priority;

/**
 * Picks the next execution to run: higher lanes first, but work that has waited long is promoted
 * one lane per {@code aging} of waiting, so {@code low} is never starved; inside a lane, tenants
 * take turns, so one flooding tenant gets one turn in N, not the lane. Not thread-safe: the
 * dispatcher owns it.
 */
public final class LaneScheduler<T> {

    /** A queued execution. {@code tenant} groups work for fairness. */
    public record Ticket<T>(Priority priority, String tenant, Instant enqueuedAt, T work) {
    }

    private final Duration aging;
    private final Map<Priority, Lane<T>> lanes = new EnumMap<>(Priority.class);
    private int size;

    public LaneScheduler(Duration aging) {
        this.aging = aging;
        for (Priority p : Priority.values()) {
            lanes.put(p, new Lane<>());
        }
    }

    public void offer(Ticket<T> ticket) {
        lanes.get(ticket.priority()).offer(ticket);
        size++;
    }

    public int size() {
        return size;
    }

    /** Removes and returns every queued ticket. */
    public List<Ticket<T>> drain() {
        List<Ticket<T>> all = new ArrayList<>(size);
        lanes.values().forEach(lane -> {
            lane.tenants.values().forEach(all::addAll);
            lane.tenants.clear();
            lane.size = 0;
        });
        size = 0;
        return all;
    }

    public int size(Priority priority) {
        return lanes.get(priority).size;
    }

    /**
     * Takes the next ticket whose work can run now ({@code runnable}: e.g. its session is not
     * busy and its pool has room), or none.
     */
    public Optional<Ticket<T>> poll(Instant now, Predicate<T> runnable) {
        Priority[] order = laneOrder(now);
        for (Priority priority : order) {
            Optional<Ticket<T>> ticket = lanes.get(priority).poll(runnable);
            if (ticket.isPresent()) {
                size--;
                return ticket;
            }
        }
        return Optional.empty();
    }

    /**
     * Lanes by effective rank: lane index minus one per {@code aging} its oldest ticket waited; on
     * equal rank the lane whose oldest ticket waited longer goes first.
     */
    private Priority[] laneOrder(Instant now) {
        Priority[] order = Priority.values().clone();
        long[] rank = new long[order.length];
        Instant[] oldest = new Instant[order.length];
        for (Priority p : order) {
            oldest[p.ordinal()] = lanes.get(p).oldest();
            Instant head = oldest[p.ordinal()];
            long waited = head == null || aging.isZero() ? 0 : Duration.between(head, now).toMillis() / aging.toMillis();
            rank[p.ordinal()] = p.ordinal() - waited;
        }
        java.util.Arrays.sort(order, java.util.Comparator.<Priority>comparingLong(p -> rank[p.ordinal()])
                .thenComparing(p -> oldest[p.ordinal()], java.util.Comparator.nullsLast(java.util.Comparator.naturalOrder()))
                .thenComparingInt(Priority::ordinal));
        return order;
    }

    /** One lane: a queue per tenant, served in turn. */
    private static final class Lane<T> {
        private final LinkedHashMap<String, ArrayDeque<Ticket<T>>> tenants = new LinkedHashMap<>();
        int size;

        void offer(Ticket<T> ticket) {
            tenants.computeIfAbsent(ticket.tenant(), t -> new ArrayDeque<>()).addLast(ticket);
            size++;
        }

        Instant oldest() {
            Instant oldest = null;
            for (ArrayDeque<Ticket<T>> queue : tenants.values()) {
                Instant head = queue.peekFirst().enqueuedAt();
                if (oldest == null || head.isBefore(oldest)) {
                    oldest = head;
                }
            }
            return oldest;
        }

        Optional<Ticket<T>> poll(Predicate<T> runnable) {
            Iterator<Map.Entry<String, ArrayDeque<Ticket<T>>>> it = tenants.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<String, ArrayDeque<Ticket<T>>> tenant = it.next();
                ArrayDeque<Ticket<T>> queue = tenant.getValue();
                for (Iterator<Ticket<T>> tickets = queue.iterator(); tickets.hasNext();) {
                    Ticket<T> ticket = tickets.next();
                    if (runnable.test(ticket.work())) {
                        tickets.remove();
                        size--;
                        it.remove(); // the tenant goes to the back of the turn order
                        if (!queue.isEmpty()) {
                            tenants.put(tenant.getKey(), queue);
                        }
                        return Optional.of(ticket);
                    }
                }
            }
            return Optional.empty();
        }
    }
}
