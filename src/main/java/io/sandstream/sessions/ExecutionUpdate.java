package io.sandstream.sessions;

/** What an execution emits: live output chunks, then its result. */
public sealed interface ExecutionUpdate {

    enum Stream { STDOUT, STDERR }

    /** A chunk of output exactly as the code wrote it (any bytes), already cut to the output limit. */
    record Output(Stream stream, byte[] bytes) implements ExecutionUpdate {
    }

    record Completed(ExecutionResult result) implements ExecutionUpdate {
    }
}
