package io.sandstream.ingress;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

import io.sandstream.problem.Problem.FieldError;

/** The {@code 202} body of {@code POST /events}: what was queued and what was recorded as rejected. */
public record IngressResponse(List<Accepted> accepted, List<Rejected> rejected) {

    public record Accepted(String id, String source, String executionId, boolean duplicate) {
    }

    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public record Rejected(String id, String source, String executionId, String reason, List<FieldError> errors) {
    }
}
