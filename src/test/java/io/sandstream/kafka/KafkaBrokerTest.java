package io.sandstream.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The test helper itself: a real broker that takes idempotent writes and serves a consumer group. */
@Tag("kafka")
class KafkaBrokerTest {

    private static final int RECORDS = 100;

    @Test
    @Timeout(120)
    void producesAndConsumesThroughAConsumerGroup() throws Exception {
        try (KafkaBroker broker = KafkaBroker.start()) {
            broker.createTopic("events", 3);

            Map<String, Object> producerConfig = Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                    ProducerConfig.ACKS_CONFIG, "all",
                    ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
            Set<Integer> partitionsWritten = new TreeSet<>();
            try (var producer = new KafkaProducer<>(producerConfig, new StringSerializer(), new StringSerializer())) {
                List<Future<RecordMetadata>> sends = new ArrayList<>();
                for (int i = 0; i < RECORDS; i++) {
                    sends.add(producer.send(new ProducerRecord<>("events", "key-" + i, "value-" + i)));
                }
                for (Future<RecordMetadata> send : sends) {
                    partitionsWritten.add(send.get().partition());
                }
            }
            assertEquals(Set.of(0, 1, 2), partitionsWritten, "100 keys spread over the 3 partitions");

            Map<String, Object> consumerConfig = Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "kafka-broker-test",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            List<ConsumerRecord<String, String>> received = new ArrayList<>();
            try (var consumer = new KafkaConsumer<>(consumerConfig, new StringDeserializer(), new StringDeserializer())) {
                consumer.subscribe(List.of("events"));
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (received.size() < RECORDS && System.nanoTime() < deadline) {
                    consumer.poll(Duration.ofMillis(200)).forEach(received::add);
                    consumer.commitSync();
                }
                Set<TopicPartition> partitions = IntStream.range(0, 3)
                        .mapToObj(p -> new TopicPartition("events", p)).collect(Collectors.toSet());
                long committed = consumer.committed(partitions).values().stream()
                        .mapToLong(o -> o == null ? 0 : o.offset()).sum();
                assertEquals(RECORDS, committed, "the group's committed offsets cover every record");
            }

            assertEquals(RECORDS, received.size());
            assertEquals(IntStream.range(0, RECORDS).mapToObj(i -> "key-" + i).collect(Collectors.toSet()),
                    received.stream().map(ConsumerRecord::key).collect(Collectors.toSet()));
            received.forEach(r -> assertEquals("value-" + r.key().substring("key-".length()), r.value()));
        }
    }
}
