package io.sandstream.model;

/**
 * Where an execution stands, with the names the public contract uses: {@code Queued} and
 * {@code Running} while it is pending, then one final status in its result.
 */
public enum ExecutionStatus {
    Queued, Running, Succeeded, Failed, TimedOut, Rejected, Cancelled;

    /** True once the execution has its result. */
    public boolean finished() {
        return this != Queued && this != Running;
    }

    /** True when {@code name} names this status, in any case (a filter a client or an operator wrote). */
    public boolean isNamed(String name) {
        return name().equalsIgnoreCase(name);
    }
}
