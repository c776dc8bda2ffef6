package io.sandstream.kafka;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;

import io.sandstream.journal.JournalEntry;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;

/**
 * Executions accepted by any instance and not finished yet, as far as this instance knows: each
 * append also puts one small "accepted" record on the results topic, which every instance reads.
 * So {@code GET /executions/{id}} and its event stream answer {@code Queued} on every instance, not
 * only on the one that took the request. Bounded and in memory: after a restart, work accepted
 * before it is known again once its result arrives.
 */
public final class AcceptedIndex {

    public static final String KIND = "sandstream-kind";
    public static final String ACCEPTED = "accepted";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the marker carries per execution: enough to answer a status read and check its scope. */
    public record Accepted(String executionId, String subject, String priority, long acceptedAt, String tenant) {
    }

    /**
     * What the index keeps per execution: the marker's fields as the status read uses them. The
     * lane is an enum and the tenant the one instance {@link #pendingByTenant} holds, so an entry
     * costs no strings but its subject (the id is the cache's key).
     */
    private record Queued(String subject, Priority priority, long acceptedAt, Tenant tenant) {
    }

    /** A scoped tenant's count of unfinished executions, and the one {@link Tenant} its entries share. */
    private record Pending(Tenant tenant, LongAdder count) {
    }

    /** The fewest entries the index keeps room for, whatever the journal's {@code max-pending}. */
    static final long MIN_ENTRIES = 200_000;

    /** Unfinished executions per tenant id (scoped tenants only), kept with the cache; for the queued quota. */
    private final Map<String, Pending> pendingByTenant = new ConcurrentHashMap<>();
    private final long limit;
    private final Cache<String, Queued> accepted;
    /** Executions another instance said it runs; bounded like {@link #accepted}. */
    private final Cache<String, Boolean> running;

    /** An index for the default {@code max-pending}. */
    public AcceptedIndex() {
        this(0);
    }

    /**
     * An index with room for every execution the cluster may hold unfinished: an entry it had to
     * drop would make a queued execution unknown on the other instances ({@code 404}) and count
     * against no tenant's quota. Twice {@code maxPending}, because ingress reads the group's backlog
     * only every second and an entry leaves only when this instance reads the result; never fewer
     * than {@link #MIN_ENTRIES}. Memory follows what is held, not the bound.
     */
    public AcceptedIndex(long maxPending) {
        this.limit = Math.max(MIN_ENTRIES, Math.min(maxPending, Long.MAX_VALUE / 2) * 2);
        this.accepted = Caffeine.newBuilder().maximumSize(limit).expireAfterWrite(Duration.ofHours(1)).executor(Runnable::run)
                .removalListener((String id, Queued q, RemovalCause cause) -> count(q, -1)).build();
        this.running = Caffeine.newBuilder().maximumSize(limit).expireAfterWrite(Duration.ofHours(1)).executor(Runnable::run)
                .build();
    }

    /** Most entries kept: the {@code sandstream.kafka.accepted.limit} gauge. */
    public long limit() {
        return limit;
    }

    /** Entries kept now (unfinished executions of any instance, as far as read): the {@code sandstream.kafka.accepted} gauge. */
    public long size() {
        accepted.cleanUp();
        return accepted.estimatedSize();
    }

    public static byte[] marker(List<JournalEntry> entries) throws IOException {
        return JSON.writeValueAsBytes(entries.stream().map(e -> new Accepted(e.executionId(), e.subject(), e.priorityName(),
                e.acceptedAt().toEpochMilli(), e.tenant().id())).toList());
    }

    public void read(byte[] marker) throws IOException {
        for (Accepted a : JSON.readValue(marker, Accepted[].class)) {
            Queued q = new Queued(a.subject(), Priority.ofWireName(a.priority()), a.acceptedAt(), tenant(a.tenant()));
            if (accepted.asMap().putIfAbsent(a.executionId(), q) == null) {
                count(q, 1);
            }
        }
    }

    private Tenant tenant(String id) {
        return id == null || id.isEmpty() ? Tenant.SHARED
                : pendingByTenant.computeIfAbsent(id, t -> new Pending(new Tenant(t), new LongAdder())).tenant();
    }

    private void count(Queued q, int delta) {
        if (q != null && !q.tenant().shared()) {
            pendingByTenant.get(q.tenant().id()).count().add(delta);
        }
    }

    /**
     * Executions of {@code tenant} accepted by any instance and not finished, as far as this
     * instance's copy of the results topic has read: the Kafka journal's per-tenant queued count.
     */
    public long pending(Tenant tenant) {
        Pending pending = pendingByTenant.get(tenant.id());
        return pending == null ? 0 : Math.max(0, pending.count().sum());
    }

    public void finished(String executionId) {
        accepted.invalidate(executionId);
        running.invalidate(executionId);
    }

    /** Another instance started the execution (its {@code Running} came over the live topic). */
    public void started(String executionId) {
        running.put(executionId, Boolean.TRUE);
    }

    /** Started on another instance and not finished, as far as this instance has read. */
    public boolean running(String executionId) {
        return running.getIfPresent(executionId) != null;
    }

    /** A queued entry (without its event) for an execution some instance accepted. */
    public Optional<JournalEntry> find(String executionId) {
        Queued q = accepted.getIfPresent(executionId);
        return q == null ? Optional.empty() : Optional.of(JournalEntry.forStatus(executionId, q.subject(), q.priority(),
                JournalEntry.State.QUEUED, Instant.ofEpochMilli(q.acceptedAt()), q.tenant()));
    }
}
