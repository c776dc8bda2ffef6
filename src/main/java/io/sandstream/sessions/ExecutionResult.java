package io.sandstream.sessions;

import java.time.Instant;

import com.fasterxml.jackson.databind.JsonNode;

import io.sandstream.model.ExecutionStatus;

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

    /**
     * The endings a sandbox can report: the final statuses of {@link ExecutionStatus} less
     * {@code Rejected} (decided before any sandbox). Kept apart so that a backend cannot report
     * {@code Queued} or {@code Running} as an ending, and switches over it stay exhaustive.
     */
    public enum Status {
        Succeeded(ExecutionStatus.Succeeded),
        Failed(ExecutionStatus.Failed),
        TimedOut(ExecutionStatus.TimedOut),
        Cancelled(ExecutionStatus.Cancelled);

        private final ExecutionStatus executionStatus;

        Status(ExecutionStatus executionStatus) {
            this.executionStatus = executionStatus;
        }

        /** The status the result document carries. */
        public ExecutionStatus executionStatus() {
            return executionStatus;
        }
    }

    public enum LimitHit {
        memory, cpu, wall, output, pids, disk;
    }
}
