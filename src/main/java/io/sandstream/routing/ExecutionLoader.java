package io.sandstream.routing;

import java.io.IOException;
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
import io.sandstream.model.ExecutionStatus;
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
        ResultDocument.Builder document = from(record.entry())
                .priority(record.entry().priority())
                .sessionId(request.sessionId().orElse(null))
                .language(request.language())
                .backend(backend)
                .status(result.status().executionStatus())
                .output(result.stdout(), result.stderr())
                .result(result.result())
                .outputs(result.outputs())
                .truncated(result.truncated())
                .timings(ResultDocument.Timings.ran(record.entry().acceptedAt(), startedAt, result.completedAt(),
                        result.executionMs()))
                .attempt(attempt);
        if (result.errorType() != null) {
            document.error(result.errorType(), result.errorMessage());
        }
        if (result.limitHit() != null) {
            document.limitHit(result.limitHit().name());
        }
        return document.build();
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
        return from(e)
                .status(ExecutionStatus.Rejected)
                .error("ValidationError", message)
                .timings(ResultDocument.Timings.neverStarted(e.acceptedAt(), Instant.now()))
                .build();
    }

    /**
     * An execution given up; {@code request} null when the event can no longer be read, {@code backend}
     * the one that kept failing (null when none was tried), {@code attempt} the starts it had.
     */
    public ResultDocument gaveUp(JournalRecord record, ExecuteRequest request, String backend, int attempt, String why) {
        JournalEntry e = record.entry();
        ResultDocument.Builder document = from(e)
                .priority(e.priority())
                .sessionId(e.sessionId())
                .backend(backend)
                .status(ExecutionStatus.Failed)
                .error("ExecutionAbandoned", why)
                .timings(ResultDocument.Timings.neverStarted(e.acceptedAt(), Instant.now()))
                .attempt(attempt);
        if (request != null) {
            document.language(request.language());
        }
        return document.build();
    }

    /**
     * An execution for a session that died with the instance that held it (more than one
     * instance only, see {@link LostSessions}): not run, so that code written for that session's
     * state never runs without it. The next execution with the identifier starts a new session.
     */
    public ResultDocument sessionLost(JournalRecord record, ExecuteRequest request, String backend, int attempt) {
        JournalEntry e = record.entry();
        return from(e)
                .priority(e.priority())
                .sessionId(request.sessionId().orElse(null))
                .language(request.language())
                .backend(backend)
                .status(ExecutionStatus.Failed)
                .error("SessionLost", "session '" + request.sessionId().orElse("") + "' lived on an instance that stopped"
                        + " (or handed it over); its variables and files are gone, and this code did not run."
                        + " The next execution with this sessionId starts a new session.")
                .timings(ResultDocument.Timings.neverStarted(e.acceptedAt(), Instant.now()))
                .attempt(attempt)
                .build();
    }

    /** What every result of a journalled event carries, even a rejected one: the event's identity. */
    private static ResultDocument.Builder from(JournalEntry e) {
        return ResultDocument.builder().executionId(e.executionId()).event(e.eventId(), e.source(), e.subject(), e.type());
    }
}
