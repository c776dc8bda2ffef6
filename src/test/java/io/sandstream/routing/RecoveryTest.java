package io.sandstream.routing;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.journal.ExecutionIds;
import io.sandstream.journal.JournalEntry;
import io.sandstream.tenancy.Tenant;
import io.sandstream.tenancy.TenantQuotas;
import io.sandstream.journal.SqliteJournal;
import io.sandstream.results.PipelineTest;
import io.sandstream.results.ResultDocument;
import io.sandstream.results.SqliteResultStore;

/**
 * The window between storing a result and finishing its journal entry: a service stopped there
 * restarts with the execution marked running and its result stored. It must be finished, not run
 * again. The data directory is seeded in that state before the service starts.
 */
@QuarkusTest
@TestProfile(RecoveryTest.StoppedAfterStoring.class)
class RecoveryTest {

    static final String DIR = "target/test-data-recovery-" + UUID.randomUUID();
    static final String SOURCE = "/tests/recovery";
    static final String EVENT_ID = "interrupted-1";
    static final String EXECUTION_ID = ExecutionIds.of(SOURCE, EVENT_ID);
    static final Duration WAIT = Duration.ofSeconds(10);

    public static class StoppedAfterStoring implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            seed(); // idempotent: journal and store both keep the first of an executionId
            return Map.of("sandstream.data-dir", DIR);
        }
    }

    static void seed() {
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.data-dir", DIR));
        DataDirectory data = new DataDirectory(config);
        SqliteJournal journal = new SqliteJournal(config, data, new SimpleMeterRegistry(), new TenantQuotas(config));
        journal.open();
        byte[] event = """
                {"specversion":"1.0","id":"%s","source":"%s","type":"io.sandstream.code.execute",
                 "data":{"code":"print('ran again')"}}""".formatted(EVENT_ID, SOURCE).getBytes(StandardCharsets.UTF_8);
        journal.append(List.of(new JournalEntry(EXECUTION_ID, EVENT_ID, SOURCE, "io.sandstream.code.execute", null, null,
                "normal", JournalEntry.State.QUEUED, Instant.now(), event, null, Tenant.SHARED))).await().atMost(WAIT);
        journal.markRunning(EXECUTION_ID).await().atMost(WAIT);
        journal.close();
        SqliteResultStore store = new SqliteResultStore(data);
        store.open();
        String now = Instant.now().toString();
        store.put(new ResultDocument(EXECUTION_ID, EVENT_ID, SOURCE, null, "io.sandstream.code.execute", null, "python",
                "normal", "local", "Succeeded", "stored before the stop\n", "", null, null, false, null,
                new ResultDocument.Timings(now, now, now, 0L, 1L), 1)).await().atMost(WAIT);
        store.close();
    }

    @Test
    void anInterruptedExecutionWhoseResultWasStoredIsFinishedNotRunAgain() throws Exception {
        JsonPath doc = PipelineTest.awaitResult(EXECUTION_ID, PipelineTest.READER);
        assertEquals("stored before the stop\n", doc.getString("stdout"));
        for (int i = 0; i < 100 && !metrics().contains("sandstream_journal_pending 0.0"); i++) {
            Thread.sleep(100);
        }
        String metrics = metrics();
        assertFalse(metrics.contains("sandstream_journal_pending 1.0"), "the journal entry is finished");
        assertFalse(metrics.contains("sandstream_pool_executions_total{"), "nothing ran: " + metrics);
    }

    static String metrics() {
        return given().get("/q/metrics").then().statusCode(200).extract().asString();
    }
}
