package io.sandstream.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.ExecuteRequest;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.model.Tenant;
import io.sandstream.sessions.ExecutionResult;

/**
 * The result document on the wire and in the stores (API.md §2) stays what it was when its status
 * was a string and it was built positionally: the expected JSON below was written by that code.
 */
class ResultDocumentJsonTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every field set. */
    static final String FULL = """
            {"executionId":"exec-1","eventId":"evt-1","source":"/tests/json","subject":"a/b",\
            "type":"io.sandstream.code.execute","sessionId":"session-1","language":"python","priority":"high",\
            "backend":"local","status":"TimedOut","stdout":"out\\n","stderr":"err é\\n",\
            "result":{"x":[1,2.5,null,"s"]},"error":{"type":"TimeoutError","message":"wall time"},"truncated":true,\
            "limitHit":"wall","timings":{"acceptedAt":"2030-01-02T03:04:05.100Z",\
            "startedAt":"2030-01-02T03:04:05.200Z","completedAt":"2030-01-02T03:04:06.200Z","queueMs":100,\
            "executionMs":1000},"attempt":2}""";

    /** A rejected event: nulls written, timings without what never happened. */
    static final String REJECTED = """
            {"executionId":"exec-2","eventId":"evt-2","source":"/tests/json","subject":null,\
            "type":"io.sandstream.code.execute","sessionId":null,"language":null,"priority":null,"backend":null,\
            "status":"Rejected","stdout":"","stderr":"","result":null,\
            "error":{"type":"ValidationError","message":"bad"},"truncated":false,"limitHit":null,\
            "timings":{"acceptedAt":"2030-01-02T03:04:05.100Z","completedAt":"2030-01-02T03:04:05.300Z"},\
            "attempt":0}""";

    static final Instant ACCEPTED = Instant.parse("2030-01-02T03:04:05.100Z");

    private final ExecutionLoader loader = new ExecutionLoader(null);

    static JournalRecord record(String executionId, String eventId, String subject, String sessionId, String priority,
            JournalEntry.State state, String rejection, int attempt) {
        return new JournalRecord(1, new JournalEntry(executionId, eventId, "/tests/json", "io.sandstream.code.execute",
                subject, sessionId, Priority.ofWireName(priority), state, ACCEPTED, "{}".getBytes(StandardCharsets.UTF_8), rejection,
                Tenant.SHARED), attempt);
    }

    static ResultDocument full() throws Exception {
        return ResultDocument.builder().executionId("exec-1").event("evt-1", "/tests/json", "a/b",
                "io.sandstream.code.execute").sessionId("session-1").language(Language.PYTHON).priority(Priority.HIGH)
                .backend("local").status(ExecutionStatus.TimedOut).output("out\n", "err é\n")
                .result(JSON.readTree("{\"x\":[1,2.5,null,\"s\"]}")).error("TimeoutError", "wall time").truncated(true)
                .limitHit("wall")
                .timings(ResultDocument.Timings.ran(ACCEPTED, Instant.parse("2030-01-02T03:04:05.200Z"),
                        Instant.parse("2030-01-02T03:04:06.200Z"), 1000))
                .attempt(2).build();
    }

    static ResultDocument rejected() {
        return ResultDocument.builder().executionId("exec-2").event("evt-2", "/tests/json", null,
                "io.sandstream.code.execute").status(ExecutionStatus.Rejected).error("ValidationError", "bad")
                .timings(ResultDocument.Timings.neverStarted(ACCEPTED, Instant.parse("2030-01-02T03:04:05.300Z")))
                .build();
    }

    /** The completion time of a document made now, replaced by the one the expected JSON has. */
    static String completedAt(String json, String completedAt) {
        return json.replaceFirst("\"completedAt\":\"[^\"]+\"", "\"completedAt\":\"" + completedAt + "\"");
    }

    @Test
    void builtDocumentsSerializeAsBefore() throws Exception {
        assertEquals(FULL, JSON.writeValueAsString(full()));
        assertEquals(REJECTED, JSON.writeValueAsString(rejected()));
    }

    @Test
    void theLoadersDocumentsSerializeAsBefore() throws Exception {
        ExecutionResult result = new ExecutionResult(ExecutionResult.Status.TimedOut, "out\n", "err é\n",
                JSON.readTree("{\"x\":[1,2.5,null,\"s\"]}"), "TimeoutError", "wall time", true,
                ExecutionResult.LimitHit.wall, false, Instant.parse("2030-01-02T03:04:05.200Z"),
                Instant.parse("2030-01-02T03:04:06.200Z"), 1000);
        ExecuteRequest request = new ExecuteRequest("1/0", Language.PYTHON, Optional.of("session-1"), 30,
                Optional.empty(), List.of());
        ResultDocument completed = loader.completed(record("exec-1", "evt-1", "a/b", "session-1", "high",
                JournalEntry.State.RUNNING, null, 2), request, "local", result, Instant.parse("2030-01-02T03:04:05.200Z"),
                2);
        assertEquals(FULL, JSON.writeValueAsString(completed));

        ResultDocument rejected = loader.rejected(record("exec-2", "evt-2", null, null, null,
                JournalEntry.State.REJECTED, "{\"status\":400,\"detail\":\"bad\"}", 0));
        assertEquals(REJECTED, completedAt(JSON.writeValueAsString(rejected), "2030-01-02T03:04:05.300Z"));
    }

    @Test
    void givenUpExecutionsSerializeAsBefore() throws Exception {
        // Both written by the positional code: an event that could no longer be read, and a backend that kept failing.
        String unreadable = """
                {"executionId":"exec-3","eventId":"evt-3","source":"/tests/json","subject":"a/b",\
                "type":"io.sandstream.code.execute","sessionId":"session-3","language":null,"priority":"low",\
                "backend":null,"status":"Failed","stdout":"","stderr":"","result":null,\
                "error":{"type":"ExecutionAbandoned","message":"unreadable"},"truncated":false,"limitHit":null,\
                "timings":{"acceptedAt":"2030-01-02T03:04:05.100Z","completedAt":"2030-01-02T03:04:05.300Z"},\
                "attempt":3}""";
        String backendFailing = """
                {"executionId":"exec-4","eventId":"evt-4","source":"/tests/json","subject":"a/b",\
                "type":"io.sandstream.code.execute","sessionId":null,"language":"python","priority":"normal",\
                "backend":"aca","status":"Failed","stdout":"","stderr":"","result":null,\
                "error":{"type":"ExecutionAbandoned","message":"kept failing"},"truncated":false,"limitHit":null,\
                "timings":{"acceptedAt":"2030-01-02T03:04:05.100Z","completedAt":"2030-01-02T03:04:05.300Z"},\
                "attempt":1}""";
        ResultDocument gaveUp = loader.gaveUp(record("exec-3", "evt-3", "a/b", "session-3", "low",
                JournalEntry.State.RUNNING, null, 3), null, null, 3, "unreadable");
        assertEquals(unreadable, completedAt(JSON.writeValueAsString(gaveUp), "2030-01-02T03:04:05.300Z"));
        ExecuteRequest request = new ExecuteRequest("1", Language.PYTHON, Optional.empty(), 30, Optional.empty(),
                List.of());
        gaveUp = loader.gaveUp(record("exec-4", "evt-4", "a/b", null, "normal", JournalEntry.State.RUNNING, null, 1),
                request, "aca", 1, "kept failing");
        assertEquals(backendFailing, completedAt(JSON.writeValueAsString(gaveUp), "2030-01-02T03:04:05.300Z"));
    }

    @Test
    void documentsStoredByEarlierVersionsReadBack() throws Exception {
        // Compared as JSON: a stored "result":null reads back as a NullNode, as it always did.
        assertEquals(ExecutionStatus.Rejected, JSON.readValue(REJECTED, ResultDocument.class).status());
        assertEquals(REJECTED, JSON.writeValueAsString(JSON.readValue(REJECTED, ResultDocument.class)));
        assertEquals(full(), JSON.readValue(FULL, ResultDocument.class));
        for (String status : List.of("Succeeded", "Failed", "TimedOut", "Rejected", "Cancelled")) {
            String stored = FULL.replace("\"status\":\"TimedOut\"", "\"status\":\"" + status + "\"");
            ResultDocument read = JSON.readValue(stored, ResultDocument.class);
            assertEquals(status, read.status().name());
            assertEquals(stored, JSON.writeValueAsString(read));
        }
    }
}
