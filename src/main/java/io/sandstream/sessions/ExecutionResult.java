package io.sandstream.sessions;

import java.time.Instant;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Output;

/**
 * How an execution ended.
 *
 * @param result the value of the last bare expression as JSON, or null
 * @param errorType the exception's type when the code failed, else null
 * @param truncated true when output went past the limit and was cut
 * @param limitHit the limit that stopped the execution, or null
 * @param sessionEnded true when the sandbox was destroyed as a consequence (the session's state is gone)
 * @param text the last expression's text form ({@code text/plain}, as a Jupyter kernel shows it) when
 *        it is not a scalar, else null
 * @param outputs rich outputs in order (figures, {@code display()} calls, a rich last expression); never null
 */
public record ExecutionResult(Status status, String stdout, String stderr, JsonNode result, String errorType,
        String errorMessage, boolean truncated, LimitHit limitHit, boolean sessionEnded, Instant startedAt,
        Instant completedAt, long executionMs, String text, List<Output> outputs) {

    public ExecutionResult {
        outputs = outputs == null ? List.of() : List.copyOf(outputs);
    }

    /** A result without a text form or rich outputs (what backends without them report). */
    public ExecutionResult(Status status, String stdout, String stderr, JsonNode result, String errorType,
            String errorMessage, boolean truncated, LimitHit limitHit, boolean sessionEnded, Instant startedAt,
            Instant completedAt, long executionMs) {
        this(status, stdout, stderr, result, errorType, errorMessage, truncated, limitHit, sessionEnded, startedAt,
                completedAt, executionMs, null, List.of());
    }

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
