package io.sandstream.outbound;

import java.util.ArrayDeque;

import io.opentelemetry.context.Context;
import io.sandstream.results.ResultStore;
import io.smallrye.mutiny.Uni;

/**
 * What waits for one sink, bounded: when full, the <em>oldest</em> waiting event is dropped (the
 * results are stored either way, and replayable over SSE; a receiver that comes back is more
 * interested in what is current). Only ids wait: results can carry a MiB of output each, and a full
 * queue during an outage must not hold thousands of them; the document is read back from the store
 * when its turn comes.
 */
final class SinkQueue {

    /**
     * An event waiting for a sink, when it was published (for the latency timer), and the
     * publication's trace context, which the event continues.
     */
    record Pending(String executionId, long publishedNanos, Context trace) {

        /** The result again, from the store. */
        Uni<io.sandstream.model.ResultDocument> load(ResultStore store) {
            return store.get(executionId).map(stored -> stored
                    .orElseThrow(() -> new DeliveryException("result no longer in the store", false)).document());
        }
    }

    private final int capacity;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private boolean stopped;

    SinkQueue(int capacity) {
        this.capacity = capacity;
    }

    /** Enqueues the result just published (in the caller's trace context); false when the oldest had to go. */
    synchronized boolean offer(String executionId) {
        if (stopped) {
            return true;
        }
        boolean full = queue.size() >= capacity;
        if (full) {
            queue.pollFirst();
        }
        queue.addLast(new Pending(executionId, System.nanoTime(), Context.current()));
        return !full;
    }

    /** The next event, or null. */
    synchronized Pending poll() {
        return queue.pollFirst();
    }

    synchronized int size() {
        return queue.size();
    }

    int capacity() {
        return capacity;
    }

    /** Drops what waits and takes nothing more. */
    synchronized void stop() {
        stopped = true;
        queue.clear();
    }

    synchronized boolean stopped() {
        return stopped;
    }
}
