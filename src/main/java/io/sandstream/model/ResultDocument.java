package io.sandstream.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;

/** The result document of API.md §2, exactly as stored and served. */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ResultDocument(String executionId, String eventId, String source, String subject, String type,
        String sessionId, String language, String priority, String backend, String status, String stdout, String stderr,
        JsonNode result, Error error, boolean truncated, String limitHit, Timings timings, int attempt) {

    public record Error(String type, String message) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Timings(String acceptedAt, String startedAt, String completedAt, Long queueMs, Long executionMs) {
    }
}
