package io.sandstream.kafka;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.sandstream.results.PipelineTest;

/**
 * One instance with {@code sandstream.journal.kind=kafka} against a real in-process KRaft broker:
 * events go through the lane topics, results through the results topic, over HTTP with real
 * sandboxes.
 */
@QuarkusTest
@TestProfile(KafkaPipelineTest.KafkaJournalProfile.class)
class KafkaPipelineTest {

    public static class KafkaJournalProfile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.data-dir", "target/test-data-kafka-" + UUID.randomUUID(),
                    "sandstream.kafka.lane-partitions", "3");
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(KafkaBrokerResource.class));
        }
    }

    @KafkaBrokerResource.InjectKafkaBroker
    KafkaBroker broker;

    @Test
    void anEventRunsThroughTheLaneAndResultsTopics() throws Exception {
        String id = PipelineTest.post("{\"code\":\"print('hi')\\n6 * 7\"}", "kafka/one");
        JsonPath doc = PipelineTest.awaitResult(id, PipelineTest.READER);
        assertEquals("Succeeded", doc.getString("status"), doc.prettify());
        assertEquals(42, doc.getInt("result"));
        assertEquals("hi\n", doc.getString("stdout"));

        Map<String, List<ConsumerRecord<String, byte[]>>> lanes = new HashMap<>();
        for (String lane : List.of("high", "normal", "low")) {
            lanes.put(lane, readAll("sandstream-" + lane));
        }
        assertTrue(lanes.get("normal").stream().anyMatch(r -> id.equals(LaneRecords.get(r.headers(), "execution-id"))),
                "the event is a record of the normal lane");
        List<ConsumerRecord<String, byte[]>> results = readAll("sandstream-results");
        assertEquals(1, results.stream().filter(r -> id.equals(r.key())).count(), "one result record");
    }

    @Test
    void aRedeliveredEventIsADuplicateAndRunsOnce() throws Exception {
        String eventId = UUID.randomUUID().toString();
        String body = """
                {"specversion":"1.0","id":"%s","source":"/tests/kafka","type":"io.sandstream.code.execute",
                 "subject":"kafka/dup","data":{"code":"1 + 1"}}""".formatted(eventId);
        String first = given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json").body(body)
                .post("/events").then().statusCode(202).extract().path("accepted[0].executionId");
        boolean duplicate = given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json")
                .body(body).post("/events").then().statusCode(202).extract().path("accepted[0].duplicate");
        assertTrue(duplicate);
        PipelineTest.awaitResult(first, PipelineTest.READER);
        assertEquals(1, readAll("sandstream-results").stream().filter(r -> first.equals(r.key())).count());
    }

    private List<ConsumerRecord<String, byte[]>> readAll(String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<String, byte[]>> all = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p)) && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(all::add);
            }
        }
        return all;
    }
}
