package io.sandstream.routing;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.cloudevents.CloudEvent;
import io.cloudevents.jackson.JsonFormat;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.ExecuteRequest;
import io.sandstream.model.ResultDocument;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.validation.ExecuteEvents;

/** Reads journalled events back into execute requests and turns outcomes into result documents. */
@ApplicationScoped
public class ExecutionLoader {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ExecuteEvents events;
    private final JsonFormat format = new JsonFormat();

    public ExecutionLoader(ExecuteEvents events) {
        this.events = events;
    }

    public record Loaded(CloudEvent event, ExecuteRequest request) {
    }

    public Optional<Loaded> load(JournalRecord record) {
        try {
            CloudEvent event = format.deserialize(record.entry().event());
            var result = events.requestOf(event);
            return result.valid() ? Optional.of(new Loaded(event, result.request())) : Optional.empty();
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The result document of an execution that ran; {@code backend} is the pool's ({@code local}, {@code aca}). */
    public ResultDocument completed(JournalRecord record, ExecuteRequest request, String backend, ExecutionResult result,
            Instant startedAt, int attempt) {
        JournalEntry e = record.entry();
        ResultDocument.Error error = result.errorType() == null ? null
                : new ResultDocument.Error(result.errorType(), result.errorMessage());
        return new ResultDocument(e.executionId(), e.eventId(), e.source(), e.subject(), e.type(),
                request.sessionId().orElse(null), request.language().wireName(), e.priorityName(), backend,
                result.status().name(), result.stdout(), result.stderr(), result.result(), error, result.truncated(),
                result.limitHit() == null ? null : result.limitHit().name(),
                timings(e.acceptedAt(), startedAt, result.completedAt(), result.executionMs()), attempt);
    }

    public ResultDocument rejected(JournalRecord record) {
        JournalEntry e = record.entry();
        String message = "the event was rejected";
        try {
            JsonNode problem = JSON.readTree(e.rejection());
            message = problem.path("detail").asText(message);
        } catch (IOException | RuntimeException ignored) {
            // keep the generic message
        }
        Instant now = Instant.now();
        return new ResultDocument(e.executionId(), e.eventId(), e.source(), e.subject(), e.type(), null, null, null,
                null, "Rejected", "", "", null, new ResultDocument.Error("ValidationError", message), false, null,
                timings(e.acceptedAt(), null, now, null), 0);
    }

    /**
     * An execution given up; {@code request} null when the event can no longer be read, {@code backend}
     * the one that kept failing (null when none was tried), {@code attempt} the starts it had.
     */
    public ResultDocument gaveUp(JournalRecord record, ExecuteRequest request, String backend, int attempt, String why) {
        JournalEntry e = record.entry();
        return new ResultDocument(e.executionId(), e.eventId(), e.source(), e.subject(), e.type(), e.sessionId(),
                request == null ? null : request.language().wireName(), e.priorityName(), backend, "Failed", "", "", null,
                new ResultDocument.Error("ExecutionAbandoned", why), false, null,
                timings(e.acceptedAt(), null, Instant.now(), null), attempt);
    }

    private static ResultDocument.Timings timings(Instant acceptedAt, Instant startedAt, Instant completedAt, Long executionMs) {
        return new ResultDocument.Timings(acceptedAt.toString(), startedAt == null ? null : startedAt.toString(),
                completedAt.toString(), startedAt == null ? null : Duration.between(acceptedAt, startedAt).toMillis(),
                executionMs);
    }
}
