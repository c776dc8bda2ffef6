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

    /** Unfinished executions per tenant (scoped tenants only), kept with the cache; for the queued quota. */
    private final Map<Tenant, LongAdder> pendingByTenant = new ConcurrentHashMap<>();
    private final Cache<String, Accepted> accepted = Caffeine.newBuilder().maximumSize(200_000)
            .expireAfterWrite(Duration.ofHours(1)).executor(Runnable::run)
            .removalListener((String id, Accepted a, RemovalCause cause) -> count(a, -1)).build();

    /** Executions another instance said it runs; bounded like {@link #accepted}. */
    private final Cache<String, Boolean> running = Caffeine.newBuilder().maximumSize(200_000)
            .expireAfterWrite(Duration.ofHours(1)).executor(Runnable::run).build();

    public static byte[] marker(List<JournalEntry> entries) throws IOException {
        return JSON.writeValueAsBytes(entries.stream().map(e -> new Accepted(e.executionId(), e.subject(), e.priorityName(),
                e.acceptedAt().toEpochMilli(), e.tenant().id())).toList());
    }

    public void read(byte[] marker) throws IOException {
        for (Accepted a : JSON.readValue(marker, Accepted[].class)) {
            if (accepted.asMap().putIfAbsent(a.executionId(), a) == null) {
                count(a, 1);
            }
        }
    }

    private void count(Accepted a, int delta) {
        Tenant tenant = a == null ? Tenant.SHARED : Tenant.of(a.tenant());
        if (!tenant.shared()) {
            pendingByTenant.computeIfAbsent(tenant, t -> new LongAdder()).add(delta);
        }
    }

    /**
     * Executions of {@code tenant} accepted by any instance and not finished, as far as this
     * instance's copy of the results topic has read: the Kafka journal's per-tenant queued count.
     */
    public long pending(Tenant tenant) {
        LongAdder count = pendingByTenant.get(tenant);
        return count == null ? 0 : Math.max(0, count.sum());
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
        Accepted a = accepted.getIfPresent(executionId);
        return a == null ? Optional.empty() : Optional.of(new JournalEntry(a.executionId(), null, null, null, a.subject(),
                null, Priority.ofWireName(a.priority()), JournalEntry.State.QUEUED, Instant.ofEpochMilli(a.acceptedAt()), new byte[0], null,
                Tenant.of(a.tenant())));
    }
}
