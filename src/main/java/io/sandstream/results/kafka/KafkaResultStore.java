package io.sandstream.results.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.sandstream.kafka.AcceptedIndex;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.LaneRecords;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultBus;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.sandstream.results.sqlite.SqliteResultStore;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * Results shared by every instance: a result is stored by appending it to the results topic
 * ({@code acks=all}); every instance reads the whole topic into its own SQLite copy, numbering each
 * result by its offset + 1. So {@code GET /executions/{id}}, the streams and {@code Last-Event-ID}
 * give the same answers on every instance, and the first result of an execution wins everywhere
 * (all copies see the topic in one order). {@link #put} completes once the brokers acknowledged
 * the result, without waiting for this instance's copy to read it back (a fetch and a commit); the
 * instance that ran it answers it from memory meanwhile, so it can read it at once.
 */
public final class KafkaResultStore implements ResultStore, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(KafkaResultStore.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String ORIGIN = "sandstream-origin";
    /** On a result record: how many live records the instance that ran it sent (see {@link LiveRelay}). */
    static final String LIVE_COUNT = "sandstream-live-count";

    private final KafkaClients clients;
    private final SqliteResultStore copy;
    private final ResultBus bus;
    /** Null when the live topic is off. */
    private final LiveRelay live;
    private final KafkaProducer<String, byte[]> producer;
    private final TopicPartition partition;
    /**
     * Results this instance stored that the copy has not read back yet, by execution; bounded for
     * when the reader is stuck (then {@link #get} finds an evicted one once the copy has it).
     */
    private final Map<String, StoredResult> unapplied = Caffeine.newBuilder().maximumSize(100_000)
            .executor(Runnable::run).<String, StoredResult>build().asMap();
    private final ConcurrentLinkedQueue<CompletableFuture<Void>> catchUps = new ConcurrentLinkedQueue<>();
    /** The next offset the copy will apply. */
    private volatile long applied;
    private volatile boolean running;
    /** Until the copy has read what the topic held at start, this instance is not ready. */
    private volatile boolean current;
    private volatile Exception lastFailure;
    private KafkaConsumer<String, byte[]> consumer;
    private Thread reader;

    public KafkaResultStore(KafkaClients clients, SqliteResultStore copy, ResultBus bus, LiveRelay live) {
        this.clients = clients;
        this.copy = copy;
        this.bus = bus;
        this.live = live;
        this.partition = new TopicPartition(clients.resultsTopic(), 0);
        this.producer = clients.sharedProducer();
    }

    /** Starts reading the topic after what the copy holds. */
    public void start() {
        producer.partitionsFor(clients.resultsTopic()); // metadata now: a send without it blocks its caller
        consumer = clients.resultsConsumer();
        consumer.assign(List.of(partition));
        applied = copy.lastSequence();
        consumer.seek(partition, applied);
        running = true;
        reader = new Thread(this::readLoop, "kafka-results");
        reader.start();
        if (live != null) {
            live.start();
        }
        caughtUp().subscribe().with(ignored -> current = true);
        LOG.infof("results topic %s, local copy from offset %d", clients.resultsTopic(), applied);
    }

    @Override
    public void close() {
        if (live != null) {
            live.close();
        }
        running = false;
        KafkaClients.stopReader(consumer, reader, Duration.ofSeconds(10));
        clients.release(producer, Duration.ofSeconds(5));
        copy.close();
    }

    /**
     * Appends the result and completes once the brokers acknowledged it ({@code acks=all}: stored),
     * with its offset + 1 as its sequence. The copy reads it back in the background; until then
     * {@link #get} answers it from memory, so this instance reads what it stored at once, and the
     * streams get it from the copy in the topic's order. Should two results of one execution race
     * (two runs, which the journal's claims keep to crashes), the copy keeps the first everywhere.
     * No read of the copy first: the dispatcher checked before it ran the execution. A success
     * completes on the producer's network thread, which the caller leaves at once (the dispatcher
     * for its own thread): a hop to a worker pool here first was one more thread woken per
     * execution. A failure completes on a worker, since a retry sends again.
     */
    @Override
    public Uni<StoredResult> put(ResultDocument document) {
        return Uni.createFrom().deferred(() -> {
            byte[] value;
            try {
                value = JSON.writeValueAsBytes(document);
            } catch (Exception e) {
                return Uni.createFrom().failure(e);
            }
            ProducerRecord<String, byte[]> record = new ProducerRecord<>(clients.resultsTopic(), 0, document.executionId(), value);
            record.headers().add(LaneRecords.CONTENT_TYPE, LaneRecords.bytes("application/json"));
            record.headers().add(ORIGIN, LaneRecords.bytes(clients.instanceId()));
            if (live != null) {
                record.headers().add(LIVE_COUNT, LaneRecords.bytes(Integer.toString(live.sent(document.executionId()))));
            }
            CompletableFuture<StoredResult> stored = new CompletableFuture<>();
            producer.send(record, (metadata, failure) -> {
                if (failure != null) {
                    // Off the network thread: the caller's retry sends again, which must not block it.
                    Infrastructure.getDefaultExecutor().execute(() -> stored.completeExceptionally(failure));
                } else {
                    stored.complete(acknowledged(new StoredResult(metadata.offset() + 1, document)));
                }
            });
            // Bounded without a timer of ours: the producer calls back within its delivery.timeout.ms (send-timeout).
            return Uni.createFrom().completionStage(stored);
        });
    }

    /** Kept in memory until the copy has applied it (see {@link #applyBatch}, which removes it). */
    private StoredResult acknowledged(StoredResult result) {
        String executionId = result.document().executionId();
        unapplied.put(executionId, result);
        if (applied >= result.sequence()) {
            // Applied already: the reader may have looked for it just before it was there.
            unapplied.remove(executionId, result);
        }
        return result;
    }

    @Override
    public Uni<Void> caughtUp() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        catchUps.add(done);
        return Uni.createFrom().completionStage(done);
    }

    @Override
    public Uni<Optional<StoredResult>> get(String executionId) {
        StoredResult mine = unapplied.get(executionId);
        return mine != null ? Uni.createFrom().item(Optional.of(mine)) : copy.get(executionId);
    }

    @Override
    public boolean storedNow(String executionId) {
        return unapplied.containsKey(executionId) || copy.storedNow(executionId);
    }

    @Override
    public Uni<List<StoredResult>> after(long sequence, int limit) {
        return copy.after(sequence, limit);
    }

    @Override
    public Uni<Long> latest() {
        return copy.latest();
    }

    @Override
    public Uni<Health> health() {
        Exception failure = lastFailure;
        return copy.health().map(local -> {
            if (failure != null) {
                return new Health(false, Map.of("resultsTopic", String.valueOf(failure.getMessage())));
            }
            return current ? local : new Health(false, Map.of("resultsTopic", "reading what is already there",
                    "offset", applied));
        });
    }

    // ---- the reader thread --------------------------------------------------------------------------

    private void readLoop() {
        try {
            while (running) {
                List<CompletableFuture<Void>> catchingUp = drainCatchUps();
                long end = catchingUp.isEmpty() ? -1 : consumer.endOffsets(List.of(partition)).get(partition);
                do {
                    applyBatch(consumer.poll(KafkaClients.pollTimeout()).records(partition));
                } while (end >= 0 && applied < end && running);
                catchingUp.forEach(f -> f.complete(null));
                lastFailure = null;
            }
        } catch (WakeupException stopping) {
            // close() woke us up
        } catch (RuntimeException e) {
            lastFailure = e;
            LOG.error("reading the results topic failed; this instance's copy stops here", e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private List<CompletableFuture<Void>> drainCatchUps() {
        List<CompletableFuture<Void>> drained = new ArrayList<>();
        CompletableFuture<Void> next;
        while ((next = catchUps.poll()) != null) {
            drained.add(next);
        }
        return drained;
    }

    /** Writes a batch into the copy (one commit) and then tells the streams, in offset order. */
    private void applyBatch(List<ConsumerRecord<String, byte[]>> records) {
        if (records.isEmpty()) {
            return;
        }
        List<CompletableFuture<StoredResult>> puts = new ArrayList<>(records.size());
        for (ConsumerRecord<String, byte[]> record : records) {
            try {
                if (AcceptedIndex.ACCEPTED.equals(LaneRecords.header(record.headers(), AcceptedIndex.KIND))) {
                    clients.accepted().read(record.value());
                    puts.add(CompletableFuture.completedFuture(null));
                    continue;
                }
                puts.add(copy.putAt(record.offset() + 1, JSON.readValue(record.value(), ResultDocument.class)));
            } catch (java.io.IOException e) {
                LOG.warnf("skipping results record %d: not a result document (%s)", record.offset(), e.getMessage());
                puts.add(CompletableFuture.completedFuture(null));
            }
        }
        List<StoredResult> stored = new ArrayList<>(puts.size());
        try {
            for (CompletableFuture<StoredResult> put : puts) {
                stored.add(put.join());
            }
        } catch (java.util.concurrent.CompletionException e) {
            // The copy could not write (disk full, …): read the batch again in a moment, lose nothing.
            lastFailure = e;
            LOG.warnf("writing results into the local copy failed (%s); retrying", e.getMessage());
            consumer.seek(partition, records.get(0).offset());
            sleep(500);
            return;
        }
        for (int i = 0; i < stored.size(); i++) {
            StoredResult result = stored.get(i);
            if (result != null && result.sequence() == records.get(i).offset() + 1) {
                clients.accepted().finished(result.document().executionId());
                expectLive(records.get(i), result.document().executionId());
                bus.stored(result); // a later copy of an execution already stored is not news
            }
        }
        // First the offset, then the results held in memory: one acknowledged meanwhile sees it applied.
        applied = records.get(records.size() - 1).offset() + 1;
        for (ConsumerRecord<String, byte[]> record : records) {
            if (record.key() != null) {
                unapplied.computeIfPresent(record.key(), (id, mine) -> mine.sequence() <= applied ? null : mine);
            }
        }
    }

    /** Run elsewhere: a stream here sends the result once the live records it announces have been relayed. */
    private void expectLive(ConsumerRecord<String, byte[]> record, String executionId) {
        String count = LaneRecords.header(record.headers(), LIVE_COUNT);
        if (clients.instanceId().equals(LaneRecords.header(record.headers(), ORIGIN))) {
            if (live != null) {
                live.finished(executionId);
            }
        } else if (count != null) {
            try {
                bus.expectLive(executionId, Integer.parseInt(count));
            } catch (NumberFormatException e) {
                // not ours to wait for
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
