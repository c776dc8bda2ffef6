package io.sandstream.outbound;

import io.sandstream.model.ResultDocument;
import io.smallrye.mutiny.Uni;

/** One configured sink, whatever its kind: which results it wants, and a non-blocking hand-over. */
interface Outlet {

    String name();

    boolean wants(ResultDocument document);

    /** Enqueues and returns: never blocks, never does I/O on the publisher's thread. */
    void offer(ResultDocument document);

    /** Drops what waits; what is in flight ends by itself. */
    Uni<Void> stop();
}
