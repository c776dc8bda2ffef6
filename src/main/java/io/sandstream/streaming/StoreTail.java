package io.sandstream.streaming;

import java.util.List;

import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.smallrye.mutiny.subscription.MultiEmitter;

/**
 * Follows the result store for one results stream: every signal that something was stored makes
 * it read the store again from the last sequence it sent. Results finished concurrently are
 * signalled in any order (each from the thread its commit completed on), but the store hands them
 * out by sequence, and the store's writer makes a commit visible only with every lower sequence of
 * it, so the stream sends each stored result once and in sequence order. One read at a time:
 * signals during a read only ask for one more, so a burst of results costs a read per stream, not
 * one per result.
 */
final class StoreTail {

    static final int PAGE = 500;

    private final ResultStore store;
    private final MultiEmitter<? super StoredResult> emitter;
    /** The last sequence sent; written by the one read in progress only. */
    private volatile long last;
    /** Guarded by {@code this}: a read is in progress (or the start is not known yet). */
    private boolean reading = true;
    /** Guarded by {@code this}: something was stored during the read in progress. */
    private boolean again;

    StoreTail(ResultStore store, MultiEmitter<? super StoredResult> emitter) {
        this.store = store;
        this.emitter = emitter;
    }

    /** Starts sending what was stored after {@code sequence}; signals before this are kept for it. */
    void startAfter(long sequence) {
        last = sequence;
        read();
    }

    /** Something was stored. */
    void signal() {
        synchronized (this) {
            if (reading) {
                again = true;
                return;
            }
            reading = true;
        }
        read();
    }

    private void read() {
        store.after(last, PAGE).subscribe().with(this::send, emitter::fail);
    }

    private void send(List<StoredResult> page) {
        for (StoredResult result : page) {
            last = result.sequence();
            emitter.emit(result);
        }
        synchronized (this) {
            boolean more = page.size() == PAGE || again;
            again = false;
            reading = more && !emitter.isCancelled();
            if (!reading) {
                return;
            }
        }
        read();
    }
}
