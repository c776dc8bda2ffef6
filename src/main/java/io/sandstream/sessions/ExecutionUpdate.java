package io.sandstream.sessions;

/** What an execution emits: that it has its sandbox, live output chunks, then its result. */
public sealed interface ExecutionUpdate {

    enum Stream { STDOUT, STDERR }

    /** A chunk of output exactly as the code wrote it (any bytes), already cut to the output limit. */
    record Output(Stream stream, byte[] bytes) implements ExecutionUpdate {
    }

    record Completed(ExecutionResult result) implements ExecutionUpdate {
    }

    /**
     * The execution has its sandbox and starts: {@code warm} (taken from the warm pool), {@code cold}
     * (started for it) or {@code session} (its session's own). A backend that cannot tell may not emit it.
     */
    record Allocated(String kind) implements ExecutionUpdate {
    }
}
