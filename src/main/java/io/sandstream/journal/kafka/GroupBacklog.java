package io.sandstream.journal.kafka;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.jboss.logging.Logger;

import io.sandstream.kafka.KafkaClients;

/**
 * The whole group's lag on the lanes (end offsets minus committed offsets): the accepted work not
 * finished by any instance, which no single instance can count from what it holds. It bounds
 * ingress ({@code max-pending}) and is the {@code sandstream.journal.pending} gauge. The admin calls
 * block, so they run once a second on a thread of their own; appends add to the figure meanwhile.
 */
final class GroupBacklog implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(GroupBacklog.class);
    private static final Duration INTERVAL = Duration.ofSeconds(1);

    private final KafkaClients clients;
    private final List<String> laneTopics;
    private final AtomicLong backlog = new AtomicLong();
    /** Every partition of the lanes, read once (reader thread only). */
    private final Map<TopicPartition, OffsetSpec> lanePartitions = new HashMap<>();
    private Admin admin;
    private ScheduledExecutorService reader;

    GroupBacklog(KafkaClients clients, Collection<String> laneTopics) {
        this.clients = clients;
        this.laneTopics = List.copyOf(laneTopics);
    }

    void start() {
        admin = clients.admin();
        reader = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "kafka-backlog"));
        reader.scheduleWithFixedDelay(this::read, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    }

    long get() {
        return backlog.get();
    }

    /** Work just accepted here, counted before the next read sees it. */
    void add(long accepted) {
        backlog.addAndGet(accepted);
    }

    private void read() {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(clients.config().groupId())
                    .partitionsToOffsetAndMetadata().get(5, TimeUnit.SECONDS);
            if (lanePartitions.isEmpty()) {
                admin.describeTopics(laneTopics).allTopicNames().get(5, TimeUnit.SECONDS).forEach((topic, description) ->
                        description.partitions().forEach(p -> lanePartitions.put(new TopicPartition(topic, p.partition()),
                                OffsetSpec.latest())));
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(lanePartitions).all()
                    .get(5, TimeUnit.SECONDS);
            long lag = 0;
            for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end : ends.entrySet()) {
                OffsetAndMetadata at = committed.get(end.getKey());
                lag += Math.max(0, end.getValue().offset() - (at == null ? 0 : at.offset()));
            }
            backlog.set(lag);
        } catch (Exception e) {
            LOG.debugf("reading the group's lag failed: %s", e.getMessage());
        }
    }

    @Override
    public void close() {
        if (reader != null) {
            reader.shutdownNow();
        }
        if (admin != null) {
            admin.close(Duration.ofSeconds(2));
        }
    }
}
