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
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.cloudevents.CloudEvent;
import io.cloudevents.kafka.CloudEventDeserializer;
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
@Tag("kafka")
@QuarkusTest
@TestProfile(KafkaPipelineTest.KafkaJournalProfile.class)
class KafkaPipelineTest {

    public static class KafkaJournalProfile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> config = new HashMap<>();
            config.put("sandstream.data-dir", "target/test-data-kafka-" + UUID.randomUUID());
            config.put("sandstream.kafka.lane-partitions", "3");
            config.put("sandstream.journal.max-pending", "150000"); // sizes the accepted index (acceptedIndexIsSizedByMaxPendingAndShowsInMetrics)
            // Result CloudEvents to Kafka topics on the same broker (resultsGoToKafkaSinks).
            config.put("sandstream.sinks.ks.kind", "kafka");
            config.put("sandstream.sinks.ks.topic", STRUCTURED);
            config.put("sandstream.sinks.ks.subject-prefix", "kafka/sink/");
            config.put("sandstream.sinks.kb.kind", "kafka");
            config.put("sandstream.sinks.kb.topic", BINARY);
            config.put("sandstream.sinks.kb.mode", "binary");
            config.put("sandstream.sinks.kb.subject-prefix", "kafka/sink/");
            config.put("sandstream.sinks.kb.status", "Failed");
            // A cluster that does not answer: one record stuck in flight, a queue of one, the rest dropped.
            config.put("sandstream.sinks.kdown.kind", "kafka");
            config.put("sandstream.sinks.kdown.topic", "nowhere");
            config.put("sandstream.sinks.kdown.subject-prefix", "kafka/sink/");
            config.put("sandstream.sinks.kdown.concurrency", "1");
            config.put("sandstream.sinks.kdown.queue-capacity", "1");
            config.put("sandstream.sinks.kdown.properties.\"bootstrap.servers\"", "127.0.0.1:1");
            config.put("sandstream.sinks.kdown.properties.\"max.block.ms\"", "30000");
            config.put("sandstream.sinks.kdown.properties.\"reconnect.backoff.ms\"", "5000");
            config.put("sandstream.sinks.kdown.properties.\"reconnect.backoff.max.ms\"", "30000");
            config.put("sandstream.sinks.kdown.properties.\"close-timeout\"", "1000");
            return config;
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(KafkaBrokerResource.class));
        }
    }

    static final String STRUCTURED = "results-structured";
    static final String BINARY = "results-binary";

    @KafkaBrokerResource.InjectKafkaBroker
    KafkaBroker broker;

    /**
     * API.md §4's Kafka sink: each result as a CloudEvent record, decoded here by the CloudEvents
     * SDK's Kafka deserializer as any consumer would, in structured and binary mode, keyed by
     * session and filtered like the HTTP sinks; a cluster that does not answer drops (counted)
     * instead of delaying anything.
     */
    @Test
    void resultsGoToKafkaSinks() throws Exception {
        broker.createTopic(STRUCTURED, 2);
        broker.createTopic(BINARY, 1);
        String ok = PipelineTest.post("{\"code\":\"print('to kafka')\",\"sessionId\":\"sink-session\"}", "kafka/sink/ok");
        String failed = PipelineTest.post("{\"code\":\"raise ValueError('no')\"}", "kafka/sink/failed");
        String elsewhere = PipelineTest.post("{\"code\":\"1\"}", "kafka/other/skipped");
        List<String> more = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            more.add(PipelineTest.post("{\"code\":\"" + i + "\"}", "kafka/sink/more"));
        }
        for (String id : List.of(ok, failed, elsewhere)) {
            PipelineTest.awaitResult(id, PipelineTest.READER); // never held up by the sinks, the dead one included
        }
        for (String id : more) {
            PipelineTest.awaitResult(id, PipelineTest.READER);
        }

        Map<String, ConsumerRecord<String, CloudEvent>> structured = cloudEvents(STRUCTURED, 2 + more.size());
        assertTrue(structured.containsKey(ok) && structured.containsKey(failed), structured.keySet().toString());
        assertTrue(!structured.containsKey(elsewhere), "filtered by subject prefix");
        ConsumerRecord<String, CloudEvent> record = structured.get(ok);
        assertEquals("session:sink-session", record.key(), "keyed by session");
        assertTrue(LaneRecords.header(record.headers(), "content-type").startsWith("application/cloudevents+json"),
                "structured mode");
        CloudEvent event = record.value();
        assertEquals("io.sandstream.code.executed", event.getType());
        assertEquals(ok, event.getId());
        assertEquals("/tests/pipeline", event.getSource().toString());
        assertEquals("kafka/sink/ok", event.getSubject());
        assertEquals(ok, event.getExtension("executionid"));
        JsonPath data = new JsonPath(new String(event.getData().toBytes(), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals("Succeeded", data.getString("status"));
        assertEquals("to kafka\n", data.getString("stdout"));

        Map<String, ConsumerRecord<String, CloudEvent>> binary = cloudEvents(BINARY, 1);
        assertEquals(java.util.Set.of(failed), binary.keySet(), "only what the status filter lets through");
        ConsumerRecord<String, CloudEvent> failure = binary.get(failed);
        assertEquals(failed, LaneRecords.header(failure.headers(), "ce_id"), "binary mode: ce_ headers");
        assertEquals(failed, failure.key(), "without a session, keyed by execution");
        assertEquals("application/json", failure.value().getDataContentType());
        assertEquals("Failed", new JsonPath(new String(failure.value().getData().toBytes(),
                java.nio.charset.StandardCharsets.UTF_8)).getString("status"));

        assertTrue(metric("sandstream_sink_deliveries_total", "sink=\"ks\"", "outcome=\"delivered\"") >= 2);
        assertTrue(metric("sandstream_sink_deliveries_total", "sink=\"kdown\"", "outcome=\"dropped\"") >= 1,
                "a full queue drops and counts");
    }

    private static double metric(String name, String... labels) {
        return given().get("/q/metrics").then().statusCode(200).extract().asString().lines()
                .filter(l -> l.startsWith(name + "{") && java.util.Arrays.stream(labels).allMatch(l::contains))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    /** At least {@code count} records of the topic, decoded by the CloudEvents SDK, by event id. */
    private Map<String, ConsumerRecord<String, CloudEvent>> cloudEvents(String topic, int count) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, CloudEventDeserializer.class.getName());
        Map<String, ConsumerRecord<String, CloudEvent>> events = new HashMap<>();
        try (KafkaConsumer<String, CloudEvent> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (events.size() < count && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> events.put(r.value().getId(), r));
            }
        }
        assertTrue(events.size() >= count, "only " + events.size() + " of " + count + " events on " + topic);
        return events;
    }

    @Test
    void acceptedIndexIsSizedByMaxPendingAndShowsInMetrics() {
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.lines().anyMatch(l -> l.matches("sandstream_kafka_accepted_limit(\\{.*\\})? 300000(\\.0)?")), metrics);
        assertTrue(metrics.lines().anyMatch(l -> l.matches("sandstream_kafka_accepted(\\{.*\\})? [0-9.E]+")), metrics);
    }

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
        // Running and "hi" are not shared while no other instance is in the group (ScaleOutIT: with one, they are).
        assertEquals(0, readAll("sandstream-live").stream().filter(r -> id.equals(r.key())).count(), "no live record");
    }

    /**
     * {@code ?wait} answers once the result is acknowledged by the brokers, before this instance's
     * copy may have read it back: a read right after it still finds the result, not {@code Queued}.
     */
    @Test
    void aResultAnsweredByWaitIsReadableAtOnce() {
        for (int i = 0; i < 5; i++) {
            String id = given().header("Authorization", PipelineTest.READER).contentType("application/json")
                    .body("{\"code\":\"6 * 7\"}").post("/executions?wait=30").then().statusCode(200)
                    .body("status", org.hamcrest.Matchers.equalTo("Succeeded")).extract().path("executionId");
            given().header("Authorization", PipelineTest.READER).get("/executions/" + id).then().statusCode(200)
                    .body("status", org.hamcrest.Matchers.equalTo("Succeeded")).body("result", org.hamcrest.Matchers.equalTo(42));
        }
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

    /**
     * What another instance writes (an "accepted" marker, then the result) is what this one
     * answers: Queued before the result, the result after it, on the results stream too.
     */
    @Test
    void workAcceptedAndFinishedByAnotherInstanceIsKnownHere() throws Exception {
        String done = PipelineTest.post("{\"code\":\"40 + 2\"}", "kafka/other");
        JsonPath template = PipelineTest.awaitResult(done, PipelineTest.READER);
        String elsewhere = UUID.randomUUID().toString();
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<String, byte[]> other = new KafkaProducer<>(props)) {
            ProducerRecord<String, byte[]> marker = new ProducerRecord<>("sandstream-results", 0, null, ("[{\"executionId\":\""
                    + elsewhere + "\",\"subject\":\"kafka/other\",\"priority\":\"normal\",\"acceptedAt\":1}]").getBytes());
            marker.headers().add("sandstream-kind", "accepted".getBytes());
            other.send(marker).get();
            assertEquals("Queued", awaitStatus(elsewhere, 200).getString("status"));
            given().header("Authorization", "Bearer tenant-a-key").get("/executions/" + elsewhere).then().statusCode(404);

            Map<String, Object> result = new HashMap<>(template.getMap(""));
            result.put("executionId", elsewhere);
            other.send(new ProducerRecord<>("sandstream-results", 0, elsewhere,
                    new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(result))).get();
        }
        JsonPath stored = PipelineTest.awaitResult(elsewhere, PipelineTest.READER);
        assertEquals("Succeeded", stored.getString("status"));
        assertEquals(42, stored.getInt("result"));
    }

    private static JsonPath awaitStatus(String executionId, int status) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            var response = given().header("Authorization", PipelineTest.READER).get("/executions/" + executionId);
            if (response.statusCode() == status) {
                return response.jsonPath();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no " + status + " for " + executionId);
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
