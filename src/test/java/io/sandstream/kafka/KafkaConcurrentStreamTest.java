package io.sandstream.kafka;

import org.junit.jupiter.api.Tag;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.sandstream.streaming.ConcurrentStreamTest;

/**
 * The concurrent-writers stream test with a Kafka journal, against a real in-process broker: the
 * writers' results go through the results topic into this instance's SQLite copy (sequence =
 * offset + 1), and the stream follows that copy.
 */
@Tag("kafka")
@QuarkusTest
@TestProfile(KafkaPipelineTest.KafkaJournalProfile.class)
class KafkaConcurrentStreamTest extends ConcurrentStreamTest {
}
