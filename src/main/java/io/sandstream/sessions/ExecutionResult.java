package io.sandstream.sessions;

import java.time.Instant;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * How an execution ended.
 *
 * @param result the value of the last bare expression as JSON, or null
 * @param errorType the exception's type when the code failed, else null
 * @param truncated true when output went past the limit and was cut
 * @param limitHit the limit that stopped the execution, or null
 * @param sessionEnded true when the sandbox was destroyed as a consequence (the session's state is gone)
 */
public record ExecutionResult(Status status, String stdout, String stderr, JsonNode result, String errorType,
        String errorMessage, boolean truncated, LimitHit limitHit, boolean sessionEnded, Instant startedAt,
        Instant completedAt, long executionMs) {

    public enum Status { Succeeded, Failed, TimedOut, Cancelled }

    public enum LimitHit {
        memory, cpu, wall, output, pids, disk;
    }
}
