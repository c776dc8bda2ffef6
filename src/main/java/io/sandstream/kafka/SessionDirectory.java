package io.sandstream.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jboss.logging.Logger;

import io.sandstream.model.Tenant;

/**
 * Which instance run opened each pool API session, so that a session whose owner died (or whose
 * partition moved) is reported lost instead of silently starting over empty on its new owner.
 * <p>
 * The owner writes one record (key: pool, tenant, identifier; value: its run id, new at every
 * start) before it creates a session, to a compacted topic that every instance reads whole. A
 * call for a session that is not in the owner's pools but that another run opened finds it lost:
 * the entry is removed (a tombstone), so the call after that starts a new session, as in Azure
 * after a session expired.
 */
public final class SessionDirectory implements AutoCloseable {

    /** Entries older than this are dropped by the broker: far beyond any session's cooldown. */
    public static final Duration RETENTION = Duration.ofDays(7);
    private static final Logger LOG = Logger.getLogger(SessionDirectory.class);

    private final KafkaClients clients;
    private final String run = UUID.randomUUID().toString();
    private final Map<String, String> openedBy = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<CompletableFuture<Void>> catchUps = new ConcurrentLinkedQueue<>();
    private final KafkaProducer<String, byte[]> producer;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread reader;
    private volatile boolean running = true;

    public SessionDirectory(KafkaClients clients) {
        this.clients = clients;
        this.producer = clients.sharedProducer();
        this.consumer = clients.readAll("sessions");
        this.reader = new Thread(this::read, "kafka-sessions");
        reader.setDaemon(true);
        reader.start();
    }

    /** What a session-bearing call finds at its owner, for a session its pool does not hold. */
    public enum Found {
        /** Never opened, or opened by this run and expired since: the call may open it. */
        NEW,
        /** Opened by a run that no longer owns it: its state is gone. */
        LOST
    }

    /**
     * Called at the owner for a session its pool does not hold; {@code opens}: the call would open it
     * (executions, uploads), which is recorded before it does. Blocking (reads to the topic's end,
     * and writes). A lost session's entry is removed, so that the next call opens a new one.
     */
    public Found absent(String pool, Tenant tenant, String identifier, boolean opens, Duration wait)
            throws TimeoutException, InterruptedException {
        String key = pool + "\n" + tenant.id() + "\n" + identifier;
        awaitCaughtUp(wait);
        String by = openedBy.get(key);
        if (by != null && !by.equals(run)) {
            write(key, null, wait);
            return Found.LOST;
        }
        if (opens && by == null) {
            write(key, run, wait);
        }
        return Found.NEW;
    }

    private void write(String key, String value, Duration wait) throws TimeoutException, InterruptedException {
        try {
            producer.send(new ProducerRecord<>(clients.sessionsTopic(), key,
                    value == null ? null : value.getBytes(StandardCharsets.UTF_8))).get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new TimeoutException("the session directory could not be written: " + e.getCause().getMessage());
        }
        apply(key, value);
    }

    /** Until the reader has read what was in the topic when this was called. */
    private void awaitCaughtUp(Duration wait) throws TimeoutException, InterruptedException {
        CompletableFuture<Void> caughtUp = new CompletableFuture<>();
        catchUps.add(caughtUp);
        try {
            caughtUp.get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new TimeoutException("the session directory could not be read: " + e.getCause().getMessage());
        }
    }

    private void apply(String key, String value) {
        if (value == null) {
            openedBy.remove(key);
        } else {
            openedBy.put(key, value);
        }
    }

    private void read() {
        TopicPartition partition = new TopicPartition(clients.sessionsTopic(), 0);
        try {
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            while (running) {
                List<CompletableFuture<Void>> waiting = new ArrayList<>();
                for (CompletableFuture<Void> f; (f = catchUps.poll()) != null;) {
                    waiting.add(f);
                }
                long end = waiting.isEmpty() ? -1 : consumer.endOffsets(List.of(partition)).get(partition);
                do {
                    for (ConsumerRecord<String, byte[]> record : consumer.poll(KafkaClients.pollTimeout())) {
                        if (record.key() != null) {
                            apply(record.key(), record.value() == null ? null : new String(record.value(), StandardCharsets.UTF_8));
                        }
                    }
                } while (running && consumer.position(partition) < end);
                waiting.forEach(f -> f.complete(null));
            }
        } catch (WakeupException stopping) {
            // close()
        } catch (RuntimeException e) {
            LOG.error("the session directory reader failed; sessions of dead instances are no longer recognised", e);
            running = false;
        } finally {
            catchUps.forEach(f -> f.completeExceptionally(new IllegalStateException("the session directory is closed")));
            consumer.close(Duration.ofSeconds(2));
        }
    }

    @Override
    public void close() {
        running = false;
        KafkaClients.stopReader(consumer, reader, Duration.ofSeconds(5));
        clients.release(producer, Duration.ofSeconds(2));
    }
}
