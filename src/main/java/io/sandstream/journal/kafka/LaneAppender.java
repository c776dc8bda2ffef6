package io.sandstream.journal.kafka;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalFullException;
import io.sandstream.journal.JournalRecord;
import io.sandstream.kafka.AcceptedIndex;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.LaneRecords;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;
import io.sandstream.tenancy.TenantQuotas;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * The producer side: puts accepted entries on their lane topics and answers only once every
 * in-sync replica has them, because a 202 promises the event survives this instance. Limits are
 * checked before anything is sent, so a refused request leaves nothing behind.
 */
final class LaneAppender implements AutoCloseable {

    private static final Duration SEND_FAILURE_MEMORY = Duration.ofSeconds(10);
    static final String DEAD_LETTER_REASON = "sandstream-dead-letter-reason";
    static final String ATTEMPT = "sandstream-attempt";

    private final KafkaClients clients;
    private final SandstreamConfig.Journal journalConfig;
    private final TenantQuotas quotas;
    private final GroupBacklog backlog;
    private final KafkaProducer<String, byte[]> producer;
    /**
     * Entries appended here recently: redeliveries to this instance are answered duplicate. Each
     * keeps only what a status read uses, as the accepted index does: under load the cache is full,
     * and the event's envelope (id, source, type, session) was a large part of each entry.
     */
    private final Cache<String, Recent> appended = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfterWrite(Duration.ofMinutes(10)).executor(Runnable::run).build();
    /** When the last append failed (0: the last one succeeded); readiness is down for a while after. */
    private volatile long lastSendFailedAt;

    LaneAppender(KafkaClients clients, SandstreamConfig.Journal journalConfig, TenantQuotas quotas, GroupBacklog backlog) {
        this.clients = clients;
        this.journalConfig = journalConfig;
        this.quotas = quotas;
        this.backlog = backlog;
        this.producer = clients.sharedProducer();
    }

    void start() {
        // Topic metadata now, not on the first request: a send without it blocks its caller (the event loop).
        for (Priority lane : Priority.values()) {
            producer.partitionsFor(clients.laneTopic(lane));
        }
        producer.partitionsFor(clients.resultsTopic());
        producer.partitionsFor(clients.deadLetterTopic());
    }

    /**
     * Sends every new entry and completes once the brokers acknowledged all of them ({@code acks=all}).
     * A redelivery this instance accepted recently is answered duplicate without a send; one it
     * cannot know (accepted elsewhere) is sent again and recognised before it runs.
     */
    Uni<List<Boolean>> append(List<JournalEntry> entries) {
        return Uni.createFrom().deferred(() -> {
            List<Boolean> duplicates = new ArrayList<>(entries.size());
            List<JournalEntry> fresh = new ArrayList<>();
            Set<String> inRequest = new HashSet<>();
            for (JournalEntry entry : entries) {
                boolean duplicate = appended.getIfPresent(entry.executionId()) != null || !inRequest.add(entry.executionId());
                duplicates.add(duplicate);
                if (!duplicate) {
                    fresh.add(entry);
                }
            }
            List<JournalEntry> queued = fresh.stream().filter(e -> e.state() == JournalEntry.State.QUEUED).toList();
            if (!queued.isEmpty() && backlog.get() + queued.size() > journalConfig.maxPending()) {
                return Uni.createFrom().failure(new JournalFullException(journalConfig.maxPending()));
            }
            Map<Tenant, Long> byTenant = queued.stream().filter(e -> !e.tenant().shared())
                    .collect(Collectors.groupingBy(JournalEntry::tenant, Collectors.counting()));
            for (Map.Entry<Tenant, Long> tenant : byTenant.entrySet()) {
                long limit = quotas.of(tenant.getKey()).maxQueued();
                if (clients.accepted().pending(tenant.getKey()) + tenant.getValue() > limit) {
                    quotas.refused("queued");
                    return Uni.createFrom().failure(new JournalFullException(tenant.getKey(), limit));
                }
            }
            List<CompletableFuture<Void>> acks = new ArrayList<>(fresh.size() + 1);
            for (JournalEntry entry : fresh) {
                acks.add(send(LaneRecords.record(clients.laneTopic(laneOf(entry)), entry)));
            }
            if (!queued.isEmpty()) {
                acks.add(send(acceptedMarker(queued)));
            }
            // Bounded without a timer of ours: the producer calls back within its delivery.timeout.ms (send-timeout).
            return Uni.createFrom().completionStage(CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)))
                    .onItemOrFailure().invoke((ignored, failure) -> lastSendFailedAt = failure == null ? 0 : System.nanoTime())
                    .invoke(() -> {
                        for (JournalEntry entry : fresh) {
                            appended.put(entry.executionId(), Recent.of(entry));
                        }
                        backlog.add(queued.size());
                    })
                    .emitOn(Infrastructure.getDefaultExecutor())
                    .replaceWith(duplicates);
        });
    }

    /** An entry appended here recently (without its event): accepted, and perhaps not taken yet. */
    Optional<JournalEntry> recent(String executionId) {
        return Optional.ofNullable(appended.getIfPresent(executionId)).map(recent -> recent.entry(executionId));
    }

    /**
     * True for a while after a failed append, not for good: a pod taken out of rotation gets no
     * request that could succeed and bring it back.
     */
    boolean sendsFailing() {
        long failedAt = lastSendFailedAt;
        return failedAt != 0 && System.nanoTime() - failedAt < SEND_FAILURE_MEMORY.toNanos();
    }

    private CompletableFuture<Void> send(ProducerRecord<String, byte[]> record) {
        CompletableFuture<Void> ack = new CompletableFuture<>();
        producer.send(record, (metadata, failure) -> {
            if (failure != null) {
                ack.completeExceptionally(failure);
            } else {
                ack.complete(null);
            }
        });
        return ack;
    }

    /**
     * The event as it was received, with its lane record's headers, the starts it had
     * ({@code sandstream-attempt}) and why it was given up ({@code sandstream-dead-letter-reason}),
     * on the dead-letter topic; done once the brokers acknowledged it.
     */
    Uni<Void> deadLetter(JournalRecord record, String reason) {
        ProducerRecord<String, byte[]> dead = LaneRecords.record(clients.deadLetterTopic(), record.entry());
        dead.headers().add(ATTEMPT, LaneRecords.bytes(Integer.toString(record.attempt())));
        dead.headers().add(DEAD_LETTER_REASON, LaneRecords.bytes(reason));
        return Uni.createFrom().completionStage(() -> send(dead)); // bounded by delivery.timeout.ms, as append is
    }

    /** One record on the results topic telling every instance what this request queued (see {@link AcceptedIndex}). */
    private ProducerRecord<String, byte[]> acceptedMarker(List<JournalEntry> entries) {
        try {
            ProducerRecord<String, byte[]> record = new ProducerRecord<>(clients.resultsTopic(), 0, null,
                    AcceptedIndex.marker(entries));
            record.headers().add(AcceptedIndex.KIND, LaneRecords.bytes(AcceptedIndex.ACCEPTED));
            return record;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Priority laneOf(JournalEntry entry) {
        return java.util.Objects.requireNonNullElse(entry.priority(), Priority.NORMAL);
    }

    /** What {@link #appended} keeps of an entry: its scope, state, lane, time and tenant. */
    private record Recent(String subject, JournalEntry.State state, Priority priority, Instant acceptedAt, Tenant tenant) {

        static Recent of(JournalEntry e) {
            return new Recent(e.subject(), e.state(), e.priority(), e.acceptedAt(), e.tenant());
        }

        JournalEntry entry(String executionId) {
            return JournalEntry.forStatus(executionId, subject, priority, state, acceptedAt, tenant);
        }
    }

    @Override
    public void close() {
        clients.release(producer, Duration.ofSeconds(5));
    }
}
