package io.sandstream.results.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.Executor;
import java.util.concurrent.RunnableScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.kafka.KafkaBroker;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultBus;
import io.sandstream.results.StoredResult;
import io.sandstream.results.sqlite.SqliteResultStore;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/** The results topic as the store, against a real broker: on which thread a put completes, and what bounds it. */
@Tag("kafka")
class KafkaResultStoreTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    private static KafkaBroker broker;

    @BeforeAll
    static void start() {
        broker = KafkaBroker.start();
    }

    @AfterAll
    static void stop() {
        broker.close();
    }

    /**
     * An acknowledged result completes on the producer's network thread, with no pool thread woken
     * in between (the dispatcher moves to its own thread). A result the broker refuses completes
     * elsewhere: the dispatcher's retry sends again, and a send must not block that thread.
     */
    @Test
    void anAcknowledgedPutCompletesOnTheNetworkThreadAndARefusedOneOffIt() throws Exception {
        String prefix = "rs-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        KafkaResultStore store = store(prefix, "a");
        try {
            String completedOn = store.put(result("small", "2\n")).map(ignored -> Thread.currentThread().getName())
                    .await().atMost(WAIT);
            // When the acknowledgement beats the subscription to the send's future, the item comes on the
            // subscribing thread instead: no hop either way, only never a worker in between.
            String caller = Thread.currentThread().getName();
            assertTrue(completedOn.startsWith("kafka-producer-network-thread") || completedOn.equals(caller), completedOn);

            // The broker refuses records above the topic's max.message.bytes: the refusal comes back on the network thread.
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrapServers()))) {
                admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, prefix + "results"),
                        List.of(new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000"), AlterConfigOp.OpType.SET))))
                        .all().get();
            }
            String failedOn = store.put(result("large", "x".repeat(20_000))).map(ignored -> "stored")
                    .onFailure().recoverWithItem(failure -> Thread.currentThread().getName()).await().atMost(WAIT);
            assertFalse(failedOn.equals("stored"), "the broker should refuse a record above max.message.bytes");
            assertFalse(failedOn.startsWith("kafka-producer-network-thread"), failedOn);
            assertTrue(store.get("small").await().atMost(WAIT).isPresent(), "the acknowledged result is readable");
        } finally {
            store.close();
        }
    }

    /**
     * A put sets no timer of its own. One per result on the worker pool stayed there, cancelled, for
     * the send timeout (30 s): some 120,000 of them during a drain, each waking the pool's scheduler
     * when it came due. The producer calls every send back within its delivery timeout instead (the
     * next test).
     */
    @Test
    void aPutSetsNoTimerOfItsOwn() throws Exception {
        KafkaResultStore store = store("timer-" + UUID.randomUUID().toString().substring(0, 8) + "-", "a");
        CountingScheduler scheduler = new CountingScheduler();
        Executor previous = Infrastructure.getDefaultExecutor();
        Infrastructure.setDefaultExecutor(scheduler, false); // false: leave the previous one running (a Quarkus test's pool)
        try {
            for (int i = 0; i < 20; i++) {
                store.put(result("timer-" + i, i + "\n")).await().atMost(WAIT);
            }
            assertEquals(0, scheduler.scheduled.get(), "timers scheduled on the worker pool by 20 puts");
        } finally {
            Infrastructure.setDefaultExecutor(previous, false);
            scheduler.shutdownNow();
            store.close();
        }
    }

    /** With no broker answering, a put fails by the producer's delivery timeout, which is the send timeout. */
    @Test
    void anUnacknowledgedPutFailsByTheProducersDeliveryTimeout() throws Exception {
        KafkaBroker gone = KafkaBroker.start();
        KafkaResultStore store = store(gone, "gone-" + UUID.randomUUID().toString().substring(0, 8) + "-", "a", "3s");
        try {
            gone.close();
            Throwable failure = store.put(result("unanswered", "1\n")).map(ignored -> (Throwable) null)
                    .onFailure().recoverWithItem(f -> f).await().atMost(WAIT);
            // The producer ends it: its delivery timeout is the send timeout.
            assertTrue(failure instanceof org.apache.kafka.common.errors.TimeoutException, String.valueOf(failure));
        } finally {
            store.close();
        }
    }

    /** Every instance's copy holds each result as it was sent, whichever instance stored it, in the topic's order. */
    @Test
    void eachCopyHoldsBothInstancesResultsAsTheyWereSent() throws Exception {
        String prefix = "copy-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        KafkaResultStore a = store(prefix, "a");
        KafkaResultStore b = store(prefix, "b");
        try {
            ResultDocument fromA = result("from-a", "1\n");
            ResultDocument fromB = result("from-b", "2\n");
            a.put(fromA).await().atMost(WAIT);
            b.put(fromB).await().atMost(WAIT);
            for (KafkaResultStore store : List.of(a, b)) {
                long deadline = System.nanoTime() + WAIT.toNanos();
                List<StoredResult> copied;
                while ((copied = store.after(0, 10).await().atMost(WAIT)).size() < 2) {
                    assertTrue(System.nanoTime() < deadline, "the copy reads both results");
                    Thread.sleep(50);
                }
                assertEquals(JSON.writeValueAsString(List.of(fromA, fromB)),
                        JSON.writeValueAsString(copied.stream().map(StoredResult::document).toList()));
            }
        } finally {
            a.close();
            b.close();
        }
    }

    /** One instance's results store (a copy of its own) on the topics starting with {@code prefix}. */
    private static KafkaResultStore store(String prefix, String instance) throws Exception {
        return store(broker, prefix, instance, "20s");
    }

    private static KafkaResultStore store(KafkaBroker on, String prefix, String instance, String sendTimeout) throws Exception {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.journal.kind", "kafka",
                "sandstream.data-dir", Files.createTempDirectory("kafka-results").toString(),
                "sandstream.kafka.bootstrap-servers", on.bootstrapServers(), "sandstream.kafka.topic-prefix", prefix,
                "sandstream.kafka.group-id", prefix + "group", "sandstream.kafka.instance-id", instance,
                "sandstream.kafka.send-timeout", sendTimeout));
        KafkaClients clients = new KafkaClients(config.kafka());
        clients.ensureTopics();
        SqliteResultStore copy = SqliteResultStore.copyOf(new DataDirectory(config), config.journal());
        copy.open();
        KafkaResultStore store = new KafkaResultStore(clients, copy, new ResultBus(config, new SimpleMeterRegistry()), null);
        store.start();
        return store;
    }

    /** A scheduler that counts what is scheduled on it. */
    private static final class CountingScheduler extends ScheduledThreadPoolExecutor {
        final AtomicInteger scheduled = new AtomicInteger();

        CountingScheduler() {
            super(1);
        }

        @Override
        protected <V> RunnableScheduledFuture<V> decorateTask(Runnable runnable, RunnableScheduledFuture<V> task) {
            if (task.getDelay(TimeUnit.NANOSECONDS) > 0) {
                scheduled.incrementAndGet();
            }
            return task;
        }

        @Override
        protected <V> RunnableScheduledFuture<V> decorateTask(Callable<V> callable, RunnableScheduledFuture<V> task) {
            if (task.getDelay(TimeUnit.NANOSECONDS) > 0) {
                scheduled.incrementAndGet();
            }
            return task;
        }
    }

    private static ResultDocument result(String executionId, String stdout) {
        Instant now = Instant.now();
        return ResultDocument.builder().executionId(executionId).event("e", "/src", null, "t")
                .language(Language.PYTHON).priority(Priority.NORMAL).backend("local").status(ExecutionStatus.Succeeded)
                .output(stdout, "").timings(ResultDocument.Timings.ran(now, now, now, 1)).attempt(1).build();
    }
}
