package io.sandstream.poolapi;

import jakarta.ws.rs.core.Response;

import io.sandstream.sessions.ExecutionResult;

/**
 * The headers the service puts on the answer to a finished execution, in both contracts:
 * <ul>
 * <li>{@code Operation-Id}, the execution's id: a response header of {@code POST executions} in the
 * dynamic-sessions REST spec ({@code operation-id}, Microsoft.App.DynamicSessions 2025-10-02-preview),
 * and on the code interpreter's sample {@code code/execute} answer;</li>
 * <li>{@code X-Ms-Overall-Execution-Time} (the whole request, from its arrival to the result) and
 * {@code X-Ms-Container-Execution-Duration} (the user code's own run), whole milliseconds, from the
 * Azure Container Apps page "Python code interpreter execution response headers (Preview)". Its
 * allocation and phase headers are not sent: a local pool has no such phases to measure.</li>
 * </ul>
 */
final class ExecutionHeaders {

    private ExecutionHeaders() {
    }

    /** @param receivedNanos {@link System#nanoTime()} when the request arrived */
    static Response.ResponseBuilder add(Response.ResponseBuilder response, String operationId, long receivedNanos,
            ExecutionResult result) {
        return response.header("Operation-Id", operationId)
                .header("X-Ms-Overall-Execution-Time", (System.nanoTime() - receivedNanos) / 1_000_000)
                .header("X-Ms-Container-Execution-Duration", result.executionMs());
    }
}
