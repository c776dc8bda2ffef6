package io.sandstream.results.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.ObjectMapper;

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
 * (all copies see the topic in one order). {@link #put} completes once the result is in this
 * instance's copy, so the instance that ran it can read it at once.
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
    /** Puts waiting for their offset to reach the copy, by offset. */
    private final ConcurrentSkipListMap<Long, List<CompletableFuture<Void>>> waiting = new ConcurrentSkipListMap<>();
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
        this.producer = clients.producer("results");
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
        producer.close(Duration.ofSeconds(5));
        copy.close();
    }

    /**
     * Appends the result unless the copy holds one for the execution already, then waits until the
     * copy has read up to it, and answers what the copy holds (the first result when two raced).
     */
    @Override
    public Uni<StoredResult> put(ResultDocument document) {
        return Uni.createFrom().deferred(() -> copy.get(document.executionId()).flatMap(existing -> {
            if (existing.isPresent()) {
                return Uni.createFrom().item(existing.get());
            }
            CompletableFuture<Long> sent = new CompletableFuture<>();
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
            producer.send(record, (metadata, failure) -> {
                if (failure != null) {
                    sent.completeExceptionally(failure);
                } else {
                    sent.complete(metadata.offset());
                }
            });
            return Uni.createFrom().completionStage(sent.thenCompose(this::appliedThrough))
                    .ifNoItem().after(clients.config().sendTimeout()).fail()
                    .flatMap(ignored -> copy.get(document.executionId()))
                    .map(stored -> stored.orElseThrow(() -> new IllegalStateException(
                            "result of " + document.executionId() + " not in the local copy after its offset")));
        })).emitOn(Infrastructure.getDefaultExecutor());
    }

    /** Completes once the copy has applied {@code offset}. */
    private CompletableFuture<Void> appliedThrough(long offset) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        waiting.computeIfAbsent(offset, o -> java.util.Collections.synchronizedList(new ArrayList<>())).add(done);
        if (applied > offset) {
            // Applied already: the reader may have released this offset's list just before we joined it.
            done.complete(null);
            release();
        }
        return done;
    }

    private void release() {
        Map<Long, List<CompletableFuture<Void>>> due = waiting.headMap(applied);
        for (Long offset : new ArrayList<>(due.keySet())) {
            List<CompletableFuture<Void>> list = waiting.remove(offset);
            if (list != null) {
                list.forEach(f -> f.complete(null));
            }
        }
    }

    @Override
    public Uni<Void> caughtUp() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        catchUps.add(done);
        return Uni.createFrom().completionStage(done);
    }

    @Override
    public Uni<Optional<StoredResult>> get(String executionId) {
        return copy.get(executionId);
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
        applied = records.get(records.size() - 1).offset() + 1;
        release();
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
