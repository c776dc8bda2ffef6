package io.sandstream.routing;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.sqlite.SqliteJournal;
import io.sandstream.model.ExecutionIds;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.model.Tenant;
import io.sandstream.results.PipelineTest;
import io.sandstream.results.sqlite.SqliteResultStore;
import io.sandstream.tenancy.TenantQuotas;

/**
 * The window between storing a result and finishing its journal entry: a service killed there
 * restarts with the execution's result stored. It must be finished, not run again, whether its
 * start was marked (RUNNING, attempt 1) or the mark had not reached the disk yet (it is written in
 * the background, so a SIGKILL can leave QUEUED, attempt 0, beside a stored result). An execution
 * interrupted too often is given up with its language and attempts. The data directory is seeded
 * in those states before the service starts.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(RecoveryTest.StoppedAfterStoring.class)
class RecoveryTest {

    static final String DIR = "target/test-data-recovery-" + UUID.randomUUID();
    static final String SOURCE = "/tests/recovery";
    static final String EVENT_ID = "interrupted-1";
    static final String EXECUTION_ID = ExecutionIds.of(SOURCE, EVENT_ID);
    /** Stored, but its start never marked in the journal. */
    static final String UNMARKED_ID = ExecutionIds.of(SOURCE, "unmarked-1");
    /** Interrupted max-attempts times, no result. */
    static final String WORN_OUT_ID = ExecutionIds.of(SOURCE, "worn-out-1");
    static final Duration WAIT = Duration.ofSeconds(10);
    static final java.util.concurrent.atomic.AtomicBoolean SEEDED = new java.util.concurrent.atomic.AtomicBoolean();

    public static class StoppedAfterStoring implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            if (SEEDED.compareAndSet(false, true)) { // the overrides may be asked for more than once
                seed();
            }
            return Map.of("sandstream.data-dir", DIR);
        }
    }

    static void seed() {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.data-dir", DIR));
        DataDirectory data = new DataDirectory(config);
        SqliteJournal journal = new SqliteJournal(config, data, new SimpleMeterRegistry(), new TenantQuotas(config, new SimpleMeterRegistry()));
        journal.open();
        journal.append(List.of(entry(EVENT_ID), entry("unmarked-1"), entry("worn-out-1"))).await().atMost(WAIT);
        journal.markRunning(EXECUTION_ID).await().atMost(WAIT);
        for (int i = 0; i < 3; i++) { // each start a restart interrupted
            journal.markRunning(WORN_OUT_ID).await().atMost(WAIT);
            journal.close();
            journal = new SqliteJournal(config, data, new SimpleMeterRegistry(), new TenantQuotas(config, new SimpleMeterRegistry()));
            journal.open();
        }
        journal.close();
        SqliteResultStore store = new SqliteResultStore(data);
        store.open();
        store.put(stored(EXECUTION_ID, EVENT_ID)).await().atMost(WAIT);
        store.put(stored(UNMARKED_ID, "unmarked-1")).await().atMost(WAIT);
        store.close();
    }

    private static JournalEntry entry(String eventId) {
        byte[] event = """
                {"specversion":"1.0","id":"%s","source":"%s","type":"io.sandstream.code.execute",
                 "data":{"code":"print('ran again')"}}""".formatted(eventId, SOURCE).getBytes(StandardCharsets.UTF_8);
        return new JournalEntry(ExecutionIds.of(SOURCE, eventId), eventId, SOURCE, "io.sandstream.code.execute", null, null,
                Priority.NORMAL, JournalEntry.State.QUEUED, Instant.now(), event, null, Tenant.SHARED);
    }

    private static ResultDocument stored(String executionId, String eventId) {
        Instant now = Instant.now();
        return ResultDocument.builder().executionId(executionId).event(eventId, SOURCE, null, "io.sandstream.code.execute")
                .language(Language.PYTHON).priority(Priority.NORMAL).backend("local").status(ExecutionStatus.Succeeded)
                .output("stored before the stop\n", "").timings(ResultDocument.Timings.ran(now, now, now, 1)).attempt(1)
                .build();
    }

    @Test
    void interruptedExecutionsWhoseResultWasStoredAreFinishedNotRunAgain() throws Exception {
        for (String id : List.of(EXECUTION_ID, UNMARKED_ID)) {
            JsonPath doc = PipelineTest.awaitResult(id, PipelineTest.READER);
            assertEquals("stored before the stop\n", doc.getString("stdout"));
        }
        JsonPath wornOut = PipelineTest.awaitResult(WORN_OUT_ID, PipelineTest.READER);
        for (int i = 0; i < 100 && !metrics().contains("sandstream_journal_pending 0.0"); i++) {
            Thread.sleep(100);
        }
        String metrics = metrics();
        assertTrue(metrics.contains("sandstream_journal_pending 0.0"), "every journal entry is finished");
        assertFalse(metrics.contains("sandstream_pool_executions_total{"), "nothing ran: " + metrics);
        assertEquals("Failed", wornOut.getString("status"));
        assertEquals("ExecutionAbandoned", wornOut.getString("error.type"));
        assertEquals("python", wornOut.getString("language"), "a given-up result names its language");
        assertEquals(3, wornOut.getInt("attempt"), "and the starts it had");
    }

    static String metrics() {
        return given().get("/q/metrics").then().statusCode(200).extract().asString();
    }
}
