package io.sandstream.results.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Headers;
import org.jboss.logging.Logger;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.LaneRecords;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.results.ResultBus;
import io.sandstream.sessions.ExecutionUpdate;
import io.smallrye.mutiny.subscription.Cancellable;

/**
 * Live output across instances: the status changes and output chunks of what this instance runs go
 * to the live topic (keyed by execution, so one execution's records stay in order), and what the
 * other instances send there is relayed into this instance's {@link ResultBus}. So
 * {@code GET /executions/{id}/events} shows {@code Running} and the chunks on every instance, not
 * only on the one that runs the execution. Each record is numbered per execution; the result record
 * carries how many were sent ({@link #sent}), so a stream on another instance can wait for the
 * last chunks before it sends the result. Bounded: chunks are split at {@code max-chunk-bytes},
 * and beyond {@code max-bytes-per-second} they are dropped from the topic (never from the result).
 * While this instance is the only one in the group ({@link io.sandstream.kafka.SessionOwners#alone})
 * nothing is sent: no other instance could stream it, and a send cost this instance, the brokers
 * and its own reader about a third of the Kafka path's work per execution. An instance that joins
 * ends that with the rebalance it causes; it streams what is printed from then on.
 */
public final class LiveRelay implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(LiveRelay.class);
    static final String KIND = "sandstream-live";
    static final String SEQ = "sandstream-seq";
    private static final String STATUS = "status";

    private final KafkaClients clients;
    private final ResultBus bus;
    private final SandstreamConfig.Live config;
    private final Bucket bytes;
    /** Records sent per execution running here, until its result takes the count. */
    private final Cache<String, AtomicInteger> numbered = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfterAccess(Duration.ofHours(1)).executor(Runnable::run).build();
    private final Counter sent;
    private final Counter dropped;
    private final Counter failed;
    private final Counter unneeded;
    private final Counter received;
    private final Counter bytesSent;
    private final Counter bytesReceived;
    private KafkaProducer<String, byte[]> producer;
    private KafkaConsumer<String, byte[]> consumer;
    private Cancellable subscription;
    private Thread reader;
    private volatile boolean running;

    public LiveRelay(KafkaClients clients, ResultBus bus, MeterRegistry registry) {
        this.clients = clients;
        this.bus = bus;
        this.config = clients.config().live();
        if (config.maxChunkBytes() < 4 || config.maxBytesPerSecond() < 1) {
            throw new IllegalStateException("sandstream.kafka.live.max-chunk-bytes must be at least 4 and "
                    + "max-bytes-per-second at least 1");
        }
        this.bytes = Bucket.builder().addLimit(Bandwidth.builder().capacity(config.maxBytesPerSecond())
                .refillGreedy(config.maxBytesPerSecond(), Duration.ofSeconds(1)).build()).build();
        this.sent = records(registry, "sent");
        this.dropped = records(registry, "dropped");
        this.failed = records(registry, "failed");
        this.unneeded = records(registry, "unneeded");
        this.received = records(registry, "received");
        this.bytesSent = Counter.builder("sandstream.live.bytes").tag("direction", "sent")
                .description("Output bytes through the live topic").register(registry);
        this.bytesReceived = Counter.builder("sandstream.live.bytes").tag("direction", "received")
                .description("Output bytes through the live topic").register(registry);
    }

    private static Counter records(MeterRegistry registry, String outcome) {
        return Counter.builder("sandstream.live.records").tag("outcome", outcome)
                .description("Live topic records: sent, dropped (rate cap), failed (send), unneeded (no other instance) by this "
                        + "instance; received from others")
                .register(registry);
    }

    /** Reads the live topic from its end (what was sent before is over) and sends what runs here. */
    public void start() {
        consumer = clients.liveConsumer();
        List<TopicPartition> partitions = consumer.partitionsFor(clients.liveTopic()).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        if (partitions.isEmpty()) {
            // Topics created by an operator or IaC from before the live topic existed: run without it.
            LOG.warnf("topic %s does not exist: live output reaches only streams on the instance that runs an execution "
                    + "(create the topic, or set sandstream.kafka.live.enabled=false)", clients.liveTopic());
            consumer.close(Duration.ofSeconds(5));
            consumer = null;
            return;
        }
        producer = clients.liveProducer();
        awaitMetadata();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position); // the end now, not at the first poll
        running = true;
        reader = new Thread(this::readLoop, "kafka-live");
        reader.start();
        subscription = bus.outputsHere().subscribe().with(this::send);
        LOG.infof("live output shared through %s (%d partitions)", clients.liveTopic(), partitions.size());
    }

    /** The producer never blocks a send, so it needs the topic's metadata before the first one. */
    private void awaitMetadata() {
        long deadline = System.nanoTime() + clients.config().sendTimeout().toNanos();
        while (true) {
            try {
                producer.partitionsFor(clients.liveTopic());
                return;
            } catch (org.apache.kafka.common.errors.TimeoutException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("no metadata for " + clients.liveTopic() + " from the brokers");
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
        }
    }

    /** How many records this instance sent for the execution: what its result record announces. */
    public int sent(String executionId) {
        AtomicInteger count = numbered.getIfPresent(executionId);
        return count == null ? 0 : count.get();
    }

    /** The execution's result is in the results topic: its count is no longer needed. */
    public void finished(String executionId) {
        numbered.invalidate(executionId);
    }

    /** On the thread that produced the output: never blocks (the producer fails a send at once when full). */
    private void send(ResultBus.LiveOutput live) {
        if (clients.owners().alone()) {
            unneeded.increment();
            return;
        }
        try {
            if (live.output() == null) {
                send(live.executionId(), STATUS, live.status().name().getBytes(StandardCharsets.UTF_8));
                return;
            }
            String kind = live.output().stream() == ExecutionUpdate.Stream.STDOUT ? "stdout" : "stderr";
            byte[] chunk = live.output().bytes();
            for (int from = 0; from < chunk.length;) {
                int to = cut(chunk, from, config.maxChunkBytes());
                if (bytes.tryConsume(to - from)) {
                    send(live.executionId(), kind, Arrays.copyOfRange(chunk, from, to));
                    bytesSent.increment(to - from);
                } else {
                    dropped.increment();
                }
                from = to;
            }
        } catch (RuntimeException e) {
            failed.increment(); // a subscriber that throws is cancelled: never let it
            LOG.debugf("live record of %s not sent: %s", live.executionId(), e.toString());
        }
    }

    private void send(String executionId, String kind, byte[] value) {
        int seq = numbered.get(executionId, id -> new AtomicInteger()).incrementAndGet();
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(clients.liveTopic(), executionId, value);
        record.headers().add(KIND, LaneRecords.bytes(kind));
        record.headers().add(SEQ, LaneRecords.bytes(Integer.toString(seq)));
        record.headers().add(KafkaResultStore.ORIGIN, LaneRecords.bytes(clients.instanceId()));
        producer.send(record, (metadata, failure) -> {
            if (failure == null) {
                sent.increment();
            } else {
                failed.increment();
                LOG.debugf("live record of %s not sent: %s", executionId, failure.toString());
            }
        });
    }

    /**
     * The end of the piece starting at {@code from}: at most {@code max} bytes, and not inside a
     * UTF-8 character when one starts within the last three bytes (each piece is shown as text).
     */
    static int cut(byte[] chunk, int from, int max) {
        int to = Math.min(chunk.length, from + max);
        if (to == chunk.length) {
            return to;
        }
        for (int back = to; back > to - 3 && back > from; back--) {
            if ((chunk[back] & 0xC0) != 0x80) {
                return back; // chunk[back] starts a character (or is ASCII): cut before it
            }
        }
        return to;
    }

    // ---- the reader thread --------------------------------------------------------------------------

    private void readLoop() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(KafkaClients.pollTimeout())) {
                    try {
                        relay(record);
                    } catch (RuntimeException e) {
                        LOG.debugf("skipping live record %s-%d: %s", record.partition(), record.offset(), e.toString());
                    }
                }
            }
        } catch (WakeupException stopping) {
            // close() woke us up
        } catch (RuntimeException e) {
            LOG.error("reading the live topic failed; streams here show only this instance's live output from now on", e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void relay(ConsumerRecord<String, byte[]> record) {
        Headers headers = record.headers();
        if (clients.instanceId().equals(LaneRecords.header(headers, KafkaResultStore.ORIGIN)) || record.key() == null) {
            return; // published here already
        }
        String kind = LaneRecords.header(headers, KIND);
        int seq;
        try {
            seq = Integer.parseInt(String.valueOf(LaneRecords.header(headers, SEQ)));
        } catch (NumberFormatException e) {
            return;
        }
        String executionId = record.key();
        received.increment();
        if (STATUS.equals(kind)) {
            ExecutionStatus status = ExecutionStatus.valueOf(new String(record.value(), StandardCharsets.UTF_8));
            if (status == ExecutionStatus.Running) {
                clients.accepted().started(executionId);
            }
            bus.relayed(new ResultBus.LiveOutput(executionId, status, null), seq);
        } else if ("stdout".equals(kind) || "stderr".equals(kind)) {
            bytesReceived.increment(record.value().length);
            ExecutionUpdate.Stream stream = "stdout".equals(kind) ? ExecutionUpdate.Stream.STDOUT : ExecutionUpdate.Stream.STDERR;
            bus.relayed(new ResultBus.LiveOutput(executionId, null, new ExecutionUpdate.Output(stream, record.value())), seq);
        }
    }

    @Override
    public void close() {
        if (subscription != null) {
            subscription.cancel();
        }
        running = false;
        KafkaClients.stopReader(consumer, reader, Duration.ofSeconds(10));
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }
}
