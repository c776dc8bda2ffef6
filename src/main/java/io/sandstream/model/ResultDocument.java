package io.sandstream.model;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * The result document of API.md §2, exactly as stored and served: the components' order is the
 * JSON's, and every one is written, null or not. Built with {@link #builder()}, which leaves out
 * what a place does not know. {@code outputs} (the rich outputs, {@link Output}) is the one component
 * left out when empty, so that a document without any serializes exactly as before they existed.
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ResultDocument(String executionId, String eventId, String source, String subject, String type,
        String sessionId, String language, String priority, String backend, ExecutionStatus status, String stdout,
        String stderr, JsonNode result, @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Output> outputs, Error error,
        boolean truncated, String limitHit, Timings timings, int attempt) {

    public ResultDocument {
        outputs = outputs == null ? List.of() : List.copyOf(outputs);
    }

    /** The same document with other outputs (a store that keeps large ones apart links or restores them). */
    public ResultDocument withOutputs(List<Output> replaced) {
        return new ResultDocument(executionId, eventId, source, subject, type, sessionId, language, priority, backend,
                status, stdout, stderr, result, replaced, error, truncated, limitHit, timings, attempt);
    }

    public static Builder builder() {
        return new Builder();
    }

    public record Error(String type, String message) {
    }

    /** Instants as ISO-8601 text; what an execution never reached (its start) is left out of the JSON. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Timings(String acceptedAt, String startedAt, String completedAt, Long queueMs, Long executionMs) {

        /** An execution that ran: its queue time is from acceptance to start; {@code executionMs} is the code's own. */
        public static Timings ran(Instant acceptedAt, Instant startedAt, Instant completedAt, long executionMs) {
            return new Timings(acceptedAt.toString(), startedAt.toString(), completedAt.toString(),
                    Duration.between(acceptedAt, startedAt).toMillis(), executionMs);
        }

        /** An execution that ended without starting (rejected, or given up). */
        public static Timings neverStarted(Instant acceptedAt, Instant completedAt) {
            return new Timings(acceptedAt.toString(), null, completedAt.toString(), null, null);
        }
    }

    /**
     * Only {@code executionId} and {@code status} are required. Unset text is null, except the
     * output streams, which are empty (a result always has them); {@code attempt} is 0 for an
     * execution that never started.
     */
    public static final class Builder {

        private String executionId;
        private String eventId;
        private String source;
        private String subject;
        private String type;
        private String sessionId;
        private String language;
        private String priority;
        private String backend;
        private ExecutionStatus status;
        private String stdout = "";
        private String stderr = "";
        private JsonNode result;
        private List<Output> outputs = List.of();
        private Error error;
        private boolean truncated;
        private String limitHit;
        private Timings timings;
        private int attempt;

        private Builder() {
        }

        public Builder executionId(String executionId) {
            this.executionId = executionId;
            return this;
        }

        /** The CloudEvent the execution came from: its {@code id}, {@code source}, {@code subject} and {@code type}. */
        public Builder event(String eventId, String source, String subject, String type) {
            this.eventId = eventId;
            this.source = source;
            this.subject = subject;
            this.type = type;
            return this;
        }

        public Builder sessionId(String sessionId) {
            this.sessionId = sessionId;
            return this;
        }

        /** The document carries the language's wire name. */
        public Builder language(Language language) {
            this.language = language == null ? null : language.wireName();
            return this;
        }

        /** The document carries the priority's wire name ({@code high|normal|low}); null for a rejected event. */
        public Builder priority(Priority priority) {
            this.priority = priority == null ? null : priority.wireName();
            return this;
        }

        public Builder backend(String backend) {
            this.backend = backend;
            return this;
        }

        public Builder status(ExecutionStatus status) {
            this.status = status;
            return this;
        }

        public Builder output(String stdout, String stderr) {
            this.stdout = stdout;
            this.stderr = stderr;
            return this;
        }

        public Builder result(JsonNode result) {
            this.result = result;
            return this;
        }

        public Builder outputs(List<Output> outputs) {
            this.outputs = outputs;
            return this;
        }

        public Builder error(String type, String message) {
            this.error = new Error(type, message);
            return this;
        }

        public Builder truncated(boolean truncated) {
            this.truncated = truncated;
            return this;
        }

        public Builder limitHit(String limitHit) {
            this.limitHit = limitHit;
            return this;
        }

        public Builder timings(Timings timings) {
            this.timings = timings;
            return this;
        }

        public Builder attempt(int attempt) {
            this.attempt = attempt;
            return this;
        }

        public ResultDocument build() {
            Objects.requireNonNull(executionId, "executionId");
            Objects.requireNonNull(status, "status");
            return new ResultDocument(executionId, eventId, source, subject, type, sessionId, language, priority,
                    backend, status, stdout, stderr, result, outputs, error, truncated, limitHit, timings, attempt);
        }
    }
}
